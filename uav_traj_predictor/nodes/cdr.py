"""predictor_node's per-message wire code: the raw CDR readers of its inputs and the CDR writers of its
per-prediction and per-tick outputs, where Python (de)serialisation would cost more than the prediction.

Measured with `cd /tmp && $REPO/.venv/bin/python $REPO/bench/messages.py` (docs/nodes.md has the
table, 2026-12-03, loaded 2-core machine, best of 7): reading stamp, frame and position of an Odometry
straight from its bytes takes 1.5 us against 44 us for rclpy's `deserialize_message` (30x); with the
twist rotated into the world 2.6 us against 67 us (deserialise + scipy, 26x); writing a 10-pose Path
20 us against 115 us for building and serialising the rclpy message (5.8x), a 10-step
PredictedTrajectory 12 us against 52 us (4.4x). Every message passes through one of these, 2,000 to
4,000 times a second with 100 vehicles at 20 Hz, so they stay. The MarkerArray (a few times a second)
goes through the rosbags serialiser instead (`nodes.messages.markers_cdr`).

Wire format: ROS 2's default RMW payload, XCDR1 little-endian, `00 01 00 00` encapsulation header,
every primitive aligned to its size relative to the end of that header (an 8-byte double sits at a
payload offset that is a multiple of 8). A string is a uint32 length counting the terminating NUL, then
its UTF-8 bytes and the NUL; a sequence is a uint32 count, then its elements; `builtin_interfaces/Time`
and `Duration` are int32 sec + uint32 nanosec. Layouts (payload offsets after the encapsulation):

    std_msgs/Header             stamp (Time, 0..8), frame_id (string at 8)
    nav_msgs/Odometry           header, child_frame_id (string), pose.pose.position 3 x float64 (8-aligned),
                                pose.pose.orientation 4 x float64 (x, y, z, w), pose.covariance 36 x float64,
                                twist.twist.linear 3 x float64, twist.twist.angular 3 x float64,
                                twist.covariance 36 x float64
    geometry_msgs/PoseStamped   header, pose.position 3 x float64 (8-aligned), pose.orientation 4 x float64
    geometry_msgs/PoseWithCovarianceStamped
                                header, pose.pose.position 3 x float64 (8-aligned), pose.pose.orientation
                                4 x float64, pose.covariance 36 x float64 (6x6 row-major: x y z rot_x rot_y rot_z)
    geometry_msgs/PointStamped  header, point 3 x float64 (8-aligned)
    uav_traj_predictor/TargetArray (msg/TargetArray.msg; read by rclpy's deserialiser, see read_targets)
                                header, ids (uint32 count, then count strings), positions / covariances:
                                each a uint32 count then count float64 (8-aligned when count > 0)
    nav_msgs/Path               header, poses: uint32 count, then per pose a PoseStamped
    uav_traj_predictor/PredictedTrajectory (msg/PredictedTrajectory.msg)
                                header, track_id (string), model_id (string), horizon_start (Time),
                                time_step (Duration), positions / velocities / position_std: each a uint32
                                count then count x 3 float64 (8-aligned when count > 0),
                                calibrated (bool, 1 byte), status (uint8)
    uav_traj_predictor/PredictedTrajectoryArray (msg/PredictedTrajectoryArray.msg)
                                header, model_id (string), horizon_steps (uint32), time_step (Duration),
                                track_ids (count + strings), origins (count + count x Time), status (count +
                                count x uint8), positions / velocities / position_std (count + float64s)

Tests: the reader returns exactly the fields rclpy deserialises for any serialisable message and raises
ValueError (nothing else) on truncated or random bytes; the writer's bytes deserialise to exactly the
messages built with rclpy (test/unit/nodes/test_nodes_messages.py, test/integration/test_nodes_fuzz.py, hypothesis).
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..core.prediction import TRACKING, Prediction
from ..frames import QUATERNION_TOLERANCE, rotate
from .messages import CV_MODEL_ID, STATUS_CODES, to_time

ENCAPSULATION = b"\x00\x01\x00\x00"      # CDR, little-endian, no options
_START = len(ENCAPSULATION)
_POSE_COVARIANCE = 36 * 8


# ---- reading ------------------------------------------------------------------------------------------
def _align(offset: int, size: int) -> int:
    return offset + (-(offset - _START)) % size


def _string(data: bytes, offset: int) -> tuple[str, int]:
    offset = _align(offset, 4)
    (length,) = struct.unpack_from("<I", data, offset)
    offset += 4
    return data[offset:offset + length - 1].decode("utf-8", "replace") if length else "", offset + length


class OrientationError(ValueError):
    """The message's orientation is no rotation, so its body-frame twist cannot be used."""


