"""nodes.cdr and nodes.messages: raw CDR reading and writing agree with rclpy (the reference builders in
helpers/messages.py), the markers serialised by rosbags too; outputs carry exact future stamps."""
import numpy as np
import pytest

pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402

from helpers.messages import (delete_markers, path_message, prediction_markers,  # noqa: E402
                              trajectory_message)
from uav_traj_predictor.core.prediction import Prediction  # noqa: E402
from uav_traj_predictor.nodes import cdr, messages  # noqa: E402


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
    assert cdr.read_stamped_position(serialize_message(odom), True) == expected
    assert cdr.read_stamped_position(serialize_message(pose), False) == expected


def test_raw_reading_rejects_foreign_or_truncated_bytes():
    data = serialize_message(Odometry())
    for bad in (b"", data[:20], b"\x00\x00" + data[2:]):        # empty, truncated, big-endian header
        with pytest.raises(ValueError):
            cdr.read_stamped_position(bad, True)


def test_outputs_carry_exact_future_stamps_and_the_cv_model_id():
    from rclpy.serialization import deserialize_message
    from nav_msgs.msg import Path

    from uav_traj_predictor.msg import PredictedTrajectory
    rng = np.random.default_rng(0)
    prediction = Prediction("uav1", 1_795_000_000.25, 0.1, rng.normal(size=(10, 3)), rng.normal(size=(10, 3)),
                            rng.random((10, 3)), "tracking", "m1")
    path = deserialize_message(cdr.path_cdr(prediction, "map"), Path)
    t0 = path.header.stamp.sec * 10**9 + path.header.stamp.nanosec
    assert t0 == 1_795_000_000_250_000_000
    offsets = [p.header.stamp.sec * 10**9 + p.header.stamp.nanosec - t0 for p in path.poses]
    assert offsets == [k * 10**8 for k in range(1, 11)]
    warm = Prediction("uav1", 5.0, 0.1, np.zeros((4, 3)), np.zeros((4, 3)), None, "warming_up", "m1")
    msg = deserialize_message(cdr.trajectory_cdr(warm, "odom"), PredictedTrajectory)
    assert msg.model_id == "cv" and not msg.calibrated and len(msg.position_std) == 4 and msg.status == 1
    assert (msg.horizon_start.sec, msg.horizon_start.nanosec, msg.time_step.nanosec) == (5, 100_000_000, 100_000_000)


@pytest.mark.parametrize("status, with_std, frame, horizon", [("tracking", True, "map", 10),
                                                             ("warming_up", False, "odom", 4),
                                                             ("fallback_cv", True, "", 1)])
def test_hand_serialized_outputs_deserialize_to_the_messages(status, with_std, frame, horizon):
    from rclpy.serialization import deserialize_message
    from nav_msgs.msg import Path

    from uav_traj_predictor.msg import PredictedTrajectory
    rng = np.random.default_rng(horizon)
    prediction = Prediction("uav7", 1_795_000_000.123456, 0.1, rng.normal(size=(horizon, 3)),
                            rng.normal(size=(horizon, 3)), rng.random((horizon, 3)) if with_std else None, status,
                            "m-1")
    assert deserialize_message(cdr.path_cdr(prediction, frame), Path) == path_message(prediction, frame)
    trajectory = deserialize_message(cdr.trajectory_cdr(prediction, frame), PredictedTrajectory)
    assert trajectory == trajectory_message(prediction, frame)
    assert len(cdr.trajectory_cdr(prediction, frame)) == len(serialize_message(trajectory))


