"""Reading bags as rosbag2 itself writes them, and damaged bags: clear errors with readable counts."""
import shutil
import sqlite3

import numpy as np
import pytest
import yaml

from uav_traj_predictor.bags import cli
from uav_traj_predictor.bags.from_flight import write_flights_bag
from uav_traj_predictor.bags.writer import BagFormat
from uav_traj_predictor.bags.repair import repair_bag
from uav_traj_predictor.bags.storage import BagError, open_bag
from uav_traj_predictor.bags.types import ODOMETRY, typestore
from uav_traj_predictor.data import read_flight
from uav_traj_predictor.data.flight import make_flight

RATE = 100.0
COUNT = 600

# rosbag2 Jazzy's sqlite3 storage (schema version 4), as its SqliteStorage::initialize creates it.
JAZZY_SQLITE_SCHEMA = """
CREATE TABLE schema(schema_version INTEGER PRIMARY KEY,ros_distro TEXT NOT NULL);
CREATE TABLE metadata(id INTEGER PRIMARY KEY,metadata_version INTEGER NOT NULL,metadata TEXT NOT NULL);
CREATE TABLE topics(id INTEGER PRIMARY KEY,name TEXT NOT NULL,type TEXT NOT NULL,
  serialization_format TEXT NOT NULL,offered_qos_profiles TEXT NOT NULL,type_description_hash TEXT NOT NULL);
CREATE TABLE message_definitions(id INTEGER PRIMARY KEY,topic_type TEXT NOT NULL,encoding TEXT NOT NULL,
  encoded_message_definition TEXT NOT NULL,type_description_hash TEXT NOT NULL);
CREATE TABLE messages(id INTEGER PRIMARY KEY,topic_id INTEGER NOT NULL,timestamp INTEGER NOT NULL,data BLOB NOT NULL);
CREATE INDEX timestamp_idx ON messages (timestamp ASC);
"""
INFINITE = {"sec": 9223372036, "nsec": 854775807}
QOS_V9 = [{"history": "keep_last", "depth": 10, "reliability": "best_effort", "durability": "volatile",
           "deadline": INFINITE, "lifespan": INFINITE, "liveliness": "automatic",
           "liveliness_lease_duration": INFINITE, "avoid_ros_namespace_conventions": False}]


def circle(count=COUNT, t_start=1_700_000_000.0):
    t = t_start + np.arange(count) / RATE
    p = np.column_stack([2 * np.cos(0.4 * (t - t_start)), 2 * np.sin(0.4 * (t - t_start)), np.full(count, 1.5)])
    return make_flight("circle", "circle.txt", t, p)


def odometry_cdr(stamp_ns, position):
    store = typestore()
    T = store.types
    sec, nanosec = divmod(stamp_ns, 10**9)
    zero = np.zeros(36)
    message = T[ODOMETRY](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                        frame_id="odom"),
        child_frame_id="base_link",
        pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=T["geometry_msgs/msg/Pose"](
            position=T["geometry_msgs/msg/Point"](x=position[0], y=position[1], z=position[2]),
            orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)), covariance=zero),
        twist=T["geometry_msgs/msg/TwistWithCovariance"](twist=T["geometry_msgs/msg/Twist"](
            linear=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
            angular=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)), covariance=zero))
    return bytes(store.serialize_cdr(message, ODOMETRY))