def read_stamped_position(data: bytes, has_child_frame: bool):
    """(stamp seconds, frame_id, (x, y, z)) from serialised nav_msgs/Odometry (has_child_frame) or
    geometry_msgs/PoseStamped. Raises ValueError when the bytes are not such a message (another
    encapsulation, truncated data)."""
    stamp, frame_id, position, _ = _read_header_and_position(data, has_child_frame)
    return stamp, frame_id, position


def _read_header_and_position(data: bytes, has_child_frame: bool):
    """(stamp, frame_id, position, offset of the position) of serialised Odometry / PoseStamped bytes."""
    if len(data) < 8 or data[:2] != ENCAPSULATION[:2]:
        raise ValueError("not little-endian CDR")
    try:
        sec, nanosec = struct.unpack_from("<iI", data, _START)
        frame_id, offset = _string(data, _START + 8)
        if has_child_frame:
            _, offset = _string(data, offset)
        offset = _align(offset, 8)
        x, y, z = struct.unpack_from("<3d", data, offset)
    except struct.error as error:
        raise ValueError(f"truncated message ({error})") from None
    return sec + nanosec * 1e-9, frame_id, (x, y, z), offset


def read_orientation(data: bytes, has_child_frame: bool) -> tuple[float, float, float, float]:
    """The pose's orientation (x, y, z, w), as sent (not normalised), from serialised nav_msgs/Odometry
    (has_child_frame), geometry_msgs/PoseStamped or PoseWithCovarianceStamped: the quaternion follows the
    position. Raises ValueError when the bytes are not such a message."""
    _, _, _, offset = _read_header_and_position(data, has_child_frame)
    try:
        return struct.unpack_from("<4d", data, offset + 24)
    except struct.error as error:
        raise ValueError(f"truncated message ({error})") from None


def read_odometry_twist(data: bytes):
    """(stamp seconds, frame_id, (x, y, z), world-frame (vx, vy, vz)) from serialised nav_msgs/Odometry.

    The twist is in child_frame_id (the body, REP 105); it is rotated into header.frame_id with the
    pose's orientation (normalised; `frames.rotate`). Raises ValueError for bytes that are no Odometry,
    OrientationError for an orientation that is no rotation (non-finite, or norm off 1 by more than
    `frames.QUATERNION_TOLERANCE`).
    """
    stamp, frame_id, position, offset = _read_header_and_position(data, True)
    try:
        qx, qy, qz, qw = struct.unpack_from("<4d", data, offset + 24)
        body = struct.unpack_from("<3d", data, offset + 56 + _POSE_COVARIANCE)
    except struct.error as error:
        raise ValueError(f"truncated message ({error})") from None
    norm = math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
    if not (math.isfinite(norm) and abs(norm - 1.0) <= QUATERNION_TOLERANCE):
        raise OrientationError(f"orientation quaternion of norm {norm:g} is not a rotation")
    return stamp, frame_id, position, rotate((qx / norm, qy / norm, qz / norm, qw / norm), body)


def read_pose_covariance(data: bytes):
    """(stamp seconds, frame_id, (x, y, z), (var x, var y, var z)) from serialised
    geometry_msgs/PoseWithCovarianceStamped: the position and the diagonal of the covariance's position
    block. Raises ValueError when the bytes are not such a message."""
    stamp, frame_id, position, offset = _read_header_and_position(data, False)
    try:
        variances = struct.unpack_from("<d48xd48xd", data, offset + 56)    # covariance[0], [7], [14]
    except struct.error as error:
        raise ValueError(f"truncated message ({error})") from None
    return stamp, frame_id, position, variances


@dataclass
class Targets:
    """The numbers of a uav_traj_predictor/TargetArray (see `read_targets`)."""
    stamp: float
    frame_id: str
    ids: list[str]
    positions: np.ndarray             # (n, 3) float64, a view of the deserialised message's array
    variances: np.ndarray | None      # (n, 3) diagonal of each 3x3 covariance, None when the message has none
    covariance_problem: str | None    # why the covariances are not used although present (wrong size)


