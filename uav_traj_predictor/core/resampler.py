"""Streaming twin of `data.preprocess`: raw (stamp, position) samples in, uniform grid samples out.

For a clean stream (sorted, finite, no repeated stamps) it emits exactly the grid positions of
`preprocess` (same helpers, same arithmetic), splitting segments at the same gaps. Bad input is never
an exception: non-finite samples and stamps at or before the last one are ignored (`ignored` says
why); a gap or a jump back in time starts a new segment (`reset` says why). O(1) work per push.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..data.preprocess import (PreprocessConfig, causal_savgol_coeffs, causal_savgol_point, grid_count,
                               grid_times, interpolate)

RESET_GAP = "gap"                       # step > cfg.max_gap: new segment at this sample
RESET_TIME_BACKWARDS = "time_backwards"  # stamp jumped back > max_backwards (bag loop, sim reset)
RESET_MANUAL = "manual"                 # reset() called; reported with the next sample
IGNORED_NON_FINITE = "non_finite"
IGNORED_DUPLICATE = "duplicate"         # same stamp as the last sample
IGNORED_OUT_OF_ORDER = "out_of_order"   # older than the last sample, by less than max_backwards



def _no_stamps():
    return np.zeros(0)


def _no_positions():
    return np.zeros((0, 3))


@dataclass
class ResamplerOutput:
    """What one push produced: new grid samples (possibly none) and why the stream changed, if it did.

    velocities[i] = (positions[i] - previous grid position) / dt, NaN for a segment's first sample.
    reset: a new segment started with this push ("gap", "time_backwards", "manual"), else None.
    ignored: the pushed sample was dropped ("non_finite", "duplicate", "out_of_order"), else None.
    """
    stamps: np.ndarray = field(default_factory=_no_stamps)
    positions: np.ndarray = field(default_factory=_no_positions)
    velocities: np.ndarray = field(default_factory=_no_positions)
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
        window = cfg.savgol_window if cfg.smoothing == "savgol" else 1
        self._raw_grid = deque(maxlen=window)   # last unsmoothed grid positions of the segment
        self.segment = -1
        self._pending_reset: str | None = None
        self._start(None, None)

    # --- state -----------------------------------------------------------------------------
    def _start(self, stamp, position):
        self.t0 = stamp                    # first stamp of the current segment (None: no segment)
        self.last_stamp = stamp            # newest accepted raw sample
        self.last_raw = position
        self.count = 0                     # grid samples emitted in the current segment
        self.last_position = None          # newest emitted grid position
        self._raw_grid.clear()

    def reset(self) -> None:
        """Forget the current segment; the next sample starts a new one (reported as "manual")."""
        if self.t0 is not None:
            self._pending_reset = RESET_MANUAL
        self._start(None, None)

    @property
    def last_grid_stamp(self) -> float | None:
        """Stamp of the newest emitted grid sample (None before the first)."""
        return None if self.count == 0 else self.t0 + (self.count - 1) * self.dt

    # --- input -------------------------------------------------------------------------------
    def push(self, stamp: float, position) -> ResamplerOutput:
        """Consume one raw sample; return the grid samples it completes (and any reset/ignore reason)."""
        stamp = float(stamp)
        position = np.asarray(position, dtype=np.float64)
        if position.size != 3:
            raise ValueError(f"OnlineResampler.push expects a 3-vector position, got shape {position.shape}")
        position = position.reshape(3)
        if not (np.isfinite(stamp) and np.isfinite(position).all()):
            return ResamplerOutput(ignored=IGNORED_NON_FINITE, segment=self.segment)
        if self.t0 is None:
            return self._begin_segment(stamp, position, self._pending_reset)
        step = stamp - self.last_stamp
        if step > self.cfg.max_gap:
            return self._begin_segment(stamp, position, RESET_GAP)
        if step < -self.max_backwards:
            return self._begin_segment(stamp, position, RESET_TIME_BACKWARDS)
        if step <= 0:
            reason = IGNORED_DUPLICATE if step == 0 else IGNORED_OUT_OF_ORDER
            return ResamplerOutput(ignored=reason, segment=self.segment)
        return self._advance(stamp, position)

    def _begin_segment(self, stamp, position, reset: str | None) -> ResamplerOutput:
        self._pending_reset = None
        self.segment += 1
        self._start(stamp, position)
        output = self._emit(np.array([stamp]), position[None, :])
        output.reset = reset
        return output

    def _advance(self, stamp, position) -> ResamplerOutput:
        total = grid_count(self.t0, stamp, self.dt)
        times = grid_times(self.t0, self.dt, total)[self.count:]
        previous_stamp, previous = self.last_stamp, self.last_raw
        self.last_stamp, self.last_raw = stamp, position
        if len(times) == 0:
            return ResamplerOutput(segment=self.segment)
        return self._emit(times, interpolate(previous_stamp, previous, stamp, position, times[:, None]))

    def _emit(self, times: np.ndarray, raw_positions: np.ndarray) -> ResamplerOutput:
        positions = np.empty_like(raw_positions)
        velocities = np.empty_like(raw_positions)
        for i, raw in enumerate(raw_positions):
            self._raw_grid.append(raw)
            positions[i] = self._smoothed()
            velocities[i] = (np.nan if self.last_position is None
                             else (positions[i] - self.last_position) / self.dt)
            self.last_position = positions[i]
        self.count += len(times)
        return ResamplerOutput(stamps=times, positions=positions, velocities=velocities,
                               segment=self.segment)

    def _smoothed(self) -> np.ndarray:
        if self.cfg.smoothing != "savgol":
            return self._raw_grid[-1]
        window = np.asarray(self._raw_grid)
        coeffs = causal_savgol_coeffs(self.cfg.savgol_window, self.cfg.savgol_order, len(window))
        return causal_savgol_point(coeffs, window)
