"""Frame conversions shared by the readers (PX4 NED/FRD -> ROS ENU/FLU, body -> world velocities)."""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

# x_enu = y_ned, y_enu = x_ned, z_enu = -z_ned (a reflection-free axis swap, det = +1)
NED_TO_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
FLU_TO_FRD = np.diag([1.0, -1.0, -1.0])


def ned_to_enu(vectors: np.ndarray) -> np.ndarray:
    """(N, 3) NED vectors -> ENU."""
    return vectors @ NED_TO_ENU.T


def valid_quaternions(q_xyzw: np.ndarray, tolerance: float = 0.1) -> np.ndarray:
    """Rows whose quaternion is finite with a norm within `tolerance` of 1."""
    norm = np.linalg.norm(q_xyzw, axis=1)
    return np.isfinite(q_xyzw).all(axis=1) & (np.abs(norm - 1.0) < tolerance)


def frd_ned_to_flu_enu(q_wxyz: np.ndarray) -> np.ndarray:
    """PX4 attitude (body FRD -> world NED, w x y z) -> ROS attitude (body FLU -> world ENU, x y z w)."""
    ned_from_frd = Rotation.from_quat(q_wxyz, scalar_first=True).as_matrix()
    enu_from_flu = NED_TO_ENU @ ned_from_frd @ FLU_TO_FRD
    return Rotation.from_matrix(enu_from_flu).as_quat()


def body_to_world(velocities: np.ndarray, q_xyzw: np.ndarray) -> np.ndarray:
    """Rotate (N, 3) body-frame vectors into the world frame with the (N, 4) x y z w attitudes."""
    return Rotation.from_quat(q_xyzw).apply(velocities)
