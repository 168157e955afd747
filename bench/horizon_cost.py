"""Core cost of the 3 s checkpoint against the 1 s default, side by side: alternating processes pinned to one core.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/horizon_cost.py --rounds 5 [--cpu 1]

Each round runs, one after the other, a process per (checkpoint, guard) pair of this tree: models/default.pt
and models/horizon3s.pt, each with the product's defaults (guard on) and with the guard off. Each process
times `node_latency.core_one_track(updates=6000)` (push + tick of one track, p50 us) and
`core_many_tracks(freeze=True)` (1000 tracks: the tick and the 1000 pushes before it, p50 ms), torch on one
thread (the processes of bench/release_compare.py). Prints every process's figures, then the range over the
rounds and the ratio of the medians, 3 s / 1 s (the issue's target: within 2x).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from release_compare import run

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "models"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=1)
    parser.add_argument("--short", type=Path, default=MODELS / "default.pt", help="the 1 s checkpoint")
    parser.add_argument("--long", type=Path, default=MODELS / "horizon3s.pt", help="the 3 s checkpoint")
    args = parser.parse_args(argv)
    sources = {"1 s": (args.short, {}), "3 s": (args.long, {}),
               "1 s, guard 0": (args.short, {"guard": 0.0}), "3 s, guard 0": (args.long, {"guard": 0.0})}
    runs = {name: [] for name in sources}
    for round_index in range(args.rounds):
        for name, (checkpoint, options) in sources.items():
            figures = run(HERE, checkpoint, None, args.cpu, options)
            runs[name].append(figures)
            print(f"round {round_index + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()),
                  flush=True)
    print(f"\n| figure (p50) | {' | '.join(runs)} | ratio 3 s / 1 s | ratio 3 s / 1 s, guard 0 |")
    print("|---|" + "---|" * (len(runs) + 2))
    for key in runs["1 s"][0]:
        spans, medians = [], {}
        for name in runs:
            values = [figures[key] for figures in runs[name]]
            spans.append(f"{min(values):.3f}–{max(values):.3f}")
            medians[name] = statistics.median(values)
        print(f"| {key} | {' | '.join(spans)} | {medians['3 s'] / medians['1 s']:.2f}x | "
              f"{medians['3 s, guard 0'] / medians['1 s, guard 0']:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
