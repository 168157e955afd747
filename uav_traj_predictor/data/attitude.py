"""The attitude-implied horizontal acceleration of a multirotor, per grid sample, causal: one source for the
streaming track (`core.tracks.TrackBank`) and the offline segments (`data.preprocess`).

A multirotor accelerates along its thrust axis t (world frame): a + g e_z = f t, so in level-ish flight the
horizontal acceleration is g t_xy / t_z, and the tilt that makes it is visible in the pose before the positions
show the manoeuvre (docs/model.md, "The vehicle's attitude"). The pose users publish is some body frame's (FLU, FRD, an
IMU's), so the thrust axis in that frame, u (t = R u), is estimated per vehicle: the mean of
R_k^T (a_k + g e_z) / |a_k + g e_z| over the measured grid accelerations a_k (differences of consecutive grid
velocities, known one step late). Whether the orientations describe the motion at all (a positions-only file
carries identity quaternions, a detector a heading only) is checked by the regression slope of the measured
horizontal acceleration on the implied one (through the axis as it stood after MIN_SAMPLES accelerations: an
axis refined from the same accelerations would correlate with them through the estimate alone), exponentially
weighted; white position noise on the measured side does not bias the slope. The input is "available" only
while that slope is within SLOPE_RANGE over a spread of implied accelerations of at least MIN_SPREAD whose
magnitude varies (MIN_TILT_SPREAD: a heading alone turns a constant vector).

`ThrustAxis.step` is the one step (one grid sample at a time, plain floats: scipy's Rotation per call would cost
~14 us each, frames.py); `segment_attitude` runs it over a segment's grid, `orientation_at` is the
orientation at a grid stamp between two raw samples (normalised linear interpolation, the shorter way). This is the
reference: the streaming track runs its C twin (kernels/trackcore.c `AttitudeCore`, the whole of
`TrackBank._attitude` in one call, equal bit for bit: test_core_attitude_c.py) where the extension is built.
The estimate belongs to the vehicle: it is kept across the track's resets (`restart` clears only the previous
grid sample), so a track that breaks keeps its axis and its check.
"""
from __future__ import annotations

import math

import numpy as np

from ..frames import QUATERNION_TOLERANCE, rotate

G = 9.81
MIN_SAMPLES = 20            # grid accelerations before the axis is trusted (it is learned from the same data)
RATE = 0.02                 # exponential weight of the consistency statistics (~50 grid samples)
SLOPE_RANGE = (0.6, 1.4)    # regression slope of measured on implied acceleration that counts as consistent
MIN_SPREAD = 0.3 ** 2       # (m/s^2)^2: implied accelerations weaker than this say nothing either way
MAX_TILT_COS = 0.3          # t_z floor (tilt <= ~72 deg)
MIN_WEIGHT = 1.0 - (1.0 - RATE) ** 20   # the consistency statistics hold >= 20 samples
# (m/s^2)^2: the implied acceleration's magnitude must vary: orientations with a heading only (a detector's, a
# planar estimator's) tilt the estimated axis by a constant angle, a vector of constant size turning with the
# heading, which the slope check alone passes by chance (test_data_attitude.py's heading-only flight)
MIN_TILT_SPREAD = 0.1 ** 2
NONE = (0.0, 0.0, 0.0)      # (implied x, implied y, available) of a grid sample without a usable attitude


def unit_quaternion(q) -> tuple[float, float, float, float] | None:
    """(x, y, z, w) normalised, or None when it is no rotation (non-finite, or norm off 1 by more than
    frames.QUATERNION_TOLERANCE: the rule of the readers and the node)."""
    if q is None:
        return None
    try:
        x, y, z, w = (float(c) for c in q)
    except (TypeError, ValueError, OverflowError):
        return None
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if not (abs(norm - 1.0) < QUATERNION_TOLERANCE):      # NaN fails too
        return None
    return x / norm, y / norm, z / norm, w / norm


def orientation_at(stamp: float, t_a: float, q_a, t_b: float, q_b):
    """The orientation at `stamp` in [t_a, t_b] from unit quaternions at t_a and t_b (normalised linear
    interpolation the shorter way; q_b where t_b <= t_a); None when either is None."""
    if q_a is None or q_b is None:
        return None
    if not t_b > t_a:
        return q_b
    g = (stamp - t_a) / (t_b - t_a)
    ax, ay, az, aw = q_a
    bx, by, bz, bw = q_b
    if ax * bx + ay * by + az * bz + aw * bw < 0.0:
        bx, by, bz, bw = -bx, -by, -bz, -bw
    x, y, z, w = ax + g * (bx - ax), ay + g * (by - ay), az + g * (bz - az), aw + g * (bw - aw)
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    return x / norm, y / norm, z / norm, w / norm


def _implied(q, axis) -> tuple[float, float]:
    tx, ty, tz = rotate(q, axis)
    scale = G / max(tz, MAX_TILT_COS)
    return tx * scale, ty * scale


