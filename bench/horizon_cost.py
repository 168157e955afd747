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
from pathlib import Path

from release_compare import compare

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "models"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=1)
    parser.add_argument("--short", type=Path, default=MODELS / "default.pt", help="the 1 s checkpoint")
    parser.add_argument("--long", type=Path, default=MODELS / "horizon3s.pt", help="the 3 s checkpoint")
    args = parser.parse_args(argv)
    sources = {"1 s": (HERE, args.short, None, {}), "3 s": (HERE, args.long, None, {}),
               "1 s, guard 0": (HERE, args.short, None, {"guard": 0.0}),
               "3 s, guard 0": (HERE, args.long, None, {"guard": 0.0})}
    compare(sources, args.rounds, args.cpu, {"ratio 3 s / 1 s": ("3 s", "1 s"),
                                             "ratio 3 s / 1 s, guard 0": ("3 s, guard 0", "1 s, guard 0")})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
