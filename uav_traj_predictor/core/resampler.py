"""Streaming twin of `data.preprocess`: raw (stamp, position) samples in, uniform grid samples out.

For a clean stream (sorted, finite, no repeated stamps) it emits exactly the grid positions of
`preprocess` (same grid definition t0 + k * dt decided by the exact comparison, same interpolation and
smoothing arithmetic), splitting segments at the same gaps. Bad input is never an exception:
non-finite samples and stamps at or before the last one are ignored (`ignored` says why); a gap or a
jump back in time starts a new segment (`reset` says why). O(1) work per push, on plain floats
(`consume` is the allocation-light form `TrackBank` uses; `push` wraps it into arrays).
With `cfg.velocity_source == "twist"` every sample also carries a measured world-frame velocity and
the grid velocities are its interval means (a running integral of the piecewise-linear velocity, the
arithmetic of `data.preprocess.mean_velocities`) instead of position differences.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..data.preprocess import (GAP_HISTORY, MIN_INTERVAL_SAMPLES, PreprocessConfig, causal_savgol_coeffs,
                               causal_savgol_point, gap_limit, velocity_integral)

RESET_GAP = "gap"                       # step > the gap limit (data.preprocess.gap_limits): new segment
RESET_TIME_BACKWARDS = "time_backwards"  # stamp jumped back > max_backwards (bag loop, sim reset)
RESET_MANUAL = "manual"                 # reset() called; reported with the next sample
IGNORED_NON_FINITE = "non_finite"
IGNORED_DUPLICATE = "duplicate"         # same stamp as the last sample
IGNORED_OUT_OF_ORDER = "out_of_order"   # older than the last sample, by less than max_backwards

NO_SAMPLES: tuple = ()


def _no_stamps():
    return np.zeros(0)


def _no_positions():
    return np.zeros((0, 3))


def as_xyz(position, name: str = "position") -> list[float]:
    """A 3-vector (any array-like of 3 numbers) as [x, y, z] Python floats; ValueError for another size."""
    if type(position) in (tuple, list) and len(position) == 3:   # the adapters' usual forms (a list: a row of
        # ndarray.tolist(), as predictor_node's TargetArray path hands it), as np.asarray reads them
        x, y, z = position
        if type(x) is float and type(y) is float and type(z) is float:
            return [x, y, z]
    position = np.asarray(() if position is None else position, dtype=np.float64)
    if position.size != 3:
        raise ValueError(f"OnlineResampler.push expects a 3-vector {name}, got shape {position.shape}")
    return position.reshape(3).tolist()


@dataclass
class ResamplerOutput:
    """What one push produced: new grid samples (possibly none) and why the stream changed, if it did.

    velocities[i] = (positions[i] - previous grid position) / dt (or, for velocity_source "twist", the
    mean measured velocity since the previous grid stamp), NaN for a segment's first sample.
    reset: a new segment started with this push ("gap", "time_backwards", "manual"), else None.
    ignored: the pushed sample was dropped ("non_finite", "duplicate", "out_of_order"), else None.
    """
    stamps: np.ndarray = field(default_factory=_no_stamps)
    positions: np.ndarray = field(default_factory=_no_positions)
    velocities: np.ndarray = field(default_factory=_no_positions)
    interval_velocities: np.ndarray = field(default_factory=_no_positions)   # data.preprocess.interval_velocities
    reset: str | None = None
    ignored: str | None = None
    segment: int = -1            # index of the segment these samples belong to (-1 before any)

    @property
    def reason(self) -> str | None:
        """The reset or ignore reason, whichever happened (None when neither)."""
        return self.reset or self.ignored

    def __len__(self) -> int:
        return len(self.stamps)


class OnlineResampler:
    """Per-track streaming resampler onto the grid t0 + k/rate of each segment (see module doc)."""

    def __init__(self, cfg: PreprocessConfig = PreprocessConfig(), max_backwards: float = 1.0):
        self.cfg = cfg
        self.dt = cfg.dt
        self.max_backwards = max_backwards
        self._max_gap = cfg.max_gap
        self._recent_steps = deque(maxlen=GAP_HISTORY)   # last raw steps, for the low-rate gap limit
        self._gap_limit = cfg.max_gap                     # gap_limit(_recent_steps), kept up to date
        self._smoothing = cfg.smoothing == "savgol"
        self.twist = cfg.velocity_source == "twist"
        self._raw_grid = deque(maxlen=cfg.savgol_window if self._smoothing else 1)  # last unsmoothed grid positions
        self.segment = -1
        self._pending_reset: str | None = None
        self._start(None, None, None)

    # --- state -----------------------------------------------------------------------------
    def _start(self, stamp, position, velocity):
        self.t0 = stamp                    # first stamp of the current segment (None: no segment)
        self._ref = position               # first raw position of the segment (interval sums are relative)
        self._interval = [0, 0.0, 0.0, 0.0, 0.0]   # raw samples of the open grid interval: n, sum t, sum x, y, z
        self._last_mean = None             # (tau, x, y, z) mean of the previous grid interval (relative)
        self.last_stamp = stamp            # newest accepted raw sample
        self.last_raw = position           # its position, [x, y, z] floats
        self.last_raw_velocity = velocity  # its measured velocity (twist), else None
        self._since_grid = (0.0, 0.0, 0.0)  # twist: velocity integral from the newest grid stamp to last_stamp
        self.count = 0                     # grid samples emitted in the current segment
        self.last_position = None          # newest emitted grid position, (x, y, z) floats
        self._raw_grid.clear()

    def reset(self) -> None:
        """Forget the current segment; the next sample starts a new one (reported as "manual")."""
        if self.t0 is not None:
            self._pending_reset = RESET_MANUAL
        self._start(None, None, None)

    @property
    def gap_limit(self) -> float:
        """The longest raw step (s) the next sample may follow without starting a new segment."""
        return self._gap_limit

    @property
    def last_grid_stamp(self) -> float | None:
        """Stamp of the newest emitted grid sample (None before the first)."""
        return None if self.count == 0 else self.t0 + (self.count - 1) * self.dt

    # --- input -------------------------------------------------------------------------------
    def push(self, stamp: float, position, velocity=None) -> ResamplerOutput:
        """Consume one raw sample (with its world-frame velocity for velocity_source "twist"); return the
        grid samples it completes (and any reset/ignore reason)."""
        velocity = as_xyz(velocity, "velocity") if self.twist else None
        reset, ignored, samples = self.consume(float(stamp), as_xyz(position), velocity)
        if not samples:
            return ResamplerOutput(reset=reset, ignored=ignored, segment=self.segment)
        nan = (math.nan,) * 3
        return ResamplerOutput(stamps=np.array([s[0] for s in samples]), positions=np.array([s[1] for s in samples]),
                               velocities=np.array([nan if s[2] is None else s[2] for s in samples]),
                               interval_velocities=np.array([nan if s[3] is None else s[3] for s in samples]),
                               reset=reset, segment=self.segment)

    def consume(self, stamp: float, xyz: list[float], velocity: list[float] | None = None):
        """`push` on plain floats: (reset, ignored, samples), samples a tuple of (stamp, position, velocity,
        interval velocity) per new grid sample, position and velocities (x, y, z) floats, velocities None for
        a segment's first.
        `velocity`: the sample's measured [vx, vy, vz], required for velocity_source "twist"."""
        if not (math.isfinite(stamp) and math.isfinite(xyz[0]) and math.isfinite(xyz[1])
                and math.isfinite(xyz[2])):
            return None, IGNORED_NON_FINITE, NO_SAMPLES
        if self.twist and not _finite_velocity(velocity):
            return None, IGNORED_NON_FINITE, NO_SAMPLES
        if self.t0 is None:
            return self._begin_segment(stamp, xyz, velocity, self._pending_reset)
        step = stamp - self.last_stamp
        limit = self._gap_limit
        if step > 0:                       # the stream's own sample interval, across segments (gap_limits)
            self._recent_steps.append(step)
            self._gap_limit = gap_limit(self._recent_steps, self._max_gap)
        if step > limit:
            return self._begin_segment(stamp, xyz, velocity, RESET_GAP)
        if step < -self.max_backwards:
            return self._begin_segment(stamp, xyz, velocity, RESET_TIME_BACKWARDS)
        if step <= 0:
            return None, IGNORED_DUPLICATE if step == 0 else IGNORED_OUT_OF_ORDER, NO_SAMPLES
        return None, None, self._advance(stamp, xyz, velocity)

    def _begin_segment(self, stamp, xyz, velocity, reset: str | None):
        self._pending_reset = None
        self.segment += 1
        self._start(stamp, xyz, velocity)
        return reset, None, (self._emit(stamp, tuple(xyz)),)

    def _advance(self, stamp, xyz, velocity) -> tuple:
        """Grid samples t0 + k * dt (k = count, count + 1, ...) up to `stamp`, interpolated between the
        previous raw sample and this one (the grid_count / interpolate arithmetic of preprocess)."""
        t0, dt, k = self.t0, self.dt, self.count
        t_a, (xa, ya, za) = self.last_stamp, self.last_raw
        v_a = self.last_raw_velocity
        self.last_stamp, self.last_raw, self.last_raw_velocity = stamp, xyz, velocity
        samples = []
        g = t0 + k * dt
        counted = False
        while g <= stamp:
            w = (g - t_a) / (stamp - t_a)
            mean = self._mean_velocity(t_a, v_a, stamp, velocity, g) if self.twist else None
            if g == stamp:                 # a raw sample exactly at a grid stamp closes that grid interval
                self._count_raw(stamp, xyz)
                counted = True
            samples.append(self._emit(g, (xa + w * (xyz[0] - xa), ya + w * (xyz[1] - ya), za + w * (xyz[2] - za)),
                                      mean))
            k += 1
            g = t0 + k * dt
        if not counted:
            self._count_raw(stamp, xyz)
        if self.twist:
            self._since_grid = _add(self._since_grid, _integral(t_a, v_a, stamp, velocity, stamp))
        return samples

    def _mean_velocity(self, t_a, v_a, t_b, v_b, g) -> tuple:
        """Mean measured velocity from the newest grid stamp to grid stamp g in (t_a, t_b]; afterwards the
        running integral restarts at g (as the integral from t_a, minus the part up to g)."""
        previous = self.t0 + (self.count - 1) * self.dt
        upto = _integral(t_a, v_a, t_b, v_b, g)
        span = g - previous
        mean = tuple((since + part) / span for since, part in zip(self._since_grid, upto))
        self._since_grid = tuple(-part for part in upto)
        return mean

    def _count_raw(self, stamp, xyz) -> None:
        """Add an accepted raw sample to the open grid interval's sums (relative to the segment start)."""
        sums, ref = self._interval, self._ref
        sums[0] += 1
        sums[1] += stamp - self.t0
        sums[2] += xyz[0] - ref[0]
        sums[3] += xyz[1] - ref[1]
        sums[4] += xyz[2] - ref[2]

    def _interval_velocity(self, stamp, raw: tuple):
        """Close the grid interval ending at `stamp` (grid position `raw`): the velocity between its raw-sample
        mean and the previous interval's (data.preprocess.interval_velocities), None for a segment's first."""
        n, sum_t, sum_x, sum_y, sum_z = self._interval
        ref = self._ref
        if n >= MIN_INTERVAL_SAMPLES:
            mean = (sum_t / n, sum_x / n, sum_y / n, sum_z / n)
        else:                              # too few raw samples in the interval: the grid sample itself
            mean = (stamp - self.t0, raw[0] - ref[0], raw[1] - ref[1], raw[2] - ref[2])
        self._interval = [0, 0.0, 0.0, 0.0, 0.0]
        last, self._last_mean = self._last_mean, mean
        if last is None:
            return None
        span = mean[0] - last[0]
        return ((mean[1] - last[1]) / span, (mean[2] - last[2]) / span, (mean[3] - last[3]) / span)

    def _emit(self, stamp, raw: tuple, measured: tuple | None = None) -> tuple:
        if self.count == 0:                # a segment's first grid sample is its first raw sample: interval 0
            self._count_raw(stamp, raw)
        interval = self._interval_velocity(stamp, raw)
        self._raw_grid.append(raw)
        position = self._smoothed() if self._smoothing else raw
        last, dt = self.last_position, self.dt
        if last is None:
            velocity = None
        elif measured is not None:
            velocity = measured
        else:
            velocity = ((position[0] - last[0]) / dt, (position[1] - last[1]) / dt, (position[2] - last[2]) / dt)
        self.last_position = position
        self.count += 1
        return stamp, position, velocity, interval

    def _smoothed(self) -> tuple:
        window = np.array(self._raw_grid)
        coeffs = causal_savgol_coeffs(self.cfg.savgol_window, self.cfg.savgol_order, len(window))
        return tuple(causal_savgol_point(coeffs, window).tolist())


def _finite_velocity(velocity) -> bool:
    if velocity is None:
        raise ValueError("velocity_source 'twist': every sample needs its 3-vector velocity")
    return math.isfinite(velocity[0]) and math.isfinite(velocity[1]) and math.isfinite(velocity[2])


def _integral(t_a, v_a, t_b, v_b, g) -> tuple:
    """`data.preprocess.velocity_integral` per axis of float triples (the same arithmetic as offline)."""
    return tuple(velocity_integral(t_a, a, t_b, b, g) for a, b in zip(v_a, v_b))


def _add(a: tuple, b: tuple) -> tuple:
    return tuple(x + y for x, y in zip(a, b))
