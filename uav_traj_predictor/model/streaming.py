"""`StreamingPredictor`: many tracks, one recurrent step per new grid velocity, one-shot horizon.

Per track the predictor keeps the GRU hidden state, the last grid velocity and the number of
velocities seen. `predict` turns the top hidden state into future positions
p_k + j dt v_k + residual_j and per-axis stds. Until a track has `min_history` velocities (or if the
network ever returned non-finite values) it returns constant-velocity extrapolation with the
checkpoint's constant-velocity error std, and `status()` says so ("warming_up" / "fallback_cv").
The network's std is further scaled per track and axis by `OnlineCalibration` (model/calibration.py),
learnt online from the track's own matured predictions (`online_calibration` = its rate, 0 = off).
"""
from __future__ import annotations

import bisect
import math

import numpy as np
import torch

from .calibration import OnlineCalibration, calibrate_segment
from .checkpoint import load_checkpoint
from .network import LOG_STD_MAX, LOG_STD_MIN
from .recurrence import fused_plan, fused_update, make_stepper

TRACKING, WARMING_UP, FALLBACK_CV = "tracking", "warming_up", "fallback_cv"
# per-axis grid speed limit, m/s: far beyond any vehicle, and keeps the float32 network inputs finite
MAX_SPEED = 1e6


