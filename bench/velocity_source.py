"""Grid velocities from position differences vs from the measured velocity (twist), on simulated flights
with each odometry noise model (the real flights have motion-capture positions: little difference there).

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/velocity_source.py [--checkpoint PATH]

30 flights x 60 s per noise model (seed 777), evaluation protocol; prints the pooled ADE of the model with
each velocity source and of constant velocity (which always differences positions).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402

NOISE_MODELS = ("mocap", "vio", "gnss")


def pooled_ade(flights, source: str, checkpoint) -> tuple[float, float, int]:
    from uav_traj_predictor.evaluate import Protocol, build_methods, evaluate_flights
    protocol = Protocol(velocity_source=source)
    report = evaluate_flights(flights, build_methods(["model", "cv"], protocol, checkpoint=checkpoint), protocol,
                              progress=False)
    pooled = report["pooled"]
    return pooled["model"]["ade"], pooled["cv"]["ade"], pooled["model"]["windows"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped one)")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from uav_traj_predictor.sim import generate_flights
    for noise in NOISE_MODELS:
        flights = generate_flights(30, 60, seed=777, noise=noise)
        (pose, cv, windows), (twist, _, _) = (pooled_ade(flights, source, args.checkpoint)
                                              for source in ("pose", "twist"))
        print(f"{noise:>6}: model (pose) {pose:.3f}, model (twist) {twist:.3f}, cv {cv:.3f} m, {windows} windows",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
