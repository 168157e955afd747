"""Frame conventions in one place: PX4 (NED world, FRD body) <-> ROS (ENU world, FLU body, REP 103),
and rotations between a vehicle's body frame and the world.

Quaternions are ROS order (x, y, z, w) and map body vectors into the world (REP 105: the Odometry
pose's orientation takes `child_frame_id` vectors into `header.frame_id`), except where a name says
`wxyz` (PX4's order). Vectorised functions accept one vector / quaternion or (N, 3) / (N, 4) arrays and
use scipy's `Rotation`. `rotate` is the one hand-written rotation: a single (quaternion, vector) pair
in plain floats, for the per-message hot path of the raw Odometry reader (`nodes.cdr`), where scipy's
per-call overhead dominates (`bench/messages.py`: 0.36 us against 14 us for `Rotation.from_quat(q).apply(v)`,
2026-12-03); it is tested equal to scipy's `Rotation.apply` (test/unit/package/test_package_frames.py).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

# x_enu = y_ned, y_enu = x_ned, z_enu = -z_ned: an axis swap without reflection (det +1), its own inverse.
NED_TO_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
# FRD <-> FLU flips y and z (det +1), its own inverse.
FRD_TO_FLU = np.diag([1.0, -1.0, -1.0])
QUATERNION_TOLERANCE = 0.1     # |norm - 1| above this: not an attitude


def ned_to_enu(vectors) -> np.ndarray:
    """NED vector(s) in ENU, (3,) or (N, 3). The map is its own inverse: it also takes ENU to NED."""
    return np.asarray(vectors, dtype=float) @ NED_TO_ENU.T


enu_to_ned = ned_to_enu


def valid_quaternions(q_xyzw, tolerance: float = QUATERNION_TOLERANCE) -> np.ndarray:
    """(N,) rows whose quaternion is finite with a norm within `tolerance` of 1."""
    q = np.atleast_2d(np.asarray(q_xyzw, dtype=float))
    norm = np.linalg.norm(q, axis=1)
    return np.isfinite(q).all(axis=1) & (np.abs(norm - 1.0) < tolerance)


def px4_to_ros_attitude(q_wxyz) -> np.ndarray:
    """PX4 attitude (body FRD -> world NED, w x y z) as a ROS one (body FLU -> world ENU, x y z w);
    (4,) or (N, 4) in, the same shape out."""
    q = np.asarray(q_wxyz, dtype=float)
    ned_from_frd = Rotation.from_quat(q, scalar_first=True).as_matrix()
    enu_from_flu = NED_TO_ENU @ ned_from_frd @ FRD_TO_FLU
    return Rotation.from_matrix(enu_from_flu).as_quat()


def enu_yaw_to_ned_deg(yaw_enu: float) -> float:
    """ENU heading (rad, 0 = east, counter-clockwise) as a NED yaw in degrees (0 = north, clockwise),
    in [-180, 180)."""
    return float((math.degrees(math.pi / 2 - yaw_enu) + 180.0) % 360.0 - 180.0)


def yaw_of(q_xyzw) -> float:
    """Heading (rad, about world z) of one attitude quaternion."""
    x, y, z, w = (float(c) for c in q_xyzw)
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def body_to_world(vectors, q_xyzw) -> np.ndarray:
    """Body-frame vector(s) rotated into the world by the attitude(s): (3,) with (4,), or (N, 3) with
    (N, 4) or one (4,). Quaternions are normalised (scipy); they must not be zero."""
    return Rotation.from_quat(np.asarray(q_xyzw, dtype=float)).apply(np.asarray(vectors, dtype=float))


def world_to_body(vectors, q_xyzw) -> np.ndarray:
    """World vector(s) expressed in the body frame of the attitude(s) (the inverse of `body_to_world`),
    e.g. an Odometry twist (REP 105: in child_frame_id) from a world-frame velocity."""
    return Rotation.from_quat(np.asarray(q_xyzw, dtype=float)).inv().apply(np.asarray(vectors, dtype=float))


def rotate(q_xyzw, vector) -> tuple[float, float, float]:
    """One unit quaternion (x, y, z, w) applied to one 3-vector in plain floats:
    v + 2w (q x v) + 2 q x (q x v). The hot-path twin of `body_to_world` (see the module doc); the
    caller normalises the quaternion."""
    qx, qy, qz, qw = q_xyzw
    vx, vy, vz = vector
    tx, ty, tz = 2 * (qy * vz - qz * vy), 2 * (qz * vx - qx * vz), 2 * (qx * vy - qy * vx)
    return (vx + qw * tx + qy * tz - qz * ty, vy + qw * ty + qz * tx - qx * tz, vz + qw * tz + qx * ty - qy * tx)
