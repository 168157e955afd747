"""Interacting multiple model (IMM) filter and Kalman filters over grid positions: the classical
predictors a tracking engineer would try, with the measurement noise taken from the same online
noise estimate the model gets (`Segment.noise`, data/noise.py).

State per mode: [p, v, a] per axis on the joint 3-D state (9 values, full 9x9 covariance). Modes:
* "cv": constant velocity, white-acceleration process noise of PSD q_a (m^2/s^3); its acceleration
  state is held at zero (transition row of zeros, no process noise on it).
* "ca": constant acceleration, white-jerk process noise of PSD q_j (m^2/s^5).
IMM (Bar-Shalom): per step mixing of the mode estimates with the Markov transition matrix
[[p_stay, 1 - p_stay], [1 - p_stay, p_stay]], per-mode Kalman update, mode probabilities from the
Gaussian likelihood of the innovation; initial state (p_0, 0, 0) with P_0 = diag(R, 5^2, 10^2) per
axis, mode probabilities [0.5, 0.5]. Forecast at grid index k = the mode-probability-weighted mode
forecasts (no switching inside the horizon); its per-axis std = sqrt of the diagonal of the mixture
covariance of the forecast (mode covariances propagated with process noise, plus the spread of the
mode means). A single mode is a plain Kalman filter.

Measurement noise R_k = (sigma_k^2 + floor^2) I with sigma_k the segment's online noise estimate at
grid index k (`adaptive`), or a fixed sigma^2 I. Streaming: row k uses positions[:k+1] and
noise[:k+1] only. A plain loop per grid sample (about 60 us per step in numpy), fine for evaluation.
"""
from __future__ import annotations

import numpy as np

from ..core.prediction import SegmentPrediction

INIT_VELOCITY_STD = 5.0       # m/s
INIT_ACCEL_STD = 10.0         # m/s^2


