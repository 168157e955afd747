"""Protocol windows, the report layout, `uav-traj evaluate` on generated files and bad input."""
import json

import numpy as np
import pytest

from uav_traj_predictor import cli as top_cli
from uav_traj_predictor.data import Flight
from uav_traj_predictor.evaluate import (Protocol, SegmentPrediction, build_methods, evaluate_flights,
                                         score_predictions, window_indices)
from uav_traj_predictor.evaluate.cli import main as evaluate_main

SUMMARY_KEYS = {"windows", "ade", "fde", "ade_0p5", "err_by_step"}


def helix(duration, rate=100.0, t0=1000.0):
    t = t0 + np.arange(int(round(duration * rate)) + 1) / rate
    s = t - t0
    return t, np.stack([3 * np.cos(0.8 * s), 3 * np.sin(0.8 * s), 1.0 + 0.2 * s], axis=1)


def flight(name, t, p, folder="grp"):
    return Flight(name=name, source=f"{folder}/{name}.txt", t=t, p=p)


def write_tum(path, t, p):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.column_stack([t, p, np.tile([0.0, 0.0, 0.0, 1.0], (len(t), 1))])
    path.write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(" ".join(f"{v:.6f}" for v in r) for r in rows))


def test_window_indices_rule():
    assert window_indices(30).size == 0                       # needs M >= history + horizon + 1
    assert window_indices(31).tolist() == [20]
    assert window_indices(45).tolist() == list(range(20, 35))
    assert window_indices(45, Protocol(history=5, horizon=3)).tolist() == list(range(5, 42))


def test_window_counts_follow_segments_and_gaps():
    t, p = helix(10.0)                                         # 10 s at 100 Hz -> 101 grid samples
    keep = (t - t[0] < 4.0) | (t - t[0] > 4.5)                 # a 0.5 s hole -> two segments
    report = evaluate_flights([flight("whole", t, p), flight("holed", t[keep], p[keep])], ["cv"])
    files = report["files"]
    assert files["grp/whole.txt"]["cv"]["windows"] == 101 - 30
    # [0, 3.99] s -> 40 grid samples; [4.51, 10] s -> 55 grid samples
    assert files["grp/holed.txt"]["cv"]["windows"] == (40 - 30) + (55 - 30)
    assert report["groups"]["grp"]["cv"]["windows"] == report["pooled"]["cv"]["windows"] == 71 + 35
    longer = evaluate_flights([flight("whole", t, p)], ["cv"], Protocol(history=10, horizon=5))
    assert longer["pooled"]["cv"]["windows"] == 101 - 15
    assert longer["protocol"]["history"] == 10 and longer["protocol"]["horizon"] == 5
    assert len(longer["pooled"]["cv"]["err_by_step"]) == 5


class NoisyTruthWithStd:
    """A method with uncertainty: the truth itself (std 0.1), as a stand-in for the model."""

    def predict_segment(self, segment):
        p = segment.positions
        out = np.full((len(p), 10, 3), np.nan)
        k = np.arange(len(p) - 10)
        out[k] = p[k[:, None] + np.arange(1, 11)] + 0.05
        return SegmentPrediction(out, np.full(out.shape, 0.1))


