"""What the prediction core hands to its adapters: `Prediction`s and `TrackEvent`s (no rclpy, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

TRACKING, WARMING_UP, FALLBACK_CV = "tracking", "warming_up", "fallback_cv"
STATUSES = (TRACKING, WARMING_UP, FALLBACK_CV)

# TrackEvent kinds
EVENT_NEW = "new"            # first sample of a track id
EVENT_RESET = "reset"        # the track's history was dropped; reason says why
EVENT_IGNORED = "ignored"    # one sample was dropped; reason says why
EVENT_DROPPED = "dropped"    # the track was removed (reason "timeout") and its predictor slot freed

# reasons (the resampler's own strings are reused for gap / time_backwards / non_finite / ...)
REASON_TELEPORT = "teleport"  # implied speed between two raw samples above max_speed
REASON_TIMEOUT = "timeout"    # no sample for longer than track_timeout
REASON_TRACK_LIMIT = "track_limit"  # a new track id while max_tracks tracks exist: refused, never allocated


@dataclass
class Prediction:
    """Future of one track from the newest grid sample at t0: step k (1..H) is at t0 + k * dt.

    positions / velocities: (H, 3) world frame (the frame of the input positions), metres and m/s.
    position_std: (H, 3) per-axis 1-sigma, or None when the producer has no uncertainty model. While
    "warming_up" (fewer velocities than the model needs) or in "fallback_cv" (the network gave
    non-finite output) the positions are constant-velocity extrapolation and the std is the
    checkpoint's measured constant-velocity error, never the network's.
    """
    track_id: str
    t0: float
    dt: float
    positions: np.ndarray
    velocities: np.ndarray
    position_std: np.ndarray | None
    status: str
    model_id: str
    history: int = 0          # velocities the track has consumed since its last reset

    @property
    def horizon_steps(self) -> int:
        return len(self.positions)

    @property
    def times(self) -> np.ndarray:
        """(H,) stamps of the predicted steps, t0 + k * dt for k = 1..H."""
        return self.t0 + self.dt * np.arange(1, len(self.positions) + 1)


@dataclass
class PredictionBatch:
    """One tick's predictions as arrays (n tracks, H steps): row i is `TickResult.predictions[i]`, whose
    arrays are views of these (no copy). For adapters that publish every track at once."""
    track_ids: list[str]
    t0: np.ndarray                    # (n,) prediction origins
    dt: float
    positions: np.ndarray             # (n, H, 3)
    velocities: np.ndarray            # (n, H, 3)
    position_std: np.ndarray | None   # (n, H, 3) or None (no uncertainty model)
    statuses: list[str]
    model_id: str

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass(frozen=True)
class TrackEvent:
    """Something that happened to a track: a new track, a reset, an ignored sample, a removal."""
    track_id: str
    kind: str
    reason: str | None = None
    stamp: float | None = None   # stamp of the sample that caused it (None for timeouts)


@dataclass
class SegmentPrediction:
    """Predictions for every grid index of a segment of M samples over H steps (rows may be NaN): row k
    is the prediction made at grid index k from the segment's samples up to k."""
    positions: np.ndarray             # (M, H, 3) predicted positions at t_k + j*dt, j = 1..H
    std: np.ndarray | None = None     # (M, H, 3) per-axis std of those positions, or None


class Predictor(Protocol):
    """What `TrackBank` drives (`model.StreamingPredictor` is the implementation): slots of tracks
    advanced one grid sample at a time.

    A grid sample is (vx, vy, vz) m/s or (vx, vy, vz, noise m): the velocity over the last grid interval
    and the stream's measured position-noise level (data/noise.py) when it was completed.
    """
    rate: float                  # grid rate, Hz
    horizon_steps: int           # steps of every prediction
    min_history: int             # velocities before predictions come from the network
    model_id: str
    MAX_SPEED: float             # per-axis grid speed `advance` takes, m/s

    def add_tracks(self, n: int) -> np.ndarray: ...

    def remove_tracks(self, indices) -> None: ...

    def reset(self, indices) -> None: ...

    def advance(self, indices: Sequence[int], step_lists: Sequence[Sequence[tuple]],
                last_positions: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[str]]:
        """Step each track with its grid samples, then predict: (positions, velocities (n, H, 3), std
        (n, H, 3) or None, statuses)."""
        ...
