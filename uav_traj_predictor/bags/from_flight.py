"""Flight files -> a rosbag2 bag of nav_msgs/Odometry (`uav-traj bag from-flight`).

Each sample becomes one Odometry message stamped (header and bag time) with its original time; the
pose carries position and orientation (identity when the flight has none), the twist carries the
velocity in the body frame (child_frame_id) from the flight's velocities, else finite differences.
Metadata version 9 with explicit offered QoS, so Jazzy/Kilted `ros2 bag play` accepts the bag.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from scipy.spatial.transform import Rotation

from .types import ODOMETRY, default_qos, typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
IDENTITY_QUATERNION = np.array([0.0, 0.0, 0.0, 1.0])


class FlightToBagError(ValueError):
    """A flight cannot be written to a bag (names the flight and what is wrong)."""


@dataclass
class WrittenTopic:
    topic: str
    flight: str
    messages: int


def topic_for(stem: str, base_topic: str = "/odom") -> str:
    """`/<stem><base_topic>` with the stem made a valid ROS name (e.g. 'MH_01 easy' -> /MH_01_easy/odom)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem).strip("_") or "flight"
    if name[0].isdigit():
        name = "f_" + name
    return f"/{name}/{base_topic.strip('/')}"


def body_velocities(flight) -> np.ndarray:
    """(N, 3) velocities in the body frame of each sample (world frame when there is no orientation)."""
    world = flight.v if flight.v is not None else finite_difference_velocity(flight.t, flight.p)
    if flight.q is None:
        return world
    quats = np.where(np.isfinite(flight.q).all(axis=1, keepdims=True), flight.q, IDENTITY_QUATERNION)
    norms = np.linalg.norm(quats, axis=1, keepdims=True)
    quats = np.where(norms > 1e-9, quats, IDENTITY_QUATERNION)
    return Rotation.from_quat(quats).inv().apply(world)


def finite_difference_velocity(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Velocities by central differences over time-ordered samples (zeros where undefined)."""
    velocity = np.zeros_like(p)
    if len(t) < 2:
        return velocity
    order = np.argsort(t, kind="stable")
    ts, ps = t[order], p[order]
    keep = np.concatenate([[True], np.diff(ts) > 0])   # duplicated stamps give no velocity
    if keep.sum() >= 2:
        grad = np.gradient(ps[keep], ts[keep], axis=0)
        unique_velocity = np.zeros_like(ps)
        unique_velocity[keep] = grad
        unique_velocity[~keep] = grad[np.cumsum(keep)[~keep] - 1]
        velocity[order] = unique_velocity
    return velocity


def odometry_messages(flight, frame_id: str = "map", child_frame_id: str = "base_link"):
    """Yield (stamp_ns, Odometry) for every sample of `flight` in file order (rosbags message classes)."""
    store = typestore()
    Odometry = store.types[ODOMETRY]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    geo = {name: store.types[f"geometry_msgs/msg/{name}"] for name in
           ("PoseWithCovariance", "Pose", "Point", "Quaternion", "TwistWithCovariance", "Twist", "Vector3")}
    stamps = stamps_ns(flight)
    velocity = body_velocities(flight)
    quats = flight.q if flight.q is not None else np.tile(IDENTITY_QUATERNION, (len(flight.t), 1))
    zeros36 = np.zeros(36)
    for i, stamp in enumerate(stamps):
        sec, nanosec = divmod(int(stamp), 1_000_000_000)   # stamps_ns keeps the fraction exact
        p, q, v = flight.p[i], quats[i], velocity[i]
        pose = geo["Pose"](position=geo["Point"](x=p[0], y=p[1], z=p[2]),
                           orientation=geo["Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3]))
        twist = geo["Twist"](linear=geo["Vector3"](x=v[0], y=v[1], z=v[2]),
                             angular=geo["Vector3"](x=0.0, y=0.0, z=0.0))
        yield int(stamp), Odometry(
            header=Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id),
            child_frame_id=child_frame_id,
            pose=geo["PoseWithCovariance"](pose=pose, covariance=zeros36),
            twist=geo["TwistWithCovariance"](twist=twist, covariance=zeros36))


def stamps_ns(flight) -> np.ndarray:
    """The flight's stamps as integer nanoseconds (they must be finite and >= 0 for a bag)."""
    t = np.asarray(flight.t, dtype=np.float64)
    if len(t) == 0:
        raise FlightToBagError(f"{flight.source}: no samples to write")
    if (t < 0).any():
        first = int(np.flatnonzero(t < 0)[0])
        raise FlightToBagError(f"{flight.source}: sample {first} has a negative stamp ({t[first]} s); "
                               "bag times must be >= 0")
    # Split first: t * 1e9 in float64 would lose up to ~100 ns at epoch-sized stamps (1.4e18 ns).
    seconds = np.floor(t)
    nanoseconds = np.round((t - seconds) * 1e9).astype(np.int64)
    return seconds.astype(np.int64) * 1_000_000_000 + nanoseconds


def write_flights_bag(flights, out, topic: str = "/odom", storage: str = "mcap",
                      frame_id: str = "map") -> list[WrittenTopic]:
    """Write `flights` (data.Flight objects) as Odometry into a new rosbag2 directory `out`.

    One flight goes to `topic`; several go to `/<stem><topic>` each. Returns what was written.
    """
    if storage not in STORAGES:
        raise FlightToBagError(f"unknown storage {storage!r}; expected one of {', '.join(STORAGES)}")
    out = Path(out)
    if out.exists():
        raise FlightToBagError(f"{out} already exists; rosbag2 writes a new directory")
    topics = [topic] if len(flights) == 1 else [topic_for(f.name, topic) for f in flights]
    if len(set(topics)) != len(topics):
        raise FlightToBagError(f"flights map to the same topic ({topics}); give them distinct file names")
    store = typestore()
    written = []
    writer = Writer(out, version=9, storage_plugin=STORAGES[storage])
    with writer:
        for flight, name in zip(flights, topics):
            connection = writer.add_connection(name, ODOMETRY, typestore=store,
                                               offered_qos_profiles=[default_qos()])
            count = 0
            for stamp, message in odometry_messages(flight, frame_id=frame_id):
                writer.write(connection, stamp, store.serialize_cdr(message, ODOMETRY))
                count += 1
            written.append(WrittenTopic(name, flight.name, count))
    return written