def write_jazzy_sqlite_bag(folder, flight, topic="/uav1/odom"):
    """A bag laid out as `ros2 bag record -s sqlite3` on Jazzy writes it (db3 + metadata.yaml v9)."""
    folder.mkdir()
    db_name = f"{folder.name}_0.db3"
    store = typestore()
    type_hash = store.hash_rihs01(ODOMETRY)
    definition, _ = store.generate_msgdef(ODOMETRY, ros_version=2)
    stamps = (np.round((flight.t - np.floor(flight.t)) * 1e9).astype(np.int64)
              + np.floor(flight.t).astype(np.int64) * 10**9)
    receive = stamps + 2_000_000          # recorded 2 ms after the header stamp
    db = sqlite3.connect(folder / db_name)
    db.executescript(JAZZY_SQLITE_SCHEMA)
    db.execute("INSERT INTO schema VALUES (4, 'jazzy')")
    db.execute("INSERT INTO topics VALUES (1, ?, ?, 'cdr', ?, ?)",
               (topic, ODOMETRY, yaml.safe_dump(QOS_V9), type_hash))
    db.execute("INSERT INTO message_definitions VALUES (1, ?, 'ros2msg', ?, ?)", (ODOMETRY, definition, type_hash))
    db.executemany("INSERT INTO messages (topic_id, timestamp, data) VALUES (1, ?, ?)",
                   [(int(r), odometry_cdr(int(s), p)) for r, s, p in zip(receive, stamps, flight.p)])
    duration = int(receive[-1] - receive[0])
    metadata = {"rosbag2_bagfile_information": {
        "version": 9, "storage_identifier": "sqlite3", "duration": {"nanoseconds": duration},
        "starting_time": {"nanoseconds_since_epoch": int(receive[0])}, "message_count": len(receive),
        "topics_with_message_count": [{"topic_metadata": {
            "name": topic, "type": ODOMETRY, "serialization_format": "cdr",
            "offered_qos_profiles": QOS_V9, "type_description_hash": type_hash}, "message_count": len(receive)}],
        "compression_format": "", "compression_mode": "", "relative_file_paths": [db_name],
        "files": [{"path": db_name, "starting_time": {"nanoseconds_since_epoch": int(receive[0])},
                   "duration": {"nanoseconds": duration}, "message_count": len(receive)}],
        "custom_data": {}, "ros_distro": "jazzy"}}
    db.execute("INSERT INTO metadata (metadata_version, metadata) VALUES (9, ?)", (yaml.safe_dump(metadata),))
    db.commit()
    db.close()
    (folder / "metadata.yaml").write_text(yaml.safe_dump(metadata))
    return folder


def test_reads_a_bag_laid_out_like_rosbag2_jazzy_sqlite3(tmp_path):
    flight = circle()
    bag_dir = write_jazzy_sqlite_bag(tmp_path / "jazzy_bag", flight)
    bag = open_bag(bag_dir)
    assert bag.topics["/uav1/odom"].msgtype == ODOMETRY and bag.topics["/uav1/odom"].count == COUNT
    qos = bag.topics["/uav1/odom"].qos
    assert len(qos) == 1 and qos[0].reliability.name == "BEST_EFFORT" and qos[0].depth == 10
    messages = list(bag.messages())
    assert len(messages) == COUNT and messages[0].timestamp - messages[0].timestamp % 10**6 > 0
    odometry = bag.deserialize(messages[10])
    assert odometry.pose.pose.position.x == pytest.approx(flight.p[10, 0])
    read_back = read_flight(bag_dir, topic="/uav1/odom")      # header stamps, not the 2 ms later receive times
    np.testing.assert_allclose(read_back.t, flight.t, atol=1e-6, rtol=0)
    np.testing.assert_allclose(read_back.p, flight.p, atol=1e-12)


def test_from_flight_writes_v9_metadata_with_qos_and_original_stamps(tmp_path):
    flight = circle(200)
    write_flights_bag([flight], tmp_path / "bag", fmt=BagFormat(storage="sqlite3"))
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "sqlite3" and info["message_count"] == 200
    topic = info["topics_with_message_count"][0]["topic_metadata"]
    assert topic["name"] == "/odom" and topic["type"] == ODOMETRY
    assert topic["type_description_hash"] == typestore().hash_rihs01(ODOMETRY)
    assert topic["offered_qos_profiles"][0]["reliability"] == "reliable"
    assert topic["offered_qos_profiles"][0]["history"] == "keep_last"
    bag = open_bag(tmp_path / "bag")
    messages = list(bag.messages())
    assert info["starting_time"]["nanoseconds_since_epoch"] == messages[0].timestamp == 1_700_000_000 * 10**9
    header = bag.deserialize(messages[-1]).header
    assert header.stamp.sec == 1_700_000_001                    # float64 stamps resolve ~240 ns at 1.7e9 s
    assert abs(header.stamp.nanosec - 990_000_000) < 300
    assert header.frame_id == "map" and bag.deserialize(messages[0]).child_frame_id == "base_link"


def test_from_flight_twist_is_in_the_body_frame(tmp_path):
    t = 50.0 + np.arange(300) / RATE
    p = np.column_stack([1.5 * (t - 50.0), np.zeros_like(t), np.ones_like(t)])      # +x at 1.5 m/s
    yaw = np.pi / 2                                                                  # body x = world y
    q = np.tile([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)], (len(t), 1))
    write_flights_bag([make_flight("yawed", "yawed.txt", t, p, q=q)], tmp_path / "bag")
    bag = open_bag(tmp_path / "bag")
    twist = bag.deserialize(next(bag.messages())).twist.twist.linear
    assert (twist.x, twist.y) == pytest.approx((0.0, -1.5), abs=1e-9)   # world +x is body -y
    world = read_flight(tmp_path / "bag")                                 # the data reader rotates it back
    np.testing.assert_allclose(world.v[:, :2], np.tile([1.5, 0.0], (len(t), 1)), atol=1e-9)


