"""Time one `_cstream.Plan.advance` call for one track (the C path, kernels/cstream.c) on the shipped
checkpoint: stepping and predicting (a node's usual tick), stepping alone (warming up: no prediction) and
predicting alone (no new grid sample), each including the argument handling; 20,000 calls each, p50/p99;
then one call for 1000 tracks (every track stepped and predicted: the blocks of kernels/cstream.c), without
and with the guard, and the guard's C step alone for 1000 tracks per call.

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
    parser.add_argument("--tracks", type=int, default=1000, help="tracks per call of the guard's timing")
    parser.add_argument("--ticks", type=int, default=300, help="calls of the guard's timing")
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
    time_many(args.checkpoint, args.tracks, args.ticks)
    time_guard(predictor.horizon_steps, predictor.dt, args.tracks, args.ticks)
    return 0


def time_many(checkpoint, tracks: int, ticks: int) -> None:
    """One Plan.advance for `tracks` tracks, each with one new grid sample and predicted (past min_history),
    without the guard and with it in the call (its GuardState); p50 per call."""
    rng = np.random.default_rng(0)
    for guard in (0.0, None):
        predictor = StreamingPredictor(checkpoint, capacity=tracks, **({} if guard is None else {"guard": guard}))
        plan, slots, slot = predictor._fused, predictor.slots, [int(i) for i in predictor.add_tracks(tracks)]
        state = predictor._guard.c_state() if predictor.guard else None
        out, ready = np.empty((tracks, 3, predictor.horizon_steps, 3)), np.empty(tracks, bool)
        times = []
        for k in range(predictor.min_history + ticks):
            lists = [[tuple(rng.normal(0, 0.5, 3)) + (0.004,) + tuple(rng.normal(0, 0.5, 3))] for _ in slot]
            lasts = [tuple(rng.normal(0, 1.0, 3)) for _ in slot]
            started = time.perf_counter()
            plan.advance(slots, slot, lists, lasts, predictor.min_history, MAX_SPEED, out, ready, PRIOR_M, state)
            times.append(time.perf_counter() - started)
        assert ready.all()
        p50 = float(np.percentile(times[predictor.min_history + ticks // 5:], 50))
        print(f"{tracks} tracks per call, guard {predictor.guard:g}: p50 {p50 * 1e3:.3f} ms "
              f"({p50 / tracks * 1e6:.2f} us per track)")


def time_guard(horizon: int, dt: float, tracks: int, ticks: int) -> None:
    """The guard's C step alone (GuardState.apply: the partner IMM's step, scoring, forecast and blend) for
    `tracks` tracks each advancing one grid step per call, on slow circles with 1 cm noise; p50 per call."""
    from uav_traj_predictor.model.guard import Guard
    guard, rng = Guard(tracks, horizon, dt), np.random.default_rng(0)
    if not guard.fused:
        print("guard: C twin not built")
        return
    index, times = np.arange(tracks), []
    for k in range(ticks):
        t = k * dt
        last = np.column_stack([np.cos(0.5 * t + index), np.sin(0.5 * t + index), np.full(tracks, 2.0)])
        last += rng.normal(0, 0.01, last.shape)
        out = np.zeros((tracks, 3, horizon, 3))
        out[:, 0], out[:, 2] = last[:, None, :], 0.1
        started = time.perf_counter()
        guard.apply_packed(index, np.full(tracks, k + 1), last, np.full(tracks, 0.01), out)
        times.append(time.perf_counter() - started)
    p50 = float(np.percentile(times[ticks // 5:], 50))
    print(f"guard step, {tracks} tracks per call: p50 {p50 * 1e3:.3f} ms ({p50 / tracks * 1e6:.2f} us per track)")


if __name__ == "__main__":
    raise SystemExit(main())
