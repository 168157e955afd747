"""Streaming interacting multiple model (IMM) and Kalman filters over grid positions, batched over tracks.

The classical predictors a tracking engineer would try, in the one core: `uav-traj evaluate` runs them
as the "imm" and "akf" anchors (evaluate.imm streams one over each segment) and the model's guard
(model/guard.py) runs one beside the network on every track.

State per mode: [p, v, a] per axis on the joint 3-D state (9 values, full 9x9 covariance). Modes:
* "cv": constant velocity, white-acceleration process noise of PSD q_a (m^2/s^3); its acceleration
  state is held at zero (transition row of zeros, no process noise on it).
* "ca": constant acceleration, white-jerk process noise of PSD q_j (m^2/s^5).
IMM (Bar-Shalom): per step mixing of the mode estimates with the Markov transition matrix
[[p_stay, 1 - p_stay], [1 - p_stay, p_stay]], per-mode Kalman update, mode probabilities from the
Gaussian likelihood of the innovation; a track's first measurement z_0 initialises it: state (z_0, 0, 0)
with P_0 = diag(R, 5^2, 10^2) per axis, mode probabilities uniform. Forecast = the mode-probability-
weighted mode forecasts (no switching inside the horizon); its per-axis std = sqrt of the diagonal of the
mixture covariance of the forecast (mode covariances propagated with process noise, plus the spread of
the mode means). A single mode is a plain Kalman filter.

Measurement noise R = r I with r given per measurement (the online noise estimate squared plus a floor
squared, `measurement_variance`). A measurement d > 1 grid steps after the previous one (a tick that
advanced several grid samples) is one step of d dt: F^d, the process noise accumulated over d steps and
the Markov matrix to the power d. Batched over n tracks with numpy (for one track about 0.1 ms per
update; for evaluation and the opt-in guard, not the 16 us hot path).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INIT_VELOCITY_STD = 5.0       # m/s
INIT_ACCEL_STD = 10.0         # m/s^2

# Defaults of the adaptive filters `uav-traj evaluate` runs as "akf" and "imm" (and the guard's partner):
# chosen on simulated flights seen through the training measurement mixture (bench/tune_classical.py), never
# on the real flights. (`cd /tmp && python bench/tune_classical.py --flights 24 --duration 40 --seed 4242`, at
# 91cd5b6: akf 0.834, imm 0.712 as the geometric mean of ADE / CV ADE; the optima sit at the low-process-noise
# edge of the grids.)
AKF_DEFAULTS = dict(modes=("ca",), q_jerk=1.0, sigma_floor=0.0005)
IMM_DEFAULTS = dict(modes=("cv", "ca"), q_accel=0.03, q_jerk=3.0, p_stay=0.9, sigma_floor=0.001)


@dataclass(frozen=True)
class FilterConfig:
    """Modes and tuning of an `IMMBank` (see module doc); ValueError when inconsistent."""
    modes: tuple = ("cv", "ca")
    q_accel: float = 10.0
    q_jerk: float = 1000.0
    p_stay: float = 0.95
    sigma_floor: float = 0.002
    init_velocity_std: float = INIT_VELOCITY_STD
    init_accel_std: float = INIT_ACCEL_STD

    def __post_init__(self):
        modes = tuple(self.modes)
        object.__setattr__(self, "modes", modes)
        if not modes or any(mode not in ("cv", "ca") for mode in modes):
            raise ValueError(f"modes must be a non-empty sequence of 'cv' / 'ca', got {self.modes!r}")
        if not (0.0 < self.p_stay < 1.0) and len(modes) > 1:
            raise ValueError(f"p_stay must be in (0, 1), got {self.p_stay}")
        values = (self.q_accel, self.q_jerk, self.sigma_floor, self.init_velocity_std, self.init_accel_std)
        if not all(np.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"process noise, floor and initial stds must be finite and >= 0, got {values}")

    def measurement_variance(self, sigma) -> np.ndarray:
        """r = sigma^2 + floor^2 of noise estimates sigma (m; NaN: 0)."""
        sigma = np.nan_to_num(np.asarray(sigma, np.float64), nan=0.0)
        return sigma**2 + self.sigma_floor**2


def axis_models(dt: float):
    """Per-axis transition and unit process-noise matrices of the two modes."""
    f_cv = np.array([[1.0, dt, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    q_cv = np.array([[dt**3 / 3, dt**2 / 2, 0.0], [dt**2 / 2, dt, 0.0], [0.0, 0.0, 0.0]])
    f_ca = np.array([[1.0, dt, 0.5 * dt * dt], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    q_ca = np.array([[dt**5 / 20, dt**4 / 8, dt**3 / 6], [dt**4 / 8, dt**3 / 3, dt**2 / 2],
                     [dt**3 / 6, dt**2 / 2, dt]])
    return {"cv": (f_cv, q_cv), "ca": (f_ca, q_ca)}


def joint(block: np.ndarray) -> np.ndarray:
    """A per-axis 3x3 matrix as the 9x9 matrix of the joint state ordered [p(3), v(3), a(3)]."""
    return np.kron(block, np.eye(3))


def _inverse3(s: np.ndarray):
    """Inverse, log-determinant and validity (det > 0, finite) of symmetric 3x3 matrices (..., 3, 3) by
    cofactors (kernels/cstream.c's arithmetic); invalid ones give the identity and 0."""
    a, b, c = s[..., 0, 0], s[..., 0, 1], s[..., 0, 2]
    d, e, f = s[..., 1, 0], s[..., 1, 1], s[..., 1, 2]
    g, h, i = s[..., 2, 0], s[..., 2, 1], s[..., 2, 2]
    c00, c01, c02 = e * i - f * h, f * g - d * i, d * h - e * g
    det = a * c00 + b * c01 + c * c02
    ok = (det > 0) & np.isfinite(det)
    safe = np.where(ok, det, 1.0)
    inverse = np.stack([c00, c * h - b * i, b * f - c * e, c01, a * i - c * g, c * d - a * f,
                        c02, b * g - a * h, a * e - b * d], axis=-1) / safe[..., None]
    inverse = np.where(ok[..., None], inverse, np.eye(3).reshape(9)).reshape(s.shape)
    return inverse, np.log(safe), ok


class IMMBank:
    """One IMM (or Kalman filter, one mode) per slot 0..capacity-1 (see module doc).

    `update(indices, grid_index, z, r)` takes each track's new grid position; `forecast(indices)` returns
    the horizon means and stds. Slots follow `grow(capacity)` / `reset(indices)` (a `TrackSlots` listener).
    """

    def __init__(self, dt: float, horizon: int, capacity: int = 1, config: FilterConfig | None = None, **tuning):
        self.config = config if config is not None else FilterConfig(**tuning)
        self.dt, self.horizon = float(dt), int(horizon)
        cfg, models = self.config, axis_models(self.dt)
        self.n_modes = m = len(cfg.modes)
        q = {"cv": cfg.q_accel, "ca": cfg.q_jerk}
        self._f = np.stack([joint(models[mode][0]) for mode in cfg.modes])                 # (M, 9, 9)
        self._q = np.stack([joint(models[mode][1]) * q[mode] for mode in cfg.modes])
        transition = np.full((m, m), (1.0 - cfg.p_stay) / max(m - 1, 1))
        np.fill_diagonal(transition, cfg.p_stay if m > 1 else 1.0)
        self._transition = transition
        # forecast operators: position rows of F^j and the process-noise spread over j steps (diagonal)
        self._forecast = np.stack([np.stack([np.linalg.matrix_power(f, j)[:3] for j in range(1, horizon + 1)])
                                   for f in self._f])                                      # (M, H, 3, 9)
        spread = np.zeros((m, horizon, 3))
        for mode, (f, qm) in enumerate(zip(self._f, self._q)):
            total = np.zeros((9, 9))
            for j in range(horizon):
                total = f @ total @ f.T + qm
                spread[mode, j] = np.diagonal(total)[:3]
        self._spread = spread
        self._steps = {1: (self._f, self._q, transition)}
        self._x = np.zeros((capacity, m, 9))
        self._p = np.zeros((capacity, m, 9, 9))
        self._mu = np.full((capacity, m), 1.0 / m)
        self._k = np.full(capacity, -1, np.int64)            # grid index of the last measurement (-1: none)

    # ---- slots ---------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return len(self._k)

    def grow(self, capacity: int) -> None:
        old = self.capacity

        def extend(array, fill):
            out = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
            out[:old] = array
            return out
        self._x, self._p = extend(self._x, 0.0), extend(self._p, 0.0)
        self._mu, self._k = extend(self._mu, 1.0 / self.n_modes), extend(self._k, -1)

    def reset(self, indices) -> None:
        """Forget tracks: their next measurement initialises them."""
        self._k[np.asarray(indices, np.int64)] = -1

    # ---- filtering -----------------------------------------------------------------------------
    def update(self, indices, grid_index, z, r) -> None:
        """Measurements z (n, 3) m with variance r (n,) m^2 at grid indices (n,) of tracks `indices` (n,
        distinct): a track's first one initialises it, a later one (grid index above its last) is one
        filter step of (grid index - last) dt; one at or below its last grid index is ignored."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        grid_index = np.asarray(grid_index, np.int64).reshape(len(indices))
        z = np.asarray(z, np.float64).reshape(len(indices), 3)
        r = np.asarray(r, np.float64).reshape(len(indices))
        last = self._k[indices]
        fresh = last < 0
        if fresh.any():
            self._initialise(indices[fresh], z[fresh], r[fresh])
        gaps = np.where(fresh, 0, grid_index - last)
        for gap in np.unique(gaps[gaps > 0]).tolist():
            rows = np.flatnonzero(gaps == gap)
            self._step(indices[rows], int(gap), z[rows], r[rows])
        moved = fresh | (gaps > 0)
        self._k[indices[moved]] = grid_index[moved]

    def _initialise(self, slots: np.ndarray, z: np.ndarray, r: np.ndarray) -> None:
        cfg = self.config
        x = np.zeros((len(slots), 9))
        x[:, :3] = z
        p = np.zeros((len(slots), 9, 9))
        diagonal = np.arange(9)
        p[:, diagonal[:3], diagonal[:3]] = r[:, None]
        p[:, diagonal[3:6], diagonal[3:6]] = cfg.init_velocity_std ** 2
        p[:, diagonal[6:], diagonal[6:]] = cfg.init_accel_std ** 2
        self._x[slots] = x[:, None]
        self._p[slots] = p[:, None]
        self._mu[slots] = 1.0 / self.n_modes

    def _step_operators(self, gap: int):
        """(F^gap, process noise over gap steps, Markov matrix^gap) per mode, cached."""
        if gap not in self._steps:
            f1, q1, _ = self._steps[1]
            f, q = np.empty_like(f1), np.empty_like(q1)
            for mode in range(self.n_modes):
                total, power = np.zeros((9, 9)), np.eye(9)
                for _ in range(gap):
                    total = f1[mode] @ total @ f1[mode].T + q1[mode]
                    power = f1[mode] @ power
                f[mode], q[mode] = power, total
            self._steps[gap] = (f, q, np.linalg.matrix_power(self._transition, gap))
        return self._steps[gap]

    def _step(self, slots: np.ndarray, gap: int, z: np.ndarray, r: np.ndarray) -> None:
        with np.errstate(all="ignore"):                  # non-finite results are recovered below
            self._step_rows(slots, gap, z, r)

    def _step_rows(self, slots: np.ndarray, gap: int, z: np.ndarray, r: np.ndarray) -> None:
        f, q, transition = self._step_operators(gap)
        x, p, mu = self._x[slots], self._p[slots], self._mu[slots]           # (n, M, 9), (n, M, 9, 9), (n, M)
        m = self.n_modes
        if m > 1:
            predicted = mu @ transition                                      # c_j = sum_i p_ij mu_i
            weights = transition[None] * mu[:, :, None] / predicted[:, None, :]   # mu_{i|j}  (n, i, j)
            mixed_x = np.einsum("nij,nia->nja", weights, x)
            d = x[:, :, None, :] - mixed_x[:, None, :, :]                     # (n, i, j, 9)
            spread = p[:, :, None] + d[..., :, None] * d[..., None, :]
            mixed_p = np.einsum("nij,nijab->njab", weights, spread)
        else:
            predicted, mixed_x, mixed_p = mu, x, p
        x = np.einsum("mab,nmb->nma", f, mixed_x)
        p = f[None] @ mixed_p @ np.swapaxes(f, -1, -2)[None] + q[None]
        s = p[..., :3, :3] + r[:, None, None, None] * np.eye(3)
        innovation = z[:, None, :] - x[..., :3]                              # (n, M, 3)
        inverse, logdet, ok = _inverse3(s)
        gain = np.swapaxes(p[..., :3, :], -1, -2) @ inverse                 # P H^T S^-1
        x = x + (gain @ innovation[..., None])[..., 0]
        p = p - gain @ p[..., :3, :]
        p = 0.5 * (p + np.swapaxes(p, -1, -2))
        if m > 1:
            maha = (innovation * (inverse @ innovation[..., None])[..., 0]).sum(axis=-1)
            logs = -0.5 * (maha + logdet + 3 * np.log(2 * np.pi)) + np.log(np.maximum(predicted, 1e-300))
            logs -= logs.max(axis=1, keepdims=True)
            mu = np.exp(logs)
            mu /= mu.sum(axis=1, keepdims=True)
        self._x[slots], self._p[slots], self._mu[slots] = x, p, mu
        # Recovery: a step that left a non-finite or degenerate filter (positions near the float range, a
        # broken covariance) restarts that track's filter at its measurement (kernels/cstream.c does the same).
        broken = ~(ok.all(axis=1) & np.isfinite(x).all(axis=(1, 2)) & np.isfinite(p).all(axis=(1, 2, 3))
                   & np.isfinite(mu).all(axis=1))
        if broken.any():
            self._initialise(slots[broken], z[broken], r[broken])

    def forecast(self, indices, with_std: bool = True):
        """Horizon means (n, H, 3) m of tracks that have a measurement, and their per-axis stds (n, H, 3)
        (None unless `with_std`)."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        x, mu = self._x[indices], self._mu[indices]
        means = np.einsum("mhab,nmb->nmha", self._forecast, x)               # (n, M, H, 3)
        combined = np.einsum("nm,nmha->nha", mu, means)
        if not with_std:
            return combined, None
        p = self._p[indices]
        diag = np.einsum("mhij,nmjk,mhik->nmhi", self._forecast, p, self._forecast) + self._spread[None]
        variance = np.einsum("nm,nmha->nha", mu, diag + (means - combined[:, None]) ** 2)
        return combined, np.sqrt(np.maximum(variance, 1e-18))
