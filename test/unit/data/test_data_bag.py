"""rosbag2 reader: the test writes small bags with rosbags' Writer (mcap and sqlite3)."""
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from scipy.spatial.transform import Rotation

from uav_traj_predictor.data import FlightFormatError, detect_format, read_flight, read_flights

TYPES = get_typestore(Stores.ROS2_JAZZY)
T = TYPES.types
ODOM, POSE, IMU = "nav_msgs/msg/Odometry", "geometry_msgs/msg/PoseStamped", "sensor_msgs/msg/Imu"


def header(stamp, frame="map"):
    sec = int(np.floor(stamp))
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=round((stamp - sec) * 1e9)),
                                    frame_id=frame)


def pose(position, q_xyzw):
    return T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](*map(float, position)),
                                       orientation=T["geometry_msgs/msg/Quaternion"](*map(float, q_xyzw)))


def odometry(stamp, position, q_xyzw, body_velocity):
    vector = T["geometry_msgs/msg/Vector3"]
    twist = T["geometry_msgs/msg/Twist"](linear=vector(*map(float, body_velocity)), angular=vector(0.0, 0.0, 0.0))
    return T[ODOM](header=header(stamp), child_frame_id="base_link",
                   pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose(position, q_xyzw), covariance=np.zeros(36)),
                   twist=T["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)))


def pose_stamped(stamp, position):
    return T[POSE](header=header(stamp), pose=pose(position, (0, 0, 0, 1)))


def write_bag(path, topics, storage=StoragePlugin.MCAP):
    """topics: name -> (msgtype, [(receive_time_s, message)])."""
    with Writer(path, version=9, storage_plugin=storage) as writer:
        for name, (msgtype, messages) in topics.items():
            connection = writer.add_connection(name, msgtype, typestore=TYPES)
            for receive, msg in messages:
                writer.write(connection, int(receive * 1e9), TYPES.serialize_cdr(msg, msgtype))
    return path


YAW = np.deg2rad(90.0)
Q_YAW = Rotation.from_euler("z", YAW).as_quat()  # body x points to world +y


def odometry_messages(n=30, t0=100.0):
    return [(t0 + 0.05 * i + 0.01, odometry(t0 + 0.05 * i, (0.0, 0.1 * i, 2.0), Q_YAW, (2.0, 0.0, 0.5)))
            for i in range(n)]


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3], ids=["mcap", "sqlite3"])
def test_odometry_twist_is_rotated_into_the_world_frame(tmp_path, storage):
    bag = write_bag(tmp_path / "run", {"/uav/odom": (ODOM, odometry_messages())}, storage)
    assert detect_format(bag) == "bag"
    flight = read_flight(bag)
    assert flight.name == "run:/uav/odom" and len(flight) == 30
    np.testing.assert_allclose(flight.t[:2], [100.0, 100.05])   # header stamps, not receive times
    np.testing.assert_allclose(flight.p[3], [0.0, 0.3, 2.0])
    np.testing.assert_allclose(flight.v, np.tile([0.0, 2.0, 0.5], (30, 1)), atol=1e-12)
    np.testing.assert_allclose(flight.q[0], Q_YAW)
    (storage_file,) = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    assert len(read_flight(storage_file)) == 30                     # a bare storage file reads too


def test_topic_selection_and_zero_stamps(tmp_path):
    poses = [(50.0 + 0.1 * i, pose_stamped(0.0, (i, 0, 0))) for i in range(10)]  # header stamp 0
    bag = write_bag(tmp_path / "multi", {
        "/b/pose": (POSE, poses), "/a/odom": (ODOM, odometry_messages(5)),
        "/imu": (IMU, []),
    })
    assert read_flight(bag).name == "multi:/a/odom"          # Odometry preferred
    flight = read_flight(bag, topic="/b/pose")
    assert flight.v is None and len(flight) == 10
    np.testing.assert_allclose(flight.t, 50.0 + 0.1 * np.arange(10))  # receive time fallback
    assert "zero header stamp" in flight.report.notes[0]
    with pytest.raises(FlightFormatError, match=r"several .*/a/odom, /b/pose"):
        read_flight(bag, strict_topic=True)
    with pytest.raises(FlightFormatError, match=r"no topic '/nope'; topics: /a/odom .*/imu"):
        read_flight(bag, topic="/nope")
    with pytest.raises(FlightFormatError, match="supported"):
        read_flight(bag, topic="/imu")


def test_bag_without_position_topics(tmp_path):
    bag = write_bag(tmp_path / "imu_only", {"/imu": (IMU, [])})
    with pytest.raises(FlightFormatError, match=r"imu_only: no Odometry/PoseStamped/PoseWithCovarianceStamped/"
                                                r"PointStamped topic; topics: /imu"):
        read_flight(bag)


def test_invalid_orientation_drops_only_those_odometry_messages(tmp_path):
    messages = odometry_messages(10)
    messages[4] = (messages[4][0], odometry(100.2, (0, 0, 0), (0, 0, 0, 0), (1, 0, 0)))
    flight = read_flight(write_bag(tmp_path / "q", {"/odom": (ODOM, messages)}))
    assert len(flight) == 9 and flight.report.dropped == {"invalid orientation": 1}


def test_garbage_bag_files_raise_naming_the_file(tmp_path):
    for name in ("junk.mcap", "junk.db3"):
        path = tmp_path / name
        path.write_bytes(b"\x89MCAP0\r\n" + b"\x00garbage" * 20 if name.endswith("mcap") else b"junk" * 50)
        with pytest.raises(FlightFormatError, match=name):
            read_flight(path)
    with pytest.raises(FlightFormatError, match="no such file"):
        read_flight(tmp_path / "missing.mcap", fmt="bag")


def test_read_flights_treats_a_bag_directory_as_one_flight(tmp_path):
    write_bag(tmp_path / "bags" / "one", {"/odom": (ODOM, odometry_messages(8))})
    (tmp_path / "bags" / "a.txt").write_text("0 0 0 0 0 0 0 1\n0.1 1 0 0 0 0 0 1\n")
    flights = read_flights(tmp_path / "bags")
    assert [(f.name, len(f)) for f in flights] == [("a", 2), ("one:/odom", 8)]