def _axis_models(dt: float):
    """Per-axis transition and unit process-noise matrices of the two modes."""
    f_cv = np.array([[1.0, dt, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    q_cv = np.array([[dt**3 / 3, dt**2 / 2, 0.0], [dt**2 / 2, dt, 0.0], [0.0, 0.0, 0.0]])
    f_ca = np.array([[1.0, dt, 0.5 * dt * dt], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    q_ca = np.array([[dt**5 / 20, dt**4 / 8, dt**3 / 6], [dt**4 / 8, dt**3 / 3, dt**2 / 2],
                     [dt**3 / 6, dt**2 / 2, dt]])
    return {"cv": (f_cv, q_cv), "ca": (f_ca, q_ca)}


def _joint(block: np.ndarray) -> np.ndarray:
    """A per-axis 3x3 matrix as the 9x9 matrix of the joint state ordered [p(3), v(3), a(3)]."""
    return np.kron(block, np.eye(3))


class IMMPredictor:
    """IMM over CV/CA modes (or one mode: a Kalman filter) on the segment's grid positions."""

    def __init__(self, horizon: int = 10, modes=("cv", "ca"), q_accel: float = 10.0, q_jerk: float = 1000.0,
                 p_stay: float = 0.95, sigma: float | None = None, sigma_floor: float = 0.002,
                 adaptive: bool = True, name: str = "imm", init_velocity_std: float = INIT_VELOCITY_STD,
                 init_accel_std: float = INIT_ACCEL_STD):
        if not modes or any(mode not in ("cv", "ca") for mode in modes):
            raise ValueError(f"modes must be a non-empty sequence of 'cv' / 'ca', got {modes!r}")
        if not (0.0 < p_stay < 1.0) and len(modes) > 1:
            raise ValueError(f"p_stay must be in (0, 1), got {p_stay}")
        if not adaptive and not (sigma and sigma > 0):
            raise ValueError("a non-adaptive filter needs a measurement sigma > 0")
        self.horizon = int(horizon)
        self.modes = tuple(modes)
        self.q = {"cv": float(q_accel), "ca": float(q_jerk)}
        self.p_stay = float(p_stay)
        self.sigma = None if sigma is None else float(sigma)
        self.sigma_floor = float(sigma_floor)
        self.adaptive = bool(adaptive)
        self.name = name
        self.init_std = (float(init_velocity_std), float(init_accel_std))

    def describe(self) -> str:
        kinds = " + ".join(self.modes)
        noise = (f"R = (online noise estimate^2 + {self.sigma_floor:g}^2) I" if self.adaptive
                 else f"R = {self.sigma:g}^2 I")
        q = ", ".join(f"q_{'a' if m == 'cv' else 'j'} {self.q[m]:g}" for m in self.modes)
        kind = f"IMM ({kinds}, p_stay {self.p_stay:g})" if len(self.modes) > 1 else f"{kinds.upper()} Kalman filter"
        return f"{kind} on the joint 3-D state: {q}; {noise}; forecast = mode-weighted extrapolation"

    def _measurement_var(self, segment, count: int) -> np.ndarray:
        if self.adaptive:
            noise = getattr(segment, "noise", None)
            sigma = np.zeros(count) if noise is None else np.nan_to_num(np.asarray(noise, np.float64), nan=0.0)
            return sigma**2 + self.sigma_floor**2
        return np.full(count, self.sigma**2)

    def predict_segment(self, segment) -> SegmentPrediction:
        z = np.asarray(segment.positions, np.float64)
        dt = float(segment.dt)
        count, horizon = len(z), self.horizon
        out = np.full((count, horizon, 3), np.nan)
        std = np.full((count, horizon, 3), np.nan)
        if count == 0:
            return SegmentPrediction(out, std)
        models = _axis_models(dt)
        n_modes = len(self.modes)
        F = [_joint(models[m][0]) for m in self.modes]
        Q = [_joint(models[m][1]) * self.q[m] for m in self.modes]
        # forecast operators: position rows of F^j and the process-noise spread over j steps
        forecast = [np.stack([np.linalg.matrix_power(f, j)[:3] for j in range(1, horizon + 1)]) for f in F]
        spread = []
        for f, q in zip(F, Q):
            total, rows = np.zeros((9, 9)), []
            for _ in range(horizon):
                total = f @ total @ f.T + q
                rows.append(total[:3, :3])
            spread.append(np.stack(rows))
        transition = np.full((n_modes, n_modes), (1.0 - self.p_stay) / max(n_modes - 1, 1))
        np.fill_diagonal(transition, self.p_stay if n_modes > 1 else 1.0)
        r = self._measurement_var(segment, count)
        x0 = np.zeros(9)
        x0[:3] = z[0]
        p0 = np.diag(np.concatenate([np.full(3, r[0]), np.full(3, self.init_std[0] ** 2),
                                     np.full(3, self.init_std[1] ** 2)]))
        states = [x0.copy() for _ in range(n_modes)]
        covs = [p0.copy() for _ in range(n_modes)]
        mu = np.full(n_modes, 1.0 / n_modes)
        eye3 = np.eye(3)
        for k in range(count):
            if k > 0:
                if n_modes > 1:
                    predicted = transition.T @ mu                      # c_j = sum_i p_ij mu_i
                    weights = transition * mu[:, None] / predicted[None, :]   # mu_{i|j}
                    mixed_x = [sum(weights[i, j] * states[i] for i in range(n_modes)) for j in range(n_modes)]
                    mixed_p = []
                    for j in range(n_modes):
                        total = np.zeros((9, 9))
                        for i in range(n_modes):
                            d = states[i] - mixed_x[j]
                            total += weights[i, j] * (covs[i] + np.outer(d, d))
                        mixed_p.append(total)
                else:
                    predicted, mixed_x, mixed_p = mu, states, covs
                likelihood = np.empty(n_modes)
                new_states, new_covs = [], []
                for j in range(n_modes):
                    x = F[j] @ mixed_x[j]
                    p = F[j] @ mixed_p[j] @ F[j].T + Q[j]
                    s = p[:3, :3] + r[k] * eye3
                    innovation = z[k] - x[:3]
                    gain = np.linalg.solve(s, p[:3]).T                  # P H^T S^-1 (S symmetric)
                    x = x + gain @ innovation
                    p = p - gain @ p[:3]
                    p = 0.5 * (p + p.T)
                    new_states.append(x)
                    new_covs.append(p)
                    if n_modes > 1:
                        sign, logdet = np.linalg.slogdet(s)
                        maha = innovation @ np.linalg.solve(s, innovation)
                        likelihood[j] = -0.5 * (maha + logdet + 3 * np.log(2 * np.pi))
                states, covs = new_states, new_covs
                if n_modes > 1:
                    logs = likelihood + np.log(np.maximum(predicted, 1e-300))
                    logs -= logs.max()
                    mu = np.exp(logs)
                    mu /= mu.sum()
            means = [fc @ x for fc, x in zip(forecast, states)]                       # (H, 3) each
            combined = sum(m_ * mean for m_, mean in zip(mu, means))
            variance = np.zeros((horizon, 3))
            for weight, fc, x, p, extra, mean in zip(mu, forecast, states, covs, spread, means):
                diag = np.einsum("hij,jk,hik->hi", fc, p, fc) + np.diagonal(extra, axis1=1, axis2=2)
                variance += weight * (diag + (mean - combined) ** 2)
            out[k] = combined
            std[k] = np.sqrt(np.maximum(variance, 1e-18))
        return SegmentPrediction(out, std)


# Defaults of the adaptive filters `uav-traj evaluate` runs as "akf" and "imm": chosen on simulated flights
# seen through the training measurement mixture (bench/tune_classical.py), never on the real flights.
# (`cd /tmp && python bench/tune_classical.py --flights 24 --duration 40 --seed 4242`, at 91cd5b6: akf 0.834,
# imm 0.712 as the geometric mean of ADE / CV ADE; the optima sit at the low-process-noise edge of the grids.)
AKF_DEFAULTS = dict(modes=("ca",), q_jerk=1.0, sigma_floor=0.0005)
IMM_DEFAULTS = dict(modes=("cv", "ca"), q_accel=0.03, q_jerk=3.0, p_stay=0.9, sigma_floor=0.001)


def adaptive_kalman(horizon: int = 10, **overrides) -> IMMPredictor:
    """The "akf" baseline: a Kalman filter with R from the online noise estimate (AKF_DEFAULTS)."""
    return IMMPredictor(horizon, **{**AKF_DEFAULTS, **overrides, "adaptive": True, "name": "akf"})


def adaptive_imm(horizon: int = 10, **overrides) -> IMMPredictor:
    """The "imm" baseline: a CV/CA IMM with R from the online noise estimate (IMM_DEFAULTS)."""
    return IMMPredictor(horizon, **{**IMM_DEFAULTS, **overrides, "adaptive": True, "name": "imm"})
