"""Core cost of this tree against another release, side by side: alternating processes pinned to one core.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/release_compare.py --rounds 5 \
        --other-tree /work/old --other-path /tmp/oldpkg [--cpu 1]

Each round runs, one after the other, a process of the other release (`--other-tree`: a checkout of it,
whose `bench/node_latency.py` and `models/default.pt` are used; `--other-path`: a directory to put first
on PYTHONPATH holding that release's built package, e.g. a copy of its installed one), one of this tree
with the product's defaults and one of this tree with the guard off (`--orientations`: and one with each sample's
orientation pushed, as an Odometry carries it). Each process times
`node_latency.core_one_track(updates=6000)` (push + tick of one track, p50 us) and
`core_many_tracks(freeze=True)` (1000 tracks: the tick and the 1000 pushes before it, p50 ms), torch on
one thread. Prints every process's figures, then the range over the rounds and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
import node_latency as nl
import torch
torch.set_num_threads(1)
kw = {kw}
one = nl.core_one_track({ckpt!r}, updates=6000, **kw)
many = nl.core_many_tracks({ckpt!r}, freeze=True, **kw)
print(json.dumps({{"one_track_us": one["p50"], "tick_1000_ms": many["tick_ms"]["p50"],
                  "push_1000_ms": many["push_all_ms"]["p50"]}}))
"""


def run(bench: Path, checkpoint: Path, path: str | None, cpu: int, options: dict) -> dict:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path
    code = CHILD.format(bench=str(bench), ckpt=str(checkpoint), kw=repr(options))
    out = subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-c", code], env=env, cwd="/tmp",
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(sources: dict, rounds: int, cpu: int, ratios: dict) -> dict:
    """Alternate one process per source {name: (bench dir, checkpoint, PYTHONPATH or None, options)} for
    `rounds` rounds pinned to `cpu`, print every process's figures, then the table: the range over the rounds
    per source and, per ratios {column title: (numerator source, denominator source)}, the ratio of the
    medians. Returns {name: [figures per round]}."""
    runs = {name: [] for name in sources}
    for round_index in range(rounds):
        for name, (bench, checkpoint, path, options) in sources.items():
            figures = run(bench, checkpoint, path, cpu, options)
            runs[name].append(figures)
            print(f"round {round_index + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()),
                  flush=True)
    print(f"\n| figure (p50) | {' | '.join(runs)} | {' | '.join(ratios)} |")
    print("|---|" + "---|" * (len(runs) + len(ratios)))
    first = next(iter(runs))
    for key in runs[first][0]:
        spans, medians = [], {}
        for name in runs:
            values = [figures[key] for figures in runs[name]]
            spans.append(f"{min(values):.3f}–{max(values):.3f}")
            medians[name] = statistics.median(values)
        columns = [f"{medians[top] / medians[bottom]:.2f}x" for top, bottom in ratios.values()]
        print(f"| {key} | {' | '.join(spans)} | {' | '.join(columns)} |")
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other-tree", required=True, type=Path)
    parser.add_argument("--other-path", help="PYTHONPATH for the other release's package")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=1)
    parser.add_argument("--orientations", action="store_true",
                        help="also this tree with every sample's orientation pushed (a checkpoint with the attitude "
                             "input then runs its thrust-axis estimate per grid sample)")
    args = parser.parse_args(argv)
    sources = {"previous": (args.other_tree / "bench", args.other_tree / "models" / "default.pt", args.other_path, {}),
               "this": (HERE, HERE.parent / "models" / "default.pt", None, {}),
               "this, guard 0": (HERE, HERE.parent / "models" / "default.pt", None, {"guard": 0.0})}
    ratios = {"ratio this / previous": ("this", "previous"),
              "ratio guard 0 / previous": ("this, guard 0", "previous")}
    if args.orientations:
        sources["this, orientations"] = (HERE, HERE.parent / "models" / "default.pt", None, {"orientations": True})
        ratios["ratio orientations / previous"] = ("this, orientations", "previous")
    compare(sources, args.rounds, args.cpu, ratios)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
