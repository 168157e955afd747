"""rosbag2 (directory, .mcap, .db3) and ROS 1 .bag via rosbags' AnyReader: nav_msgs/Odometry,
geometry_msgs/PoseStamped and PoseWithCovarianceStamped. Positions are taken in the topic's own
world frame (ENU by REP 103); Odometry twists (child_frame_id, body) are rotated into that frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..flight import Flight, FlightFormatError, ReadReport, make_flight
from ...frames import body_to_world, valid_quaternions

ODOMETRY = "nav_msgs/msg/Odometry"
POSE_TYPES = ("geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/PoseWithCovarianceStamped")
SUPPORTED = (ODOMETRY, *POSE_TYPES)     # preference order when topic=None


def _open_reader(path: Path):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore
    if not path.exists():
        raise FlightFormatError(f"{path}: no such file or bag directory")
    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
        reader.open()
    except Exception as err:  # rosbags raises many types for foreign or broken files
        raise FlightFormatError(f"{path}: not a readable bag ({type(err).__name__}: {err})") from None
    return reader


def choose_topic(path: Path, connections, topic: str | None, strict: bool) -> str:
    """The topic to read: the one asked for, else the first Odometry topic, else the first pose topic."""
    available = {c.topic: c.msgtype for c in connections}
    listing = ", ".join(f"{name} [{kind}]" for name, kind in sorted(available.items())) or "none"
    if topic is not None:
        if topic not in available:
            raise FlightFormatError(f"{path}: no topic {topic!r}; topics: {listing}")
        if available[topic] not in SUPPORTED:
            raise FlightFormatError(f"{path}: topic {topic} has type {available[topic]}; "
                                    f"supported: {', '.join(SUPPORTED)}")
        return topic
    candidates = sorted((SUPPORTED.index(kind), name) for name, kind in available.items() if kind in SUPPORTED)
    if not candidates:
        raise FlightFormatError(f"{path}: no Odometry/PoseStamped topic; topics: {listing}")
    if strict and len(candidates) > 1:
        raise FlightFormatError(f"{path}: several odometry/pose topics, pass topic=: "
                                f"{', '.join(name for _, name in candidates)}")
    return candidates[0][1]


def read_bag(path: Path, topic: str | None = None, strict_topic: bool = False) -> Flight:
    """Positions, attitudes and (Odometry) world-frame velocities of one topic of a bag.

    topic=None picks the first Odometry topic, else the first pose topic (alphabetically); with
    strict_topic=True several candidates are an error listing them. Stamps come from the header;
    a zero header stamp falls back to the bag receive time (counted in report.notes).
    """
    reader = _open_reader(path)
    try:
        name = choose_topic(path, reader.connections, topic, strict_topic)
        connections = [c for c in reader.connections if c.topic == name]
        columns, report = _decode(path, reader, connections)
    finally:
        reader.close()
    if not columns:
        raise FlightFormatError(f"{path}: topic {name} has no readable messages "
                                f"({report.notes[0] if report.notes else 'none recorded'})")
    t, p, q, v_body = (np.asarray(c, dtype=np.float64) for c in zip(*columns))
    v = None
    if connections[0].msgtype == ODOMETRY:
        ok = valid_quaternions(q)
        report.drop("invalid orientation", int(np.count_nonzero(~ok)),
                    f"{path}: {name}: Odometry with a non-unit quaternion: its twist cannot be rotated")
        t, p, q, v_body = t[ok], p[ok], q[ok], v_body[ok]
        v = body_to_world(v_body, q) if len(q) else v_body
    return make_flight(f"{path.stem}:{name}", str(path), t, p, v=v, q=q, report=report)


def _decode(path: Path, reader, connections) -> tuple[list, ReadReport]:
    """(stamp, position, quaternion, body twist) per readable message, and the report."""
    report = ReadReport()
    rows, receive_stamps = [], 0
    for index, (connection, receive_ns, raw) in enumerate(reader.messages(connections=connections)):
        try:
            msg = reader.deserialize(raw, connection.msgtype)
        except Exception as err:  # a corrupt message must not lose the rest of the bag
            report.drop("undecodable message", 1, f"{path}: {connection.topic} message {index}: {err}")
            continue
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp == 0:
            stamp, receive_stamps = receive_ns * 1e-9, receive_stamps + 1
        pose = msg.pose if connection.msgtype == "geometry_msgs/msg/PoseStamped" else msg.pose.pose
        twist = msg.twist.twist.linear if connection.msgtype == ODOMETRY else None
        rows.append((stamp, (pose.position.x, pose.position.y, pose.position.z),
                     (pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w),
                     (twist.x, twist.y, twist.z) if twist is not None else (np.nan,) * 3))
    if receive_stamps:
        report.notes.append(f"{path}: {receive_stamps} messages had a zero header stamp; "
                            "used the bag receive time")
    return rows, report