class StreamingPredictor:
    """Batched streaming inference over a checkpoint (None = the shipped default)."""

    MAX_SPEED = MAX_SPEED

    def __init__(self, checkpoint=None, backend: str = "auto", device: str = "cpu",
                 min_history: int | None = None, capacity: int = 8, online_calibration: float = 0.0,
                 fused: bool = True):
        self.model, self.meta = load_checkpoint(checkpoint)
        meta = self.meta
        self.rate = float(meta["rate"])
        self.dt = float(meta["dt"])
        self.horizon_steps = int(meta["horizon_steps"])
        self.min_history = int(meta["min_history"] if min_history is None else min_history)
        self.model_id = str(meta["model_id"])
        self.backend = backend
        self._stepper = make_stepper(self.model.gru, capacity, backend, device)
        self._load_head()
        self._active = np.zeros(capacity, bool)
        self._count = np.zeros(capacity, np.int64)
        self._last_velocity = np.zeros((capacity, 3), np.float64)
        self._top = np.zeros((capacity, self.model.arch.hidden), np.float32)
        self._status = np.full(capacity, WARMING_UP, dtype=object)
        self._online = OnlineCalibration(capacity, self.horizon_steps, online_calibration)
        self._fused = self._fused_plan() if fused else None     # fused=False: always the numpy calls

    def _load_head(self) -> None:
        model = self.model
        first, last = model.head[0], model.head[2]
        self._w1 = first.weight.detach().numpy().T.astype(np.float32).copy()
        self._b1 = first.bias.detach().numpy().astype(np.float32)
        self._w2 = last.weight.detach().numpy().T.astype(np.float32).copy()
        self._b2 = last.bias.detach().numpy().astype(np.float32)
        inv_velocity_scale = (1.0 / model.velocity_scale).numpy().astype(np.float32)
        inv_accel_scale = (1.0 / (self.dt * model.accel_scale)).numpy().astype(np.float32)
        self._accel_inputs = model.arch.input_features == 6
        self._inv_feature_scale = np.concatenate([inv_velocity_scale, inv_accel_scale][:1 + self._accel_inputs])
        # features of velocities within MAX_SPEED cannot overflow float32 with these scales: no check per step
        largest = max(np.abs(inv_velocity_scale).max(), np.abs(inv_accel_scale).max() * 2)
        self._features_always_finite = bool(np.isfinite(largest) and largest * MAX_SPEED < 1e37)
        # head post-processing on the flat output [residual (H, 3) | log std (H, 3)], float64, one column each
        per_column = lambda a: np.repeat(a.numpy().astype(np.float64), 3, axis=-1)   # (..., H) -> (..., H * 3)
        residual_scale, calibration = per_column(model.residual_scale), per_column(model.std_calibration)
        no_bound = np.full_like(residual_scale, np.inf)
        self._head_low = np.concatenate([-no_bound, np.full_like(residual_scale, LOG_STD_MIN)])
        self._head_high = np.concatenate([no_bound, np.full_like(residual_scale, LOG_STD_MAX)])
        self._log_residual_scale = np.log(residual_scale)
        self._head_scale = np.concatenate([residual_scale, calibration])
        self._speed_edges = model.speed_edges.numpy().astype(np.float64)
        self._speed_edge_list = self._speed_edges.tolist()
        self._speed_factor = per_column(model.speed_calibration)          # (bins, H * 3)
        self._cv_std = np.repeat(np.asarray(self.meta["cv_std"], np.float64)[:, None], 3, axis=1)
        self._steps_dt = np.arange(1, self.horizon_steps + 1, dtype=np.float64)[:, None] * self.dt
        self._steps0_dt = np.arange(self.horizon_steps + 1, dtype=np.float64)[:, None] * self.dt   # 0, dt, ...

    def _fused_plan(self):
        """The C path (kernels/cstream.c) for the CPU backends that pick the fastest path ("auto"/"cpu"
        on a CPU), None otherwise or when the extension is not built."""
        if self._stepper.backend != "cpu" or not isinstance(self._stepper.state, np.ndarray):
            return None
        head = (self._w1, self._b1, self._w2, self._b2)
        post = (self._head_low, self._head_high, self._log_residual_scale, self._head_scale, self._speed_edges,
                self._speed_factor)
        return fused_plan(self._stepper.weights, self._inv_feature_scale, head, post, self.dt)

    @property
    def fused(self) -> bool:
        """Whether `advance` runs the C path for a few tracks (else always `step` and `predict`)."""
        return self._fused is not None and not self._online.enabled and self._features_always_finite

    # ---- track management -------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return len(self._active)

    @property
    def active_tracks(self) -> int:
        """Number of allocated (not removed) tracks."""
        return int(np.count_nonzero(self._active))

    def _grow(self, capacity: int) -> None:
        old = self.capacity
        self._stepper.ensure_capacity(capacity)

        def extend(array, fill):
            out = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
            out[:old] = array
            return out
        self._active = extend(self._active, False)
        self._count = extend(self._count, 0)
        self._last_velocity = extend(self._last_velocity, 0.0)
        self._top = extend(self._top, 0.0)
        self._status = extend(self._status, WARMING_UP)
        self._online.grow(capacity)

    def add_tracks(self, n: int) -> np.ndarray:
        """Allocate `n` fresh tracks (zero state) and return their indices."""
        free = np.flatnonzero(~self._active)
        if len(free) < n:
            self._grow(max(2 * self.capacity, self.capacity + n - len(free)))
            free = np.flatnonzero(~self._active)
        indices = free[:n]
        self._active[indices] = True
        self.reset(indices)
        return indices

    def remove_tracks(self, indices) -> None:
        """Free tracks; their indices may be handed out again by `add_tracks`."""
        indices = self._checked(indices)
        self._active[indices] = False

    def reset(self, indices) -> None:
        """Forget the history of tracks (after a gap or a time jump): zero state, warming up again."""
        indices = self._checked(indices)
        self._stepper.reset(indices)
        self._count[indices] = 0
        self._last_velocity[indices] = 0.0
        self._top[indices] = 0.0
        self._status[indices] = WARMING_UP
        self._online.reset(indices)

    @property
    def online_calibration(self) -> float:
        """Rate of the online std calibration (0: off)."""
        return self._online.rate

    def history(self, indices) -> np.ndarray:
        """Number of velocities each track has consumed since its last reset."""
        return self._count[self._checked(indices)].copy()

    def status(self, indices) -> list[str]:
        """Status of each track's latest prediction: "tracking", "warming_up" or "fallback_cv"."""
        return list(self._status[self._rows(self._checked(indices))])

    def _checked(self, indices) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1:
            indices = np.atleast_1d(indices)
        if indices.ndim == 1 and len(indices) <= 8:     # a few tracks: plain Python is cheaper
            capacity, active = self.capacity, self._active
            for i in indices.tolist():
                if not (0 <= i < capacity and active[i]):
                    break
            else:
                return indices
        elif not indices.size or (indices.min() >= 0 and indices.max() < self.capacity
                                  and self._active[indices].all()):
            return indices
        raise IndexError(f"track indices {indices.tolist()} include unknown or removed tracks")

    @staticmethod
    def _rows(indices: np.ndarray):
        """Rows of the per-track arrays for checked `indices`: a one-row slice for a single track
        (basic indexing, no gather / scatter copies), else the indices."""
        if indices.ndim == 1 and len(indices) == 1:
            first = int(indices[0])
            return slice(first, first + 1)
        return indices

    # ---- hot path --------------------------------------------------------------------------
    def step(self, indices, velocities) -> None:
        """Advance each track by one grid velocity (n, 3) m/s, world frame, in place."""
        indices = self._checked(indices)
        velocities = np.asarray(velocities, np.float64).reshape(len(indices), 3)
        if not _all_usable(velocities):
            raise ValueError(f"step(): velocity non-finite or above MAX_SPEED = {MAX_SPEED:g} m/s; "
                             "reset the track instead of feeding it")
        rows = self._rows(indices)
        features = self._features(rows, velocities)
        if not (self._features_always_finite or np.isfinite(features).all()):  # absurdly small scales only
            raise ValueError("step(): velocity features overflow float32; reset the track instead of feeding it")
        self._top[rows] = self._stepper.step(features, indices)
        self._last_velocity[rows] = velocities
        self._count[rows] += 1

    def advance(self, indices, velocity_lists, last_positions):
        """The streaming tick for n tracks in one batched call: track i is stepped with each velocity of
        velocity_lists[i] (a list of (x, y, z), in order, possibly empty), then predicted from
        last_positions[i]. Returns (positions, velocities, std) (n, H, 3) and the statuses, what rounds
        of `step` then `predict` return. For a few tracks (kernels' `fused_update(n)`, where `fused`)
        all of it runs in one call of the C path (kernels/cstream.c; the same to float32 rounding,
        tests), which leaves warming-up tracks and non-finite outputs to `predict`."""
        if self.fused and fused_update(len(indices)):
            return self._advance_fused(indices, velocity_lists, last_positions)
        indices = self._checked(indices)
        for round_index in range(max(map(len, velocity_lists), default=0)):
            rows = [i for i, velocities in enumerate(velocity_lists) if len(velocities) > round_index]
            self.step(indices[rows], [velocity_lists[i][round_index] for i in rows])
        positions, velocities, std = self.predict(indices, last_positions)
        return positions, velocities, std, list(self._status[indices])

    def _advance_fused(self, indices, velocity_lists, last_positions):
        n = len(indices)
        out, ready = np.empty((n, 3, self.horizon_steps, 3)), np.empty(n, bool)
        self._fused.advance(self._stepper.state, self._top, self._last_velocity, self._count, self._active,
                            indices, velocity_lists, last_positions, self.min_history, MAX_SPEED, out, ready)
        positions, velocities, std = out[:, 0], out[:, 1], out[:, 2]
        status = self._status
        if n == 1 and ready[0]:                           # the usual tick of a node: one track, tracking
            track = int(indices[0])
            status[track] = TRACKING
            return positions, velocities, std, [TRACKING]
        others = np.flatnonzero(~ready)                   # warming up, or a non-finite network output
        if len(others):
            index = np.asarray(indices, np.int64)[others]
            last = np.asarray(last_positions, np.float64).reshape(n, 3)[others]
            positions[others], velocities[others], std[others] = self.predict(index, last)
        for row in np.flatnonzero(ready).tolist():
            status[int(indices[row])] = TRACKING
        return positions, velocities, std, [status[int(i)] for i in indices]

    @staticmethod
    def usable_velocities(velocities) -> np.ndarray:
        """Mask of the rows of (n, 3) velocities that `step` takes: finite, each axis within MAX_SPEED."""
        velocities = np.asarray(velocities, np.float64).reshape(-1, 3)
        return (np.abs(velocities) <= MAX_SPEED).all(axis=1)     # NaN and inf fail the comparison

    def _features(self, rows, velocities: np.ndarray) -> np.ndarray:
        """float32 [v / velocity_scale | (v - previous v) / (dt accel_scale)] (n, 6), or the first half."""
        if not self._accel_inputs:
            return velocities.astype(np.float32) * self._inv_feature_scale
        features = np.empty((len(velocities), 6), np.float32)
        np.concatenate((velocities, self._last_velocity[rows]), axis=1, out=features, casting="same_kind")
        counts = self._count[rows]
        if np.count_nonzero(counts) < len(counts):   # a track's first velocity has none before: zero acceleration
            fresh = counts == 0
            features[fresh, 3:] = features[fresh, :3]
        np.subtract(features[:, :3], features[:, 3:], out=features[:, 3:])
        features *= self._inv_feature_scale
        return features

    def _head_flat(self, top: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """(n, 2 H 3) float64 [residual m | calibrated std m] ((H, 3) each, row-major) from top hidden states
        and last velocities."""
        hidden = np.matmul(top, self._w1)
        hidden += self._b1
        np.tanh(hidden, out=hidden)
        out = np.matmul(hidden, self._w2)
        out += self._b2
        out = out.astype(np.float64)
        np.maximum(out, self._head_low, out=out)       # clips the log std; the residual columns pass as they are
        np.minimum(out, self._head_high, out=out)
        std = out[:, out.shape[1] // 2:]
        std += self._log_residual_scale
        np.exp(std, out=std)
        out *= self._head_scale                        # residual * residual_scale | std * std_calibration
        std *= self._speed_factor[self._speed_bins(velocity)]
        return out

    def _head(self, top: np.ndarray, velocity: np.ndarray):
        """(residual (n, H, 3) m, calibrated std (n, H, 3) m) from top hidden states and last velocities."""
        return self._split(self._head_flat(top, velocity))

    def _speed_bins(self, velocity: np.ndarray):
        """Calibration bin of each track's speed |v| (searchsorted on the edges, side "left")."""
        if len(velocity) == 1:
            x, y, z = velocity[0].tolist()
            speed = math.sqrt(x * x + y * y + z * z)       # == np.linalg.norm's sum of squares
            if math.isfinite(speed):
                index = bisect.bisect_left(self._speed_edge_list, speed)
                return slice(index, index + 1)
        return np.searchsorted(self._speed_edges, np.linalg.norm(velocity, axis=1), side="left")

    def predict(self, indices, last_positions):
        """Horizon prediction from each track's state and last grid position (n, 3).

        Returns positions (n, H, 3), velocities (n, H, 3) and per-axis 1-sigma std (n, H, 3).
        """
        indices = self._checked(indices)
        rows = self._rows(indices)
        last = np.asarray(last_positions, np.float64).reshape(len(indices), 3)
        online = self._online.enabled and len(indices) > 1
        if online:                                        # score the predictions that targeted this grid sample
            grid_index = self._count[indices]
            self._online.observe(indices, grid_index, last)
        velocity = self._last_velocity[rows]
        steps = velocity[:, None, :] * self._steps0_dt        # [last, positions...] per track (v * 0 + last = last)
        steps += last[:, None, :]
        positions = steps[:, 1:]
        ready = self._count[rows] >= self.min_history
        if np.count_nonzero(ready) == len(ready):     # the usual case: every track's prediction from the network
            status = [TRACKING] * len(ready)
            out = self._head_flat(self._top[rows], velocity)
            ok = _finite_rows(out)
            residual, std = self._split(out)
            if ok is None:
                positions += residual
            else:
                std = self._fallback(positions, residual, std, np.arange(len(indices)), ok, status)
        else:
            status = [TRACKING if r else WARMING_UP for r in ready.tolist()]
            std = self._partly_ready(indices, np.flatnonzero(ready), positions, status)
        self._status[rows] = status
        if online:
            self._scale_online(indices, grid_index, status, positions, std)
        elif self._online.enabled and len(indices) == 1:  # one track: the same in one call
            track = int(indices[0])
            if status[0] == TRACKING:
                std[0] *= self._online.update_one(track, int(self._count[track]), last[0], positions[0], std[0])
            else:
                self._online.update_one(track, int(self._count[track]), last[0])
        velocities = np.subtract(steps[:, 1:], steps[:, :-1])     # np.diff's arithmetic
        velocities /= self.dt
        return positions, velocities, std

    def _partly_ready(self, indices, ready_rows, positions, status):
        """Some tracks still warming up: the cv std for all, the network's output for the ready ones."""
        std = np.empty_like(positions)
        std[:] = self._cv_std
        if len(ready_rows):
            selected = indices[ready_rows]
            out = self._head_flat(self._top[selected], self._last_velocity[selected])
            self._fallback(positions, *self._split(out), ready_rows, _finite_rows(out), status, std)
        return std

    def _split(self, out: np.ndarray):
        """Views (residual (n, H, 3), std (n, H, 3)) of a flat head output."""
        out = out.reshape(len(out), 2, self.horizon_steps, 3)
        return out[:, 0], out[:, 1]

    def _fallback(self, positions, residual, model_std, ready_rows, ok, status, std=None):
        """Network output for the `ok` ones of `ready_rows`, constant velocity with the cv std (and status
        "fallback_cv") for the others (`ok` None: all are); returns the std array."""
        if ok is None:
            ok = np.ones(len(ready_rows), bool)
        if std is None:
            std = np.empty_like(positions)
            std[:] = self._cv_std
        good = ready_rows[ok]
        positions[good] += residual[ok]
        std[good] = model_std[ok]
        for row in ready_rows[~ok].tolist():
            status[row] = FALLBACK_CV
        return std

    def _scale_online(self, indices, grid_index, status, positions, std) -> None:
        """Record the network's predictions for later scoring, then scale their std in place."""
        tracking = [row for row, state in enumerate(status) if state == TRACKING]
        if not tracking:
            return
        sel = slice(None) if len(tracking) == len(status) else np.array(tracking)
        selected = indices[sel]
        self._online.record(selected, grid_index[sel], positions[sel], std[sel])
        std[sel] *= self._online.scale(selected)[:, None, :]

    # ---- offline ---------------------------------------------------------------------------
    def predict_segment(self, segment):
        """Row k = prediction at grid index k from positions[:k+1] (NaN before `min_history` velocities).

        Same math as stepping a fresh track through the segment, but one GRU sequence pass; the
        segment's velocities (position differences, or measured ones for velocity_source "twist") are
        what a track is stepped with, and the online std calibration runs over the rows in order.
        """
        dt = getattr(segment, "dt", self.dt)
        if not np.isclose(dt, self.dt, rtol=1e-6):
            raise ValueError(f"segment grid dt {dt} s does not match the model's {self.dt} s "
                             f"({self.rate:g} Hz): preprocess at the model's rate")
        positions = np.asarray(segment.positions, np.float64)
        count, horizon = len(positions), self.horizon_steps
        out = np.full((count, horizon, 3), np.nan)
        std = np.full((count, horizon, 3), np.nan)
        if count > self.min_history:
            velocities = getattr(segment, "velocities", None)
            velocities = (np.diff(positions, axis=0) / self.dt if velocities is None
                          else np.asarray(velocities, np.float64))
            with torch.no_grad():
                top, _ = self.model.encode(torch.from_numpy(velocities.astype(np.float32))[None], self.dt)
            rows = np.arange(self.min_history, count)          # grid index k uses velocities[:k]
            residual, model_std = self._head(top[0].numpy()[rows - 1], velocities[rows - 1])
            out[rows] = positions[rows, None, :] + velocities[rows - 1, None, :] * self._steps_dt + residual
            std[rows] = model_std
            std = calibrate_segment(positions, out, std, horizon, self._online.rate)
        return _segment_prediction(out, std)


def _all_usable(velocities: np.ndarray) -> bool:
    """Every value finite and within MAX_SPEED (NaN and inf fail the comparison)."""
    if velocities.size <= 12:
        for v in velocities.ravel().tolist():
            if not -MAX_SPEED <= v <= MAX_SPEED:
                return False
        return True
    return bool((np.abs(velocities) <= MAX_SPEED).all())


def _finite_rows(out: np.ndarray) -> np.ndarray | None:
    """Mask of the rows (tracks) of a flat head output that are all finite, None when all are (the usual
    case, decided by one sum: a finite sum has finite terms)."""
    if math.isfinite(np.add.reduce(out, axis=None)):
        return None
    return np.isfinite(out).all(axis=1)


def _segment_prediction(positions, std):
    try:
        from ..evaluate.methods import SegmentPrediction
    except ImportError:   # evaluation room absent: a minimal stand-in with the same fields
        from types import SimpleNamespace as SegmentPrediction
    return SegmentPrediction(positions=positions, std=std)