def _doubles(data: bytes, offset: int) -> tuple[np.ndarray, int]:
    """A float64 sequence at `offset`: (array view, offset after it)."""
    offset = _align(offset, 4)
    (count,) = struct.unpack_from("<I", data, offset)
    offset += 4
    if count:
        offset = _align(offset, 8)
    end = offset + 8 * count
    if end > len(data):
        raise ValueError(f"truncated message: a sequence of {count} float64 runs past the end")
    return np.frombuffer(data, "<f8", count, offset), end


def read_targets(data: bytes) -> Targets:
    """Serialised uav_traj_predictor/TargetArray -> `Targets`. Raises ValueError for bytes that are no such
    message (other encapsulation, truncated, counts the bytes cannot hold, positions not 3 per id).
    Covariances of a size other than 0 or 9 per id are reported in `covariance_problem` (the positions
    are still good).

    This one reader is rclpy's `deserialize_message` (its C code, which checks every sequence length against
    the bytes left): for a message of parallel arrays it is faster than a hand-written reader, whose Python
    loop over the id strings costs 2.5x more (bench/messages.py: 1000 targets 0.12 against 0.30 ms); the
    numbers are then numpy views of the message's arrays."""
    from rclpy.serialization import deserialize_message

    from ..msg import TargetArray
    if len(data) < 8 or data[:2] != ENCAPSULATION[:2]:
        raise ValueError("not little-endian CDR")
    try:
        message = deserialize_message(data, TargetArray)
    except Exception as error:           # rclpy raises RMWError (and others) for bytes that are no TargetArray
        raise ValueError(f"not a TargetArray ({type(error).__name__}: {error})") from None
    ids, count = message.ids, len(message.ids)
    positions = np.frombuffer(message.positions, np.float64) if len(message.positions) else np.zeros(0)
    if len(positions) != 3 * count:
        raise ValueError(f"{len(positions)} position values for {count} ids (3 per id expected)")
    covariances = message.covariances
    variances, problem = None, None
    if len(covariances) == 9 * count and count:
        variances = np.frombuffer(covariances, np.float64).reshape(count, 9)[:, ::4]   # the diagonal: 0, 4, 8
    elif len(covariances):
        problem = f"{len(covariances)} covariance values for {count} ids (9 per id, or none)"
    stamp = message.header.stamp
    return Targets(stamp.sec + stamp.nanosec * 1e-9, message.header.frame_id, ids, positions.reshape(count, 3),
                   variances, problem)


# ---- writing ------------------------------------------------------------------------------------------
class CdrWriter:
    """Little-endian CDR (XCDR1) with alignment relative to the end of the encapsulation header."""

    def __init__(self):
        self.data = bytearray(ENCAPSULATION)

    def align(self, size: int) -> None:
        self.data += b"\x00" * ((-(len(self.data) - _START)) % size)

    def time(self, sec: int, nanosec: int) -> None:
        self.align(4)
        self.data += struct.pack("<iI", sec, nanosec)

    def string(self, text: str) -> None:
        raw = text.encode()
        self.align(4)
        self.data += struct.pack("<I", len(raw) + 1) + raw + b"\x00"

    def count(self, n: int) -> None:
        self.align(4)
        self.data += struct.pack("<I", n)

    def doubles(self, values) -> None:
        self.align(8)
        self.data += struct.pack(f"<{len(values)}d", *values)

    def octets(self, *values: int) -> None:
        self.data += bytes(int(v) for v in values)


def _stamp_ns(seconds: float) -> int:
    stamp = to_time(seconds)
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def path_cdr(prediction: Prediction, frame_id: str) -> bytes:
    """nav_msgs/Path of a prediction: header stamp t0, H poses stamped t0 + k dt (k = 1..H, exact integer
    nanoseconds), positions, orientation identity, all in `frame_id`."""
    start, step = _stamp_ns(prediction.t0), int(round(prediction.dt * 1e9))
    out = CdrWriter()
    out.time(*divmod(start, 1_000_000_000))
    out.string(frame_id)
    out.count(len(prediction.positions))
    for k, (x, y, z) in enumerate(prediction.positions.tolist(), start=1):
        out.time(*divmod(start + k * step, 1_000_000_000))
        out.string(frame_id)
        out.doubles((x, y, z, 0.0, 0.0, 0.0, 1.0))
    return bytes(out.data)


