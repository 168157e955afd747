"""`TrackBank`: many tracks (vehicles) over one `StreamingPredictor`, batched per tick.

The single prediction path shared by the ROS node, the bag replay and the offline evaluation::

    bank = TrackBank(StreamingPredictor(), PreprocessConfig(rate=10.0))
    bank.push("uav1", stamp, position)          # raw samples, any track, any order of tracks
                                                # (+ velocity=... with velocity_source "twist",
                                                #  noise=... a supplied measurement-noise level, m)
    result = bank.tick(now)                     # -> TickResult: events, batch, predictions

`push` runs the track's `OnlineResampler` (O(1)) and queues the grid samples it completes; nothing
touches the network there. With the default preprocessing (velocities from positions, no smoothing) and the
C extension built, each track's resampler, noise estimate and checks run in their C twin
(kernels/trackcore.c `StreamCore`, `c_core=True`): the same steps in the same order with the same
arithmetic, so the same events, queued grid samples and predictions bit for bit (test_core_trackcore.py),
at a fraction of the Python reference's cost per raw sample (docs/nodes.md); the Python path stays the
reference and runs for the other settings, with `c_core=False` or without a C compiler.
`tick` drops stale tracks (freeing their predictor slots), resets the predictor state of tracks whose
stream broke, then advances every due track by its queued grid velocities and predicts for them all in one
batched `predictor.advance` call (one call of the predictor's C path where built, else rounds of batched
steps, then one batched prediction).

Noise level: each grid sample carries the track's measurement-noise level, which the network reads and
the guard's IMM uses as R. By default it is the online estimate from the raw positions
(`data.noise.PositionJitter`, per segment); a sample pushed with `noise` (e.g. sqrt of the mean position
variance of a supplied covariance, `data.noise.covariance_level`) sets the level to that value instead,
for this and later samples, until the track's stream breaks (a reset) or another supplied value
replaces it. A non-finite or non-positive `noise` is not a level (the estimate stays in use).

Bad input never raises: non-finite samples and duplicate / slightly out-of-order stamps are ignored,
gaps, time jumping back and teleports (implied speed > max_speed) reset the track; each is reported
as a `TrackEvent`. A track makes no prediction before it has one grid velocity; until it has the
model's `min_history` velocities its predictions are constant velocity flagged "warming_up".
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..data import noise as _noise
from ..data import attitude as _attitude_data
from ..data.attitude import ThrustAxis, orientation_at, unit_quaternion
from ..frames import QUATERNION_TOLERANCE
from ..data.preprocess import (GAP_HISTORY, LOW_RATE_GAP_CAP, LOW_RATE_GAP_FACTOR, MIN_INTERVAL_SAMPLES,
                               PreprocessConfig)
from .prediction import (EVENT_DROPPED, EVENT_IGNORED, EVENT_NEW, EVENT_RESET, REASON_TELEPORT,
                         REASON_TIMEOUT, REASON_TRACK_LIMIT, STATUSES, Prediction, PredictionBatch, Predictor,
                         TrackEvent)
from ..data.noise import PositionJitter
from .resampler import (IGNORED_DUPLICATE, IGNORED_NON_FINITE, IGNORED_OUT_OF_ORDER, RESET_GAP, RESET_MANUAL,
                        RESET_TIME_BACKWARDS, OnlineResampler, as_xyz)

try:                   # the C twins (kernels/trackcore.c) of a raw sample's path and of `_attitude`,
    from ..kernels._cstream import AttitudeCore, StreamCore      # when the extension was built
except ImportError:
    AttitudeCore = StreamCore = None
# AttitudeCore's constants, from their one source
ATTITUDE_CONSTANTS = (_attitude_data.G, _attitude_data.MIN_SAMPLES, _attitude_data.RATE, _attitude_data.SLOPE_RANGE,
                      _attitude_data.MIN_SPREAD, _attitude_data.MAX_TILT_COS, _attitude_data.MIN_WEIGHT,
                      _attitude_data.MIN_TILT_SPREAD, QUATERNION_TOLERANCE)
# StreamCore's reason codes, and the constants it takes from their one source (data/preprocess.py, data/noise.py)
CORE_RESETS = (None, RESET_GAP, RESET_TIME_BACKWARDS, RESET_MANUAL)
CORE_IGNORED = (None, IGNORED_NON_FINITE, IGNORED_DUPLICATE, IGNORED_OUT_OF_ORDER)
CORE_CONSTANTS = (GAP_HISTORY, LOW_RATE_GAP_FACTOR, LOW_RATE_GAP_CAP, MIN_INTERVAL_SAMPLES, _noise.RATE,
                  _noise.LOG_FLOOR_M, _noise.PRIOR_M, _noise.LOG_OFFSET, _noise.MIN_SAMPLES, _noise.MIN_RATE_COUNT)


REFUSED_IDS_REMEMBERED = 1024   # refused track ids kept to report each once (bounded whatever is published)


@dataclass
class Track:
    """Per-track state: resampler, predictor slot and the grid samples queued since the last tick."""
    track_id: str
    slot: int
    resampler: OnlineResampler
    last_seen: float                         # `now` of the newest push (node clock), for the timeout
    history: int = 0                         # velocities stepped into the predictor since the reset
    needs_reset: bool = False                # predictor state must be zeroed before the next step
    queued_velocities: list = field(default_factory=list)   # (vx, vy, vz, noise m, ux, uy, uz[, ax, ay,
    #                                          available]) per grid sample (the attitude: `_attitude`)
    queued_samples: int = 0                  # grid samples queued (the first of a segment has no velocity)
    last_grid_stamp: float | None = None
    last_grid_position: tuple | None = None    # (x, y, z) of the newest grid sample
    status: str | None = None                # status of the latest prediction (None: none yet)
    last_reset: str | None = None
    resets: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)
    samples: int = 0                         # raw samples pushed
    predictions: int = 0
    jitter: PositionJitter = field(default_factory=PositionJitter)   # raw-position noise estimate, per segment
    supplied: float | None = None            # noise level (m) supplied with the samples of this segment, if any
    core: object = None                      # the C twin holding resampler, estimate and level (`resampler` and
    #                                          `jitter` are then this object too), or None: the Python path
    attitude: ThrustAxis | None = None       # the vehicle's thrust-axis estimate (data/attitude.py; its C twin
    #                                          AttitudeCore where the bank's c_attitude), from its first valid
    #                                          orientation on, kept across resets; None: no orientation seen
    raw_stamp: float = -math.inf             # stamp and unit orientation of the newest accepted raw sample (the
    raw_orientation: tuple | None = None     # orientation of the grid samples it precedes is interpolated from it)

    @property
    def supplied_noise(self) -> float | None:
        """The noise level (m) supplied with the samples of this segment, if any."""
        return self.supplied if self.core is None else self.core.supplied_noise

    @property
    def attitude_state(self) -> str:
        """Whether the attitude input is in use: "in_use" (its check passes), "checking" (orientations seen, the
        check not (or no longer) passed: data/attitude.py) or "none" (no orientation seen)."""
        if self.attitude is None:
            return "none"
        return "in_use" if self.attitude.available else "checking"

    @property
    def noise_level(self) -> float:
        """The measurement-noise level (m) the track's grid samples carry now: the supplied one, else the
        online estimate."""
        if self.core is not None:
            return self.core.noise_level
        return self.jitter.level if self.supplied is None else self.supplied


class TickResult:
    """One tick's output: `events`, `batch` (every prediction as arrays, None when there are none) and
    `predictions`, the same as one `Prediction` per track (views of the batch's arrays), built on first use:
    a consumer of the batch alone (predictor_node's batched output) never pays for building the per-track
    objects. `prediction(i)` builds row i alone."""

    __slots__ = ("events", "batch", "_rows", "_predictions")

    def __init__(self, events: list[TrackEvent], batch: PredictionBatch | None = None, rows: tuple | None = None):
        self.events, self.batch = events, batch
        self._rows = rows                 # (t0 floats, histories) per row, as TrackBank had them
        self._predictions = None

    def prediction(self, i: int) -> Prediction:
        """Row i of the batch as a `Prediction`."""
        b, (stamps, histories) = self.batch, self._rows
        return Prediction(b.track_ids[i], stamps[i], b.dt, b.positions[i], b.velocities[i],
                          None if b.position_std is None else b.position_std[i], b.statuses[i], b.model_id,
                          histories[i])

    @property
    def predictions(self) -> list[Prediction]:
        if self._predictions is None:
            b = self.batch
            if b is None:
                self._predictions = []
            else:
                dt, model_id, (stamps, histories) = b.dt, b.model_id, self._rows
                stds = [None] * len(b) if b.position_std is None else b.position_std
                self._predictions = [Prediction(track_id, t0, dt, p, v, s, status, model_id, history)
                                     for track_id, t0, p, v, s, status, history in
                                     zip(b.track_ids, stamps, b.positions, b.velocities, stds, b.statuses, histories)]
        return self._predictions


class TrackBank:
    """Per-track resampling + batched streaming prediction (see module doc)."""

    def __init__(self, predictor: Predictor, preprocess_cfg: PreprocessConfig | None = None, track_timeout: float = 2.0,
                 max_speed: float = 60.0, horizon_steps: int | None = None, max_backwards: float = 1.0,
                 max_tracks: int | None = None, c_core: bool = True):
        self.predictor = predictor
        self.cfg = preprocess_cfg if preprocess_cfg is not None else PreprocessConfig(rate=predictor.rate)
        if not np.isclose(self.cfg.rate, predictor.rate, rtol=1e-9, atol=0.0):
            raise ValueError(f"grid rate {self.cfg.rate:g} Hz differs from the checkpoint's {predictor.rate:g} Hz "
                             f"(model {predictor.model_id}): the model only works on its training grid")
        self.dt = 1.0 / predictor.rate
        self.horizon_steps = predictor.horizon_steps if horizon_steps is None else int(horizon_steps)
        if not 1 <= self.horizon_steps <= predictor.horizon_steps:
            raise ValueError(f"horizon_steps must be in 1..{predictor.horizon_steps} (the checkpoint's horizon), "
                             f"got {horizon_steps}")
        if not (track_timeout > 0 and max_speed > 0 and max_backwards > 0):
            raise ValueError("track_timeout, max_speed and max_backwards must be positive, got "
                             f"{track_timeout}, {max_speed}, {max_backwards}")
        self.track_timeout = float(track_timeout)
        if max_tracks is not None and (isinstance(max_tracks, bool) or int(max_tracks) != max_tracks
                                       or max_tracks < 1):
            raise ValueError(f"max_tracks must be a positive integer or None (no limit), got {max_tracks!r}")
        # new track ids beyond it are refused, never allocated (anyone on the DDS domain can publish on a
        # matching topic, docs/reliability.md): `refused_samples` counts them, and one "ignored"/"track_limit"
        # event is reported per refused id (ids remembered for that up to REFUSED_IDS_REMEMBERED, then anew)
        self.max_tracks = None if max_tracks is None else int(max_tracks)
        self.refused_samples = 0
        self._refused_ids: set[str] = set()
        self.max_speed = float(max_speed)
        self.max_backwards = float(max_backwards)
        self._step_speed_limit = float(predictor.MAX_SPEED)   # per-axis grid speed predictor.step takes
        # each raw sample through the C twin (kernels/trackcore.c; the same events and grid samples, tests) where
        # it is built and covers the preprocessing: velocities from positions, no smoothing
        self.c_core = bool(c_core and StreamCore is not None and self.cfg.velocity_source == "pose"
                           and self.cfg.smoothing is None)
        # orientations pushed with the samples are only read for a model with the attitude input
        self.uses_attitude = bool(getattr(predictor, "uses_attitude", False))
        # the attitude of the grid samples through its C twin (kernels/trackcore.c AttitudeCore: the same samples
        # bit for bit, test_core_attitude_c.py) where built and c_core; False (settable before the first push):
        # the Python reference
        self.c_attitude = bool(c_core and AttitudeCore is not None)
        self._spare_attitude = None              # see _attitude
        self.tracks: dict[str, Track] = {}
        self._events: list[TrackEvent] = []
        self._latest_now = -np.inf

    # ---- input -------------------------------------------------------------------------------
    def push(self, track_id: str, stamp: float, position, now: float | None = None, velocity=None,
             noise: float | None = None, orientation=None) -> int:
        """Queue one raw sample of `track_id` (created on first use); returns the grid samples it completed.

        `now` is the receive time on the caller's clock for the track timeout (default: the stamp).
        `velocity`: the sample's measured world-frame velocity, used (and required) when the bank's
        preprocessing has velocity_source "twist" (a non-finite one is ignored as "non_finite").
        `noise`: the sample's measurement-noise level (m) when the source supplies one (see the module
        doc); None, NaN, inf or <= 0: not supplied.
        `orientation`: the vehicle's orientation at the stamp (x, y, z, w; body to world, any body frame), read
        by a model with the attitude input (data/attitude.py: the grid samples then carry the attitude-implied
        acceleration and its availability); None, or a quaternion that is no rotation: not known (the grid
        samples around it carry none; the sample itself is used as usual).
        """
        stamp = float(stamp)
        now = stamp if now is None else float(now)
        track = self.tracks.get(track_id)
        if track is None:
            if self.max_tracks is not None and len(self.tracks) >= self.max_tracks:
                self._refuse(track_id, stamp)
                return 0
            track = self._add(track_id, now)
        track.samples += 1
        if math.isfinite(now):
            track.last_seen = max(track.last_seen, now)
            self._latest_now = max(self._latest_now, now)
        core = track.core
        # the attitude of the grid samples it completes: for a model that reads it, from the first orientation on
        attitude = self.uses_attitude and (orientation is not None or track.attitude is not None)
        if core is not None:                     # the same steps in C (kernels/trackcore.c)
            queue = track.queued_velocities
            before = len(queue)
            result = core.push(stamp, position, noise, queue)
            if result.__class__ is int:
                count = queued = result
                ignored = False
            else:
                count, queued = self._core_events(track, stamp, result)
                ignored = bool(result[1])
            if queued:
                track.queued_samples += queued
                track.last_grid_stamp, track.last_grid_position = core.last_grid
            if attitude and not ignored:
                self._attitude(track, stamp, orientation, before)
            return count
        xyz = as_xyz(position)
        resampler = track.resampler
        measured = as_xyz(velocity, "velocity") if resampler.twist else None
        teleport = self._is_teleport(resampler, stamp, xyz)
        if teleport:
            resampler.reset()
        reset, ignored, samples = resampler.consume(stamp, xyz, measured)
        if not ignored:                          # the noise estimate of the segment (data.preprocess's twin)
            if reset or teleport:
                track.jitter.restart()
                track.supplied = None
            track.jitter.add(stamp, xyz)
            if noise is not None and 0.0 < noise < math.inf:
                track.supplied = float(noise)
        self._report(track, stamp, reset, ignored, teleport)
        if samples and not self._usable(samples):   # overflow in the grid arithmetic, or beyond MAX_SPEED
            self._reset(track, IGNORED_NON_FINITE, stamp)
            resampler.reset()
        elif samples:
            noise, queue = (track.noise_level,), track.queued_velocities
            before = len(queue)
            for _, _, velocity, interval in samples:
                if velocity is not None:
                    queue.append(velocity + noise + interval)
            track.queued_samples += len(samples)
            track.last_grid_stamp, track.last_grid_position, _, _ = samples[-1]
            if attitude:
                self._attitude(track, stamp, orientation, before)
        elif attitude and not ignored:
            self._attitude(track, stamp, orientation, len(track.queued_velocities))
        return len(samples)

    def _attitude(self, track: Track, stamp: float, orientation, first: int) -> None:
        """The attitude of the grid samples queued from index `first` on (completed by the accepted raw sample
        at `stamp` with `orientation`): each gets (implied x, implied y, available) appended, from the
        orientation interpolated at its grid stamp between the previous raw sample's and this one's. Through
        AttitudeCore (which then holds the previous raw stamp and orientation) where `c_attitude`."""
        if self.c_attitude:
            core = track.attitude
            if core is None:                     # kept from the first valid orientation on; until then the trial
                #                                  core is the bank's spare (one that saw only invalid
                #                                  orientations holds no state: no allocation per such push)
                core = self._spare_attitude or AttitudeCore(ATTITUDE_CONSTANTS)
                self._spare_attitude = None
                if core.push(track.queued_velocities, first, track.last_grid_stamp, stamp, orientation, self.dt):
                    track.attitude = core
                else:
                    self._spare_attitude = core
            else:
                core.push(track.queued_velocities, first, track.last_grid_stamp, stamp, orientation, self.dt)
            return
        q = unit_quaternion(orientation)
        queue = track.queued_velocities
        if q is not None and track.attitude is None:
            track.attitude = ThrustAxis()
        axis = track.attitude
        if axis is not None and len(queue) > first:
            dt, last = self.dt, track.last_grid_stamp
            newest, t_a, q_a = len(queue) - 1, track.raw_stamp, track.raw_orientation
            for i in range(first, len(queue)):
                sample = queue[i]
                grid_stamp = last - (newest - i) * dt
                queue[i] = sample + axis.step(sample[:3], orientation_at(grid_stamp, t_a, q_a, stamp, q), dt)
        track.raw_stamp, track.raw_orientation = stamp, q

    def _core_events(self, track: Track, stamp: float, result: tuple) -> tuple[int, int]:
        """What the C twin's push reported beside its grid samples (reset, ignored, teleport, unusable, count),
        handled as the Python path handles it; returns (grid samples completed, grid samples queued: 0 when
        unusable)."""
        reset, ignored, teleport, unusable, count = result
        self._report(track, stamp, CORE_RESETS[reset], CORE_IGNORED[ignored], teleport)
        if unusable:                             # the core has reset itself, as the Python path's resampler.reset()
            self._reset(track, IGNORED_NON_FINITE, stamp)
            return count, 0
        return count, count

    def _report(self, track: Track, stamp: float, reset: str | None, ignored: str | None, teleport: bool) -> None:
        """The events of one raw sample, for both paths: an ignored sample is counted and reported, a
        resampler reset (or a teleport, which resets manually) resets the track."""
        if ignored:
            track.ignored[ignored] += 1
            self._events.append(TrackEvent(track.track_id, EVENT_IGNORED, ignored, stamp))
        if teleport and reset == RESET_MANUAL:
            self._reset(track, REASON_TELEPORT, stamp)
        elif reset and reset != RESET_MANUAL:    # a manual one was reported by reset()
            self._reset(track, reset, stamp)

    def _refuse(self, track_id: str, stamp: float) -> None:
        """A sample of a new track id while max_tracks exist: counted; the first one per id is reported."""
        self.refused_samples += 1
        if track_id not in self._refused_ids:
            if len(self._refused_ids) >= REFUSED_IDS_REMEMBERED:   # bounded memory whatever the ids
                self._refused_ids.clear()
            self._refused_ids.add(track_id)
            self._events.append(TrackEvent(track_id, EVENT_IGNORED, REASON_TRACK_LIMIT, stamp))

    def _add(self, track_id: str, now: float) -> Track:
        slot = int(self.predictor.add_tracks(1)[0])
        last_seen = now if math.isfinite(now) else -math.inf
        if self.c_core:
            core = StreamCore(self.cfg.dt, self.cfg.max_gap, self.max_backwards, self.max_speed,
                              self._step_speed_limit, CORE_CONSTANTS, as_xyz)
            track = Track(track_id, slot, core, last_seen=last_seen, jitter=core, core=core)
        else:
            resampler = OnlineResampler(self.cfg, max_backwards=self.max_backwards)
            track = Track(track_id, slot, resampler, last_seen=last_seen)
        self.tracks[track_id] = track
        self._events.append(TrackEvent(track_id, EVENT_NEW))
        return track

    def _usable(self, samples) -> bool:
        """Grid positions finite and velocities ones `predictor.step` takes (finite, within its MAX_SPEED;
        a new segment's first sample has no velocity). NaN and inf fail the comparisons."""
        limit = self._step_speed_limit
        for _, (x, y, z), velocity, interval in samples:
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
                return False
            if velocity is not None:
                vx, vy, vz = velocity
                ux, uy, uz = interval
                if not (-limit <= vx <= limit and -limit <= vy <= limit and -limit <= vz <= limit
                        and -limit <= ux <= limit and -limit <= uy <= limit and -limit <= uz <= limit):
                    return False
        return True

    def _is_teleport(self, resampler: OnlineResampler, stamp: float, xyz: list[float]) -> bool:
        """Implied speed from the last accepted raw sample above max_speed (within one segment)."""
        if resampler.last_stamp is None:
            return False
        step = stamp - resampler.last_stamp
        if not (0 < step <= resampler.gap_limit):
            return False
        x, y, z = xyz
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            return False                                 # the resampler ignores it as non-finite
        last_x, last_y, last_z = resampler.last_raw
        dx, dy, dz = x - last_x, y - last_y, z - last_z   # |p| near float max: inf distance, a jump
        return math.sqrt(dx * dx + dy * dy + dz * dz) > self.max_speed * step   # np.linalg.norm's arithmetic

    def _reset(self, track: Track, reason: str, stamp: float | None) -> None:
        if track.attitude is not None:           # a new segment: the estimate stays, its last grid sample goes
            track.attitude.restart()
        track.needs_reset = True
        track.history = 0
        track.queued_velocities.clear()
        track.queued_samples = 0
        track.last_grid_stamp = track.last_grid_position = None
        track.status = None
        track.last_reset = reason
        track.resets[reason] += 1
        self._events.append(TrackEvent(track.track_id, EVENT_RESET, reason, stamp))

    # ---- tick ----------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> TickResult:
        """Drop stale tracks, advance all tracks with queued grid samples, predict for them (batched).

        `now` (caller's clock, default: the newest `now` pushed) decides the track timeout.
        """
        now = self._latest_now if now is None else float(now)
        self._drop_stale(now)
        due = [track for track in self.tracks.values() if track.queued_samples]
        self._apply_resets(due)
        batch, rows = self._advance(due)
        for track in due:
            track.queued_samples = 0
        events, self._events = self._events, []
        return TickResult(events, batch, rows)

    def _drop_stale(self, now: float) -> None:
        stale = [track for track in self.tracks.values() if now - track.last_seen > self.track_timeout]
        if stale:
            self.predictor.remove_tracks(np.array([track.slot for track in stale]))
        for track in stale:
            del self.tracks[track.track_id]
            self._events.append(TrackEvent(track.track_id, EVENT_DROPPED, REASON_TIMEOUT))

    def _apply_resets(self, due: list[Track]) -> None:
        resetting = [track for track in self.tracks.values() if track.needs_reset]
        if resetting:
            self.predictor.reset(np.array([track.slot for track in resetting]))
        for track in resetting:
            track.needs_reset = False

    def _advance(self, due: list[Track]) -> tuple[PredictionBatch | None, tuple | None]:
        """One batched `predictor.advance` over the due tracks that have (or now get) a velocity: the batch of
        their predictions and (stamps, histories) as lists (`TickResult` builds per-track `Prediction`s from
        them when asked). What the batch needs from each track is read in the first pass (plain lists), and
        each queue is cleared in the second, which also records each track's status."""
        tracks, ids, stamps, histories = [], [], [], []
        for track in due:
            track.history += len(track.queued_velocities)
            if track.history > 0:               # an empty queue otherwise: nothing to clear
                tracks.append(track)
                ids.append(track.track_id)
                stamps.append(track.last_grid_stamp)
                histories.append(track.history)
        if not tracks:
            return None, None
        positions, velocities, std, statuses = self.predictor.advance(
            [track.slot for track in tracks], [track.queued_velocities for track in tracks],
            [track.last_grid_position for track in tracks])
        horizon = self.horizon_steps
        positions, velocities = positions[:, :horizon], velocities[:, :horizon]
        std = None if std is None else std[:, :horizon]
        statuses = [status if status in STATUSES else str(status) for status in statuses]
        for track, status in zip(tracks, statuses):
            track.queued_velocities.clear()
            track.status = status
            track.predictions += 1
        batch = PredictionBatch(ids, np.array(stamps, np.float64), self.dt, positions, velocities, std, statuses,
                                self.predictor.model_id)
        return batch, (stamps, histories)

    # ---- management ----------------------------------------------------------------------------
    def reset(self, track_id: str, reason: str) -> None:
        """Drop a track's history (e.g. its frame changed); reported as a reset event with `reason`."""
        track = self.tracks.get(track_id)
        if track is not None:
            track.resampler.reset()
            self._reset(track, reason, None)

    def remove(self, track_id: str) -> None:
        """Forget a track now and free its predictor slot (no event)."""
        track = self.tracks.pop(track_id, None)
        if track is not None:
            self.predictor.remove_tracks(np.array([track.slot]))

    def __len__(self) -> int:
        return len(self.tracks)

    def __contains__(self, track_id: str) -> bool:
        return track_id in self.tracks
