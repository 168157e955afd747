"""Kinematic baselines over grid positions, vectorised over all grid indices of a segment.

cv: constant velocity, v_k = (p_k - p_{k-1}) / dt.
ca: constant acceleration along the parabola through the last three grid positions:
    a_k = (p_k - 2 p_{k-1} + p_{k-2}) / dt^2, v_k = (p_k - p_{k-1}) / dt + a_k dt / 2.
kf: constant-acceleration Kalman filter per axis (continuous white-jerk model), streamed over the
    segment from its first sample; prediction = its state extrapolated, std = its predicted
    position std. The recursion is evaluated as a parallel prefix scan of affine maps (log2 M
    vectorised steps), so no Python loop runs per window.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core.prediction import SegmentPrediction
from .protocol import Protocol


def _lead_times(horizon: int, dt: float) -> np.ndarray:
    return (np.arange(1, horizon + 1) * dt)[None, :, None]       # (1, H, 1)


def _empty(length: int, horizon: int) -> np.ndarray:
    return np.full((length, horizon, 3), np.nan)


class ConstantVelocity:
    """Last finite-difference velocity held over the horizon."""

    def __init__(self, horizon: int = 10):
        self.horizon = horizon

    def describe(self) -> str:
        return "constant velocity: v_k = (p_k - p_{k-1}) / dt"

    def predict_segment(self, segment) -> SegmentPrediction:
        p, dt = np.asarray(segment.positions, np.float64), segment.dt
        out = _empty(len(p), self.horizon)
        velocity = (p[1:] - p[:-1]) / dt
        out[1:] = p[1:, None] + velocity[:, None] * _lead_times(self.horizon, dt)
        return SegmentPrediction(out)


class ConstantAcceleration:
    """Extrapolation of the parabola through the last three grid positions."""

    def __init__(self, horizon: int = 10):
        self.horizon = horizon

    def describe(self) -> str:
        return ("constant acceleration: parabola through p_{k-2}, p_{k-1}, p_k "
                "(a = second difference / dt^2, v = backward difference / dt + a dt / 2)")

    def predict_segment(self, segment) -> SegmentPrediction:
        p, dt = np.asarray(segment.positions, np.float64), segment.dt
        out = _empty(len(p), self.horizon)
        if len(p) >= 3:
            accel = (p[2:] - 2.0 * p[1:-1] + p[:-2]) / dt**2
            velocity = (p[2:] - p[1:-1]) / dt + 0.5 * dt * accel
            t = _lead_times(self.horizon, dt)
            out[2:] = p[2:, None] + velocity[:, None] * t + 0.5 * accel[:, None] * t**2
        return SegmentPrediction(out)


class KalmanCA:
    """Constant-acceleration Kalman filter on each axis over the grid positions.

    State (position, velocity, acceleration); process noise of a continuous white jerk with
    spectral density `jerk_psd` (m^2/s^5); measurement noise variance `meas_var` (m^2); initial
    state (p_0, 0, 0) with covariance diag(meas_var, init_vel_var, init_acc_var). The defaults
    (50, 1e-4, 10, 100) reproduce the project's published KF anchor (docs/evaluation.md).
    """

    def __init__(self, horizon: int = 10, jerk_psd: float = 50.0, meas_var: float = 1e-4,
                 init_vel_var: float = 10.0, init_acc_var: float = 100.0):
        self.horizon = horizon
        self.params = (float(jerk_psd), float(meas_var), float(init_vel_var), float(init_acc_var))

    def describe(self) -> str:
        q, r, pv, pa = self.params
        return (f"constant-acceleration Kalman filter per axis: white-jerk PSD {q:g} m^2/s^5, "
                f"measurement variance {r:g} m^2, initial state (p0, 0, 0), P0 = diag({r:g}, {pv:g}, {pa:g})")

    def predict_segment(self, segment) -> SegmentPrediction:
        p, dt = np.asarray(segment.positions, np.float64), float(segment.dt)
        length = len(p)
        gains, covariances = _kalman_schedule(dt, self.params, length)
        states = _filter_states(p, _transition(dt), gains)                # (M, 3 states, 3 axes)
        steps = _extrapolators(dt, self.horizon)                          # (H, 3) rows of F^j
        positions = np.einsum("hs,msa->mha", steps, states)
        variance = np.einsum("hs,mst,ht->mh", steps, covariances, steps)
        variance += _process_spread(dt, self.horizon, self.params)
        std = np.repeat(np.sqrt(variance)[:, :, None], 3, axis=2)
        return SegmentPrediction(positions, std)


def _transition(dt: float) -> np.ndarray:
    return np.array([[1.0, dt, 0.5 * dt * dt], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])


def _process_noise(dt: float, jerk_psd: float) -> np.ndarray:
    return jerk_psd * np.array([[dt**5 / 20, dt**4 / 8, dt**3 / 6],
                                [dt**4 / 8, dt**3 / 3, dt**2 / 2],
                                [dt**3 / 6, dt**2 / 2, dt]])


def _extrapolators(dt: float, horizon: int) -> np.ndarray:
    """(H, 3): the position row of F^j, j = 1..H (p + v t + a t^2 / 2)."""
    t = np.arange(1, horizon + 1) * dt
    return np.stack([np.ones_like(t), t, 0.5 * t * t], axis=1)


def _process_spread(dt: float, horizon: int, params) -> np.ndarray:
    """(H,) position variance added by process noise over j = 1..H prediction steps."""
    transition, noise = _transition(dt), _process_noise(dt, params[0])
    spread, total = [], np.zeros((3, 3))
    for _ in range(horizon):
        total = transition @ total @ transition.T + noise
        spread.append(total[0, 0])
    return np.array(spread)[None, :]


@lru_cache(maxsize=16)
def _riccati(dt: float, params: tuple, max_steps: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Data-independent gain and posterior-covariance schedule until it converges (then constant)."""
    q, r, init_vel, init_acc = params
    transition, noise = _transition(dt), _process_noise(dt, q)
    covariance = np.diag([r, init_vel, init_acc])
    gains, covariances = [np.array([1.0, 0.0, 0.0])], [covariance]
    for _ in range(max_steps):
        prior = transition @ covariance @ transition.T + noise
        gain = prior[:, 0] / (prior[0, 0] + r)
        covariance = prior - np.outer(gain, prior[0])
        converged = np.allclose(gain, gains[-1], rtol=1e-13, atol=0) and \
            np.allclose(covariance, covariances[-1], rtol=1e-13, atol=0)
        gains.append(gain)
        covariances.append(covariance)
        if converged:
            break
    return np.array(gains), np.array(covariances)