class ThrustAxis:
    """Per-vehicle causal estimate; `step` returns (implied x m/s^2, implied y m/s^2, available 0/1)."""

    __slots__ = ("sum_x", "sum_y", "sum_z", "count", "reference", "s_ii", "s_mi", "m_ix", "m_iy", "m_mx", "m_my",
                 "m_size", "weight", "available", "_velocity", "_orientation")

    def __init__(self):
        self.sum_x = self.sum_y = self.sum_z = 0.0
        self.count = 0
        self.reference: tuple | None = None   # the axis when it settled: what the consistency check applies
        self.s_ii = self.s_mi = 0.0           # E[implied . implied], E[measured . implied]
        self.m_ix = self.m_iy = self.m_mx = self.m_my = 0.0   # E[implied], E[measured]
        self.m_size = 0.0                     # E[|implied|]
        self.weight = 0.0
        self.available = False                # whether the check passes (updated with its statistics)
        self.restart()

    def restart(self) -> None:
        """A new segment of the vehicle's stream: forget the previous grid sample, keep the estimate."""
        self._velocity = None
        self._orientation = None

    @property
    def axis(self) -> tuple[float, float, float] | None:
        """The thrust axis in the body frame (unit), None before any acceleration was seen."""
        norm = math.sqrt(self.sum_x ** 2 + self.sum_y ** 2 + self.sum_z ** 2)
        return None if norm == 0.0 else (self.sum_x / norm, self.sum_y / norm, self.sum_z / norm)

    def _moments(self) -> tuple[float, float, float]:
        """(variance of the implied, covariance of measured and implied, variance of the implied's magnitude),
        bias-corrected, centred."""
        w = self.weight
        if w <= 0.0:
            return 0.0, 0.0, 0.0
        ix, iy, mx, my, size = self.m_ix / w, self.m_iy / w, self.m_mx / w, self.m_my / w, self.m_size / w
        return (self.s_ii / w - (ix * ix + iy * iy), self.s_mi / w - (mx * ix + my * iy),
                self.s_ii / w - size * size)

    @property
    def slope(self) -> float:
        """Regression slope of the measured on the implied horizontal acceleration (0 before any spread)."""
        variance, covariance, _ = self._moments()
        return covariance / variance if variance > 0 else 0.0

    def _check(self) -> bool:
        variance, covariance, size = self._moments()
        return (self.weight >= MIN_WEIGHT and variance >= MIN_SPREAD and size >= MIN_TILT_SPREAD
                and SLOPE_RANGE[0] * variance <= covariance <= SLOPE_RANGE[1] * variance)

    def step(self, velocity, orientation, dt: float) -> tuple[float, float, float]:
        """Advance by one grid sample: its grid velocity (vx, vy, vz) m/s (the mean over the step before it) and
        the vehicle's orientation at its stamp (a unit quaternion (x, y, z, w), or None: unknown)."""
        previous, last_q = self._velocity, self._orientation
        if previous is not None and last_q is not None:
            # the acceleration at the previous grid sample (the central second difference of the positions there)
            mx, my, mz = ((velocity[0] - previous[0]) / dt, (velocity[1] - previous[1]) / dt,
                          (velocity[2] - previous[2]) / dt + G)
            norm = math.sqrt(mx * mx + my * my + mz * mz)
            if norm > 0.0:
                bx, by, bz = rotate((-last_q[0], -last_q[1], -last_q[2], last_q[3]), (mx, my, mz))
                self.sum_x += bx / norm
                self.sum_y += by / norm
                self.sum_z += bz / norm
                self.count += 1
                if self.reference is not None:
                    ix, iy = _implied(last_q, self.reference)
                    self.s_ii += RATE * (ix * ix + iy * iy - self.s_ii)
                    self.s_mi += RATE * (mx * ix + my * iy - self.s_mi)
                    self.m_size += RATE * (math.sqrt(ix * ix + iy * iy) - self.m_size)
                    self.m_ix += RATE * (ix - self.m_ix)
                    self.m_iy += RATE * (iy - self.m_iy)
                    self.m_mx += RATE * (mx - self.m_mx)
                    self.m_my += RATE * (my - self.m_my)
                    self.weight += RATE * (1.0 - self.weight)
                    self.available = self._check()
                if self.count == MIN_SAMPLES:
                    self.reference = self.axis
        self._velocity, self._orientation = velocity, orientation
        if orientation is None:
            return NONE
        sx, sy, sz = self.sum_x, self.sum_y, self.sum_z
        norm = math.sqrt(sx * sx + sy * sy + sz * sz)
        if norm == 0.0:
            return NONE
        ix, iy = _implied(orientation, (sx / norm, sy / norm, sz / norm))
        return ix, iy, 1.0 if self.available else 0.0


def grid_orientations(t: np.ndarray, q: np.ndarray, times: np.ndarray) -> list:
    """The orientation at each grid stamp `times` (inside [t[0], t[-1]]) from raw stamps t (N,) and quaternions
    q (N, 4) (rows that are no rotation: None), between the raw samples around it as the streaming track has
    them (the last raw stamp before the grid stamp and the one that completes it)."""
    rows = [unit_quaternion(row) for row in q]
    after = np.minimum(np.searchsorted(t, times, side="left"), len(t) - 1)
    out = []
    for stamp, b in zip(times.tolist(), after.tolist()):
        a = max(b - 1, 0)
        out.append(orientation_at(stamp, float(t[a]), rows[a], float(t[b]), rows[b]))
    return out


def segment_attitude(velocities: np.ndarray, orientations: list, dt: float,
                     state: ThrustAxis | None = None) -> np.ndarray:
    """(M-1, 3) [implied x, implied y, available] of a segment's grid velocities (M-1, 3) (row r: grid sample
    r + 1) and its orientations at the M grid stamps; `state` carries the vehicle's estimate across segments
    (restarted here: a new segment)."""
    state = ThrustAxis() if state is None else state
    state.restart()
    out = np.zeros((len(velocities), 3))
    for r, velocity in enumerate(np.asarray(velocities, np.float64).tolist()):
        out[r] = state.step(velocity, orientations[r + 1], dt)
    return out
