"""Bags of targets seen by sensors: `bag from-flight --type pose_covariance | point | targets` writes them,
the data room's reader and `bag eval` read them back (a supplied covariance becomes the model's noise level,
as in predictor_node), recorded PredictedTrajectoryArray messages are scored, `bag record` knows the types."""
import json

import numpy as np
import pytest

from uav_traj_predictor.bags import cli as bag_cli
from uav_traj_predictor.bags.replay_eval import evaluate_bag, read_odometry, stream_through_trackbank
from uav_traj_predictor.bags.storage import open_bag
from uav_traj_predictor.bags.types import PACKAGE_TYPES, require_type
from uav_traj_predictor.data import read_flight
from uav_traj_predictor.data.readers.bag import read_bag_targets
from uav_traj_predictor.evaluate import Protocol
from uav_traj_predictor.model import StreamingPredictor

T_START = 1_700_000_000.0


def write_tum(path, seed, seconds=12.0, rate=20.0, jitter=True):
    """A curved, noisy flight at `rate` Hz (all flights share the stamps when jitter is False)."""
    rng = np.random.default_rng(seed)
    t = T_START + np.arange(int(seconds * rate)) / rate
    if jitter:
        t = t + rng.uniform(0, 0.002, len(t))
    s = t - T_START
    p = np.column_stack([3 * np.cos(0.5 * s + seed), 3 * np.sin(0.5 * s + seed), 1 + 0.2 * s])
    p = p + rng.normal(0, 0.01, p.shape)
    rows = np.column_stack([t, p, np.zeros((len(t), 3)), np.ones(len(t))])
    np.savetxt(path, rows, fmt=["%.9f"] + ["%.6f"] * 7)
    return path


@pytest.fixture
def flights(tmp_path):
    return [write_tum(tmp_path / f"uav{i}.txt", i, jitter=False) for i in (1, 2)]


def test_package_types_are_known_to_the_bag_typestore():
    for msgtype in PACKAGE_TYPES:
        assert msgtype in require_type(msgtype).fielddefs


def test_targets_bag_holds_every_flight_as_a_target_with_its_covariance(tmp_path, flights):
    bag = tmp_path / "targets"
    assert bag_cli.main(["from-flight", *map(str, flights), "--out", str(bag), "--type", "targets",
                         "--sigma", "0.02"]) == 0
    opened = open_bag(bag)
    assert list(opened.topics) == ["/targets"] and opened.topics["/targets"].count == 240   # shared stamps
    message = opened.deserialize(next(opened.messages(["/targets"])))
    assert list(message.ids) == ["uav1", "uav2"] and len(message.covariances) == 18
    targets = read_bag_targets(bag, "/targets")
    for name, path in zip(("uav1", "uav2"), flights):
        original = read_flight(path)
        np.testing.assert_allclose(targets[name].t, original.t, atol=1e-9, rtol=0)
        np.testing.assert_array_equal(targets[name].p, original.p)
        np.testing.assert_allclose(targets[name].noise, 0.02)


def test_pose_covariance_and_point_bags_read_back_with_their_noise(tmp_path, flights):
    for kind, expected in (("pose_covariance", 0.03), ("point", None)):
        bag = tmp_path / kind
        assert bag_cli.main(["from-flight", str(flights[0]), "--out", str(bag), "--type", kind,
                             "--sigma", "0.03"]) == 0
        flight = read_flight(bag)
        original = read_flight(flights[0])
        np.testing.assert_array_equal(flight.p, original.p)
        if expected is None:
            assert flight.noise is None
        else:
            np.testing.assert_allclose(flight.noise, expected)
    unknown = tmp_path / "unknown"                      # no --sigma: zero covariance, ROS's "unknown"
    assert bag_cli.main(["from-flight", str(flights[0]), "--out", str(unknown), "--type", "pose_covariance"]) == 0
    assert not np.any(read_flight(unknown).noise)


def test_eval_of_targets_equals_eval_of_the_same_samples_as_odometry(tmp_path, flights, random_checkpoint):
    """The same samples as two Odometry topics and as two targets of one TargetArray topic (no covariance):
    the same tracks, windows and metrics for every method, the model streamed through one TrackBank."""
    reports = {}
    for kind in ("odometry", "targets"):
        bag, out = tmp_path / kind, tmp_path / f"{kind}.json"
        assert bag_cli.main(["from-flight", *map(str, flights), "--out", str(bag), "--type", kind]) == 0
        assert bag_cli.main(["eval", str(bag), "--checkpoint", random_checkpoint, "--json", str(out)]) == 0
        reports[kind] = json.loads(out.read_text())
    assert reports["targets"]["bag"]["tracks"] == ["uav1", "uav2"]
    assert reports["odometry"]["bag"]["tracks"] == ["/uav1/odom", "/uav2/odom"]
    for method, expected in reports["odometry"]["pooled"].items():
        got = reports["targets"]["pooled"][method]
        assert got["windows"] == expected["windows"] > 0, method
        np.testing.assert_allclose(got["err_by_step"], expected["err_by_step"], atol=1e-9, rtol=0)
    coverage = reports["targets"]["bag"]["coverage"]["model"]
    assert coverage["covered"] == coverage["defined"]


