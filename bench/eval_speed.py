"""Wall time of `evaluate_flights` with every baseline (and the model when a checkpoint exists).

Usage: .venv/bin/python bench/eval_speed.py [--flights ../shared/flights] [--vector ../shared/anchors/vector]
                                           [--repeat 4] [--threads 1]
The flights are read once and evaluated `repeat` times over (in memory), so the timing is the
evaluation itself (reading the text files is reported separately).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flights", default=str(REPO.parent / "shared" / "flights"))
    ap.add_argument("--vector", default=str(REPO.parent / "shared" / "anchors" / "vector"))
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if not Path(args.flights).is_dir():
        print(f"flights not found at {args.flights}", file=sys.stderr)
        return 2

    import torch
    from uav_traj_predictor.data import read_flights
    from uav_traj_predictor.evaluate import Protocol, build_methods, evaluate_flights
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    flights = read_flights(args.flights)
    read_s = time.perf_counter() - started
    notes = []
    vector = args.vector if Path(args.vector).is_dir() else None
    methods = build_methods(None, Protocol(), vector_dir=vector, notes=notes)
    for note in notes:
        print(f"note: {note}")
    started, cpu_started = time.perf_counter(), time.process_time()
    report = evaluate_flights(flights * args.repeat, methods)
    eval_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    windows = report["pooled"]["cv"]["windows"]
    print(f"{len(flights)} flights read in {read_s:.1f} s; evaluated x{args.repeat}: {windows} windows, "
          f"{len(methods)} methods, {eval_s:.1f} s wall, {cpu_s:.1f} s CPU (torch threads {args.threads}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    for name, entry in report["pooled"].items():
        print(f"  {name:<55} {entry['seconds']:7.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
