"""`uav-traj evaluate PATH... --json OUT.json`: score the model and the baselines on flight files.

Prints a table (pooled and per folder: windows, ADE, FDE, ADE0.5 per method), writes the JSON
report (layout in evaluate.runner) and, with --plots, PNG figures. Errors in the input (missing or
malformed files, unusable checkpoints, no window in any file) end with a one-line message and exit
status 2; a file that gives no window while others do gets a warning line naming it and why.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..data import FlightFormatError
from ..data.perturb import Perturbation
from ..model.calibration import RECOMMENDED_RATE
from ..model.guard import DEFAULT_RATE as GUARD_DEFAULT, RECOMMENDED_RATE as GUARD_RATE
from .methods import MethodUnavailable, build_methods
from .protocol import Protocol
from .report import format_report, format_sweep, save_report
from .runner import evaluate_flights, in_sample_warnings

ERROR_STATUS = 2


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="uav-traj evaluate", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("paths", nargs="+", metavar="PATH",
                    help="flight files (TUM, EuRoC CSV, VECTOR CSV, ULog, rosbag2) or folders searched recursively")
    ap.add_argument("--json", metavar="OUT.json", help="write the report here")
    ap.add_argument("--checkpoint", help="model checkpoint (default: the package's default checkpoint)")
    ap.add_argument("--vector", metavar="DIR", help="add every VECTOR velocity checkpoint (*.pth) in DIR")
    ap.add_argument("--methods", nargs="+", metavar="NAME",
                    help="methods to run (shell patterns allowed, e.g. 'vector:*mix*'); default: all available")
    ap.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR")
    ap.add_argument("--history", type=int, default=Protocol.history, help="velocities of history per window")
    ap.add_argument("--horizon", type=int, default=Protocol.horizon, help="predicted grid steps")
    ap.add_argument("--velocity-source", choices=("pose", "twist"), default=Protocol.velocity_source,
                    help="the model's input velocities: differences of grid positions, or the flights' measured "
                         "velocities (twist; files without any are an error); baselines always use positions")
    ap.add_argument("--online-calibration", type=float, default=0.0, metavar="RATE",
                    help="rate of the model's online per-track std calibration (0 = off, the default: the "
                         f"checkpoint's offline calibration only; {RECOMMENDED_RATE:g} = the rate validated on "
                         "simulated flights); see docs/model.md")
    ap.add_argument("--guard", type=float, default=GUARD_DEFAULT, metavar="RATE",
                    help="rate of the model's guard, which blends each track's prediction toward a CV/CA IMM by how "
                         f"both did on that track (0 = off; default {GUARD_DEFAULT:g}, predictor_node's default; "
                         f"{GUARD_RATE:g} = the validated rate); see docs/model.md")
    ap.add_argument("--lead-calibration", type=float, default=None, metavar="RATE",
                    help="rate of the guard's per-lead, per-axis std calibration (default: predictor_node's, "
                         "0.05; 0 = off); see docs/model.md")
    ap.add_argument("--perturb", action="append", metavar="SPEC", default=None,
                    help="pass every flight through a measurement model first, e.g. 'rate=20,noise=0.01,dropout=0.05' "
                         "(keys: rate Hz, noise m, dropout, gaps /min, gap_len s, outliers, outlier_size m, drift "
                         "m/sqrt(s), jitter s; docs/evaluation.md); the truth is the perturbed flight. Given "
                         "several times: a sweep, one table over all of them")
    ap.add_argument("--sweep", metavar="KEY=V1,V2,...",
                    help="a sweep over one key on top of the (single) --perturb, e.g. --perturb rate=20 "
                         "--sweep noise=0,0.005,0.01,0.02")
    ap.add_argument("--seed", type=int, default=0, help="seed of the perturbations (per flight and name)")
    ap.add_argument("--export-tum", metavar="DIR",
                    help="write each flight's k-step-ahead predictions (stamped at the time they predict) and the "
                         "truth on the same stamps as TUM files, for evo (`evo_ape tum TRUTH PRED`; "
                         "docs/evaluation.md)")
    ap.add_argument("--export-horizons", default="10", metavar="J1,J2",
                    help="horizon steps to export (1-based grid steps)")
    ap.add_argument("--export-methods", nargs="+", metavar="NAME", help="methods to export (default: all)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (1 is fastest on a shared machine; see docs/evaluation.md)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (FlightFormatError, MethodUnavailable, ValueError, OSError) as err:
        print(f"uav-traj evaluate: error: {err}", file=sys.stderr)
        return ERROR_STATUS


def run(args) -> int:
    import torch
    torch.set_num_threads(max(1, args.threads))
    missing = [path for path in args.paths if not Path(path).exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    protocol = Protocol(history=args.history, horizon=args.horizon, velocity_source=args.velocity_source)
    notes: list[str] = []
    methods = build_methods(args.methods, protocol, checkpoint=args.checkpoint, vector_dir=args.vector, notes=notes,
                            model_options={"online_calibration": args.online_calibration,
                                           "guard": args.guard, "lead_calibration": args.lead_calibration})
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not methods:
        raise MethodUnavailable("no method to evaluate")
    perturbations = perturbations_of(args.perturb, args.sweep)
    if len(perturbations) > 1:
        return _run_sweep(args, methods, protocol, perturbations)
    examples = {} if args.plots else None
    export = None
    if args.export_tum:
        from .export import TumExport
        horizons = tuple(int(j) for j in args.export_horizons.split(","))
        if max(horizons) > protocol.horizon:
            raise ValueError(f"--export-horizons {args.export_horizons}: beyond the protocol's "
                             f"{protocol.horizon} steps")
        export = TumExport(args.export_tum, horizons, tuple(args.export_methods) if args.export_methods else None)
    started = time.perf_counter()
    unusable: list[str] = []
    report = evaluate_flights(args.paths, methods, protocol, progress=not args.quiet, examples=examples,
                              unusable=unusable, perturbation=perturbations[0], seed=args.seed, export=export)
    elapsed = time.perf_counter() - started
    if not report["files"]:
        raise FlightFormatError(f"no flight files found under {', '.join(args.paths)}")
    if _pooled_windows(report) == 0:
        raise FlightFormatError(f"no windows in any file: {'; '.join(unusable)}")
    for line in unusable + in_sample_warnings(report):
        print(f"warning: {line}", file=sys.stderr)
    print(format_report(report))
    if "attitude_in_use" in report:
        shares = ", ".join(f"{group} {share:.0%}" for group, share in report["attitude_in_use"].items())
        print(f"\nattitude input in use (windows; for a checkpoint that reads it): {shares}")
    print(f"\n{len(report['files'])} files, {_pooled_windows(report)} windows, {len(methods)} methods "
          f"in {elapsed:.1f} s")
    save_report(report, examples, args.json, args.plots)
    if export is not None:
        written = export.write()
        print(f"exported {len(written)} TUM files to {args.export_tum}")
    return 0


def perturbations_of(specs, sweep: str | None) -> list[Perturbation]:
    """The --perturb / --sweep arguments as a list of Perturbations (one identity when none)."""
    bases = [Perturbation.parse(spec) for spec in (specs or ["none"])]
    if not sweep:
        return bases
    if len(bases) != 1:
        raise ValueError("--sweep expands one --perturb; give at most one --perturb with it")
    key, sep, values = sweep.partition("=")
    if not sep or not values:
        raise ValueError(f"--sweep {sweep!r}: expected KEY=V1,V2,...")
    base = bases[0].label()
    taken = set() if base == "clean" else {part.split("=")[0] for part in base.split(",")}
    if key.strip() in taken:
        raise ValueError(f"--sweep key {key.strip()!r} is already set by --perturb {base!r}")
    prefix = "" if base == "clean" else base + ","
    out = [Perturbation.parse(f"{prefix}{key.strip()}={value.strip()}") for value in values.split(",")]
    return out


def _run_sweep(args, methods, protocol, perturbations) -> int:
    started, reports = time.perf_counter(), []
    for perturbation in perturbations:
        unusable: list[str] = []
        report = evaluate_flights(args.paths, methods, protocol, progress=not args.quiet, unusable=unusable,
                                  perturbation=perturbation, seed=args.seed)
        if _pooled_windows(report) == 0:
            raise FlightFormatError(f"{perturbation.label()}: no windows in any file: {'; '.join(unusable)}")
        for line in unusable + in_sample_warnings(report):
            print(f"warning: {perturbation.label()}: {line}", file=sys.stderr)
        reports.append(report)
    print(format_sweep(reports))
    print(f"\n{len(reports)} perturbations (seed {args.seed}), {len(reports[0]['files'])} files, "
          f"{len(methods)} methods in {time.perf_counter() - started:.1f} s")
    if args.plots:
        print("note: --plots is not drawn for a sweep", file=sys.stderr)
    save_report({"sweep": reports}, None, args.json, None)
    return 0


def _pooled_windows(report: dict) -> int:
    return max((entry.get("windows", 0) for entry in report["pooled"].values()), default=0)


if __name__ == "__main__":
    sys.exit(main())
