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
from ..model.calibration import RECOMMENDED_RATE
from .methods import MethodUnavailable, build_methods
from .protocol import Protocol
from .report import format_report, save_report
from .runner import evaluate_flights

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
                            model_options={"online_calibration": args.online_calibration})
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not methods:
        raise MethodUnavailable("no method to evaluate")
    examples = {} if args.plots else None
    started = time.perf_counter()
    unusable: list[str] = []
    report = evaluate_flights(args.paths, methods, protocol, progress=not args.quiet, examples=examples,
                              unusable=unusable)
    elapsed = time.perf_counter() - started
    if not report["files"]:
        raise FlightFormatError(f"no flight files found under {', '.join(args.paths)}")
    if _pooled_windows(report) == 0:
        raise FlightFormatError(f"no windows in any file: {'; '.join(unusable)}")
    for line in unusable:
        print(f"warning: {line}", file=sys.stderr)
    print(format_report(report))
    print(f"\n{len(report['files'])} files, {_pooled_windows(report)} windows, {len(methods)} methods "
          f"in {elapsed:.1f} s")
    save_report(report, examples, args.json, args.plots)
    return 0


def _pooled_windows(report: dict) -> int:
    return max((entry.get("windows", 0) for entry in report["pooled"].values()), default=0)


if __name__ == "__main__":
    sys.exit(main())
