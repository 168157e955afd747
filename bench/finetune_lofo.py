"""Leave-one-flight-out fine-tuning gain: for each flight, fine-tune on all the others, score only it.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/finetune_lofo.py ../shared/flights \
        [--checkpoint models/default.pt] [--config config/train_finetune.yaml] [--json out.json] \
        [--perturb rate=20,noise=0.01 ...] [--slow 0.5 ...]

Each fold runs the project's own commands (`uav-traj train --config CONFIG --init CHECKPOINT --data
<the other flights>`, then `uav-traj evaluate <held-out flight> --methods model` for the shipped and
the fine-tuned checkpoint), so a flight is never scored by a model tuned on it; with `--perturb` also under
those measurement models (evaluate's `--perturb`, seed 0); with `--slow K` also on the held-out flight
replayed K times slower (the same path; K < 1: faster): evaluate's perturbation `speed=1/K`, before the others.
Prints one row per held-out flight and measurement, and the window-weighted ADE per folder; ~1 min per fold on one core.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from uav_traj_predictor.data.perturb import Perturbation

REPO = Path(__file__).resolve().parents[1]


def uav_traj(*args: str) -> None:
    command = [str(Path(sys.executable).parent / "uav-traj"), *args]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")


def model_score(flight: Path, checkpoint: Path, folder: Path, perturb: str) -> dict:
    out = folder / f"{flight.stem}_{checkpoint.parent.name}_{perturb or 'clean'}.json"
    extra = ["--perturb", perturb, "--seed", "0"] if perturb else []
    uav_traj("evaluate", str(flight), "--checkpoint", str(checkpoint), "--methods", "model", "--quiet",
             "--json", str(out), *extra)
    return json.loads(out.read_text())["pooled"]["model"]


def replay_spec(perturb: str, factor: float) -> str:
    """evaluate's --perturb text for `perturb` on the flight replayed `factor` times slower ("" for neither)."""
    speed = [] if factor == 1.0 else [f"speed={1.0 / factor!r}"]
    return ",".join(speed + ([perturb] if perturb else []))


def measurement_label(perturb: str, factor: float) -> str:
    return (perturb or "clean") + (f" slowed {factor:g}x" if factor != 1.0 else "")


def fold(flight: Path, others: list[Path], checkpoint: Path, config: Path, work: Path, perturbs,
         factors=(1.0,)) -> list[dict]:
    tuned_dir = work / flight.stem
    uav_traj("train", "--config", str(config), "--init", str(checkpoint), "--data", *map(str, others),
             "--out", str(tuned_dir), "--name", "tuned")
    (tuned,) = tuned_dir.rglob("tuned.pt")
    rows = []
    for factor in factors:
        for perturb in perturbs:
            spec = replay_spec(perturb, factor)
            shipped_score = model_score(flight, checkpoint, work, spec)
            tuned_score = model_score(flight, tuned, work, spec)
            rows.append({"folder": flight.parent.name, "flight": flight.stem,
                         "measurement": measurement_label(perturb, factor),
                         "windows": shipped_score["windows"], "shipped_ade": shipped_score["ade"],
                         "tuned_ade": tuned_score["ade"],
                         "tuned_coverage": [tuned_score.get("coverage_1sigma"), tuned_score.get("coverage_2sigma")]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flights", type=Path, help="folder of flight files (searched recursively)")
    parser.add_argument("--checkpoint", type=Path, default=REPO / "models" / "default.pt")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "train_finetune.yaml")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--perturb", action="append", default=[], metavar="SPEC",
                        help="also score under this measurement model (repeatable)")
    parser.add_argument("--slow", action="append", type=float, default=[], metavar="K",
                        help="also score the held-out flight replayed K times slower (repeatable; K < 1: faster)")
    args = parser.parse_args(argv)
    flights = sorted(path for path in args.flights.rglob("*") if path.is_file() and path.suffix in (".txt", ".csv"))
    if any(not factor > 0 for factor in args.slow):
        parser.error(f"--slow must be > 0, got {args.slow}")
    factors = [1.0, *(factor for factor in args.slow if factor != 1.0)]
    if args.slow and any(Perturbation.parse(spec).speed != 1.0 for spec in args.perturb):
        parser.error("give replay speeds with --slow K only, not as --perturb speed=...")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for flight in flights:
            for row in fold(flight, [other for other in flights if other != flight], args.checkpoint.resolve(),
                            args.config.resolve(), Path(tmp), ["", *args.perturb], factors):
                rows.append(row)
                change = 100 * (row["tuned_ade"] / row["shipped_ade"] - 1)
                print(f"{row['folder']:>10} {row['flight']:<28} {row['measurement']:<24} {row['windows']:>5}  "
                      f"shipped {row['shipped_ade']:.3f}  fine-tuned {row['tuned_ade']:.3f}  {change:+.1f} %",
                      flush=True)
    for measurement in [measurement_label(perturb, factor) for factor in factors for perturb in ["", *args.perturb]]:
        for folder in sorted({row["folder"] for row in rows}) + ["pooled"]:
            chosen = [row for row in rows if folder in ("pooled", row["folder"]) and row["measurement"] == measurement]
            windows = sum(row["windows"] for row in chosen)
            shipped = sum(row["shipped_ade"] * row["windows"] for row in chosen) / windows
            tuned = sum(row["tuned_ade"] * row["windows"] for row in chosen) / windows
            one, two = (sum(row["tuned_coverage"][k] * row["windows"] for row in chosen) / windows for k in (0, 1))
            print(f"{measurement:<24} {folder:>10} {windows:>5} windows: shipped {shipped:.3f}  fine-tuned "
                  f"{tuned:.3f}  {100 * (tuned / shipped - 1):+.1f} %  fine-tuned coverage {100 * one:.0f} / "
                  f"{100 * two:.0f} %")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
