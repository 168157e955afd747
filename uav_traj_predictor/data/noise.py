"""Raw-position noise estimate of one stream: the measured noise level the model and the adaptive
classical filters are given, and the source of predictor_node's noisy-pose diagnostics.

The estimate (one definition, two forms tested equal: `PositionJitter` streams it sample by sample,
`noise_series` computes it over an array of raw samples):

* every four consecutive accepted raw samples give a third divided difference per axis, scaled by
  6 h^3 (h = their mean spacing): exactly the third difference for uniform stamps, zero for any
  quadratic motion whatever the spacing. Its white-noise part has std sqrt(20) sigma. Quadruples far
  from even spacing (a gap shorter than a twelfth of their span) are skipped: they amplify noise.
* the value of a quadruple is the mean over the three axes of log |third difference| (floored at
  LOG_FLOOR_M); a running mean of those values, with weight max(1 / n, RATE) for the n-th value (a plain
  mean over the first 1 / RATE values, then an exponential memory of ~1 / RATE values), is log-robust:
  an isolated outlier moves it by RATE * log(outlier / sigma), not by its size.
* sigma = exp(mean - E[log |Z|]) / sqrt(20) with E[log |Z|] = -(gamma + ln 2) / 2 for Gaussian Z.

Smooth motion leaks in as jerk * h^3: ~0.2 mm at 20 Hz for a 1.5 m/s^3 manoeuvre, several mm at 5 Hz;
the network is trained on the same estimate computed the same way, leaks included. The estimate is
per segment: `TrackBank` starts a fresh one whenever a track's stream breaks (gap, time jump,
teleport, reset), exactly as `data.preprocess` computes it per gap-free stretch.
A supplied measurement covariance (a tracker's or sensor's, e.g. PoseWithCovarianceStamped or
uav_traj_predictor/TargetArray) tells the level directly: `covariance_level` / `covariance_levels` give
sqrt(mean of the three position variances), the RMS per-axis std, the quantity this estimate measures;
`core.TrackBank.push(..., noise=level)` then hands it to the model and the guard's IMM instead of the
estimate (docs/nodes.md, "Measurement covariance").
Measured (bench/noise_estimate.py): real EuRoC / UZH-FPV / Blackbird ground truth 0.003 / < 0.001 /
0.06 mm at their native rates (0.08 / 0.12 / 0.23 mm thinned to 20 Hz); added white noise of 5-20 mm at
20 Hz within 2 % (median).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

# from this many quadruples on, `sigma` is reported to users (diagnostics); the model reads `level` earlier
MIN_SAMPLES = 50
# running-mean weight floor of a new quadruple (memory ~ 1 / RATE quadruples)
RATE = 0.01
# |third difference| floor (m) before the log: exact quadratic motion gives 0
LOG_FLOOR_M = 1e-9
# sigma above this (m) with velocity_source "pose": predictor_node warns (between motion capture and VIO)
NOISY_POSITIONS_M = 0.005
# what `level` reports before the first quadruple of a segment (m): a neutral prior the model is trained with
PRIOR_M = 1e-3
_LOG_ABS_GAUSSIAN = -(0.5772156649015329 + math.log(2.0)) / 2.0   # E[log |Z|], Z ~ N(0, 1)
# sigma = exp(mean + LOG_OFFSET), mean the running mean of log |third difference| (public: StreamCore takes it)
LOG_OFFSET = -_LOG_ABS_GAUSSIAN - 0.5 * math.log(20.0)
_LOG_FLOOR = math.log(LOG_FLOOR_M)
MIN_RATE_COUNT = int(round(1.0 / RATE))      # the running mean weighs 1 / n until n reaches it, then RATE


def covariance_level(vx: float, vy: float, vz: float) -> float:
    """The noise level (m) three position variances (m^2, a covariance's diagonal) tell: sqrt of their
    mean when all are finite and >= 0 and one is > 0; 0.0 when all are 0 (ROS's "unknown covariance");
    NaN when one is negative or not finite (invalid). `covariance_levels` is the same over arrays."""
    if not (0.0 <= vx < math.inf and 0.0 <= vy < math.inf and 0.0 <= vz < math.inf):
        return math.nan
    return math.sqrt((vx + vy + vz) / 3.0)


def covariance_levels(variances) -> np.ndarray:
    """(n,) `covariance_level` of each row of (n, 3) variances (equal to it, tested)."""
    variances = np.asarray(variances, np.float64).reshape(-1, 3)
    with np.errstate(invalid="ignore"):
        ok = ((variances >= 0.0) & (variances < math.inf)).all(axis=1)
        return np.where(ok, np.sqrt(np.where(ok[:, None], variances, 0.0).sum(axis=1) / 3.0), math.nan)


class PositionJitter:
    """Feed accepted raw samples with `add`; `restart` when the stream breaks (a fresh estimate)."""

    def __init__(self):
        self._recent: list[tuple] = []      # up to 3 previous (t, x, y, z)
        self._mean = 0.0                    # running mean of the per-quadruple mean log |third difference|
        self.count = 0                      # quadruples used

    def restart(self) -> None:
        """Start a fresh estimate (a new segment of the stream)."""
        self._recent.clear()
        self._mean = 0.0
        self.count = 0

    def add(self, stamp: float, xyz) -> None:
        """One accepted raw sample; a stamp not after the previous one is skipped."""
        recent = self._recent
        if recent and not stamp > recent[-1][0]:
            return
        sample = (stamp, xyz[0], xyz[1], xyz[2])
        if len(recent) == 3:
            value = _quadruple(recent[0], recent[1], recent[2], sample)
            if value is not None:
                count = self.count + 1
                weight = 1.0 / count if count <= MIN_RATE_COUNT else RATE
                self._mean += weight * (value - self._mean)
                self.count = count
            del recent[0]
        recent.append(sample)

    @property
    def level(self) -> float:
        """The estimate (m) as the model reads it: PRIOR_M before the segment's first quadruple."""
        if self.count == 0:
            return PRIOR_M
        return math.exp(self._mean + LOG_OFFSET)

    @property
    def sigma(self) -> float | None:
        """The estimate (m) for users; None until MIN_SAMPLES quadruples."""
        if self.count < MIN_SAMPLES:
            return None
        return math.exp(self._mean + LOG_OFFSET)


def _quadruple(a, b, c, d) -> float | None:
    """Mean over axes of log |scaled third divided difference| of four samples (t, x, y, z), None when
    their spacing is too uneven. Unrolled per axis (the hot path of every raw sample: ~1 us), the
    arithmetic of `noise_series` in the same order."""
    ta, tb, tc, td = a[0], b[0], c[0], d[0]
    span = td - ta
    ab, bc, cd, ac, bd = tb - ta, tc - tb, td - tc, tc - ta, td - tb
    if min(ab, bc, cd) < span / 12:
        return None
    scale = 6.0 * (span / 3.0) ** 3 / span
    log = math.log
    f1 = (c[1] - b[1]) / bc
    x = abs(((d[1] - c[1]) / cd - f1) / bd - (f1 - (b[1] - a[1]) / ab) / ac) * scale
    f1 = (c[2] - b[2]) / bc
    y = abs(((d[2] - c[2]) / cd - f1) / bd - (f1 - (b[2] - a[2]) / ab) / ac) * scale
    f1 = (c[3] - b[3]) / bc
    z = abs(((d[3] - c[3]) / cd - f1) / bd - (f1 - (b[3] - a[3]) / ab) / ac) * scale
    if not (x < math.inf and y < math.inf and z < math.inf):      # inf and NaN
        return None
    return ((log(x) if x > LOG_FLOOR_M else _LOG_FLOOR) + (log(y) if y > LOG_FLOOR_M else _LOG_FLOOR)
            + (log(z) if z > LOG_FLOOR_M else _LOG_FLOOR)) / 3.0


def noise_series(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(N,) the estimate (m, `PositionJitter.level`) after each raw sample of one gap-free stretch of
    strictly increasing stamps t (N,) and positions p (N, 3): what a fresh `PositionJitter` fed these
    samples reports after each `add` (equal to float rounding)."""
    t = np.asarray(t, np.float64)
    p = np.asarray(p, np.float64)
    out = np.full(len(t), PRIOR_M)
    if len(t) < 4:
        return out
    a, b, c, d = t[:-3], t[1:-2], t[2:-1], t[3:]
    ab, bc, cd, ac, bd, span = b - a, c - b, d - c, c - a, d - b, d - a
    valid = np.minimum(np.minimum(ab, bc), cd) >= span / 12
    with np.errstate(all="ignore"):
        first0 = (p[1:-2] - p[:-3]) / ab[:, None]
        first1 = (p[2:-1] - p[1:-2]) / bc[:, None]
        first2 = (p[3:] - p[2:-1]) / cd[:, None]
        third = ((first2 - first1) / bd[:, None] - (first1 - first0) / ac[:, None]) * (
            6.0 * (span / 3.0) ** 3 / span)[:, None]
        magnitude = np.abs(third)
        valid &= np.isfinite(magnitude).all(axis=1)
        logs = np.where(magnitude > LOG_FLOOR_M, np.log(np.where(magnitude > 0, magnitude, 1.0)), _LOG_FLOOR)
    values = logs[valid].mean(axis=1)
    if len(values) == 0:
        return out
    means = np.empty(len(values))
    head = min(len(values), MIN_RATE_COUNT)
    means[:head] = np.cumsum(values[:head]) / np.arange(1, head + 1)
    if len(values) > head:
        means[head:] = lfilter([RATE], [1.0, -(1.0 - RATE)], values[head:], zi=[(1.0 - RATE) * means[head - 1]])[0]
    # the estimate after raw sample i uses every valid quadruple ending at or before i
    ends = np.flatnonzero(valid) + 3
    after = np.searchsorted(ends, np.arange(len(t)), side="right") - 1     # index of the newest quadruple
    known = after >= 0
    out[known] = np.exp(means[after[known]] + LOG_OFFSET)
    return out