def test_serialized_markers_deserialize_to_the_marker_objects():
    """The rosbags-serialised MarkerArray (installed definitions) equals the rclpy Marker objects."""
    from rclpy.serialization import deserialize_message
    from visualization_msgs.msg import MarkerArray
    rng = np.random.default_rng(3)
    predictions = [(Prediction(f"uav{i}", 1_795_000_000.5 + i, 0.1, rng.normal(size=(10, 3)), rng.normal(size=(10, 3)),
                               rng.random((10, 3)) if i % 3 else None, ("tracking", "warming_up")[i % 2], "m"),
                    ("map", "odom")[i % 2]) for i in range(5)]
    reference = MarkerArray(markers=[m for p, frame in predictions for m in prediction_markers(p, frame, 1.0)])
    reference = deserialize_message(serialize_message(reference), MarkerArray)   # colours as float32, as sent
    assert deserialize_message(messages.markers_cdr(predictions, 1.0), MarkerArray) == reference
    # (bytes are not compared: rclpy leaves the alignment padding unset)
    deleted = deserialize_message(messages.delete_markers_cdr("uav3", 10, "map"), MarkerArray)
    assert deleted == MarkerArray(markers=delete_markers("uav3", 10, "map"))


def test_marker_layout_comes_from_the_installed_definitions():
    from pathlib import Path

    from ament_index_python.packages import get_package_share_directory
    store = messages.marker_typestore()
    installed = (Path(get_package_share_directory("visualization_msgs")) / "msg" / "Marker.msg").read_text()
    fields = [line.split()[1] for line in installed.splitlines()
              if line.strip() and not line.startswith("#") and "=" not in line.split("#")[0]]
    assert [name for name, _ in store.fielddefs["visualization_msgs/msg/Marker"][1]] == fields


def test_predictions_are_cut_where_stamps_leave_the_int32_range():
    limit = 2.0 ** 31
    def at(t0):
        return Prediction("a", t0, 0.1, np.ones((10, 3)), np.ones((10, 3)), np.ones((10, 3)), "tracking", "m")
    assert messages.representable(at(1000.0)).horizon_steps == 10
    cut = messages.representable(at(limit - 0.45))
    assert cut.horizon_steps == 4 and cut.position_std.shape == (4, 3)
    from rclpy.serialization import deserialize_message
    from nav_msgs.msg import Path
    path = deserialize_message(cdr.path_cdr(cut, "map"), Path)          # and it serializes
    assert path.poses[-1].header.stamp.sec == 2**31 - 1
    assert messages.representable(at(limit - 0.05)) is None


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
        stamp, frame, _, world = cdr.read_odometry_twist(serialize_message(odom))
        assert (stamp, frame) == (1_700_000_000.0, "map")
        np.testing.assert_allclose(world, Rotation.from_quat(q).apply(body), atol=1e-12)


def test_odometry_twist_refuses_a_quaternion_that_is_no_rotation():
    for q in ((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 2.0), (float("nan"), 0.0, 0.0, 1.0)):
        odom = Odometry()
        o = odom.pose.pose.orientation
        o.x, o.y, o.z, o.w = q
        with pytest.raises(ValueError, match="rotation"):
            cdr.read_odometry_twist(serialize_message(odom))
    with pytest.raises(ValueError):
        cdr.read_odometry_twist(serialize_message(Odometry())[:60])


@pytest.mark.parametrize("frame, child", [("map", "base_link"), ("", ""), ("odom", "x" * 13)])
def test_the_orientation_is_read_raw_from_odometry_and_poses(frame, child):
    from geometry_msgs.msg import PoseWithCovarianceStamped
    rng = np.random.default_rng(len(frame) + len(child))
    odom = Odometry()
    odom.header.frame_id, odom.child_frame_id = frame, child
    q = (rng.normal(size=4) * 0.7).tolist()                      # as sent: not normalised here (the core checks)
    o = odom.pose.pose.orientation
    o.x, o.y, o.z, o.w = q
    odom.pose.pose.position.x = 1.5
    odom.pose.covariance = rng.normal(size=36).tolist()
    pose = PoseStamped(header=odom.header, pose=odom.pose.pose)
    covariance = PoseWithCovarianceStamped(header=odom.header)
    covariance.pose.pose = odom.pose.pose
    assert cdr.read_orientation(serialize_message(odom), True) == tuple(q)
    assert cdr.read_orientation(serialize_message(pose), False) == tuple(q)
    assert cdr.read_orientation(serialize_message(covariance), False) == tuple(q)
    with pytest.raises(ValueError):
        cdr.read_orientation(serialize_message(pose)[:-10], False)
