"""Time one `_cstream.Plan.advance` call for one track (the C path, kernels/cstream.c) on the shipped
checkpoint: stepping and predicting (a node's usual tick), stepping alone (warming up: no prediction) and
predicting alone (no new grid sample), each including the argument handling; 20,000 calls each, p50/p99.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/fused_call.py [--checkpoint CKPT] [--calls 20000]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from uav_traj_predictor.data.noise import PRIOR_M  # noqa: E402
from uav_traj_predictor.model import StreamingPredictor  # noqa: E402
from uav_traj_predictor.model.spec import MAX_SPEED  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args(argv)
    predictor = StreamingPredictor(args.checkpoint)
    if predictor._fused is None:
        print("C extension _cstream not built: nothing to time")
        return 1
    plan, slots = predictor._fused, predictor.slots
    slot = int(predictor.add_tracks(1)[0])
    sample = (1.0, -0.5, 0.2, 0.004, 1.0, -0.5, 0.2)
    out, ready = np.empty((1, 3, predictor.horizon_steps, 3)), np.empty(1, bool)
    for _ in range(predictor.min_history):
        plan.advance(slots, [slot], [[sample]], [(0.0, 0.0, 0.0)], predictor.min_history, MAX_SPEED, out, ready,
                     PRIOR_M)
    cases = {"step + predict": ([[sample]], predictor.min_history),
             "step only (warming up)": ([[sample]], 10**9),
             "predict only": ([[]], predictor.min_history)}
    print(f"# {predictor.model_id}, {args.calls} calls each, one track")
    for name, (lists, min_history) in cases.items():
        times = np.empty(args.calls)
        for i in range(args.calls):
            started = time.perf_counter()
            plan.advance(slots, [slot], lists, [(0.0, 0.0, 0.0)], min_history, MAX_SPEED, out, ready, PRIOR_M)
            times[i] = time.perf_counter() - started
        print(f"{name:24s} p50 {np.percentile(times, 50) * 1e6:6.2f} us   p99 {np.percentile(times, 99) * 1e6:6.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