def test_eval_streams_the_supplied_covariance_as_the_noise_level(tmp_path, flights, random_checkpoint):
    bags = {}
    for sigma in ("0.2", None):
        bag = bags[sigma] = tmp_path / f"sigma_{sigma}"
        assert bag_cli.main(["from-flight", *map(str, flights), "--out", str(bag), "--type", "targets"]
                            + (["--sigma", sigma] if sigma else [])) == 0
    protocol = Protocol()
    streams = {sigma: stream_through_trackbank(read_odometry(bag, ["/targets"]), StreamingPredictor(random_checkpoint),
                                               protocol.preprocess_config()) for sigma, bag in bags.items()}
    with_covariance, estimated = streams["0.2"]["uav1"], streams[None]["uav1"]
    assert np.array_equal(with_covariance.t0, estimated.t0)
    assert np.abs(with_covariance.positions - estimated.positions).max() > 1e-4     # the level reached the model
    report = evaluate_bag(bags["0.2"], checkpoint=random_checkpoint, methods=["model"])
    assert report["pooled"]["model"]["windows"] > 0


def test_recorded_prediction_arrays_are_scored_like_the_stream(tmp_path, flights, random_checkpoint):
    """A bag holding the targets and the PredictedTrajectoryArray messages of a TrackBank stream over them:
    `--predictions-topic` scores them on the same windows with the same errors as the model."""
    pytest.importorskip("rclpy")
    from uav_traj_predictor.bags.writer import BagWriter, write_targets
    from uav_traj_predictor.core import TrackBank
    from uav_traj_predictor.data import PreprocessConfig
    from uav_traj_predictor.nodes import cdr
    from uav_traj_predictor.nodes.messages import STATUS_CODES
    originals = {name: read_flight(path) for name, path in zip(("uav1", "uav2"), flights)}
    bag = tmp_path / "recorded"
    bank = TrackBank(StreamingPredictor(random_checkpoint), PreprocessConfig(rate=10.0))
    with BagWriter(bag) as writer:
        write_targets(writer, "/targets", {name: (f.t, f.p) for name, f in originals.items()})
        connection = writer.topic("/predicted_trajectories", "uav_traj_predictor/msg/PredictedTrajectoryArray")
        for i, stamp in enumerate(originals["uav1"].t):
            for name, flight in originals.items():
                bank.push(name, stamp, flight.p[i])
            batch = bank.tick().batch
            if batch is not None:
                data = cdr.trajectory_array_cdr(batch, "map", [STATUS_CODES[s] for s in batch.statuses])
                writer.write(connection, int(round(stamp * 1e9)), data)
    report = evaluate_bag(bag, checkpoint=random_checkpoint, methods=["model"],
                          predictions_topic="/predicted_trajectories")
    coverage = report["bag"]["coverage"]
    assert coverage["recorded"]["covered"] == coverage["model"]["covered"] == coverage["model"]["defined"] > 50
    np.testing.assert_allclose(report["pooled"]["recorded"]["err_by_step"], report["pooled"]["model"]["err_by_step"],
                               atol=1e-9, rtol=0)


def test_bad_options_and_topics_are_clear(tmp_path, flights, capsys):
    assert bag_cli.main(["from-flight", str(flights[0]), "--out", str(tmp_path / "a"), "--type", "targets",
                         "--sigma", "-1"]) == 2
    assert "--sigma must be a finite std >= 0" in capsys.readouterr().err
    bag = tmp_path / "b"
    assert bag_cli.main(["from-flight", str(flights[0]), "--out", str(bag), "--type", "point"]) == 0
    assert bag_cli.main(["eval", str(bag), "--json", str(tmp_path / "x.json"), "--odom-topic", "/odom",
                         "--predictions-topic", "/odom"]) == 2
    assert "is geometry_msgs/msg/PointStamped, not uav_traj_predictor/msg/PredictedTrajectory" in \
        capsys.readouterr().err