@pytest.fixture
def good_bag(tmp_path):
    write_flights_bag([circle(3000)], tmp_path / "good")     # 2 mcap chunks
    return tmp_path / "good"


def test_truncated_mcap_reports_what_is_readable_and_can_be_repaired(good_bag, tmp_path, capsys):
    pytest.importorskip("mcap", reason="the mcap package scans damaged mcap files (requirements.txt)")
    broken = tmp_path / "truncated"
    shutil.copytree(good_bag, broken)
    storage = next(broken.glob("*.mcap"))
    storage.write_bytes(storage.read_bytes()[:int(storage.stat().st_size * 0.8)])
    with pytest.raises(BagError) as error:
        open_bag(broken)
    assert "damaged" in str(error.value) and 0 < error.value.readable < 3000
    assert f"{error.value.readable} messages readable" in str(error.value)
    assert cli.main(["eval", str(broken), "--json", str(tmp_path / "r.json"), "--methods", "cv"]) == 2
    assert "damaged" in capsys.readouterr().err
    kept = repair_bag(broken, tmp_path / "fixed")
    assert sum(kept.values()) == error.value.readable
    assert open_bag(tmp_path / "fixed").message_count == error.value.readable


@pytest.mark.parametrize("damage", ["garbage_db3", "no_metadata", "empty_dir", "not_a_bag_file", "missing"])
def test_damaged_bags_give_clear_errors_or_documented_recovery(good_bag, tmp_path, capsys, damage):
    target = tmp_path / damage
    if damage == "garbage_db3":
        target.mkdir()
        (target / "garbage_0.db3").write_bytes(np.random.default_rng(0).bytes(8192))
        (target / "metadata.yaml").write_text((tmp_path / "x").name)
    elif damage == "no_metadata":                       # recovery: the storage file is read directly
        shutil.copytree(good_bag, target)
        (target / "metadata.yaml").unlink()
        bag = open_bag(target)
        assert bag.message_count == 3000 and "metadata.yaml is missing" in bag.notes[0]
        assert cli.main(["info", str(target)]) == 0
        assert "readable: 3000 of 3000" in capsys.readouterr().out
        return
    elif damage == "empty_dir":
        target.mkdir()
    elif damage == "not_a_bag_file":
        target = tmp_path / "flight.txt"
        target.write_text("1 2 3 4 0 0 0 1\n")
    with pytest.raises(BagError) as error:
        open_bag(target)
    assert error.value.readable == 0 and str(target) in str(error.value)
    assert cli.main(["info", str(target)]) == 2
    assert str(target) in capsys.readouterr().err


def test_garbage_db3_with_valid_metadata_counts_zero_readable(good_bag, tmp_path):
    target = tmp_path / "garbage"
    write_flights_bag([circle(100)], target, fmt=BagFormat(storage="sqlite3"))
    next(target.glob("*.db3")).write_bytes(b"not a database" * 500)
    with pytest.raises(BagError) as error:
        open_bag(target)
    assert error.value.readable == 0 and "not a database" in str(error.value)


def test_wrong_types_are_named(good_bag, tmp_path, capsys):
    from uav_traj_predictor.bags.replay_eval import read_recorded_predictions
    bag = open_bag(good_bag)
    with pytest.raises(BagError, match="is nav_msgs/msg/Odometry, not uav_traj_predictor/msg/PredictedTrajectory"):
        read_recorded_predictions(bag, "/odom")
    args = ["eval", str(good_bag), "--json", str(tmp_path / "r.json"), "--methods", "cv"]
    assert cli.main(args + ["--odom-topic", "/nope"]) == 2
    assert "no topic /nope" in capsys.readouterr().err
    assert cli.main(args + ["--predictions-topic", "/odom"]) == 2
    assert "not uav_traj_predictor/msg/PredictedTrajectory" in capsys.readouterr().err


def test_undecodable_message_is_named(good_bag):
    bag = open_bag(good_bag)
    message = next(bag.messages())
    message.data = message.data[:20]
    with pytest.raises(BagError, match=r"topic /odom: message at bag time \d+ ns is not a valid"):
        bag.deserialize(message)
