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

import math

import numpy as np

COVERAGE_1SIGMA = 0.6826894921370859
RECOMMENDED_RATE = 0.02   # chosen on held-out simulated flights (docs/model.md); the product default is off
LOG_SCALE_LIMIT = float(np.log(10.0))    # s stays within [0.1, 10] x the offline calibration


class OnlineCalibration:
    """Per-track, per-axis std scale over slots 0..capacity-1 (see module doc); rate 0 disables it.

    Storage is by target: slot k % H holds, for each lead j, the prediction made at k - j for grid
    index k (std +inf = nothing stored), so scoring grid sample k reads one contiguous (H, 3) block.
    """

    def __init__(self, capacity: int, horizon: int, rate: float = RECOMMENDED_RATE):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"online calibration rate must be in [0, 1), got {rate}")
        self.rate, self.horizon = float(rate), int(horizon)
        h = self.horizon
        self._gain = self.rate / h
        self._lead = np.arange(h)                                      # j - 1
        self._target_slots = (np.arange(h)[:, None] + np.arange(1, h + 1)[None, :]) % h   # [made_at % H, j - 1]
        self._log_scale = np.zeros((capacity, 3))
        self._scale = np.ones((capacity, 3))
        self._predicted = np.zeros((capacity, h, h, 3))              # [track, target % H, j - 1]
        self._std = np.full((capacity, h, h, 3), np.inf)
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
        self._log_scale, self._scale = extend(self._log_scale, 0.0), extend(self._scale, 1.0)
        self._predicted, self._std = extend(self._predicted, 0.0), extend(self._std, np.inf)
        self._observed_at = extend(self._observed_at, -1)

    def reset(self, indices: np.ndarray) -> None:
        self._log_scale[indices] = 0.0
        self._scale[indices] = 1.0
        self._std[indices] = np.inf
        self._observed_at[indices] = -1

    def observe(self, indices: np.ndarray, grid_index: np.ndarray, positions: np.ndarray) -> None:
        """Score the stored predictions that targeted `grid_index` against the grid `positions` (n, 3)."""
        if not self.enabled:
            return
        for track, k, position in zip(indices.tolist(), grid_index.tolist(), positions.tolist()):
            self._observe_one(track, k, position)

    def _observe_one(self, track: int, k: int, position: list) -> None:
        previous = int(self._observed_at[track])
        if k <= previous:
            return                                                 # each grid sample is scored once
        self._observed_at[track] = k
        if k - previous > 1:                                       # skipped grid samples: never scored
            self._forget(track, previous + 1, k)
        self._score(track, k % self.horizon, position)

    def _forget(self, track: int, first: int, stop: int) -> None:
        if stop - first >= self.horizon:
            self._std[track] = np.inf
        else:
            self._std[track, np.arange(first, stop) % self.horizon] = np.inf

    def _score(self, track: int, slot: int, position: list) -> None:
        std = self._std[track, slot]                               # (H, 3) view: leads j = 1..H
        stored = int((std[:, 0] < math.inf).sum())
        if stored and math.isfinite(position[0] + position[1] + position[2]):
            error = np.subtract(position, self._predicted[track, slot])
            outside = (np.abs(error, out=error) > std * self._scale[track]).sum(axis=0).tolist()
            expected = (1.0 - COVERAGE_1SIGMA) * stored
            log_scale = [min(LOG_SCALE_LIMIT, max(-LOG_SCALE_LIMIT, value + self._gain * (count - expected)))
                         for value, count in zip(self._log_scale[track].tolist(), outside)]
            self._log_scale[track] = log_scale
            self._scale[track] = [math.exp(value) for value in log_scale]
        std[:] = math.inf                                          # consumed

    def record(self, indices: np.ndarray, grid_index: np.ndarray, positions: np.ndarray, std: np.ndarray) -> None:
        """Keep the model predictions (n, H, 3) made at `grid_index`, with their offline-calibrated std."""
        if not self.enabled:
            return
        for row, (track, k) in enumerate(zip(indices.tolist(), grid_index.tolist())):
            self._record_one(track, k, positions[row], std[row])

    def _record_one(self, track: int, k: int, predicted: np.ndarray, std: np.ndarray) -> None:
        slots = self._target_slots[k % self.horizon]
        self._predicted[track, slots, self._lead] = predicted[:self.horizon]
        self._std[track, slots, self._lead] = std[:self.horizon]

    def update_one(self, track: int, k: int, position, predicted=None, std=None) -> np.ndarray:
        """One track at grid index k: score grid `position` (3,), record its new prediction (H, 3) when
        given, return its scale (3,): `observe` + `record` + `scale` without the batch overhead."""
        if self.enabled:
            self._observe_one(track, k, position.tolist())
            if predicted is not None:
                self._record_one(track, k, predicted, std)
        return self._scale[track]

    def scale(self, indices: np.ndarray) -> np.ndarray:
        """(n, 3) factors for the std of the tracks' next predictions."""
        return self._scale[indices]


def calibrate_segment(positions: np.ndarray, predicted: np.ndarray, std: np.ndarray, horizon: int,
                      rate: float = RECOMMENDED_RATE) -> np.ndarray:
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
