"""Bag formats of the one writer (bags/writer.py): a version-8 bag has the metadata layout Humble's rosbag2
parses, version 9 the Jazzy/Kilted one; both storages; every writing command offers the format.

`humble_decode` restates what Humble's reader does with metadata.yaml, read in rosbag2's sources
(rosbag2_storage/include/rosbag2_storage/yaml.hpp: `convert<BagMetadata>::decode`,
`convert<TopicMetadata>::decode(node, topic, version)`; rosbag2_transport/src/rosbag2_transport/qos.cpp:
`convert<Rosbag2QoS>::decode`). yaml-cpp's `as<T>` refuses a node of another kind ("bad conversion"),
so each field is checked for the kind Humble converts it to. `ros2 bag` of Humble itself cannot run here.
"""
import sqlite3

import numpy as np
import pytest
import yaml

from uav_traj_predictor.bags import cli as bag_cli
from uav_traj_predictor.bags.from_flight import write_flights_bag
from uav_traj_predictor.bags.storage import open_bag
from uav_traj_predictor.bags.types import default_qos
from uav_traj_predictor.bags.writer import BagFormat, BagWriteError
from uav_traj_predictor.data.flight import make_flight

# rmw (Humble) enum values of the policies Humble casts `as<int>`
RMW_HISTORY = {0: "system_default", 1: "keep_last", 2: "keep_all", 3: "unknown"}
RMW_RELIABILITY = {0: "system_default", 1: "reliable", 2: "best_effort", 3: "unknown"}
RMW_DURABILITY = {0: "system_default", 1: "transient_local", 2: "volatile", 3: "unknown"}
RMW_LIVELINESS = {0: "system_default", 1: "automatic", 2: "manual_by_node", 3: "manual_by_topic", 4: "unknown"}


class BadConversion(AssertionError):
    """What yaml-cpp would throw in Humble's decoder (the bag is unreadable there)."""


def as_int(node, where, unsigned=False):
    if isinstance(node, bool) or not isinstance(node, int) or (unsigned and node < 0):
        raise BadConversion(f"{where}: bad conversion to {'uint64' if unsigned else 'int'}: {node!r}")
    return node


def as_string(node, where):
    if not isinstance(node, str):
        raise BadConversion(f"{where}: bad conversion to std::string: {type(node).__name__} {node!r}")
    return node


def field(mapping, key, where):
    if not isinstance(mapping, dict) or key not in mapping:
        raise BadConversion(f"{where}: missing '{key}'")
    return mapping[key]


def duration(node, where):
    return as_int(field(node, "sec", where), f"{where}.sec", True) * 10**9 + \
        as_int(field(node, "nsec", where), f"{where}.nsec", True)


def humble_qos(text, where):
    """Rosbag2QoS decode of the offered_qos_profiles string (YAML::Load, then as<vector<Rosbag2QoS>>)."""
    if text == "":
        return []
    profiles = yaml.safe_load(text)
    if not isinstance(profiles, list):
        raise BadConversion(f"{where}: offered_qos_profiles is no sequence of profiles: {profiles!r}")
    decoded = []
    for i, p in enumerate(profiles):
        at = f"{where}[{i}]"
        history = as_int(field(p, "history", at), f"{at}.history")
        reliability = as_int(field(p, "reliability", at), f"{at}.reliability")
        durability = as_int(field(p, "durability", at), f"{at}.durability")
        liveliness = as_int(field(p, "liveliness", at), f"{at}.liveliness")
        for value, table, name in ((history, RMW_HISTORY, "history"),
                                   (reliability, RMW_RELIABILITY, "reliability"),
                                   (durability, RMW_DURABILITY, "durability"),
                                   (liveliness, RMW_LIVELINESS, "liveliness")):
            if value not in table:
                raise BadConversion(f"{at}.{name}: {value} is no rmw {name} policy")
        if not isinstance(field(p, "avoid_ros_namespace_conventions", at), bool):
            raise BadConversion(f"{at}.avoid_ros_namespace_conventions: bad conversion to bool")
        decoded.append(dict(history=RMW_HISTORY[history], depth=as_int(field(p, "depth", at), f"{at}.depth"),
                            reliability=RMW_RELIABILITY[reliability], durability=RMW_DURABILITY[durability],
                            liveliness=RMW_LIVELINESS[liveliness],
                            deadline=duration(field(p, "deadline", at), f"{at}.deadline"),
                            lifespan=duration(field(p, "lifespan", at), f"{at}.lifespan"),
                            lease=duration(field(p, "liveliness_lease_duration", at),
                                           f"{at}.liveliness_lease_duration")))
    return decoded