def test_report_layout_groups_and_external_scoring():
    t, p = helix(8.0)
    flights = [flight("a", t, p, "alpha"), flight("b", t, p + 1.0, "alpha"), flight("c", *helix(6.0), "beta")]
    methods = build_methods(["cv", "ca", "kf"]) | {"model": NoisyTruthWithStd()}
    report = evaluate_flights(flights, methods)
    json.loads(json.dumps(report))                                         # JSON-serialisable
    assert set(report) >= {"protocol", "pooled", "groups", "files"}
    assert list(report["groups"]) == ["alpha", "beta"]
    assert list(report["files"]) == ["alpha/a.txt", "alpha/b.txt", "beta/c.txt"]
    for scope in [report["pooled"], *report["groups"].values(), *report["files"].values()]:
        assert list(scope) == ["cv", "ca", "kf", "model"]
        for summary in scope.values():
            assert SUMMARY_KEYS <= set(summary) and len(summary["err_by_step"]) == 10
    model = report["pooled"]["model"]
    assert model["ade"] == pytest.approx(0.05 * np.sqrt(3))
    assert model["coverage_1sigma"] == 1.0 and "nll" in model
    assert "coverage_1sigma" not in report["pooled"]["cv"]
    assert report["pooled"]["cv"]["windows"] == 2 * 51 + 31
    # window-weighted pooling across groups
    alpha, beta = report["groups"]["alpha"]["ca"], report["groups"]["beta"]["ca"]
    expected = (alpha["ade"] * alpha["windows"] + beta["ade"] * beta["windows"]) / (alpha["windows"] + beta["windows"])
    assert report["pooled"]["ca"]["ade"] == pytest.approx(expected)
    # scoring recorded predictions reproduces the run's numbers
    from uav_traj_predictor.data import preprocess
    segment = preprocess(t, p)[0]
    k = window_indices(len(segment))
    recorded = methods["cv"].predict_segment(segment).positions[k]
    assert score_predictions(segment, k, recorded) == {
        key: value for key, value in report["files"]["alpha/a.txt"]["cv"].items()}


