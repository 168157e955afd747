"""Ground-truth recording of a data-generation run: rosbag2 (mcap), per-trajectory TUM files, dataset card.

Layout of the output directory::

    bag/                    rosbag2 written by the package's bag writer (bags/writer.py; mcap, metadata v9
                            unless the run's bag format says otherwise):
                              /datagen/odometry  nav_msgs/msg/Odometry  every commander tick (ENU, frame "world",
                                                 child "base_link", twist in the child frame as REP 105 says)
                              /datagen/markers   std_msgs/msg/String    "start <id> <family>", "end <id>",
                                                 "abort <id> <reason>"
    trajectories/traj_<id>_<family>.tum   `t x y z qx qy qz qw vx vy vz` (world-frame velocity as extra
                                          columns, read with read_flight(path, extra_columns=True))
    card.yaml               seed, configuration, vehicle, per-trajectory family, adaptation, tracking errors

Bag stamps are the backend clock in nanoseconds (simulated time from 0 for the embedded simulator,
wall-clock time for PX4).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from ..bags.types import default_qos
from ..bags.writer import BagFormat, BagWriter, body_velocities, odometry_cdr, stamps_ns
from .backend import VehicleState

ODOMETRY_TOPIC = "/datagen/odometry"
MARKER_TOPIC = "/datagen/markers"
WORLD_FRAME, BODY_FRAME = "world", "base_link"


def _plain(value):
    """numpy scalars / arrays inside nested dicts and lists -> plain Python (for YAML)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


class DatasetRecorder:
    """Writes what the commander reports into `out_dir` (see module docstring). Use as a context manager."""

    def __init__(self, out_dir, card: dict, bag_format: BagFormat | None = None):
        self.out_dir = Path(out_dir)
        self.bag_dir = self.out_dir / "bag"
        self.tum_dir = self.out_dir / "trajectories"
        if self.bag_dir.exists():
            raise FileExistsError(f"{self.bag_dir} already exists: choose another --out or remove it")
        self.tum_dir.mkdir(parents=True, exist_ok=True)
        self.card = dict(card, trajectories=[])
        self.writer = BagWriter(self.bag_dir, bag_format).open()
        self.odom_conn = self.writer.topic(ODOMETRY_TOPIC, "nav_msgs/msg/Odometry")
        self.marker_conn = self.writer.topic(MARKER_TOPIC, "std_msgs/msg/String",
                                             qos=[default_qos(100, transient_local=True)])   # latched marks
        self.counts = self.writer.counts
        self.closed = False

    # ----------------------------------------------------------------------------------- commander API
    def odometry(self, state: VehicleState) -> None:
        """One ground-truth sample on /datagen/odometry."""
        stamp = _nanoseconds(state.t)
        velocity = body_velocities(state.v, state.q)[0]
        self.writer.write(self.odom_conn, stamp, odometry_cdr(stamp, state.p, state.q, velocity, WORLD_FRAME,
                                                              BODY_FRAME))

    def mark(self, t: float, text: str) -> None:
        """A trajectory boundary on /datagen/markers."""
        message = self.writer.store.types["std_msgs/msg/String"](data=text)
        self.writer.write_message(self.marker_conn, _nanoseconds(t), message)

    def trajectory(self, record) -> None:
        """A completed trajectory: its TUM file and its card entry."""
        path = self.tum_dir / f"traj_{record.index:04d}_{record.family}.tum"
        stats = record.stats
        header = (f"datagen trajectory {record.index} family {record.family} attempts {record.attempts}\n"
                  f"tracking error rmse {stats['rmse_m']} m, max {stats['max_m']} m\n"
                  "timestamp tx ty tz qx qy qz qw vx vy vz (ENU world, s, m, m/s)")
        table = np.column_stack([record.t, record.p, record.q, record.v])
        np.savetxt(path, table, fmt="%.6f", header=header)
        reference = record.planned.reference
        self.card["trajectories"].append(_plain(dict(
            index=record.index, family=record.family, file=str(path.relative_to(self.out_dir)),
            attempts=record.attempts, start_s=round(float(record.t[0]), 3), tracking=stats,
            reference=dict(info=reference.info, duration_s=round(reference.duration, 3),
                           **record.planned.adaptation))))

    # ----------------------------------------------------------------------------------- closing
    def close(self, result=None) -> Path:
        """Finish the bag and write card.yaml (with the run's outcome when given); returns its path."""
        if not self.closed:
            self.writer.close()
            self.closed = True
        if result is not None:
            self.card["outcome"] = _plain(dict(
                final_state=result.final_state.value, flown=len(result.flown), skipped=result.skipped,
                errors=result.errors, messages=dict(self.counts),
                transitions=[f"{t:.2f} {state.value}" for t, state in result.transitions]))
        path = self.out_dir / "card.yaml"
        path.write_text(yaml.safe_dump(_plain(self.card), sort_keys=False))
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.closed:
            self.writer.close()
            self.closed = True


def _nanoseconds(t: float) -> int:
    return int(stamps_ns(t, "datagen sample")[0])