def trajectory_cdr(prediction: Prediction, frame_id: str) -> bytes:
    """uav_traj_predictor/PredictedTrajectory of a prediction: std (zeros and calibrated false without
    one), status code, model id ("cv" unless tracking), horizon start t0 + dt and the step."""
    start, step = _stamp_ns(prediction.t0), int(round(prediction.dt * 1e9))
    std = prediction.position_std
    out = CdrWriter()
    out.time(*divmod(start, 1_000_000_000))
    out.string(frame_id)
    out.string(prediction.track_id)
    out.string(prediction.model_id if prediction.status == TRACKING else CV_MODEL_ID)
    out.time(*divmod(start + step, 1_000_000_000))
    out.time(*divmod(step, 1_000_000_000))
    for values in (prediction.positions, prediction.velocities,
                   np.zeros_like(prediction.positions) if std is None else std):
        out.count(len(values))
        if len(values):
            out.doubles(np.asarray(values, np.float64).ravel().tolist())
    out.octets(std is not None, STATUS_CODES[prediction.status])
    return bytes(out.data)


@lru_cache(maxsize=65536)
def _string_bytes(text: str) -> bytes:
    """A CDR string (uint32 length with the NUL, UTF-8 bytes, NUL) padded to 4 bytes: consecutive elements of
    a string sequence, each starting 4-aligned."""
    raw = text.encode()
    chunk = struct.pack("<I", len(raw) + 1) + raw + b"\x00"
    return chunk + b"\x00" * (-len(chunk) % 4)


def _split_times(seconds: np.ndarray) -> np.ndarray:
    """(n,) float seconds -> structured (sec int32, nanosec uint32), rounded and carried as `messages.to_time`."""
    sec = np.floor(seconds)
    nanosec = np.round((seconds - sec) * 1e9)
    carry = nanosec >= 1e9
    out = np.empty(len(seconds), dtype=[("sec", "<i4"), ("nanosec", "<u4")])
    out["sec"] = sec + carry
    out["nanosec"] = np.where(carry, nanosec - 1e9, nanosec)
    return out


def trajectory_array_cdr(batch, frame_id: str, status_codes, rows=None) -> bytes:
    """uav_traj_predictor/PredictedTrajectoryArray of a `core.PredictionBatch` (the tracks `rows` of it, an
    index array; all when None) in `frame_id`: header stamp = the newest origin, step k of track i at
    origins[i] + (k + 1) dt; `status_codes` (n,) uint8 PredictedTrajectory codes of the batch's statuses.
    The arrays go in as the bytes of the batch's numpy arrays, joined once (docs/nodes.md measures it)."""
    positions, velocities, std, t0 = batch.positions, batch.velocities, batch.position_std, batch.t0
    ids = batch.track_ids
    if rows is not None:
        positions, velocities, t0 = positions[rows], velocities[rows], t0[rows]
        std = None if std is None else std[rows]
        status_codes = np.asarray(status_codes)[rows]
        ids = [ids[i] for i in rows.tolist()]
    count, horizon = positions.shape[:2]
    step = int(round(batch.dt * 1e9))
    head = CdrWriter()
    head.time(*(divmod(_stamp_ns(float(t0.max())), 1_000_000_000) if count else (0, 0)))
    head.string(frame_id)
    head.string(batch.model_id)
    head.count(horizon)
    head.time(*divmod(step, 1_000_000_000))
    head.count(count)
    parts = [head.data, *map(_string_bytes, ids)]
    size = len(head.data) + sum(map(len, parts[1:]))          # every id chunk is a multiple of 4 bytes
    parts.append(struct.pack("<I", count))
    parts.append(_split_times(np.asarray(t0, np.float64)).tobytes())
    parts.append(struct.pack("<I", count))
    parts.append(np.asarray(status_codes, np.uint8).tobytes())
    size += 4 + 8 * count + 4 + count
    for values in (positions, velocities, std):
        n = 0 if values is None else values.size
        pad = -(size - _START) % 4
        parts.append(b"\x00" * pad + struct.pack("<I", n))
        size += pad + 4
        if n:
            pad = -(size - _START) % 8
            parts.append(b"\x00" * pad)
            parts.append(np.ascontiguousarray(values, "<f8").tobytes())
            size += pad + 8 * n
    return b"".join(parts)