def test_cli_on_generated_tum_files(tmp_path, capsys):
    t, p = helix(12.0)
    write_tum(tmp_path / "flights" / "sim" / "helix.txt", t, p)
    write_tum(tmp_path / "flights" / "sim" / "helix_up.txt", t, p + 2.0)
    out = tmp_path / "out" / "report.json"
    status = top_cli.main(["evaluate", str(tmp_path / "flights"), "--json", str(out), "--methods", "cv", "ca", "kf",
                           "--plots", str(tmp_path / "plots"), "--quiet"])
    printed = capsys.readouterr().out
    assert status == 0
    report = json.loads(out.read_text())
    assert report["pooled"]["cv"]["windows"] == 2 * (121 - 30)
    assert "== pooled ==" in printed and "== sim ==" in printed and "ADE0.5" in printed
    assert "== ADE (m) summary ==" in printed
    assert report["pooled"]["ca"]["ade"] < report["pooled"]["cv"]["ade"]      # a helix curves
    written = sorted(f.name for f in (tmp_path / "plots").iterdir())
    assert written == ["calibration_vs_horizon.png", "error_vs_horizon.png", "examples_sim.png"]


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    assert evaluate_main([str(tmp_path / "nope.txt"), "--methods", "cv", "--quiet"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("this is not\na flight file\n")
    assert evaluate_main([str(garbage), "--methods", "cv", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "garbage.txt" in err and "Traceback" not in err
    assert evaluate_main([str(garbage), "--methods", "lstm", "--quiet"]) == 2
    assert "unknown method 'lstm'" in capsys.readouterr().err
    assert evaluate_main([str(garbage), "--checkpoint", str(garbage), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and "Traceback" not in err


def test_model_with_the_default_checkpoint_when_it_loads():
    from uav_traj_predictor.evaluate.methods import MethodUnavailable
    try:
        methods = build_methods(["model"])
    except MethodUnavailable as err:
        pytest.skip(f"no usable default checkpoint yet: {err}")
    t, p = helix(8.0)
    report = evaluate_flights([flight("h", t, p)], methods)
    model = report["pooled"]["model"]
    assert model["windows"] == 81 - 30
    assert np.isfinite(model["ade"]) and 0 <= model["coverage_1sigma"] <= model["coverage_2sigma"] <= 1


def test_cli_fails_when_no_window_fits(tmp_path, capsys):
    t, p = helix(2.5)                                           # 26 grid samples < 31
    write_tum(tmp_path / "short.txt", t, p)
    assert evaluate_main([str(tmp_path / "short.txt"), "--methods", "cv", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("uav-traj evaluate: error: no windows") and "short.txt" in err and "31" in err


def test_cli_warns_about_a_file_without_windows_among_good_ones(tmp_path, capsys):
    t, p = helix(5.0)
    write_tum(tmp_path / "good.txt", t, p)
    (tmp_path / "bad.txt").write_text("0 nan nan nan 0 0 0 1\n1 inf 0 0 0 0 0 1\n")
    assert evaluate_main([str(tmp_path), "--methods", "cv", "--quiet"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "bad.txt: no usable samples" in warnings[0] and "non-finite 2" in warnings[0]


def test_cli_twist_velocities_and_online_calibration(tmp_path, capsys, random_checkpoint):
    """--velocity-source twist reads a TUM file's extra vx vy vz columns (the model's input changes, the
    baselines do not); a file without velocities and a bad calibration rate are one-line errors."""
    t, p = helix(15.0)
    v = np.gradient(p, t, axis=0) + np.random.default_rng(0).normal(0, 0.3, p.shape)
    rows = np.column_stack([t, p, np.tile([0.0, 0.0, 0.0, 1.0], (len(t), 1)), v])
    with_velocity = tmp_path / "bb" / "helix.txt"
    with_velocity.parent.mkdir()
    with_velocity.write_text("# ts x y z qx qy qz qw\n" + "\n".join(" ".join(f"{x:.6f}" for x in r) for r in rows))
    reports = {}
    for source in ("pose", "twist"):
        out = tmp_path / f"{source}.json"
        assert evaluate_main([str(with_velocity), "--json", str(out), "--checkpoint", random_checkpoint,
                              "--methods", "model", "cv", "--velocity-source", source, "--quiet"]) == 0
        reports[source] = json.loads(out.read_text())
    assert reports["twist"]["protocol"]["velocity_source"] == "twist"
    assert reports["twist"]["pooled"]["cv"] == reports["pose"]["pooled"]["cv"]
    assert reports["twist"]["pooled"]["model"]["ade"] != reports["pose"]["pooled"]["model"]["ade"]
    out = tmp_path / "online.json"
    assert evaluate_main([str(with_velocity), "--json", str(out), "--checkpoint", random_checkpoint,
                          "--methods", "model", "--online-calibration", "0.02", "--quiet"]) == 0
    online = json.loads(out.read_text())
    assert "online calibration rate 0.02" in online["methods"]["model"]
    assert online["pooled"]["model"]["coverage_1sigma"] != reports["pose"]["pooled"]["model"]["coverage_1sigma"]
    capsys.readouterr()
    plain = tmp_path / "plain" / "helix.txt"
    write_tum(plain, t, p)
    assert evaluate_main([str(plain), "--methods", "model", "--checkpoint", random_checkpoint,
                          "--velocity-source", "twist", "--quiet"]) == 2
    assert "needs measured velocities" in capsys.readouterr().err
    assert evaluate_main([str(with_velocity), "--methods", "model", "--checkpoint", random_checkpoint,
                          "--online-calibration", "1.5", "--quiet"]) == 2
    assert "online calibration rate" in capsys.readouterr().err


def test_the_report_says_where_the_attitude_input_was_in_use():
    """Flights with orientations: the share of scored windows whose newest grid sample had the attitude input in
    use per group (identity orientations: 0); without orientations no such key."""
    from scipy.spatial.transform import Rotation

    from helpers.attitude import weaving
    t, p, q, _ = weaving(Rotation.identity(), seconds=40.0, dt=0.02)
    flights = [Flight("fly", "att/fly.txt", t, p, q=q), Flight("still", "flat/still.txt", t, p, q=np.tile(
        [0.0, 0.0, 0.0, 1.0], (len(t), 1)))]
    report = evaluate_flights(flights, ["cv"])
    assert report["attitude_in_use"]["flat"] == 0.0 and 0.7 < report["attitude_in_use"]["att"] < 1.0
    assert "attitude_in_use" not in evaluate_flights([Flight("fly", "att/fly.txt", t, p)], ["cv"])
