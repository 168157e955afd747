"""Online per-track calibration of the predicted std, from the track's own matured predictions.

The checkpoint's std is calibrated on held-out simulated flights; a real vehicle, estimator or flight
style differs (e.g. slow indoor flights: x/y over-, z under-covered). Each track keeps its last H model
predictions (positions and std per horizon step). When grid position p_k arrives, every stored
prediction that targeted k gives per-axis normalised errors e_j = |p_k - pred_j| / (std_j s), and the
per-axis scale s follows a stochastic-approximation quantile tracker in log space:

    log s += rate / H * sum_j ([e_j > 1] - (1 - q)),    q = 0.6827 (the 1-sigma coverage)

so |e| <= 1 holds a fraction q of the time; it adapts within about 1 / rate grid steps and needs no
future data (a prediction is scored only once its target time has passed). Only model predictions
("tracking") are recorded and scaled; a reset forgets everything (s = 1, the offline calibration).
"""
from __future__ import annotations

import numpy as np

COVERAGE_1SIGMA = 0.6826894921370859
DEFAULT_RATE = 0.05
LOG_SCALE_LIMIT = float(np.log(10.0))    # s stays within [0.1, 10] x the offline calibration


class OnlineCalibration:
    """Per-track, per-axis std scale over slots 0..capacity-1 (see module doc); rate 0 disables it."""

    def __init__(self, capacity: int, horizon: int, rate: float = DEFAULT_RATE):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"online calibration rate must be in [0, 1), got {rate}")
        self.rate, self.horizon = float(rate), int(horizon)
        self._steps = np.arange(1, self.horizon + 1)
        self._log_scale = np.zeros((capacity, 3))
        self._positions = np.full((capacity, self.horizon, self.horizon, 3), np.nan)  # ring: slot = made_at % H
        self._std = np.full((capacity, self.horizon, self.horizon, 3), np.nan)
        self._made_at = np.full((capacity, self.horizon), -1, np.int64)   # grid index of each stored prediction
        self._observed_at = np.full(capacity, -1, np.int64)

    @property
    def enabled(self) -> bool:
        return self.rate > 0.0

    def grow(self, capacity: int) -> None:
        old = len(self._log_scale)

        def extend(array, fill):
            out = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
            out[:old] = array
            return out
        self._log_scale = extend(self._log_scale, 0.0)
        self._positions, self._std = extend(self._positions, np.nan), extend(self._std, np.nan)
        self._made_at, self._observed_at = extend(self._made_at, -1), extend(self._observed_at, -1)

    def reset(self, indices: np.ndarray) -> None:
        self._log_scale[indices] = 0.0
        self._made_at[indices] = -1
        self._observed_at[indices] = -1

    def observe(self, indices: np.ndarray, grid_index: np.ndarray, positions: np.ndarray) -> None:
        """Score the stored predictions that targeted `grid_index` against the grid `positions` (n, 3)."""
        if not self.enabled or len(indices) == 0:
            return
        fresh = grid_index > self._observed_at[indices]          # each grid sample is scored once
        indices, grid_index, positions = indices[fresh], grid_index[fresh], positions[fresh]
        self._observed_at[indices] = grid_index
        made = grid_index[:, None] - self._steps[None, :]        # (n, H): prediction made j steps ago
        slots = made % self.horizon
        valid = ((made >= 0) & (self._made_at[indices[:, None], slots] == made)
                 & np.isfinite(positions).all(axis=1)[:, None])
        if not valid.any():
            return
        predicted = self._positions[indices[:, None], slots, self._steps - 1]    # (n, H, 3)
        std = self._std[indices[:, None], slots, self._steps - 1] * np.exp(self._log_scale[indices])[:, None, :]
        outside = np.abs(positions[:, None, :] - predicted) > std
        signal = np.where(valid[:, :, None], outside - (1.0 - COVERAGE_1SIGMA), 0.0).sum(axis=1)
        updated = self._log_scale[indices] + (self.rate / self.horizon) * signal
        self._log_scale[indices] = np.clip(updated, -LOG_SCALE_LIMIT, LOG_SCALE_LIMIT)

    def record(self, indices: np.ndarray, grid_index: np.ndarray, positions: np.ndarray, std: np.ndarray) -> None:
        """Keep the model predictions (n, H, 3) made at `grid_index`, with their offline-calibrated std."""
        if not self.enabled or len(indices) == 0:
            return
        slots = grid_index % self.horizon
        self._positions[indices, slots] = positions[:, :self.horizon]
        self._std[indices, slots] = std[:, :self.horizon]
        self._made_at[indices, slots] = grid_index

    def scale(self, indices: np.ndarray) -> np.ndarray:
        """(n, 3) factors for the std of the tracks' next predictions."""
        return np.exp(self._log_scale[indices])



def calibrate_segment(positions: np.ndarray, predicted: np.ndarray, std: np.ndarray, horizon: int,
                      rate: float = DEFAULT_RATE) -> np.ndarray:
    """Offline twin of the streaming use for one fresh track over a segment: row k first scores the
    earlier predictions against positions[k], then records its own prediction (rows with finite std)
    and scales its std. Returns the scaled std (M, H, 3)."""
    calibration, out = OnlineCalibration(1, horizon, rate), std.copy()
    if not calibration.enabled:
        return out
    track = np.zeros(1, np.int64)
    for k in range(len(positions)):
        index = np.array([k])
        calibration.observe(track, index, positions[k:k + 1])
        if np.isfinite(std[k]).all():
            calibration.record(track, index, predicted[k:k + 1], std[k:k + 1])
            out[k] = std[k] * calibration.scale(track)[:, None, :]
    return out
