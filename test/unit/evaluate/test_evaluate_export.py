"""uav-traj evaluate --export-tum: k-step-ahead TUM files that evo reads as the report's own errors."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from uav_traj_predictor.evaluate import cli


def write_tum(path, seconds=30.0, rate=50.0):
    t = 1700000000.0 + np.arange(int(seconds * rate)) / rate
    s = t - t[0]
    p = np.column_stack([3 * np.cos(0.4 * s), 2 * np.sin(0.6 * s), 1 + 0.3 * np.sin(s)])
    np.savetxt(path, np.column_stack([t, p, np.tile([0, 0, 0, 1.0], (len(t), 1))]), fmt="%.9f")
    return path


def evo_ape(truth, prediction):
    """`evo_ape tum truth prediction` (no alignment): its mean and RMSE."""
    exe = Path(sys.executable).parent / "evo_ape"
    if not exe.exists():
        pytest.skip("evo is not installed (requirements.txt installs it for Python >= 3.11)")
    out = subprocess.run([str(exe), "tum", str(truth), str(prediction), "--no_warnings"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    values = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    return float(values["mean"]), float(values["rmse"])


def test_evo_reproduces_the_reports_error_at_each_exported_horizon(tmp_path, random_checkpoint):
    flight = write_tum(tmp_path / "loop.txt")
    report, folder = tmp_path / "r.json", tmp_path / "tum"
    assert cli.main([str(flight), "--checkpoint", str(random_checkpoint), "--methods", "model", "cv", "--quiet",
                     "--json", str(report), "--export-tum", str(folder), "--export-horizons", "1,10"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"loop__{m}__h{j}.tum" for m in ("cv", "model", "truth") for j in (1, 10)]
    summary = next(iter(json.loads(report.read_text())["files"].values()))
    for method in ("model", "cv"):
        for j in (1, 10):
            mean, rmse = evo_ape(folder / f"loop__truth__h{j}.tum", folder / f"loop__{method}__h{j}.tum")
            assert mean == pytest.approx(summary[method]["err_by_step"][j - 1], rel=1e-5, abs=1e-6)
            assert rmse == pytest.approx(summary[method]["rmse_by_step"][j - 1], rel=1e-5, abs=1e-6)
    rows = np.loadtxt(folder / "loop__model__h10.tum")
    truth = np.loadtxt(folder / "loop__truth__h10.tum")
    np.testing.assert_array_equal(rows[:, 0], truth[:, 0])          # stamped at the time they predict
    assert len(rows) == summary["model"]["windows"]


def test_export_horizon_beyond_the_protocol_is_an_error(tmp_path, capsys):
    flight = write_tum(tmp_path / "f.txt", seconds=10.0)
    assert cli.main([str(flight), "--methods", "cv", "--quiet", "--export-tum", str(tmp_path / "x"),
                     "--export-horizons", "11"]) == 2
    assert "beyond the protocol" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
    shutil.rmtree(tmp_path / "x", ignore_errors=True)


def test_the_export_hook_gets_each_scored_window_with_its_std_and_reproduces_the_report(tmp_path, random_checkpoint):
    """evaluate_flights hands `export.add` the very windows it scores (bench/coverage_axes.py builds its per-axis
    coverage on it): positions and std per method, None for a method without std."""
    from uav_traj_predictor.evaluate.metrics import score_windows
    from uav_traj_predictor.evaluate.methods import build_methods
    from uav_traj_predictor.evaluate.protocol import truth_windows
    from uav_traj_predictor.evaluate.runner import evaluate_flights

    class Collect:
        def __init__(self):
            self.calls = []

        def add(self, flight, segment, indices, predictions, std=None):
            self.calls.append((flight, segment, np.asarray(indices), predictions, std))

    flight = write_tum(tmp_path / "loop.txt")
    collected = Collect()
    methods = build_methods(["model", "cv"], checkpoint=random_checkpoint)
    report = evaluate_flights([flight], methods, export=collected)
    assert collected.calls and all(name == "loop" for name, *_ in collected.calls)
    windows = sum(len(indices) for _, _, indices, _, _ in collected.calls)
    assert windows == report["pooled"]["model"]["windows"] > 0
    assert all(std["cv"] is None for *_, std in collected.calls)
    parts = []
    for _, segment, indices, predictions, std in collected.calls:
        assert predictions["model"].shape == std["model"].shape == (len(indices), 10, 3)
        assert np.all(std["model"] > 0)
        parts.append(score_windows(predictions["model"], truth_windows(segment.positions, indices, 10), std["model"]))
    summary = report["pooled"]["model"]
    assert np.concatenate([p.nll for p in parts]).mean() == pytest.approx(summary["nll"], rel=1e-12)
    assert np.concatenate([p.nees for p in parts]).mean() == pytest.approx(summary["nees"], rel=1e-12)
