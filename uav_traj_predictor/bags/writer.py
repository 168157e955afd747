"""The package's one rosbag2 writer: bag format (metadata version + storage), offered QoS, the messages of
flight samples (Odometry, PoseWithCovarianceStamped, PointStamped, and TargetArray for many flights).

Every bag the package writes goes through `BagWriter`: `uav-traj bag from-flight` (bags/from_flight.py),
`bag record`, `bag repair`, `uav-traj generate --format bag` (sim/generate.py) and the datagen
recorder (datagen/recorder.py). Odometry samples become messages in one place (`odometry_cdr`), with
one offered QoS profile (`types.default_qos()`: reliable, volatile, keep last 10, infinite
deadline / lifespan / lease, as rosbag2 records a default publisher) unless a caller passes what live
publishers offered (`bag record`, `bag repair`).

`BagFormat(version, storage)` says which ROS 2 distributions read the bag (docs/bags.md):

* version 9 (default): `offered_qos_profiles` as a YAML list with policy names (`reliable`, ...), what
  Jazzy and Kilted write and read.
* version 8: `offered_qos_profiles` as one YAML string with integer policies (`reliability: 1`), the
  form rosbag2 used up to Iron: Humble reads it (its `yaml.hpp` decodes the field `as<std::string>`
  and the profile's policies `as<int>`; a version-9 list is a "bad conversion" there), and Jazzy and
  Kilted still read it. The other v8 fields (`type_description_hash`, `ros_distro`, `custom_data`) are
  ignored or accepted by Humble's decoder.
* storage `mcap` (default) or `sqlite3` (Humble's default storage; its mcap plugin is an optional
  package there, `ros-humble-rosbag2-storage-mcap`). `BagFormat.for_distro("humble")` is (8, sqlite3).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from ..frames import valid_quaternions, world_to_body
from .types import ODOMETRY, POINT, POSE_COVARIANCE, TARGET_ARRAY, default_qos, typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# message kinds a flight's samples can be written as (predictor_node's input_type names; "targets": every
# flight a target of one uav_traj_predictor/TargetArray topic)
MESSAGE_KINDS = {"odometry": ODOMETRY, "pose_covariance": POSE_COVARIANCE, "point": POINT, "targets": TARGET_ARRAY}
VERSIONS = (8, 9)
DISTRO_FORMATS = {"humble": (8, "sqlite3"), "jazzy": (9, "mcap"), "kilted": (9, "mcap")}
IDENTITY_QUATERNION = np.array([0.0, 0.0, 0.0, 1.0])


class BagWriteError(ValueError):
    """A bag cannot be written as asked (names the bag or the option and what is wrong)."""


@dataclass(frozen=True)
class BagFormat:
    """rosbag2 metadata version (8 or 9) and storage plugin ("mcap" or "sqlite3"); see the module doc."""
    version: int = 9
    storage: str = "mcap"

    def __post_init__(self):
        if self.version not in VERSIONS:
            raise BagWriteError(f"bag metadata version must be one of {list(VERSIONS)} (8: Humble and later, "
                                f"9: Jazzy and later), got {self.version!r}")
        if self.storage not in STORAGES:
            raise BagWriteError(f"unknown storage {self.storage!r}; expected one of {', '.join(STORAGES)}")

    @classmethod
    def for_distro(cls, distro: str) -> "BagFormat":
        """The format the named ROS 2 distribution's `ros2 bag` reads out of the box."""
        if distro not in DISTRO_FORMATS:
            raise BagWriteError(f"no bag format known for ROS 2 {distro!r}; known: {', '.join(DISTRO_FORMATS)}")
        return cls(*DISTRO_FORMATS[distro])

    def describe(self) -> str:
        return f"{self.storage}, metadata v{self.version}"


def add_format_options(parser) -> None:
    """`--bag-version` / `--storage` of every command that writes a bag (argparse; docs/bags.md)."""
    parser.add_argument("--bag-version", type=int, choices=VERSIONS, default=9,
                        help="rosbag2 metadata version: 9 for Jazzy/Kilted (default), 8 for Humble (also read "
                             "by Jazzy and Kilted)")
    parser.add_argument("--storage", choices=tuple(STORAGES), default="mcap",
                        help="storage plugin (default mcap; Humble's default is sqlite3, its mcap plugin is optional)")


def format_from_args(args) -> BagFormat:
    return BagFormat(version=args.bag_version, storage=args.storage)


