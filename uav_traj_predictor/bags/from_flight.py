"""Flight files -> a rosbag2 bag of nav_msgs/Odometry (`uav-traj bag from-flight`).

Each sample becomes one Odometry message stamped (header and bag time) with its original time; the
pose carries position and orientation (identity when the flight has none), the twist carries the
velocity in the body frame (child_frame_id) from the flight's velocities, else finite differences.
Written by the package's one bag writer (bags/writer.py): metadata version 9 (Jazzy, Kilted) or 8
(Humble), mcap or sqlite3, with the explicit offered QoS of `types.default_qos()`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .writer import BagFormat, BagWriteError, BagWriter, stamps_ns, write_odometry


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


def write_flights_bag(flights, out, topic: str = "/odom", fmt: BagFormat | None = None,
                      frame_id: str = "map") -> list[WrittenTopic]:
    """Write `flights` (data.Flight objects) as Odometry into a new rosbag2 directory `out` (`fmt`: metadata
    version and storage, default v9 mcap). One flight goes to `topic`; several go to `/<stem><topic>` each.
    Returns what was written."""
    topics = [topic] if len(flights) == 1 else [topic_for(f.name, topic) for f in flights]
    if len(set(topics)) != len(topics):
        raise BagWriteError(f"flights map to the same topic ({topics}); give them distinct file names")
    for flight in flights:                  # checked before anything is written: no half-written bag
        if len(flight.t) == 0:
            raise BagWriteError(f"{flight.source}: no samples to write")
        stamps_ns(flight.t, str(flight.source))
    written = []
    with BagWriter(out, fmt) as writer:
        for flight, name in zip(flights, topics):
            velocity = flight.v if flight.v is not None else finite_difference_velocity(flight.t, flight.p)
            count = write_odometry(writer, name, flight.t, flight.p, flight.q, velocity, frame_id=frame_id,
                                   where=str(flight.source))
            written.append(WrittenTopic(name, flight.name, count))
    return written
