"""flight file -> `bag from-flight` -> `bag eval` gives the metrics `uav-traj evaluate` gives on the file."""
import json

import numpy as np
import pytest

from uav_traj_predictor.bags import cli as bag_cli
from uav_traj_predictor.bags.replay_eval import PredictionTable, score_table
from uav_traj_predictor.data import read_flight
from uav_traj_predictor.evaluate import Protocol
from uav_traj_predictor.evaluate import cli as evaluate_cli

TOLERANCE_M = 1e-6
SUMMARY_KEYS = ("ade", "fde", "ade_0p5", "coverage_1sigma", "coverage_2sigma", "nll")


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint):
    """The round trip checks plumbing, not accuracy: the small random-weight checkpoint."""
    return random_checkpoint


def write_tum(path, seconds=15.0, rate=100.0, seed=1, t_start=1403636579.5):
    """A curved, noisy flight with jittered epoch stamps (9 decimals) as a TUM file."""
    rng = np.random.default_rng(seed)
    count = int(seconds * rate)
    t = t_start + np.arange(count) / rate + rng.uniform(0, 0.002, count)
    s = t - t_start
    p = np.column_stack([3 * np.cos(0.5 * s), 3 * np.sin(0.5 * s), 1 + 0.2 * np.sin(s)])
    p = p + rng.normal(0, 0.003, (count, 3))
    yaw = 0.5 * s + np.pi / 2
    lines = ["# timestamp tx ty tz qx qy qz qw"]
    lines += [f"{ti:.9f} {x:.6f} {y:.6f} {z:.6f} 0 0 {np.sin(a / 2):.9f} {np.cos(a / 2):.9f}"
              for ti, (x, y, z), a in zip(t, p, yaw)]
    path.write_text("\n".join(lines) + "\n")
    return path


def offline_and_bag_reports(tmp_path, flight_file, checkpoint, storage="mcap"):
    offline_json, bag_json, bag = tmp_path / "offline.json", tmp_path / "bag.json", tmp_path / "bag"
    assert evaluate_cli.main([str(flight_file), "--checkpoint", str(checkpoint), "--json", str(offline_json),
                              "--quiet"]) == 0
    assert bag_cli.main(["from-flight", str(flight_file), "--out", str(bag), "--storage", storage]) == 0
    assert bag_cli.main(["eval", str(bag), "--checkpoint", str(checkpoint), "--json", str(bag_json)]) == 0
    return json.loads(offline_json.read_text()), json.loads(bag_json.read_text())


def assert_same_pooled(offline, replayed):
    assert set(offline["pooled"]) == {"model", "cv", "ca", "kf", "akf", "imm"}
    assert set(replayed["pooled"]) == set(offline["pooled"])
    assert replayed["protocol"] == offline["protocol"]
    for method, expected in offline["pooled"].items():
        got = replayed["pooled"][method]
        assert got["windows"] == expected["windows"] > 0, method
        for key in SUMMARY_KEYS:
            if key in expected:
                assert abs(got[key] - expected[key]) <= TOLERANCE_M, (method, key, got[key], expected[key])
        np.testing.assert_allclose(got["err_by_step"], expected["err_by_step"], atol=TOLERANCE_M, rtol=0)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_generated_flight_round_trip(tmp_path, checkpoint, storage):
    flight_file = write_tum(tmp_path / "generated.txt")
    offline, replayed = offline_and_bag_reports(tmp_path, flight_file, checkpoint, storage)
    assert_same_pooled(offline, replayed)
    coverage = replayed["bag"]["coverage"]["model"]
    assert coverage["covered"] == coverage["defined"] == offline["pooled"]["model"]["windows"]
    assert set(replayed) >= {"protocol", "pooled", "groups", "files", "bag"}


def test_shared_flight_round_trip(tmp_path, checkpoint, flights_dir, require_shared):
    source = require_shared(flights_dir / "euroc" / "V1_01_easy_original.txt", "EuRoC V1_01")
    lines = source.read_text().splitlines()
    crop = tmp_path / "V1_01_crop.txt"                     # 25 s of the 200 Hz ground truth
    crop.write_text("\n".join(lines[:1 + 25 * 200]) + "\n")
    offline, replayed = offline_and_bag_reports(tmp_path, crop, checkpoint)
    assert_same_pooled(offline, replayed)