class BagWriter:
    """A new rosbag2 directory; use as a context manager (the metadata is written on close).

    `topic(name, msgtype, qos)` adds a connection (message definition from the package typestore, so
    the bag is self-describing), `write(connection, stamp_ns, cdr)` stores serialised bytes,
    `counts[name]` is the number written per topic.
    """

    def __init__(self, out, fmt: BagFormat | None = None):
        self.path = Path(out)
        self.format = fmt or BagFormat()
        if self.path.exists():
            raise BagWriteError(f"{self.path} already exists; rosbag2 writes a new directory")
        self.store = typestore()
        self._writer = Writer(self.path, version=self.format.version,
                              storage_plugin=STORAGES[self.format.storage])
        self.counts: dict[str, int] = {}
        self._open = False

    def open(self) -> "BagWriter":
        self._writer.open()
        self._open = True
        return self

    def close(self) -> None:
        if self._open:
            self._open = False
            self._writer.close()

    def __enter__(self) -> "BagWriter":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def topic(self, name: str, msgtype: str, qos=None, store=None):
        """Add topic `name` of type `msgtype`; `qos` is the list of offered profiles (default: the one
        `types.default_qos()` profile). Returns the connection to write to."""
        connection = self._writer.add_connection(name, msgtype, typestore=store or self.store,
                                                 offered_qos_profiles=list(qos) if qos else [default_qos()])
        self.counts.setdefault(name, 0)
        return connection

    def write(self, connection, stamp_ns: int, data: bytes) -> None:
        self._writer.write(connection, int(stamp_ns), data)
        self.counts[connection.topic] += 1

    def write_message(self, connection, stamp_ns: int, message) -> None:
        """Serialise a rosbags message object of the connection's type and write it."""
        self.write(connection, stamp_ns, self.store.serialize_cdr(message, connection.msgtype))


def stamps_ns(t, where: str = "flight") -> np.ndarray:
    """Stamps in seconds -> integer nanoseconds (they must be finite and >= 0 for a bag). Seconds are
    split from the fraction first: t * 1e9 in float64 would lose up to ~100 ns at epoch-sized stamps."""
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if not np.isfinite(t).all():
        first = int(np.flatnonzero(~np.isfinite(t))[0])
        raise BagWriteError(f"{where}: sample {first} has a non-finite stamp ({t[first]})")
    if (t < 0).any():
        first = int(np.flatnonzero(t < 0)[0])
        raise BagWriteError(f"{where}: sample {first} has a negative stamp ({t[first]} s); bag times must be >= 0")
    seconds = np.floor(t)
    nanoseconds = np.round((t - seconds) * 1e9).astype(np.int64)
    return seconds.astype(np.int64) * 1_000_000_000 + nanoseconds


def usable_attitudes(q) -> np.ndarray:
    """(N, 4) attitudes with rows that are no rotation (non-finite, norm off 1) replaced by identity."""
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    return np.where(valid_quaternions(q)[:, None], q, IDENTITY_QUATERNION)


def body_velocities(world_velocities, q) -> np.ndarray:
    """(N, 3) twist velocities (body frame, REP 105) of world-frame velocities; world frame when q is None."""
    world = np.atleast_2d(np.asarray(world_velocities, dtype=np.float64))
    return world if q is None else world_to_body(world, usable_attitudes(q))


def odometry_cdr(stamp_ns: int, position, orientation=None, body_velocity=None, frame_id: str = "map",
                 child_frame_id: str = "base_link") -> bytes:
    """A serialised nav_msgs/Odometry: header stamp = `stamp_ns`, pose = position + orientation (x, y, z, w;
    identity when None), twist.linear = `body_velocity` (in child_frame_id; zero when None), zero covariances."""
    store = typestore()
    types = store.types
    point, quaternion, vector = (types[f"geometry_msgs/msg/{n}"] for n in ("Point", "Quaternion", "Vector3"))
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    q = IDENTITY_QUATERNION if orientation is None else orientation
    v = (0.0, 0.0, 0.0) if body_velocity is None else body_velocity
    zeros36 = np.zeros(36)
    message = types[ODOMETRY](
        header=types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                            frame_id=frame_id),
        child_frame_id=child_frame_id,
        pose=types["geometry_msgs/msg/PoseWithCovariance"](
            pose=types["geometry_msgs/msg/Pose"](position=point(*map(float, position)),
                                                 orientation=quaternion(*map(float, q))),
            covariance=zeros36),
        twist=types["geometry_msgs/msg/TwistWithCovariance"](
            twist=types["geometry_msgs/msg/Twist"](linear=vector(*map(float, v)), angular=vector(0.0, 0.0, 0.0)),
            covariance=zeros36))
    return store.serialize_cdr(message, ODOMETRY)


def write_odometry(writer: BagWriter, topic: str, t, p, q=None, v_world=None, frame_id: str = "map",
                   child_frame_id: str = "base_link", epoch_s: int = 0, where: str = "flight") -> int:
    """Samples (t (N,) s, p (N, 3), q (N, 4) | None, world velocities (N, 3) | None) as Odometry on `topic`,
    bag time = header stamp = epoch_s + t. Returns the number written."""
    stamps = stamps_ns(t, where) + int(epoch_s) * 1_000_000_000
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    quats = None if q is None else np.atleast_2d(np.asarray(q, dtype=np.float64))
    twist = None if v_world is None else body_velocities(v_world, quats)
    connection = writer.topic(topic, ODOMETRY)
    for i, stamp in enumerate(stamps.tolist()):
        writer.write(connection, stamp, odometry_cdr(stamp, p[i], None if quats is None else quats[i],
                                                     None if twist is None else twist[i], frame_id, child_frame_id))
    return len(stamps)