def humble_decode(metadata_text):
    """metadata.yaml as Humble's rosbag2 decodes it; BadConversion where yaml-cpp would throw."""
    info = field(yaml.safe_load(metadata_text), "rosbag2_bagfile_information", "metadata.yaml")
    version = as_int(field(info, "version", "info"), "version")
    out = dict(version=version, storage=as_string(field(info, "storage_identifier", "info"), "storage_identifier"),
               duration=as_int(field(field(info, "duration", "info"), "nanoseconds", "duration"), "duration", True),
               start=as_int(field(field(info, "starting_time", "info"), "nanoseconds_since_epoch", "starting_time"),
                            "starting_time", True),
               messages=as_int(field(info, "message_count", "info"), "message_count", True), topics={})
    topics = field(info, "topics_with_message_count", "info")
    if not isinstance(topics, list):
        raise BadConversion("topics_with_message_count: not a sequence")
    for i, entry in enumerate(topics):
        meta = field(entry, "topic_metadata", f"topics[{i}]")
        name = as_string(field(meta, "name", f"topics[{i}]"), "name")
        for key in ("type", "serialization_format"):
            as_string(field(meta, key, name), f"{name}.{key}")
        qos = ""
        if version >= 4:   # Humble: topic.offered_qos_profiles = node["offered_qos_profiles"].as<std::string>()
            qos = as_string(field(meta, "offered_qos_profiles", name), f"{name}.offered_qos_profiles")
        out["topics"][name] = dict(type=meta["type"], count=as_int(field(entry, "message_count", name), name, True),
                                   qos=humble_qos(qos, f"{name}.offered_qos_profiles"))
    paths = field(info, "relative_file_paths", "info")
    if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
        raise BadConversion("relative_file_paths: bad conversion to vector<string>")
    out["paths"] = paths
    if version >= 3:
        as_string(field(info, "compression_format", "info"), "compression_format")
        as_string(field(info, "compression_mode", "info"), "compression_mode")
    if version >= 5:
        for j, item in enumerate(field(info, "files", "info")):
            as_string(field(item, "path", f"files[{j}]"), f"files[{j}].path")
            as_int(field(field(item, "duration", f"files[{j}]"), "nanoseconds", "duration"), "duration", True)
            as_int(field(item, "message_count", f"files[{j}]"), f"files[{j}].message_count", True)
    if version >= 6:     # custom_data: a map of strings, or empty (null)
        custom = field(info, "custom_data", "info")
        if custom is not None and not (isinstance(custom, dict) and all(isinstance(v, str) for v in custom.values())):
            raise BadConversion("custom_data: bad conversion to map<string, string>")
    return out


def two_flights():
    t = np.arange(50) * 0.02 + 1_700_000_000.0
    p = np.column_stack([np.cos(t - t[0]), np.sin(t - t[0]), np.full_like(t, 2.0)])
    return [make_flight("a", "a.txt", t, p), make_flight("b", "b.txt", t, p + 1.0)]


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_version_8_bag_has_the_layout_humble_parses(tmp_path, storage):
    bag = tmp_path / "humble"
    write_flights_bag(two_flights(), bag, fmt=BagFormat(8, storage))
    decoded = humble_decode((bag / "metadata.yaml").read_text())
    assert decoded["version"] == 8 and decoded["storage"] == storage and decoded["messages"] == 100
    assert set(decoded["topics"]) == {"/a/odom", "/b/odom"}
    (profile,) = decoded["topics"]["/a/odom"]["qos"]
    infinite = 9223372036 * 10**9 + 854775807                       # RMW_DURATION_INFINITE, as rosbag2 writes it
    assert profile == dict(history="keep_last", depth=10, reliability="reliable", durability="volatile",
                           liveliness="automatic", deadline=infinite, lifespan=infinite, lease=infinite)
    files = [p.name for p in bag.iterdir() if p.suffix in (".db3", ".mcap")]
    assert decoded["paths"] == files
    read_back = open_bag(bag)                      # and this package (rosbags) reads it too
    assert read_back.message_count == 100 and read_back.topics["/a/odom"].qos == [default_qos()]


