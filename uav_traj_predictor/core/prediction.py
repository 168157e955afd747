"""What the prediction core hands to its adapters: `Prediction`s and `TrackEvent`s (no rclpy, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class TrackEvent:
    """Something that happened to a track: a new track, a reset, an ignored sample, a removal."""
    track_id: str
    kind: str
    reason: str | None = None
    stamp: float | None = None   # stamp of the sample that caused it (None for timeouts)
