"""nodes.messages: raw CDR reading and writing agree with rclpy; messages carry exact future stamps."""
import numpy as np
import pytest

pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402

from uav_traj_predictor.core.prediction import Prediction  # noqa: E402
from uav_traj_predictor.nodes import messages  # noqa: E402


@pytest.mark.parametrize("frame, child", [("map", "base_link"), ("", ""), ("odom", "x" * 13), ("w" * 7, "é")])
def test_raw_reading_matches_deserialization(frame, child):
    rng = np.random.default_rng(len(frame) + len(child))
    odom = Odometry()
    odom.header.frame_id, odom.child_frame_id = frame, child
    odom.header.stamp.sec, odom.header.stamp.nanosec = 1_795_000_000, 987_654_321
    position = odom.pose.pose.position
    position.x, position.y, position.z = rng.normal(size=3).tolist()
    pose = PoseStamped(header=odom.header, pose=odom.pose.pose)
    expected = (1_795_000_000 + 0.987654321, frame, (position.x, position.y, position.z))
    assert messages.read_stamped_position(serialize_message(odom), True) == expected
    assert messages.read_stamped_position(serialize_message(pose), False) == expected


def test_raw_reading_rejects_foreign_or_truncated_bytes():
    data = serialize_message(Odometry())
    for bad in (b"", data[:20], b"\x00\x00" + data[2:]):        # empty, truncated, big-endian header
        with pytest.raises(ValueError):
            messages.read_stamped_position(bad, True)


def test_refilled_messages_equal_fresh_ones_with_exact_future_stamps():
    rng = np.random.default_rng(0)
    first, second = (Prediction("uav1", 1_795_000_000.25 + i, 0.1, rng.normal(size=(10, 3)), rng.normal(size=(10, 3)),
                                rng.random((10, 3)), "tracking", "m1") for i in range(2))
    path = messages.path_message(first, "map")
    trajectory = messages.trajectory_message(first, "map")
    assert messages.path_message(second, "map", path) == messages.path_message(second, "map")
    assert messages.trajectory_message(second, "map", trajectory) == messages.trajectory_message(second, "map")
    t0 = path.header.stamp.sec * 10**9 + path.header.stamp.nanosec
    assert [p.header.stamp.sec * 10**9 + p.header.stamp.nanosec - t0 for p in path.poses] == [k * 10**8 for k in range(1, 11)]
    warm = Prediction("uav1", 5.0, 0.1, np.zeros((4, 3)), np.zeros((4, 3)), None, "warming_up", "m1")
    msg = messages.trajectory_message(warm, "odom", trajectory)
    assert msg.model_id == "cv" and not msg.calibrated and len(msg.position_std) == 4 and msg.status == 1


@pytest.mark.parametrize("status, with_std, frame, horizon", [("tracking", True, "map", 10), ("warming_up", False, "odom", 4),
                                                             ("fallback_cv", True, "", 1)])
def test_hand_serialized_outputs_deserialize_to_the_messages(status, with_std, frame, horizon):
    from rclpy.serialization import deserialize_message
    from nav_msgs.msg import Path

    from uav_traj_predictor.msg import PredictedTrajectory
    rng = np.random.default_rng(horizon)
    prediction = Prediction("uav7", 1_795_000_000.123456, 0.1, rng.normal(size=(horizon, 3)),
                            rng.normal(size=(horizon, 3)), rng.random((horizon, 3)) if with_std else None, status, "m-1")
    assert deserialize_message(messages.path_cdr(prediction, frame), Path) == messages.path_message(prediction, frame)
    trajectory = deserialize_message(messages.trajectory_cdr(prediction, frame), PredictedTrajectory)
    assert trajectory == messages.trajectory_message(prediction, frame)
    assert len(messages.trajectory_cdr(prediction, frame)) == len(serialize_message(trajectory))


def test_hand_serialized_markers_deserialize_to_the_marker_objects():
    from rclpy.serialization import deserialize_message
    from visualization_msgs.msg import MarkerArray
    rng = np.random.default_rng(3)
    predictions = [(Prediction(f"uav{i}", 1_795_000_000.5 + i, 0.1, rng.normal(size=(10, 3)), rng.normal(size=(10, 3)),
                               rng.random((10, 3)) if i % 3 else None, ("tracking", "warming_up")[i % 2], "m"),
                    ("map", "odom")[i % 2]) for i in range(5)]
    reference = MarkerArray(markers=[m for p, frame in predictions for m in messages.prediction_markers(p, frame, 1.0)])
    reference = deserialize_message(serialize_message(reference), MarkerArray)   # colours as float32, as sent
    assert deserialize_message(messages.markers_cdr(predictions, 1.0), MarkerArray) == reference


def test_predictions_are_cut_where_stamps_leave_the_int32_range():
    limit = 2.0 ** 31
    def at(t0):
        return Prediction("a", t0, 0.1, np.ones((10, 3)), np.ones((10, 3)), np.ones((10, 3)), "tracking", "m")
    assert messages.representable(at(1000.0)).horizon_steps == 10
    cut = messages.representable(at(limit - 0.45))
    assert cut.horizon_steps == 4 and cut.position_std.shape == (4, 3)
    path = messages.path_message(cut, "map")          # and it serializes
    assert path.poses[-1].header.stamp.sec == 2**31 - 1
    assert len(messages.path_cdr(cut, "map")) > 0 and messages.representable(at(limit - 0.05)) is None


def test_odometry_twist_is_rotated_into_the_world_frame():
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(7)
    for _ in range(20):
        odom = Odometry()
        odom.header.frame_id, odom.child_frame_id = "map", "base_link"
        odom.header.stamp.sec = 1_700_000_000
        q = Rotation.random(random_state=int(rng.integers(1 << 30))).as_quat() * rng.uniform(0.95, 1.05)
        o = odom.pose.pose.orientation
        o.x, o.y, o.z, o.w = q.tolist()
        odom.pose.covariance = rng.normal(size=36).tolist()      # must be skipped, not read
        body = rng.normal(size=3)
        t = odom.twist.twist.linear
        t.x, t.y, t.z = body.tolist()
        odom.twist.twist.angular.x = 5.0
        stamp, frame, _, world = messages.read_odometry_twist(serialize_message(odom))
        assert (stamp, frame) == (1_700_000_000.0, "map")
        np.testing.assert_allclose(world, Rotation.from_quat(q).apply(body), atol=1e-12)


def test_odometry_twist_refuses_a_quaternion_that_is_no_rotation():
    for q in ((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 2.0), (float("nan"), 0.0, 0.0, 1.0)):
        odom = Odometry()
        o = odom.pose.pose.orientation
        o.x, o.y, o.z, o.w = q
        with pytest.raises(ValueError, match="rotation"):
            messages.read_odometry_twist(serialize_message(odom))
    with pytest.raises(ValueError):
        messages.read_odometry_twist(serialize_message(Odometry())[:60])
