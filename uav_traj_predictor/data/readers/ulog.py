"""PX4 ULog (.ulg) via pyulog: vehicle_local_position or vehicle_odometry, converted NED -> ENU."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..flight import Flight, FlightFormatError, ReadReport, make_flight
from ...frames import body_to_world, ned_to_enu, px4_to_ros_attitude, valid_quaternions

TOPICS = ("vehicle_local_position", "vehicle_odometry")   # tried in this order when topic=None
VELOCITY_FRAME_BODY_FRD = 3                                # vehicle_odometry.velocity_frame


def read_ulog(path: Path, topic: str | None = None, instance: int = 0) -> Flight:
    """Positions (and velocities, attitude when logged) of one ULog topic in ENU metres, seconds.

    topic: "vehicle_local_position" (x, y, z, vx, vy, vz NED; samples flagged xy/z invalid are
    dropped) or "vehicle_odometry" (position[3], velocity[3], q[4] w x y z; body FRD velocities are
    rotated to the world). None tries them in that order. Stamps: timestamp_sample when logged.
    """
    from pyulog import ULog
    from pyulog.core import ULogException

    wanted = [topic] if topic else list(TOPICS)
    try:
        ulog = ULog(str(path), message_name_filter_list=wanted)
    except FileNotFoundError:
        raise FlightFormatError(f"{path}: no such file") from None
    except (ULogException, ValueError, KeyError, IndexError, OSError) as err:
        raise FlightFormatError(f"{path}: not a readable ULog ({err})") from None
    datasets = {(d.name, d.multi_id): d for d in ulog.data_list}
    name = next((n for n in wanted if (n, instance) in datasets), None)
    if name is None:
        present = sorted({d for d, _ in datasets}) or "none"
        raise FlightFormatError(f"{path}: no {' or '.join(wanted)} (instance {instance}) in the log; "
                                f"position topics found: {present}")
    report = ReadReport()
    if ulog.file_corruption:
        report.notes.append(f"{path}: pyulog detected corruption; kept what it could parse")
    data = datasets[(name, instance)].data
    reader = _local_position if name == "vehicle_local_position" else _odometry
    t, p, v, q = reader(path, data, report)
    return make_flight(path.stem, str(path), t, p, v=v, q=q, report=report)


def _stamps(data: dict) -> np.ndarray:
    """Seconds from timestamp_sample (when logged and nonzero) else timestamp, both in microseconds."""
    stamps = data["timestamp"].astype(np.float64)
    if "timestamp_sample" in data:
        sample = data["timestamp_sample"].astype(np.float64)
        stamps = np.where(sample > 0, sample, stamps)
    return stamps * 1e-6


def _columns(path, data: dict, names: list[str]) -> np.ndarray:
    missing = [n for n in names if n not in data]
    if missing:
        raise FlightFormatError(f"{path}: ULog topic lacks fields {missing}")
    return np.stack([data[n].astype(np.float64) for n in names], axis=1)


def _local_position(path, data: dict, report: ReadReport):
    keep = np.ones(len(data["timestamp"]), dtype=bool)
    for flag in ("xy_valid", "z_valid"):
        if flag in data:
            keep &= data[flag].astype(bool)
    report.drop("invalid estimate", int(np.count_nonzero(~keep)),
                f"{path}: vehicle_local_position samples flagged xy_valid/z_valid = false")
    p = ned_to_enu(_columns(path, data, ["x", "y", "z"]))
    v = ned_to_enu(_columns(path, data, ["vx", "vy", "vz"])) if "vx" in data else None
    return _stamps(data)[keep], p[keep], None if v is None else v[keep], None


def _odometry(path, data: dict, report: ReadReport):
    position_fields = ["position[0]", "position[1]", "position[2]"] if "position[0]" in data else ["x", "y", "z"]
    velocity_fields = (["velocity[0]", "velocity[1]", "velocity[2]"] if "velocity[0]" in data
                       else ["vx", "vy", "vz"])
    p_ned = _columns(path, data, position_fields)
    q_wxyz = _columns(path, data, [f"q[{i}]" for i in range(4)]) if "q[0]" in data else None
    q = None
    if q_wxyz is not None:
        ok = valid_quaternions(q_wxyz)
        q = np.full((len(q_wxyz), 4), np.nan)
        q[ok] = px4_to_ros_attitude(q_wxyz[ok]) if ok.any() else q[ok]
    v = None
    if all(f in data for f in velocity_fields):
        v_ned = _columns(path, data, velocity_fields)
        frame = data.get("velocity_frame")
        if frame is not None and (frame == VELOCITY_FRAME_BODY_FRD).any():
            body = frame == VELOCITY_FRAME_BODY_FRD
            if q_wxyz is None:
                raise FlightFormatError(f"{path}: body-frame velocities without attitude q")
            v_ned[body] = _frd_to_ned(v_ned[body], q_wxyz[body])
        v = ned_to_enu(v_ned)
    return _stamps(data), ned_to_enu(p_ned), v, q


def _frd_to_ned(v_frd: np.ndarray, q_wxyz: np.ndarray) -> np.ndarray:
    ok = valid_quaternions(q_wxyz[:, [1, 2, 3, 0]])
    out = np.full_like(v_frd, np.nan)   # no attitude, no world velocity: row dropped as non-finite
    if ok.any():
        out[ok] = body_to_world(v_frd[ok], q_wxyz[ok][:, [1, 2, 3, 0]])
    return out
