"""`PositionJitter`: a running estimate of the white noise on one track's raw positions.

Differenced positions are what the model reads with velocity_source "pose"; noise on them is amplified
(velocity noise ~ sqrt(2) sigma / dt, acceleration features more), so odometry with VIO or GNSS position
noise should use velocity_source "twist" (docs/model.md). The estimate: third divided differences of
the raw samples scaled by 6 h^3 (h the mean spacing; exactly the third difference for uniform stamps, 0
for any quadratic motion whatever the spacing), whose white-noise part has std sqrt(20) sigma; a running
mean of their absolute values (each clipped to 10x the estimate, against outliers) times
sqrt(pi / 2) / sqrt(20) gives sigma. Smooth motion leaks in as jerk * h^3: ~0.2 mm at 20 Hz for a
1.5 m/s^3 manoeuvre, so the estimate is meaningful from ~20 Hz input. Measured (median of per-axis
values): EuRoC / UZH-FPV / Blackbird ground truth <= 0.1 mm, simulated motion capture 0.6-0.8 mm,
simulated VIO 13-18 mm, simulated GNSS 27-82 mm.
"""
from __future__ import annotations

import math

# from this many third differences on, `sigma` is reported
MIN_SAMPLES = 50
# running-mean weight of a new third difference
RATE = 0.02
# sigma above this (m) with velocity_source "pose": predictor_node warns (between simulated motion capture
# and simulated VIO above)
NOISY_POSITIONS_M = 0.005
_SCALE = math.sqrt(math.pi / 2) / math.sqrt(20)


class PositionJitter:
    """Feed accepted raw samples with `add`; `restart` after a break in the stream (keeps the estimate)."""

    def __init__(self):
        self._recent: list[tuple] = []      # up to 3 previous (t, x, y, z)
        self._mean_abs = [0.0, 0.0, 0.0]
        self.count = 0                      # third differences seen

    def restart(self) -> None:
        self._recent.clear()

    def add(self, stamp: float, xyz) -> None:
        """One accepted raw sample; a stamp not after the previous one is skipped."""
        recent = self._recent
        if recent and not stamp > recent[-1][0]:
            return
        sample = (stamp, xyz[0], xyz[1], xyz[2])
        if len(recent) == 3:
            self._update(recent[0], recent[1], recent[2], sample)
            del recent[0]
        recent.append(sample)

    def _update(self, a, b, c, d) -> None:
        span = d[0] - a[0]
        ab, bc, cd, ac, bd = b[0] - a[0], c[0] - b[0], d[0] - c[0], c[0] - a[0], d[0] - b[0]
        if min(ab, bc, cd) < span / 12:       # far from even spacing: noise would be amplified, skip
            return
        scale = 6.0 * (span / 3.0) ** 3 / span
        weight = RATE if self.count >= MIN_SAMPLES else 1.0 / (self.count + 1)
        for axis in range(3):
            i = axis + 1
            first = ((b[i] - a[i]) / ab, (c[i] - b[i]) / bc, (d[i] - c[i]) / cd)
            second = ((first[1] - first[0]) / ac, (first[2] - first[1]) / bd)
            value = abs((second[1] - second[0]) * scale)
            mean = self._mean_abs[axis]
            if self.count >= MIN_SAMPLES:
                value = min(value, 10.0 * mean)
            if math.isfinite(value):
                self._mean_abs[axis] = mean + weight * (value - mean)
        self.count += 1

    @property
    def sigma(self) -> float | None:
        """Estimated position noise std (m), the largest axis; None until MIN_SAMPLES differences."""
        if self.count < MIN_SAMPLES:
            return None
        return max(self._mean_abs) * _SCALE
