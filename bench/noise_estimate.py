"""The raw-position noise estimate (data/noise.py) and the online resampler: what they read on real
flights and what they cost per raw sample.

(1) levels: the estimate at every grid sample past the first 20 of each segment (`Segment.noise`), per
folder of the flights, at their native rate and under `--perturb`-style measurement models (p10 / p50 /
p90, mm); (2) cost: `PositionJitter.add` and `OnlineResampler.consume` per raw sample on one stream
(p50 of 20 blocks of 2,000 samples, us).

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/noise_estimate.py /work/shared/flights
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from uav_traj_predictor.core import OnlineResampler
from uav_traj_predictor.data import PreprocessConfig, read_flights, segments_from_flight
from uav_traj_predictor.data.noise import PositionJitter
from uav_traj_predictor.data.perturb import Perturbation, perturb_flight

MEASUREMENTS = ("none", "rate=20", "rate=20,noise=0.005", "rate=20,noise=0.01", "rate=20,noise=0.02")


def levels(folder: Path, spec: str, seed: int = 0) -> np.ndarray:
    values = []
    for flight in read_flights([folder]):
        flight = perturb_flight(flight, Perturbation.parse(spec), seed)
        values += [segment.noise[20:] for segment in segments_from_flight(flight)]
    return np.concatenate(values) * 1e3


def cost_us(function, samples, blocks: int = 20, size: int = 2000) -> float:
    times = []
    for block in range(blocks):
        chunk = samples[block * size:(block + 1) * size]
        started = time.perf_counter()
        for stamp, xyz in chunk:
            function(stamp, xyz)
        times.append((time.perf_counter() - started) / len(chunk))
    return float(np.median(times) * 1e6)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flights", type=Path)
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.flights.iterdir() if p.is_dir())
    print("| measurement | " + " | ".join(f"{f.name} p10 / p50 / p90 (mm)" for f in folders) + " |")
    print("|---|" + "---|" * len(folders))
    for spec in MEASUREMENTS:
        cells = []
        for folder in folders:
            value = levels(folder, spec)
            cells.append(" / ".join(f"{np.percentile(value, q):.3f}" for q in (10, 50, 90)))
        print(f"| {spec} | " + " | ".join(cells) + " |")
    rng = np.random.default_rng(0)
    samples = [(k * 0.05, [3 * math.cos(0.025 * k) + rng.normal(0, 0.01), 3 * math.sin(0.025 * k), 2.0])
               for k in range(40_000)]
    jitter, resampler = PositionJitter(), OnlineResampler(PreprocessConfig())
    print(f"\nper raw sample (20 Hz stream, 1 cm noise): PositionJitter.add {cost_us(jitter.add, samples):.2f} us, "
          f"OnlineResampler.consume {cost_us(resampler.consume, samples):.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
