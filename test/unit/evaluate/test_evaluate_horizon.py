"""Longer horizons in the evaluation: per-lead figures (ADE / FDE at 0.5, 1, 2, 3 s), methods that predict
fewer steps (VECTOR's 1 s) scored over their own steps, and `uav-traj evaluate --horizon 30` choosing the
shipped 3 s checkpoint (test_model_horizon.py for the checkpoint itself)."""

import json

import numpy as np
import pytest

from uav_traj_predictor.data import Flight
from uav_traj_predictor.evaluate import Protocol, SegmentPrediction, evaluate_flights, score_windows, summarise
from uav_traj_predictor.evaluate.cli import main as evaluate_main
from uav_traj_predictor.evaluate.report import format_leads


def helix(duration, rate=100.0):
    t = np.arange(int(round(duration * rate)) + 1) / rate
    return t, np.stack([3 * np.cos(0.8 * t), 3 * np.sin(0.8 * t), 1.0 + 0.2 * t], axis=1)


def write_tum(path, t, p):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.column_stack([t, p, np.tile([0.0, 0.0, 0.0, 1.0], (len(t), 1))])
    path.write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(" ".join(f"{v:.6f}" for v in r) for r in rows))


def test_lead_steps_follow_the_horizon():
    assert Protocol().lead_steps == {"0p5": 5, "1s": 10}
    assert Protocol(horizon=30).lead_steps == {"0p5": 5, "1s": 10, "2s": 20, "3s": 30}
    assert Protocol(horizon=25).lead_steps == {"0p5": 5, "1s": 10, "2s": 20}
    assert Protocol(horizon=3).lead_steps == {}
    assert Protocol(horizon=40, rate=20.0).lead_steps == {"0p5": 10, "1s": 20, "2s": 40}


def test_per_lead_figures_are_means_up_to_and_at_the_lead():
    errors = np.arange(1, 31, dtype=float)[None, :, None] * np.array([1.0, 0.0, 0.0])    # e_j = j m
    scores = score_windows(np.repeat(errors, 4, axis=0), np.zeros((4, 30, 3)))
    summary = summarise(scores, 5, Protocol(horizon=30).lead_steps, 30)
    for key, step in {"0p5": 5, "1s": 10, "2s": 20, "3s": 30}.items():
        assert summary[f"ade_{key}"] == pytest.approx((step + 1) / 2)
        assert summary[f"fde_{key}"] == pytest.approx(step)
    assert summary["ade"] == summary["ade_3s"] and summary["fde"] == summary["fde_3s"]
    short = summarise(score_windows(np.repeat(errors[:, :10], 4, axis=0), np.zeros((4, 10, 3))), 5,
                      Protocol(horizon=30).lead_steps, 30)               # a 10-step method under a 30-step protocol
    assert short["horizon_steps"] == 10 and short["ade_1s"] == pytest.approx(5.5) and short["fde_1s"] == 10
    assert not {"ade", "fde", "ade_2s", "ade_3s", "miss_rate_1m"} & set(short)


class OneSecond:
    """A method that predicts 10 steps only (like VECTOR): constant velocity."""
    max_horizon = 10

    def predict_segment(self, segment):
        p = segment.positions
        out = np.full((len(p), 10, 3), np.nan)
        out[1:] = p[1:, None] + (p[1:] - p[:-1])[:, None] * np.arange(1, 11)[None, :, None]
        return SegmentPrediction(out)


def test_a_shorter_method_is_scored_on_the_same_windows_over_its_own_steps():
    from uav_traj_predictor.evaluate import build_methods
    t, p = helix(12.0)
    protocol = Protocol(horizon=30)
    methods = {**build_methods(["cv"], protocol), "short": OneSecond()}
    report = evaluate_flights([Flight("h", "grp/h.txt", t, p)], methods, protocol)
    cv, short = report["pooled"]["cv"], report["pooled"]["short"]
    assert cv["windows"] == short["windows"] == 121 - 50
    assert short["ade_1s"] == pytest.approx(cv["ade_1s"]) and short["fde_0p5"] == pytest.approx(cv["fde_0p5"])
    assert "ade_3s" in cv and "ade_3s" not in short and len(short["err_by_step"]) == 10
    table = format_leads(report)
    assert "ADE 3s" in table and "FDE 0.5s" in table
    row = next(line for line in table.splitlines() if line.startswith("pooled") and " short " in line)
    assert row.split()[-6:] == ["-"] * 6 and all(float(cell) > 0 for cell in row.split()[2:6])


def test_vector_predicts_its_one_second_under_a_longer_horizon(vector_dir):
    from uav_traj_predictor.evaluate.vector import vector_methods
    method = vector_methods(vector_dir, Protocol(horizon=30))["vector:mixed_dataset__mix_vel_max_norm_64_2_0p5"]
    t, p = helix(12.0)
    report = evaluate_flights([Flight("h", "grp/h.txt", t, p)], {"vector": method}, Protocol(horizon=30))
    entry = report["pooled"]["vector"]
    assert entry["horizon_steps"] == 10 and "ade_1s" in entry and "ade_2s" not in entry and "ade" not in entry
def test_cli_horizon_uses_the_shipped_3s_checkpoint(tmp_path, capsys, random_checkpoint):
    t, p = helix(12.0)
    write_tum(tmp_path / "flights" / "sim" / "helix.txt", t, p)
    out = tmp_path / "report.json"
    assert evaluate_main([str(tmp_path / "flights"), "--horizon", "30", "--methods", "model", "cv", "imm",
                          "--json", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    model = report["pooled"]["model"]
    assert "-h30-" in report["methods"]["model"] and model["windows"] == 121 - 50
    assert len(model["err_by_step"]) == len(model["coverage_1sigma_by_step"]) == 30
    for key in ("0p5", "1s", "2s", "3s"):
        assert np.isfinite(model[f"ade_{key}"]) and np.isfinite(report["pooled"]["imm"][f"fde_{key}"])
    assert model["ade_3s"] == model["ade"] and report["protocol"]["lead_steps"]["3s"] == 30
    assert "== ADE / FDE (m) by lead time ==" in printed and "ADE 3s" in printed
    assert evaluate_main([str(tmp_path / "flights"), "--horizon", "30", "--methods", "model",
                          "--checkpoint", random_checkpoint, "--quiet"]) == 2       # a 1 s checkpoint
    assert "does not fit the protocol (horizon 30" in capsys.readouterr().err
    assert evaluate_main([str(tmp_path / "flights"), "--horizon", "40", "--methods", "model", "--quiet"]) == 2
    assert "no shipped checkpoint predicts 40 steps" in capsys.readouterr().err
