"""Hot-path timing of `StreamingPredictor`: one `step` + `predict` per tick.

    python -m uav_traj_predictor.model.latency [--checkpoint CKPT] [--tracks 1 1000] [--ticks 2000]

Run it on one core (e.g. `OMP_NUM_THREADS=1 taskset -c 1 ...`) to match the product's promise:
one track p50 <= 150 us, 1000 tracks in one tick <= 20 ms.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from .streaming import StreamingPredictor


def time_ticks(predictor: StreamingPredictor, tracks: int, ticks: int, seed: int = 0) -> np.ndarray:
    """Seconds per tick (step + predict of `tracks` tracks) over `ticks` ticks after warm-up."""
    rng = np.random.default_rng(seed)
    indices = predictor.add_tracks(tracks)
    positions = rng.normal(size=(tracks, 3))
    for _ in range(predictor.min_history):
        predictor.step(indices, rng.normal(size=(tracks, 3)))
    velocities = rng.normal(size=(ticks, tracks, 3))
    seconds = np.empty(ticks)
    for tick in range(ticks):
        start = time.perf_counter()
        predictor.step(indices, velocities[tick])
        predictor.predict(indices, positions)
        seconds[tick] = time.perf_counter() - start
    predictor.remove_tracks(indices)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="checkpoint (default: the shipped one)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--tracks", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--ticks", type=int, default=2000)
    args = parser.parse_args(argv)
    predictor = StreamingPredictor(args.checkpoint, backend=args.backend)
    print(f"model {predictor.model_id}, backend {args.backend}")
    for tracks in args.tracks:
        ticks = max(20, args.ticks // max(1, tracks // 10))
        seconds = time_ticks(predictor, tracks, ticks)
        print(f"{tracks:5d} tracks: p50 {np.median(seconds) * 1e6:9.1f} us   "
              f"p90 {np.percentile(seconds, 90) * 1e6:9.1f} us"
              f"   ({ticks} ticks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
