"""The longer-horizon targets as one table: the model at 0.5, 1, 2 and 3 s against CV, CA, KF, the adaptive KF
and the IMM (and VECTOR, which predicts 1 s only), per folder of the flights, clean and under seeded measurement
models.

Every method is scored on the same windows of a `--horizon` (default 30 = 3 s) protocol (a window needs the
whole horizon ahead); `ADE <lead>` is the mean 3D error over the steps up to that lead time, `FDE <lead>` the
error at it. Columns per lead: the model's ADE, each classical predictor's ADE, the best VECTOR checkpoint's
(where it applies), the ratio of the model to the best classical predictor (target <= 0.9 at 2 and 3 s) and
the model's per-axis 1-sigma / 2-sigma coverage at that very step (target 68 +- 7 % / >= 90 %); a last line
per folder gives the range of the 1-sigma and the lowest 2-sigma coverage over all horizon steps, and how many
steps meet both targets.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/horizon_table.py /work/shared/flights \
        [--checkpoint CKPT] [--vector /work/shared/anchors/vector] [--perturb SPEC ...] [--guard RATE]
        [--lead-calibration RATE] [--floors NEAR,FAR] [--json OUT]

Default perturbations: the clean flights and the flights thinned to 20 Hz with 1 cm white noise (seed 0).
Without --checkpoint the model is the shipped checkpoint that covers the horizon (models/horizon3s.pt).
`--floors NEAR,FAR` replaces the values of the guard's CALIBRATION_FLOORS (the lowest per-lead scale within the
first second and beyond) for this run, to compare them.
"""
from __future__ import annotations

import argparse
import json
import time

from uav_traj_predictor.data.perturb import Perturbation
from uav_traj_predictor.evaluate.methods import BASELINES, VECTOR_PREFIX, build_methods
from uav_traj_predictor.evaluate.protocol import Protocol
from uav_traj_predictor.evaluate.report import lead_name
from uav_traj_predictor.evaluate.runner import evaluate_flights
from uav_traj_predictor.model import guard

DEFAULT_PERTURBATIONS = ("none", "rate=20,noise=0.01")


def apply_floors(spec: str) -> None:
    """`--floors NEAR,FAR`: the values of the guard's CALIBRATION_FLOORS for this process (its lead split kept)."""
    near, far = (float(value) for value in spec.split(","))
    guard.CALIBRATION_FLOORS = ((guard.CALIBRATION_FLOORS[0][0], near), (guard.CALIBRATION_FLOORS[1][0], far))
TARGET_1SIGMA, TARGET_2SIGMA = (0.61, 0.75), 0.90     # per step: 1-sigma 68 +- 7 %, 2-sigma >= 90 %


def lead_rows(label: str, folder: str, entries: dict, protocol: Protocol) -> list[str]:
    """Markdown rows of one folder of one report: a row per lead time, then the all-steps coverage row."""
    model = entries["model"]
    vectors = [name for name in entries if name.startswith(VECTOR_PREFIX)]
    rows = []
    for key, step in protocol.lead_steps.items():
        ade = {name: entries[name].get(f"ade_{key}") for name in ("model", *BASELINES)}
        best = min(BASELINES, key=lambda name: ade[name])
        vector = [entries[name][f"ade_{key}"] for name in vectors if f"ade_{key}" in entries[name]]
        one, two = model["coverage_1sigma_by_step"][step - 1], model["coverage_2sigma_by_step"][step - 1]
        cells = [label, folder, lead_name(key),
                 f"**{ade['model']:.3f}** / {model[f'fde_{key}']:.3f}",
                 *(f"{ade[name]:.3f}" for name in BASELINES),
                 f"{min(vector):.3f}" if vector else "–",
                 f"{ade['model'] / ade[best]:.2f} ({best})", f"{100 * one:.0f} / {100 * two:.0f} %"]
        rows.append("| " + " | ".join(cells) + " |")
    one, two = model["coverage_1sigma_by_step"], model["coverage_2sigma_by_step"]
    inside = sum(TARGET_1SIGMA[0] <= a <= TARGET_1SIGMA[1] and b >= TARGET_2SIGMA for a, b in zip(one, two))
    rows.append(f"| {label} | {folder} | all {protocol.horizon} steps | {model['windows']} windows | "
                + " | ".join([""] * len(BASELINES)) + " | | | "
                f"1σ {100 * min(one):.0f}–{100 * max(one):.0f} %, 2σ ≥ {100 * min(two):.0f} %; "
                f"{inside}/{len(one)} steps in target |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flights")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped one covering the horizon)")
    parser.add_argument("--vector", help="VECTOR checkpoints folder (scored over their 1 s)")
    parser.add_argument("--horizon", type=int, default=30, help="protocol horizon, grid steps")
    parser.add_argument("--perturb", action="append", metavar="SPEC",
                        help=f"measurement models (default: {', '.join(DEFAULT_PERTURBATIONS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guard", type=float, default=None, metavar="RATE",
                        help="the model's guard rate (default: the product default)")
    parser.add_argument("--lead-calibration", type=float, default=None, metavar="RATE",
                        help="the guard's per-lead std calibration rate (default: the product default; 0 = off)")
    parser.add_argument("--floors", metavar="NEAR,FAR", help="the guard's CALIBRATION_FLOORS values for this run")
    parser.add_argument("--json", help="write every report here")
    args = parser.parse_args(argv)
    if args.floors:
        apply_floors(args.floors)
    protocol = Protocol(horizon=args.horizon)
    names = ["model", *BASELINES] + (["vector:*"] if args.vector else [])
    options = {} if args.guard is None else {"guard": args.guard}
    if args.lead_calibration is not None:
        options["lead_calibration"] = args.lead_calibration
    methods = build_methods(names, protocol, checkpoint=args.checkpoint, vector_dir=args.vector,
                            model_options=options)
    print(f"# {methods['model'].describe()}; horizon {protocol.horizon} steps; seed {args.seed}; "
          f"calibration floors {guard.CALIBRATION_FLOORS}")
    heads = ["measurement", "folder", "lead", "model ADE / FDE", *(name.upper() if len(name) == 2 else name
                                                                   for name in BASELINES),
             "best VECTOR", "model / best classical", "model cov. 1σ / 2σ at that step"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * 3 + "---:|" * (len(BASELINES) + 2) + "---:|---|")
    started, reports = time.perf_counter(), []
    for spec in args.perturb or DEFAULT_PERTURBATIONS:
        perturbation = Perturbation.parse(spec)
        report = evaluate_flights(args.flights, methods, protocol, perturbation=perturbation, seed=args.seed)
        reports.append(report)
        for folder, entries in [*report["groups"].items(), ("pooled", report["pooled"])]:
            for row in lead_rows(perturbation.label(), folder, entries, protocol):
                print(row)
    print(f"\n# {len(reports)} measurement models in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"sweep": reports}, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
