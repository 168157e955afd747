"""Flight files -> a rosbag2 bag (`uav-traj bag from-flight`): nav_msgs/Odometry by default, or
PoseWithCovarianceStamped / PointStamped per flight, or every flight a target of one TargetArray topic.

Odometry: each sample becomes one message stamped (header and bag time) with its original time; the
pose carries position and orientation (identity when the flight has none), the twist carries the
velocity in the body frame (child_frame_id) from the flight's velocities, else finite differences.
pose_covariance / point: one message per sample, the covariance's position variances `sigma`^2 (zero:
"unknown"). targets: one uav_traj_predictor/TargetArray per distinct stamp on `topic`, holding every
flight with a sample at that stamp (target id = the flight's file stem), covariance `sigma`^2 I when given.
Written by the package's one bag writer (bags/writer.py): metadata version 9 (Jazzy, Kilted) or 8
(Humble), mcap or sqlite3, with the explicit offered QoS of `types.default_qos()`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .writer import (MESSAGE_KINDS, BagFormat, BagWriteError, BagWriter, stamps_ns, write_odometry, write_samples,
                     write_targets)


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


def target_id(stem: str) -> str:
    """A target id for a flight: its file stem with characters outside [A-Za-z0-9_.-] replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "flight"


def write_flights_bag(flights, out, topic: str = "/odom", fmt: BagFormat | None = None,
                      frame_id: str = "map", kind: str = "odometry", sigma: float | None = None) -> list[WrittenTopic]:
    """Write `flights` (data.Flight objects) into a new rosbag2 directory `out` (`fmt`: metadata version and
    storage, default v9 mcap) as `kind` messages (MESSAGE_KINDS; `sigma`: the position std the covariances
    state, for pose_covariance and targets). Per-flight kinds: one flight goes to `topic`, several to
    `/<stem><topic>` each; "targets": all flights on `topic`, one target each. Returns what was written."""
    if kind not in MESSAGE_KINDS:
        raise BagWriteError(f"unknown message kind {kind!r}; expected one of {', '.join(MESSAGE_KINDS)}")
    if sigma is not None and not (sigma >= 0 and np.isfinite(sigma)):
        raise BagWriteError(f"--sigma must be a finite std >= 0 (m), got {sigma}")
    if kind == "targets":
        topics = [topic] * len(flights)
        ids = [target_id(flight.name) for flight in flights]
        if len(set(ids)) != len(ids):
            raise BagWriteError(f"flights map to the same target id ({ids}); give them distinct file names")
    else:
        topics = [topic] if len(flights) == 1 else [topic_for(f.name, topic) for f in flights]
        if len(set(topics)) != len(topics):
            raise BagWriteError(f"flights map to the same topic ({topics}); give them distinct file names")
    for flight in flights:                  # checked before anything is written: no half-written bag
        if len(flight.t) == 0:
            raise BagWriteError(f"{flight.source}: no samples to write")
        stamps_ns(flight.t, str(flight.source))
    written = []
    with BagWriter(out, fmt) as writer:
        if kind == "targets":
            write_targets(writer, topic, {i: (f.t, f.p) for i, f in zip(ids, flights)}, sigma, frame_id)
            return [WrittenTopic(f"{topic} [{i}]", f.name, len(f.t)) for i, f in zip(ids, flights)]
        for flight, name in zip(flights, topics):
            if kind == "odometry":
                velocity = flight.v if flight.v is not None else finite_difference_velocity(flight.t, flight.p)
                count = write_odometry(writer, name, flight.t, flight.p, flight.q, velocity, frame_id=frame_id,
                                       where=str(flight.source))
            else:
                count = write_samples(writer, name, kind, flight.t, flight.p, flight.q, sigma or 0.0, frame_id,
                                      where=str(flight.source))
            written.append(WrittenTopic(name, flight.name, count))
    return written
