"""Motion statistics on the evaluation's 10 Hz grid (speed, acceleration, jerk, curvature).

Shared by bench/flight_stats.py and the realism tests: a flight goes through `data.preprocess` (10 Hz,
linear interpolation, split at gaps > 0.2 s, no smoothing) and differences of the grid positions give
speed, acceleration and jerk; curvature is |v x a| / |v|^3 at samples faster than 0.5 m/s.
"""
from __future__ import annotations

import numpy as np

from uav_traj_predictor.data import preprocess

QUANTITIES = (("speed", "m/s"), ("accel", "m/s^2"), ("jerk", "m/s^3"), ("curvature", "1/m"))
MIN_SPEED_FOR_CURVATURE = 0.5


def grid_motion(t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Speed, acceleration, jerk and curvature samples on the 10 Hz grid of one flight."""
    out = {name: [] for name, _ in QUANTITIES}
    for seg in preprocess(t, p):
        if len(seg.positions) < 5:
            continue
        v = np.diff(seg.positions, axis=0) / seg.dt
        a = np.diff(v, axis=0) / seg.dt
        j = np.diff(a, axis=0) / seg.dt
        v_mid = 0.5 * (v[1:] + v[:-1])            # velocity at the acceleration's sample
        speed_mid = np.linalg.norm(v_mid, axis=1)
        fast = speed_mid > MIN_SPEED_FOR_CURVATURE
        out["speed"].append(np.linalg.norm(v, axis=1))
        out["accel"].append(np.linalg.norm(a, axis=1))
        out["jerk"].append(np.linalg.norm(j, axis=1))
        out["curvature"].append(np.linalg.norm(np.cross(v_mid[fast], a[fast]), axis=1) / speed_mid[fast] ** 3)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def pooled_motion(flights) -> dict[str, np.ndarray]:
    """grid_motion of several flights, concatenated per quantity."""
    parts = [grid_motion(f.t, f.p) for f in flights]
    return {name: np.concatenate([p[name] for p in parts]) for name, _ in QUANTITIES}
