"""rosbag2 (directory, .mcap, .db3) and ROS 1 .bag via rosbags' AnyReader: nav_msgs/Odometry,
geometry_msgs/PoseStamped, PoseWithCovarianceStamped and PointStamped (one flight per topic), and
uav_traj_predictor/TargetArray (one flight per target id, `read_bag_targets`). Positions are taken in the
topic's own world frame (ENU by REP 103); Odometry twists (child_frame_id, body) are rotated into that
frame; a supplied position covariance (PoseWithCovarianceStamped, TargetArray) becomes `Flight.noise`
(`data.noise.covariance_level` per sample)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..flight import Flight, FlightFormatError, ReadReport, make_flight
from ..noise import covariance_level, covariance_levels
from ...frames import body_to_world, valid_quaternions

ODOMETRY = "nav_msgs/msg/Odometry"
POSE_COVARIANCE = "geometry_msgs/msg/PoseWithCovarianceStamped"
POINT = "geometry_msgs/msg/PointStamped"
TARGET_ARRAY = "uav_traj_predictor/msg/TargetArray"
POSE_TYPES = ("geometry_msgs/msg/PoseStamped", POSE_COVARIANCE, POINT)
SUPPORTED = (ODOMETRY, *POSE_TYPES)     # preference order when topic=None
IDENTITY = (0.0, 0.0, 0.0, 1.0)


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
        raise FlightFormatError(f"{path}: no Odometry/PoseStamped/PoseWithCovarianceStamped/PointStamped topic; "
                                f"topics: {listing}")
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
    t, p, q, v_body, noise = (np.asarray(c, dtype=np.float64) for c in zip(*columns))
    noise = noise if connections[0].msgtype == POSE_COVARIANCE else None
    v = None
    if connections[0].msgtype == ODOMETRY:
        ok = valid_quaternions(q)
        report.drop("invalid orientation", int(np.count_nonzero(~ok)),
                    f"{path}: {name}: Odometry with a non-unit quaternion: its twist cannot be rotated")
        t, p, q, v_body = t[ok], p[ok], q[ok], v_body[ok]
        v = body_to_world(v_body, q) if len(q) else v_body
    return make_flight(f"{path.stem}:{name}", str(path), t, p, v=v, q=q, report=report, noise=noise)


def _decode(path: Path, reader, connections) -> tuple[list, ReadReport]:
    """(stamp, position, quaternion, body twist, covariance noise level) per readable message, and the report."""
    report, rows = ReadReport(), []
    for connection, msg, stamp, _ in _stamped_messages(path, reader, connections, report):
        kind = connection.msgtype
        twist = msg.twist.twist.linear if kind == ODOMETRY else None
        noise = covariance_level(*msg.pose.covariance[[0, 7, 14]].tolist()) if kind == POSE_COVARIANCE else np.nan
        if kind == POINT:
            position, orientation = (msg.point.x, msg.point.y, msg.point.z), IDENTITY
        else:
            pose = msg.pose if kind == "geometry_msgs/msg/PoseStamped" else msg.pose.pose
            position = (pose.position.x, pose.position.y, pose.position.z)
            orientation = (pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w)
        rows.append((stamp, position, orientation, (twist.x, twist.y, twist.z) if twist is not None else (np.nan,) * 3,
                     noise))
    return rows, report


def _stamped_messages(path: Path, reader, connections, report: ReadReport, unpack=None):
    """(connection, message, stamp s, unpack(message) or None) per decodable message of `connections`: the
    header stamp, or the bag receive time where it is zero (counted in one note); a message that does not
    deserialise, or that `unpack` rejects (raises), is dropped as undecodable, never the rest of the bag."""
    receive_stamps = 0
    for index, (connection, receive_ns, raw) in enumerate(reader.messages(connections=connections)):
        try:
            msg = reader.deserialize(raw, connection.msgtype)
            unpacked = unpack(msg) if unpack is not None else None
        except Exception as err:  # a corrupt message must not lose the rest of the bag
            report.drop("undecodable message", 1, f"{path}: {connection.topic} message {index}: {err}")
            continue
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp == 0:
            stamp, receive_stamps = receive_ns * 1e-9, receive_stamps + 1
        yield connection, msg, stamp, unpacked
    if receive_stamps:
        report.notes.append(f"{path}: {receive_stamps} messages had a zero header stamp; used the bag receive time")


def target_topics(path: Path) -> list[str]:
    """The uav_traj_predictor/TargetArray topics of a bag."""
    reader = _open_reader(path)
    try:
        return sorted({c.topic for c in reader.connections if c.msgtype == TARGET_ARRAY})
    finally:
        reader.close()


def read_bag_targets(path: Path, topic: str) -> dict[str, Flight]:
    """{target id: Flight} of a uav_traj_predictor/TargetArray topic: one flight per target id (named
    "<bag stem>:<topic>:<id>"), stamps from the message header (zero: the bag receive time), noise from the
    covariances when the message has 9 per target. Undecodable messages and messages whose positions are
    not 3 per id are dropped (counted in each flight's report)."""
    path = Path(path)
    reader = _open_reader(path)
    report, rows = ReadReport(), {}

    def unpack(msg):                          # ids and (n, 3) positions, or a ValueError: undecodable
        ids = list(msg.ids)
        return ids, np.asarray(msg.positions, np.float64).reshape(len(ids), 3)
    try:
        connections = [c for c in reader.connections if c.topic == topic]
        if not connections or connections[0].msgtype != TARGET_ARRAY:
            kinds = {c.topic: c.msgtype for c in reader.connections}
            raise FlightFormatError(f"{path}: topic {topic} is {kinds.get(topic, 'missing')}, not {TARGET_ARRAY}")
        for _, msg, stamp, (ids, positions) in _stamped_messages(path, reader, connections, report, unpack):
            covariances = np.asarray(msg.covariances, np.float64)
            levels = (covariance_levels(covariances.reshape(len(ids), 9)[:, ::4])
                      if len(ids) and len(covariances) == 9 * len(ids) else np.full(len(ids), np.nan))
            for target, xyz, level in zip(ids, positions, levels):
                rows.setdefault(target, []).append((stamp, xyz, level))
    finally:
        reader.close()
    flights = {}
    for target, samples in rows.items():
        t, p, noise = (np.array(column) for column in zip(*samples))
        flights[target] = make_flight(f"{path.stem}:{topic}:{target}", str(path), t, p,
                                      report=ReadReport(dropped=dict(report.dropped), notes=list(report.notes)),
                                      noise=noise)
    return flights
