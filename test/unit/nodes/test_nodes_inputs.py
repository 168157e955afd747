"""nodes.cdr for the inputs of targets seen by sensors and the per-tick output: PoseWithCovarianceStamped,
PointStamped and uav_traj_predictor/TargetArray read from raw bytes give exactly what rclpy deserialises,
bad bytes raise ValueError only; PredictedTrajectoryArray written from a batch's arrays deserialises to the
message built field by field (helpers/messages.py)."""
import math

import numpy as np
import pytest

pytest.importorskip("rclpy")
from geometry_msgs.msg import PointStamped, PoseWithCovarianceStamped  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402

from helpers.messages import trajectory_array_message  # noqa: E402
from uav_traj_predictor.core.prediction import PredictionBatch  # noqa: E402
from uav_traj_predictor.msg import PredictedTrajectoryArray, TargetArray  # noqa: E402
from uav_traj_predictor.nodes import cdr  # noqa: E402
from uav_traj_predictor.nodes.messages import STATUS_CODES  # noqa: E402


@pytest.mark.parametrize("frame", ["map", "", "o" * 13, "é"])
def test_pose_with_covariance_and_point_read_like_deserialisation(frame):
    rng = np.random.default_rng(len(frame))
    msg = PoseWithCovarianceStamped()
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_795_000_000, 123_456_789
    position = msg.pose.pose.position
    position.x, position.y, position.z = rng.normal(size=3).tolist()
    msg.pose.covariance = rng.random(36).tolist()
    stamp, frame_id, xyz, variances = cdr.read_pose_covariance(serialize_message(msg))
    assert (stamp, frame_id, xyz) == (1_795_000_000 + 0.123456789, frame, (position.x, position.y, position.z))
    assert variances == (msg.pose.covariance[0], msg.pose.covariance[7], msg.pose.covariance[14])
    point = PointStamped(header=msg.header)
    point.point.x, point.point.y, point.point.z = xyz
    assert cdr.read_stamped_position(serialize_message(point), False) == (stamp, frame, xyz)
    with pytest.raises(ValueError):
        cdr.read_pose_covariance(serialize_message(msg)[:150])


def target_array(n, with_covariance=True, frame="map", seed=0, ids=None):
    rng = np.random.default_rng(seed)
    msg = TargetArray()
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_795_000_123, 500_000_000
    msg.ids = ids if ids is not None else [f"t{i}" + "x" * (i % 5) for i in range(n)]
    msg.positions = rng.normal(size=3 * n).tolist()
    if with_covariance:
        msg.covariances = rng.random(9 * n).tolist()
    return msg


@pytest.mark.parametrize("n, with_covariance, frame", [(0, False, "map"), (1, True, ""), (7, True, "odom"),
                                                       (300, False, "map"), (50, True, "é" * 3)])
def test_target_array_reads_like_deserialisation(n, with_covariance, frame):
    msg = target_array(n, with_covariance, frame, seed=n)
    targets = cdr.read_targets(serialize_message(msg))
    assert targets.stamp == 1_795_000_123.5 and targets.frame_id == frame and targets.ids == list(msg.ids)
    assert np.array_equal(targets.positions, np.array(msg.positions).reshape(n, 3))
    assert targets.covariance_problem is None
    if with_covariance and n:
        assert np.array_equal(targets.variances, np.array(msg.covariances).reshape(n, 3, 3)[:, [0, 1, 2], [0, 1, 2]])
    else:
        assert targets.variances is None


def test_target_array_problems_are_clear():
    msg = target_array(4)
    msg.covariances = msg.covariances[:-1].tolist()                   # 35 values for 4 ids: not used, said why
    targets = cdr.read_targets(serialize_message(msg))
    assert targets.variances is None and "35 covariance values for 4 ids" in targets.covariance_problem
    assert len(targets.positions) == 4                                 # the positions are still good
    msg = target_array(4)
    msg.positions = msg.positions[:-3].tolist()
    with pytest.raises(ValueError, match="9 position values for 4 ids"):
        cdr.read_targets(serialize_message(msg))
    data = serialize_message(target_array(20))
    for bad in (b"", data[:30], data[:-8], b"\x00\x00" + data[2:]):
        with pytest.raises(ValueError):
            cdr.read_targets(bad)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(0, 60))