def target_array_cdr(stamp_ns: int, frame_id: str, ids, positions, covariances=None) -> bytes:
    """uav_traj_predictor/TargetArray of `ids` (n strings), `positions` (n, 3) and optional `covariances`
    (n, 3, 3) or (n, 9), stamped `stamp_ns` (integer nanoseconds): what a tracker publishes, written from
    the arrays (for the benchmarks and tools; equal to rclpy's serialisation, tested)."""
    head = CdrWriter()
    head.time(*divmod(int(stamp_ns), 1_000_000_000))
    head.string(frame_id)
    head.count(len(ids))
    parts = [head.data, *map(_string_bytes, ids)]
    size = sum(map(len, parts))
    for values in (positions, covariances):
        values = np.zeros(0) if values is None else np.ascontiguousarray(values, "<f8").ravel()
        pad = -(size - _START) % 4
        parts.append(b"\x00" * pad + struct.pack("<I", len(values)))
        size += pad + 4
        if len(values):
            pad = -(size - _START) % 8
            parts += [b"\x00" * pad, values.tobytes()]
            size += pad + values.nbytes
    return b"".join(parts)


@dataclass
class TrajectoryArray:
    """The fields of a uav_traj_predictor/PredictedTrajectoryArray (see `read_trajectory_array`)."""
    stamp: float
    frame_id: str
    model_id: str
    dt: float
    track_ids: list[str]
    origins: np.ndarray               # (n,) seconds
    status: np.ndarray                # (n,) uint8 codes
    positions: np.ndarray             # (n, H, 3)
    velocities: np.ndarray            # (n, H, 3)
    position_std: np.ndarray | None   # (n, H, 3) or None


def read_trajectory_array(data: bytes) -> TrajectoryArray:
    """Serialised uav_traj_predictor/PredictedTrajectoryArray -> `TrajectoryArray` (numpy views of the bytes):
    a fast reader for consumers of the batched output (the benchmark's receiver). ValueError for bytes that
    are no such message."""
    if len(data) < 8 or data[:2] != ENCAPSULATION[:2]:
        raise ValueError("not little-endian CDR")
    unpack = struct.unpack_from
    try:
        sec, nanosec = unpack("<iI", data, _START)
        frame_id, offset = _string(data, _START + 8)
        model_id, offset = _string(data, offset)
        offset = _align(offset, 4)
        horizon, step_sec, step_nanosec, count = unpack("<IiII", data, offset)
        offset += 16
        if 5 * count > len(data) - offset:
            raise ValueError(f"truncated message: {count} ids do not fit in {len(data)} bytes")
        ids = []
        for _ in range(count):
            offset += (_START - offset) % 4
            (length,) = unpack("<I", data, offset)
            start, offset = offset + 4, offset + 4 + length
            if not 0 < length <= len(data) - start:
                raise ValueError(f"bad string length {length} in the track ids")
            ids.append(data[start:offset - 1].decode("utf-8", "replace"))
        offset = _align(offset, 4)
        (n,) = unpack("<I", data, offset)
        times = np.frombuffer(data, [("sec", "<i4"), ("nanosec", "<u4")], n, offset + 4)
        offset += 4 + 8 * n
        (n_status,) = unpack("<I", data, offset)
        status = np.frombuffer(data, np.uint8, n_status, offset + 4)
        offset += 4 + n_status
        arrays = []
        for _ in range(3):
            values, offset = _doubles(data, offset)
            arrays.append(values)
    except struct.error as error:
        raise ValueError(f"truncated message ({error})") from None
    shape = (count, horizon, 3)
    if n != count or n_status != count or any(len(a) != count * horizon * 3 for a in arrays[:2]) \
            or len(arrays[2]) not in (0, count * horizon * 3):
        raise ValueError("array sizes do not match the track count and horizon")
    origins = times["sec"] + times["nanosec"] * 1e-9
    return TrajectoryArray(sec + nanosec * 1e-9, frame_id, model_id, step_sec + step_nanosec * 1e-9, ids, origins,
                           status, arrays[0].reshape(shape), arrays[1].reshape(shape),
                           arrays[2].reshape(shape) if len(arrays[2]) else None)
