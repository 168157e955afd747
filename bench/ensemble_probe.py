"""A probe, not a product path: would averaging two shipped networks predict better than the 1 s default alone?

Scores, on the same 1 s windows, a 1 s checkpoint (the simulation-only one by default, which was the shipped
default when this was measured), the 3 s checkpoint's first 10 steps, and the mean of
their published positions (each through its own StreamingPredictor with the product's defaults, guard
included), per folder, clean or under one seeded measurement model:

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/ensemble_probe.py /work/shared/flights \
        [--perturb rate=20,noise=0.01,dropout=0.05,gaps=0.5,gap_len=15] [--seed 0] [--weight 0.5]

Development figures (the flights chose both checkpoints). The product runs one network per track; running two
would double the network's share of the per-update cost (docs/model.md, "Noticed, not done").
"""
from __future__ import annotations

import argparse

from uav_traj_predictor.core.prediction import SegmentPrediction
from uav_traj_predictor.data.perturb import Perturbation
from uav_traj_predictor.evaluate.methods import ModelMethod
from uav_traj_predictor.evaluate.protocol import Protocol
from uav_traj_predictor.evaluate.runner import evaluate_flights
from uav_traj_predictor.model import default_checkpoint_path, shipped_checkpoint_for


class Average:
    """The weighted mean of two methods' positions (the first one's std)."""

    def __init__(self, first: ModelMethod, second: ModelMethod, weight: float):
        self.first, self.second, self.weight, self.horizon = first, second, weight, first.horizon

    def predict_segment(self, segment) -> SegmentPrediction:
        a, b = self.first.predict_segment(segment), self.second.predict_segment(segment)
        return SegmentPrediction((1.0 - self.weight) * a.positions + self.weight * b.positions, a.std)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flights")
    parser.add_argument("--perturb", default="", help="measurement model (evaluate's --perturb syntax)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight", type=float, default=0.5, help="the 3 s checkpoint's share")
    parser.add_argument("--checkpoint", default=str(default_checkpoint_path("sim_only.pt")),
                        help="the 1 s checkpoint (default: the simulation-only one, held out on ../shared/flights)")
    args = parser.parse_args(argv)
    protocol = Protocol()
    first = ModelMethod(args.checkpoint, protocol)
    second = ModelMethod(shipped_checkpoint_for(30), protocol)
    methods = {"default": first, "3 s (10 steps)": second, "average": Average(first, second, args.weight)}
    perturbation = Perturbation.parse(args.perturb) if args.perturb else Perturbation()
    report = evaluate_flights(args.flights, methods, protocol, perturbation=perturbation, seed=args.seed)
    print(f"# {perturbation.label()}, seed {args.seed}, weight {args.weight:g}; ADE (m) on the 1 s windows")
    print("| folder | " + " | ".join(methods) + " | average / default |")
    print("|---|" + "---:|" * (len(methods) + 1))
    for group, entries in sorted(report["groups"].items()):
        ade = [entries[name]["ade"] for name in methods]
        print(f"| {group} | " + " | ".join(f"{value:.4f}" for value in ade) + f" | {ade[2] / ade[0]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