def test_several_flights_get_one_topic_each(tmp_path, checkpoint):
    first = write_tum(tmp_path / "uav_a.txt", seconds=6.0, seed=2)
    second = write_tum(tmp_path / "uav-b.txt", seconds=6.0, seed=3, t_start=1403636581.25)
    bag, report_path = tmp_path / "two", tmp_path / "two.json"
    assert bag_cli.main(["from-flight", str(first), str(second), "--out", str(bag)]) == 0
    assert bag_cli.main(["eval", str(bag), "--checkpoint", str(checkpoint), "--json", str(report_path),
                         "--methods", "model", "cv", "--plots", str(tmp_path / "plots")]) == 0
    report = json.loads(report_path.read_text())
    assert len(list((tmp_path / "plots").glob("*.png"))) >= 2
    assert report["bag"]["odometry_topics"] == ["/uav_a/odom", "/uav_b/odom"]
    assert len(report["files"]) == 2
    coverage = report["bag"]["coverage"]["model"]             # both tracks streamed, each its own samples
    assert coverage["covered"] == coverage["defined"] > 0
    flight = read_flight(bag, topic="/uav_b/odom")
    assert flight.t[0] == pytest.approx(1403636581.25, abs=3e-3)


def test_recorded_predictions_are_scored_on_their_own_windows(tmp_path):
    """score_table scores exactly the windows whose grid time has a prediction, nothing else."""
    flight = read_flight(write_tum(tmp_path / "f.txt", seconds=8.0))
    protocol = Protocol()
    from uav_traj_predictor.data import segments_from_flight
    segment = segments_from_flight(flight, protocol.preprocess_config())[0]
    k = np.arange(20, len(segment) - 10)
    truth = segment.positions[k[:, None] + np.arange(1, 11)]
    rows = [(segment.t0 + kk * segment.dt, truth[i] + 0.05, None) for i, kk in enumerate(k) if kk % 3]
    scores, covered, defined = score_table(flight, PredictionTable.build(rows), protocol)
    assert defined == len(k) and covered == len(rows) == len(scores)
    np.testing.assert_allclose(scores.errors, np.sqrt(3) * 0.05, atol=1e-12)


def test_recorded_tracks_match_odometry_topics_by_name_or_namespace():
    from uav_traj_predictor.bags.replay_eval import match_tracks
    a, b, c = object(), object(), object()
    assert match_tracks({"uav1": a, "/uav2/odom": b}, ["/uav1/odom", "/uav2/odom"]) == {"/uav1/odom": a,
                                                                                        "/uav2/odom": b}
    assert match_tracks({"odom": a}, ["/odom"]) == {"/odom": a}
    assert match_tracks({"something_else": c}, ["/vehicle/pose_odom"]) == {"/vehicle/pose_odom": c}   # the only pair
    assert match_tracks({"x": a, "y": b}, ["/odom"]) == {}


def test_perturbed_bag_replay_equals_the_offline_evaluation_of_the_same_measurements(tmp_path, checkpoint):
    """bag eval --perturb: the node's streaming path (noise estimate, interval velocities and all) over the
    perturbed odometry scores exactly what the offline evaluation gives for the same perturbed flight."""
    from uav_traj_predictor.data import read_flight
    from uav_traj_predictor.data.perturb import Perturbation, perturb_flight
    from uav_traj_predictor.evaluate.methods import build_methods
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    bag, bag_json = tmp_path / "bag", tmp_path / "bag.json"
    assert bag_cli.main(["from-flight", str(write_tum(tmp_path / "f.txt", seconds=20.0)), "--out", str(bag)]) == 0
    spec = "rate=50,noise=0.01,outliers=0.002"            # no outage: one prediction per grid sample
    assert bag_cli.main(["eval", str(bag), "--checkpoint", str(checkpoint), "--json", str(bag_json),
                         "--perturb", spec, "--seed", "3", "--methods", "model", "cv"]) == 0
    replayed = json.loads(bag_json.read_text())
    assert replayed["perturbation"]["label"] == Perturbation.parse(spec).label()
    assert replayed["perturbation"]["seed"] == 3
    flight = perturb_flight(read_flight(bag, fmt="bag", topic="/odom"), Perturbation.parse(spec), seed=3)
    offline = evaluate_flights([flight], build_methods(["model", "cv"], checkpoint=str(checkpoint)))
    for method in ("model", "cv"):
        got, expected = replayed["pooled"][method], offline["pooled"][method]
        assert got["windows"] == expected["windows"] > 0
        assert abs(got["ade"] - expected["ade"]) <= TOLERANCE_M, (method, got["ade"], expected["ade"])
    clean = evaluate_flights([read_flight(bag, fmt="bag", topic="/odom")], build_methods(["cv"]))
    assert clean["pooled"]["cv"]["ade"] != offline["pooled"]["cv"]["ade"]          # the perturbation applied
