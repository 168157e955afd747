"""The IMM and Kalman-filter anchors of `uav-traj evaluate` ("imm", "akf"): the core's streaming filter
(core/imm.py: joint 3-D CV/CA IMM, Bar-Shalom mixing, one mode = a Kalman filter) stepped over each
segment's grid positions, with the measurement noise taken from the same online noise estimate the
model gets (`Segment.noise`, data/noise.py) or a fixed sigma.

Measurement noise R_k = (sigma_k^2 + floor^2) I with sigma_k the segment's online noise estimate at
grid index k (`adaptive`), or a fixed sigma^2 I. Streaming: row k uses positions[:k+1] and
noise[:k+1] only (the first row initialises the filter).
"""
from __future__ import annotations

import numpy as np

from ..core.imm import AKF_DEFAULTS, IMM_DEFAULTS, INIT_ACCEL_STD, INIT_VELOCITY_STD, FilterConfig, IMMBank
from ..core.prediction import SegmentPrediction

__all__ = ["AKF_DEFAULTS", "IMM_DEFAULTS", "IMMPredictor", "adaptive_imm", "adaptive_kalman"]


class IMMPredictor:
    """IMM over CV/CA modes (or one mode: a Kalman filter) on the segment's grid positions."""

    def __init__(self, horizon: int = 10, modes=("cv", "ca"), q_accel: float = 10.0, q_jerk: float = 1000.0,
                 p_stay: float = 0.95, sigma: float | None = None, sigma_floor: float = 0.002,
                 adaptive: bool = True, name: str = "imm", init_velocity_std: float = INIT_VELOCITY_STD,
                 init_accel_std: float = INIT_ACCEL_STD):
        self.config = FilterConfig(modes=tuple(modes), q_accel=q_accel, q_jerk=q_jerk, p_stay=p_stay,
                                   sigma_floor=sigma_floor, init_velocity_std=init_velocity_std,
                                   init_accel_std=init_accel_std)
        if not adaptive and not (sigma and sigma > 0):
            raise ValueError("a non-adaptive filter needs a measurement sigma > 0")
        self.horizon = int(horizon)
        self.modes = self.config.modes
        self.q = {"cv": float(q_accel), "ca": float(q_jerk)}
        self.p_stay = float(p_stay)
        self.sigma = None if sigma is None else float(sigma)
        self.sigma_floor = float(sigma_floor)
        self.adaptive = bool(adaptive)
        self.name = name

    def describe(self) -> str:
        kinds = " + ".join(self.modes)
        noise = (f"R = (online noise estimate^2 + {self.sigma_floor:g}^2) I" if self.adaptive
                 else f"R = {self.sigma:g}^2 I")
        q = ", ".join(f"q_{'a' if m == 'cv' else 'j'} {self.q[m]:g}" for m in self.modes)
        kind = f"IMM ({kinds}, p_stay {self.p_stay:g})" if len(self.modes) > 1 else f"{kinds.upper()} Kalman filter"
        return f"{kind} on the joint 3-D state: {q}; {noise}; forecast = mode-weighted extrapolation"

    def _measurement_var(self, segment, count: int) -> np.ndarray:
        if self.adaptive:
            noise = getattr(segment, "noise", None)
            return self.config.measurement_variance(np.zeros(count) if noise is None else noise)
        return np.full(count, self.sigma**2)

    def predict_segment(self, segment) -> SegmentPrediction:
        z = np.asarray(segment.positions, np.float64)
        count, horizon = len(z), self.horizon
        out = np.full((count, horizon, 3), np.nan)
        std = np.full((count, horizon, 3), np.nan)
        r = self._measurement_var(segment, count)
        bank, track = IMMBank(float(segment.dt), horizon, 1, self.config), np.zeros(1, np.int64)
        for k in range(count):
            bank.update(track, np.array([k]), z[k:k + 1], r[k:k + 1])
            mean, spread = bank.forecast(track)
            out[k], std[k] = mean[0], spread[0]
        return SegmentPrediction(out, std)


def adaptive_kalman(horizon: int = 10, **overrides) -> IMMPredictor:
    """The "akf" baseline: a Kalman filter with R from the online noise estimate (AKF_DEFAULTS)."""
    return IMMPredictor(horizon, **{**AKF_DEFAULTS, **overrides, "adaptive": True, "name": "akf"})


def adaptive_imm(horizon: int = 10, **overrides) -> IMMPredictor:
    """The "imm" baseline: a CV/CA IMM with R from the online noise estimate (IMM_DEFAULTS)."""
    return IMMPredictor(horizon, **{**IMM_DEFAULTS, **overrides, "adaptive": True, "name": "imm"})
