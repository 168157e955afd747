"""The model's coverage per axis and over each flight's course: what the folder-level coverage of
`bench/horizon_table.py` averages away; and each flight's NLL and NEES.

Per folder and chosen horizon step: the share of errors inside 1 and 2 published std pooled over the axes (the
issue-16 metric, as horizon_table prints it) and on x, y, z separately; then per flight the pooled coverage over
the chosen steps in consecutive ranges of its windows (a track's start: the guard's per-lead calibration starts
from the simulation calibration and adapts as predictions mature). Same protocol, windows and perturbation as
`uav-traj evaluate` (one segment's windows in time order). Per flight also the mean NLL and NEES over all
steps (metrics.score_windows: a flight whose std is over-confident at times shows there, even when its coverage
looks right). `--floors NEAR,FAR` replaces the guard's CALIBRATION_FLOORS values (the lowest scale within the
first second and beyond) for this run, to compare them.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/coverage_axes.py /work/shared/flights \
        [--checkpoint CKPT] [--horizon 30] [--steps 6,12,18,24,28,30] [--perturb SPEC] [--seed 0]
        [--lead-calibration RATE] [--floors 0.7,0.1] [--splits 0,100,200,400]
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from uav_traj_predictor.model import guard
from uav_traj_predictor.data.perturb import Perturbation
from uav_traj_predictor.data.readers import flight_paths
from uav_traj_predictor.evaluate.methods import build_methods
from uav_traj_predictor.evaluate.protocol import Protocol, truth_windows
from uav_traj_predictor.evaluate.runner import evaluate_flights

from horizon_table import apply_floors    # bench/, the script's own folder (as horizon_cost imports release_compare)


class StandardisedErrors:
    """`evaluate_flights`' export hook: the model's |error| / std (n, H, 3) of each segment's windows, in order."""

    def __init__(self, horizon: int):
        self.horizon, self.parts, self.flight = horizon, [], None

    def add(self, flight, segment, indices, predictions, std=None) -> None:
        self.flight = flight
        truth = truth_windows(segment.positions, indices, self.horizon)
        self.parts.append(np.abs(predictions["model"] - truth) / std["model"])


def standardised_errors(flights: str, method, protocol: Protocol, perturbation: Perturbation, seed: int):
    """{folder: [(flight name, |error| / std (n, H, 3) in window order, the flight's report summary)]} of the
    model's predictions, through `uav-traj evaluate`'s own walk (evaluate_flights, one flight at a time)."""
    out = defaultdict(list)
    for path in flight_paths(flights):
        collected = StandardisedErrors(protocol.horizon)
        report = evaluate_flights([path], {"model": method}, protocol, perturbation=perturbation, seed=seed,
                                  export=collected)
        if collected.parts:
            out[path.parent.name].append((collected.flight, np.concatenate(collected.parts),
                                          report["pooled"]["model"]))
    return out


def coverage(z: np.ndarray) -> str:
    return f"{100 * (z <= 1).mean():.1f} / {100 * (z <= 2).mean():.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flights")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped one covering the horizon)")
    parser.add_argument("--horizon", type=int, default=30, help="protocol horizon, grid steps")
    parser.add_argument("--steps", default="6,12,18,24,28,30", help="horizon steps to show (1-based)")
    parser.add_argument("--perturb", default="none", metavar="SPEC", help="measurement model (data.perturb)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lead-calibration", type=float, default=None, metavar="RATE",
                        help="the guard's per-lead calibration rate (default: the product default; 0 = off)")
    parser.add_argument("--floors", metavar="NEAR,FAR", help="the guard's CALIBRATION_FLOORS values for this run")
    parser.add_argument("--splits", default="0,100,200,400", help="window ranges per flight start here")
    args = parser.parse_args(argv)
    protocol = Protocol(horizon=args.horizon)
    steps = [int(step) for step in args.steps.split(",")]
    if not all(1 <= step <= protocol.horizon for step in steps):
        parser.error(f"--steps must lie in 1..{protocol.horizon}")
    splits = [int(value) for value in args.splits.split(",")] + [None]
    if args.floors:
        apply_floors(args.floors)
    options = {} if args.lead_calibration is None else {"lead_calibration": args.lead_calibration}
    method = build_methods(["model"], protocol, checkpoint=args.checkpoint, model_options=options)["model"]
    perturbation = Perturbation.parse(args.perturb)
    print(f"# {method.describe()}; horizon {protocol.horizon}; {perturbation.label()}, seed {args.seed}; "
          f"calibration floors {guard.CALIBRATION_FLOORS}")
    folders = standardised_errors(args.flights, method, protocol, perturbation, args.seed)
    print("\n| folder | step | windows | 1σ / 2σ % pooled | x | y | z |\n|---|---:|---:|---|---|---|---|")
    for folder, flights in folders.items():
        z = np.concatenate([errors for _, errors, _ in flights])
        for step in steps:
            cells = [coverage(z[:, step - 1])] + [coverage(z[:, step - 1, axis]) for axis in range(3)]
            print(f"| {folder} | {step} | {len(z)} | " + " | ".join(cells) + " |")
    print(f"\n| folder | flight | windows | NLL | NEES | 1σ / 2σ % over steps {args.steps}, by window range |\n"
          "|---|---|---:|---:|---:|---|")
    for folder, flights in folders.items():
        for name, errors, summary in flights:
            nll, nees = summary["nll"], summary["nees"]
            chosen = errors[:, [step - 1 for step in steps]]
            ranges = [f"[{start}:{min(stop or len(errors), len(errors))}] {coverage(chosen[start:stop])}"
                      for start, stop in zip(splits[:-1], splits[1:]) if start < len(errors)]
            print(f"| {folder} | {name} | {len(errors)} | {nll:.3f} | {nees:.2f} | " + ", ".join(ranges) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
