"""Simulator throughput: simulated flight-minutes per wall-clock minute on one core.

    taskset -c 0 .venv/bin/python bench/sim_speed.py [--flights 256] [--duration 60] [--rate 100] [--noise mocap]

Threads are pinned to 1 (numpy/BLAS) before numpy is imported. Reports the whole `generate_flights`
call (reference drawing + physics + noise), per family and for the default mix, per wall-clock minute
and per CPU minute of this process (the latter is what one uncontended core would give on a shared box).
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

from uav_traj_predictor.sim import FAMILIES, generate_flights  # noqa: E402


def measure(n_flights: int, duration_s: float, rate: float, noise: str, families) -> tuple[float, float]:
    """Simulated flight-minutes per wall-clock minute and per CPU minute of one generate_flights call."""
    wall, cpu = time.perf_counter(), time.process_time()
    generate_flights(n_flights, duration_s, seed=0, families=families, rate=rate, noise=noise)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n_flights * duration_s / wall, n_flights * duration_s / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flights", type=int, default=256)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--noise", default="mocap")
    parser.add_argument("--per-family", action="store_true", help="also time each family alone")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"{args.flights} flights x {args.duration:g} s at {args.rate:g} Hz, noise {args.noise}, CPUs {cpus}")
    rows = [("all families", None)] + ([(name, [name]) for name in FAMILIES] if args.per_family else [])
    for label, families in rows:
        per_wall, per_cpu = measure(args.flights, args.duration, args.rate, args.noise, families)
        print(f"{label:<14} {per_wall:8.0f} simulated flight-minutes per wall-clock minute "
              f"({per_cpu:.0f} per CPU minute)")


if __name__ == "__main__":
    main()