def test_target_reader_on_garbage_returns_or_raises_value_error(noise, cut):
    data = serialize_message(target_array(3))
    for candidate in (noise, b"\x00\x01\x00\x00" + noise, data[:cut] + noise, data[:len(data) - cut]):
        try:
            targets = cdr.read_targets(candidate)
        except ValueError:
            continue
        assert len(targets.ids) == len(targets.positions)


def batch(n, horizon=10, with_std=True, seed=0, t0=1_795_000_000.05):
    rng = np.random.default_rng(seed)
    statuses = [("tracking", "warming_up", "fallback_cv")[i % 3] for i in range(n)]
    return PredictionBatch([f"id{i}" + "é" * (i % 3) for i in range(n)], t0 + 0.1 * rng.integers(0, 5, n)
                           + rng.uniform(0, 1e-3, n), 0.1, rng.normal(size=(n, horizon, 3)),
                           rng.normal(size=(n, horizon, 3)), rng.random((n, horizon, 3)) if with_std else None,
                           statuses, "model-x")


@pytest.mark.parametrize("n, horizon, with_std, frame", [(1, 10, True, "map"), (25, 30, True, ""),
                                                         (8, 4, False, "odom"), (0, 10, True, "map")])
def test_trajectory_array_deserialises_to_the_message_built_field_by_field(n, horizon, with_std, frame):
    predictions = batch(n, horizon, with_std, seed=n)
    codes = [STATUS_CODES[status] for status in predictions.statuses]
    data = cdr.trajectory_array_cdr(predictions, frame, codes)
    message = deserialize_message(data, PredictedTrajectoryArray)
    expected = trajectory_array_message(predictions, frame)
    assert message == expected
    # no longer than rclpy's bytes (rmw adds trailing padding after the last field, which readers ignore)
    assert len(data) <= len(serialize_message(expected)) <= len(data) + 8
    rows = np.arange(n)[::2]                                           # a subset of the tracks (one frame)
    subset = deserialize_message(cdr.trajectory_array_cdr(predictions, frame, codes, rows), PredictedTrajectoryArray)
    assert subset == trajectory_array_message(predictions, frame, rows)


def test_trajectory_array_origins_round_like_the_per_track_messages():
    """Origins split into sec / nanosec exactly as messages.to_time does (rounding, carry into the second)."""
    from uav_traj_predictor.nodes.messages import to_time
    t0 = np.array([1_795_000_000.9999999996, 5.0, 0.0000000004, 1_795_000_000.25, 2.0 ** 31 - 1.5])
    predictions = PredictionBatch([f"t{i}" for i in range(5)], t0, 0.1, np.zeros((5, 2, 3)), np.zeros((5, 2, 3)),
                                  None, ["tracking"] * 5, "m")
    message = deserialize_message(cdr.trajectory_array_cdr(predictions, "map", [0] * 5), PredictedTrajectoryArray)
    assert [(o.sec, o.nanosec) for o in message.origins] == [(to_time(t).sec, to_time(t).nanosec) for t in t0]
    assert len(message.position_std) == 0 and not math.isnan(message.positions[0])


def test_target_array_writer_and_trajectory_array_reader_agree_with_rclpy():
    msg = target_array(40, seed=4)
    stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    written = cdr.target_array_cdr(stamp_ns, "map", msg.ids, np.array(msg.positions).reshape(40, 3),
                                   np.array(msg.covariances).reshape(40, 3, 3))
    assert deserialize_message(written, TargetArray) == msg
    msg.covariances = []
    assert deserialize_message(cdr.target_array_cdr(stamp_ns, "map", msg.ids, np.array(msg.positions)),
                               TargetArray) == msg
    for with_std in (True, False):
        predictions = batch(30, 12, with_std, seed=5)
        codes = [STATUS_CODES[status] for status in predictions.statuses]
        data = serialize_message(trajectory_array_message(predictions, "odom"))    # rclpy's bytes
        read = cdr.read_trajectory_array(data)
        assert read.track_ids == predictions.track_ids and read.frame_id == "odom" and read.model_id == "model-x"
        assert np.array_equal(read.positions, predictions.positions) and read.dt == pytest.approx(0.1)
        assert np.array_equal(read.velocities, predictions.velocities) and list(read.status) == codes
        assert (read.position_std is None) == (not with_std)
        assert np.allclose(read.origins, predictions.t0, atol=1e-6, rtol=0)
        with pytest.raises(ValueError):
            cdr.read_trajectory_array(data[:len(data) // 2])