def _header(stamp_ns: int, frame_id: str):
    types = typestore().types
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                        frame_id=frame_id)


def pose_covariance_cdr(stamp_ns: int, position, orientation=None, sigma: float = 0.0, frame_id: str = "map") -> bytes:
    """A serialised geometry_msgs/PoseWithCovarianceStamped: position + orientation (identity when None), the
    covariance's position variances sigma^2 (all zero when sigma is 0: ROS's "unknown")."""
    store = typestore()
    types = store.types
    covariance = np.zeros(36)
    covariance[[0, 7, 14]] = float(sigma) ** 2
    q = IDENTITY_QUATERNION if orientation is None else orientation
    message = types[POSE_COVARIANCE](
        header=_header(stamp_ns, frame_id),
        pose=types["geometry_msgs/msg/PoseWithCovariance"](
            pose=types["geometry_msgs/msg/Pose"](position=types["geometry_msgs/msg/Point"](*map(float, position)),
                                                 orientation=types["geometry_msgs/msg/Quaternion"](*map(float, q))),
            covariance=covariance))
    return store.serialize_cdr(message, POSE_COVARIANCE)


def point_cdr(stamp_ns: int, position, frame_id: str = "map") -> bytes:
    """A serialised geometry_msgs/PointStamped."""
    store = typestore()
    message = store.types[POINT](header=_header(stamp_ns, frame_id),
                                 point=store.types["geometry_msgs/msg/Point"](*map(float, position)))
    return store.serialize_cdr(message, POINT)


def target_array_cdr(stamp_ns: int, ids, positions, sigma: float | None = None, frame_id: str = "map") -> bytes:
    """A serialised uav_traj_predictor/TargetArray of `ids` at `positions` (n, 3); with `sigma`, each target's
    covariance is sigma^2 I (3x3), else the message has no covariances."""
    store = typestore()
    positions = np.asarray(positions, np.float64).reshape(len(ids), 3)
    covariances = (np.tile((float(sigma) ** 2 * np.eye(3)).ravel(), len(ids)) if sigma is not None
                   else np.zeros(0))
    message = store.types[TARGET_ARRAY](header=_header(stamp_ns, frame_id), ids=list(ids),
                                        positions=positions.ravel(), covariances=covariances)
    return store.serialize_cdr(message, TARGET_ARRAY)


def write_samples(writer: BagWriter, topic: str, kind: str, t, p, q=None, sigma: float = 0.0, frame_id: str = "map",
                  epoch_s: int = 0, where: str = "flight") -> int:
    """Samples (t (N,), p (N, 3), q (N, 4) | None) as `kind` "pose_covariance" (covariance sigma^2 per axis)
    or "point" messages on `topic` (Odometry: `write_odometry`), bag time = header stamp. Returns the count."""
    if kind not in ("pose_covariance", "point"):
        raise BagWriteError(f"write_samples writes pose_covariance or point messages, not {kind!r}")
    stamps = stamps_ns(t, where) + int(epoch_s) * 1_000_000_000
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    quats = None if q is None else usable_attitudes(q)
    connection = writer.topic(topic, MESSAGE_KINDS[kind])
    for i, stamp in enumerate(stamps.tolist()):
        data = (pose_covariance_cdr(stamp, p[i], None if quats is None else quats[i], sigma, frame_id)
                if kind == "pose_covariance" else point_cdr(stamp, p[i], frame_id))
        writer.write(connection, stamp, data)
    return len(stamps)


def write_targets(writer: BagWriter, topic: str, targets: dict, sigma: float | None = None, frame_id: str = "map",
                  epoch_s: int = 0) -> int:
    """Flights {target id: (t (N,), p (N, 3))} as uav_traj_predictor/TargetArray messages on one `topic`: the
    samples of every target that share a stamp (to the nanosecond) go into one message, in stamp order (as
    a tracker publishing all its tracks per cycle). Returns the number of messages."""
    rows = []
    for target, (t, p) in targets.items():
        stamps = stamps_ns(t, target) + int(epoch_s) * 1_000_000_000
        p = np.atleast_2d(np.asarray(p, dtype=np.float64))
        rows += [(stamp, target, p[i]) for i, stamp in enumerate(stamps.tolist())]
    rows.sort(key=lambda row: row[0])
    connection = writer.topic(topic, TARGET_ARRAY)
    messages, start = 0, 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end][0] == rows[start][0]:
            end += 1
        group = rows[start:end]
        writer.write(connection, group[0][0], target_array_cdr(group[0][0], [row[1] for row in group],
                                                               [row[2] for row in group], sigma, frame_id))
        messages, start = messages + 1, end
    return messages