def _kalman_schedule(dt: float, params: tuple, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Gains (length, 3) and posterior covariances (length, 3, 3) for steps 0..length-1."""
    gains, covariances = _riccati(dt, params)
    if length <= len(gains):
        return gains[:length], covariances[:length]
    pad = length - len(gains)
    return (np.concatenate([gains, np.repeat(gains[-1:], pad, axis=0)]),
            np.concatenate([covariances, np.repeat(covariances[-1:], pad, axis=0)]))


def _filter_states(measurements: np.ndarray, transition: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Posterior states x_k = (I - K_k H) F x_{k-1} + K_k z_k, x_0 = (z_0, 0, 0), for all k at once.

    Affine maps (A_k, b_k) are composed by a Hillis-Steele prefix scan: after it b_k = x_k.
    """
    length = len(measurements)
    observe = np.zeros((1, 3))
    observe[0, 0] = 1.0
    maps = (np.eye(3)[None] - gains[:, :, None] * observe[None]) @ transition[None]   # (M, 3, 3)
    maps[0] = 0.0
    offsets = gains[:, :, None] * measurements[:, None, :]                            # (M, 3, 3 axes)
    shift = 1
    while shift < length:
        offsets = np.concatenate([offsets[:shift], maps[shift:] @ offsets[:-shift] + offsets[shift:]])
        maps = np.concatenate([maps[:shift], maps[shift:] @ maps[:-shift]])
        shift *= 2
    return offsets


def make_baseline(name: str, protocol: Protocol = Protocol()):
    """A baseline method by name: "cv", "ca", "kf", "akf" or "imm" (the last two: evaluate/imm.py with
    its adaptive defaults)."""
    from .imm import adaptive_kalman, adaptive_imm
    kinds = {"cv": ConstantVelocity, "ca": ConstantAcceleration, "kf": KalmanCA, "akf": adaptive_kalman,
             "imm": adaptive_imm}
    if name not in kinds:
        raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(kinds)}")
    return kinds[name](horizon=protocol.horizon)