def test_version_8_storage_files_carry_the_same_qos_string(tmp_path):
    """Humble reads the storage's own copy when metadata.yaml is gone (`ros2 bag reindex`)."""
    sqlite_bag, mcap_bag = tmp_path / "s", tmp_path / "m"
    write_flights_bag(two_flights()[:1], sqlite_bag, fmt=BagFormat(8, "sqlite3"))
    write_flights_bag(two_flights()[:1], mcap_bag, fmt=BagFormat(8, "mcap"))
    info = yaml.safe_load((sqlite_bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    expected = info["topics_with_message_count"][0]["topic_metadata"]["offered_qos_profiles"]
    with sqlite3.connect(next(sqlite_bag.glob("*.db3"))) as db:
        (stored,) = db.execute("SELECT offered_qos_profiles FROM topics").fetchone()
    assert stored == expected
    humble_qos(stored, "db3")
    from mcap.reader import make_reader
    with next(mcap_bag.glob("*.mcap")).open("rb") as handle:
        (channel,) = make_reader(handle).get_summary().channels.values()
    assert channel.metadata["offered_qos_profiles"] == expected


def test_version_9_is_what_humble_cannot_parse(tmp_path):
    """The check above can fail: the default (Jazzy/Kilted) layout is a bad conversion for Humble."""
    bag = tmp_path / "jazzy"
    write_flights_bag(two_flights()[:1], bag)
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "mcap"
    with pytest.raises(BadConversion, match="offered_qos_profiles: bad conversion to std::string"):
        humble_decode((bag / "metadata.yaml").read_text())


def test_formats_are_validated_and_named_per_distro():
    assert BagFormat.for_distro("humble") == BagFormat(8, "sqlite3")
    assert BagFormat.for_distro("jazzy") == BagFormat() == BagFormat(9, "mcap")
    with pytest.raises(BagWriteError, match="version must be one of"):
        BagFormat(7)
    with pytest.raises(BagWriteError, match="unknown storage 'parquet'"):
        BagFormat(9, "parquet")
    with pytest.raises(BagWriteError, match="no bag format known for ROS 2 'rolling'"):
        BagFormat.for_distro("rolling")


def test_every_bag_writing_command_offers_the_format(tmp_path, capsys):
    flight = tmp_path / "f.txt"
    flight.write_text("".join(f"{0.05 * k:.2f} {0.1 * k:.3f} 0 1 0 0 0 1\n" for k in range(40)))
    assert bag_cli.main(["from-flight", str(flight), "--out", str(tmp_path / "b"), "--bag-version", "8",
                         "--storage", "sqlite3"]) == 0
    assert "(sqlite3, metadata v8)" in capsys.readouterr().out
    assert humble_decode((tmp_path / "b" / "metadata.yaml").read_text())["storage"] == "sqlite3"
    assert bag_cli.main(["repair", str(tmp_path / "b"), "--out", str(tmp_path / "r"), "--bag-version", "8"]) == 0
    assert humble_decode((tmp_path / "r" / "metadata.yaml").read_text())["version"] == 8
    record = bag_cli.parser().parse_args(["record", "/odom", "--out", "x", "--bag-version", "8",
                                          "--storage", "sqlite3"])
    assert bag_cli.format_from_args(record) == BagFormat(8, "sqlite3")
    with pytest.raises(SystemExit) as refused:
        bag_cli.main(["from-flight", str(flight), "--out", str(tmp_path / "c"), "--bag-version", "7"])
    assert refused.value.code == 2 and "invalid choice: 7" in capsys.readouterr().err
