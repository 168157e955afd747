"""Leave-one-flight-out fine-tuning gain: for each flight, fine-tune on all the others, score only it.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/finetune_lofo.py ../shared/flights \
        [--checkpoint models/default.pt] [--config config/train_finetune.yaml] [--json out.json] \
        [--perturb rate=20,noise=0.01 ...]

Each fold runs the project's own commands (`uav-traj train --config CONFIG --init CHECKPOINT --data
<the other flights>`, then `uav-traj evaluate <held-out flight> --methods model` for the shipped and
the fine-tuned checkpoint), so a flight is never scored by a model tuned on it; with `--perturb` also under
those measurement models (evaluate's `--perturb`, seed 0). Prints one row per held-out flight and
measurement, and the window-weighted ADE per folder; ~1 min per fold on one core.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

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


def fold(flight: Path, others: list[Path], checkpoint: Path, config: Path, work: Path, perturbs) -> list[dict]:
    tuned_dir = work / flight.stem
    uav_traj("train", "--config", str(config), "--init", str(checkpoint), "--data", *map(str, others),
             "--out", str(tuned_dir), "--name", "tuned")
    (tuned,) = tuned_dir.rglob("tuned.pt")
    rows = []
    for perturb in perturbs:
        shipped_score = model_score(flight, checkpoint, work, perturb)
        tuned_score = model_score(flight, tuned, work, perturb)
        rows.append({"folder": flight.parent.name, "flight": flight.stem, "measurement": perturb or "clean",
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
    args = parser.parse_args(argv)
    flights = sorted(path for path in args.flights.rglob("*") if path.is_file() and path.suffix in (".txt", ".csv"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for flight in flights:
            for row in fold(flight, [other for other in flights if other != flight], args.checkpoint.resolve(),
                            args.config.resolve(), Path(tmp), ["", *args.perturb]):
                rows.append(row)
                change = 100 * (row["tuned_ade"] / row["shipped_ade"] - 1)
                print(f"{row['folder']:>10} {row['flight']:<28} {row['measurement']:<24} {row['windows']:>5}  "
                      f"shipped {row['shipped_ade']:.3f}  fine-tuned {row['tuned_ade']:.3f}  {change:+.1f} %",
                      flush=True)
    for measurement in ["clean", *args.perturb]:
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
