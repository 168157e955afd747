"""Odometry / sensor noise models applied to simulated ground truth.

| model | position noise | bias drift | stamps | dropouts | typical rate |
|---|---|---|---|---|---|
| none | - | - | exact | - | any |
| mocap | white 0.1-1 mm | - | jitter 0.05 ms | - | 100-200 Hz |
| vio | white 0.5-2 cm | random walk 2-10 mm/sqrt(s) (drift) | jitter 1 ms | 0.1-1 s, every ~30-120 s | 10-50 Hz |
| gnss | white 1-3 cm (z x2) | Ornstein-Uhlenbeck 2-10 cm, 30-120 s | jitter 3 ms | 0.2-2 s, every ~20-60 s | 5-20 Hz |

Velocities get white noise (mocap 1 cm/s, vio 2-5 cm/s, gnss 3-8 cm/s); orientations are left exact.
The rate itself is the caller's choice; `NOISE_MODELS[name].rate` is the typical rate used by the CLI default.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseModel:
    name: str
    rate: float              # typical output rate, Hz (CLI default)
    pos_std: tuple           # white position noise range, m
    vel_std: tuple           # white velocity noise range, m/s
    drift: str | None        # None | "random_walk" | "ou"
    drift_std: tuple         # random walk: m/sqrt(s); OU: stationary std, m
    jitter: float            # stamp jitter std, s
    dropout_every: tuple     # mean seconds between dropouts (range); () = none
    dropout_len: tuple       # dropout length range, s


NOISE_MODELS: dict[str, NoiseModel] = {m.name: m for m in [
    NoiseModel("none", 100.0, (0, 0), (0, 0), None, (0, 0), 0.0, (), ()),
    NoiseModel("mocap", 100.0, (1e-4, 1e-3), (0.01, 0.01), None, (0, 0), 5e-5, (), ()),
    NoiseModel("vio", 30.0, (5e-3, 2e-2), (0.02, 0.05), "random_walk", (2e-3, 1e-2), 1e-3, (30, 120), (0.1, 1.0)),
    NoiseModel("gnss", 10.0, (1e-2, 3e-2), (0.03, 0.08), "ou", (0.02, 0.1), 3e-3, (20, 60), (0.2, 2.0)),
]}


def check_noise(name: str) -> NoiseModel:
    """The noise model called `name`, or ValueError listing the known ones."""
    if name not in NOISE_MODELS:
        raise ValueError(f"unknown noise model '{name}'; known: {', '.join(NOISE_MODELS)}")
    return NOISE_MODELS[name]


def _drift(model: NoiseModel, rng, t: np.ndarray) -> np.ndarray:
    if model.drift is None or len(t) < 2:
        return np.zeros((len(t), 3))
    dt = np.diff(t, prepend=t[0])
    std = rng.uniform(*model.drift_std)
    steps = rng.standard_normal((len(t), 3)) * np.sqrt(np.maximum(dt, 0.0))[:, None]
    if model.drift == "random_walk":
        return std * np.cumsum(steps, axis=0)
    tau = rng.uniform(30, 120)
    out = np.zeros((len(t), 3))
    out[0] = rng.standard_normal(3) * std
    decay = np.exp(-dt / tau)
    gain = std * np.sqrt(2.0 / tau)
    for i in range(1, len(t)):    # OU with variable steps; runs at the (low) output rate
        out[i] = out[i - 1] * decay[i] + gain * steps[i]
    return out


def _dropout_mask(model: NoiseModel, rng, t: np.ndarray) -> np.ndarray:
    keep = np.ones(len(t), bool)
    if not model.dropout_every or len(t) == 0:
        return keep
    mean_gap = rng.uniform(*model.dropout_every)
    start = t[0] + rng.exponential(mean_gap)
    while start < t[-1]:
        length = rng.uniform(*model.dropout_len)
        keep &= ~((t >= start) & (t < start + length))
        start += length + rng.exponential(mean_gap)
    return keep


def apply_noise(name: str, rng: np.random.Generator, t, p, v, q):
    """Noisy copies (t, p, v, q) of exact samples, plus an info dict with the drawn noise parameters."""
    model = check_noise(name)
    if name == "none":
        return t, p, v, q, dict(noise="none")
    pos_std, vel_std = rng.uniform(*model.pos_std), rng.uniform(*model.vel_std)
    p_noisy = p + rng.standard_normal(p.shape) * pos_std + _drift(model, rng, t)
    if name == "gnss":
        p_noisy[:, 2] += rng.standard_normal(len(t)) * pos_std    # vertical GNSS is worse
    v_noisy = v + rng.standard_normal(v.shape) * vel_std
    t_noisy = t + rng.standard_normal(len(t)) * model.jitter
    t_noisy[0] = t[0]
    t_noisy = np.maximum.accumulate(t_noisy)                      # jitter never reorders samples
    keep = _dropout_mask(model, rng, t)
    info = dict(noise=name, pos_std=pos_std, vel_std=vel_std, dropped=int((~keep).sum()))
    return t_noisy[keep], p_noisy[keep], v_noisy[keep], q[keep], info


# ---- measurement models for training: which sensor a flight is seen through ---------------------------------
# (name, weight, raw rate range Hz (log-uniform), white noise range m (log-uniform), dropout max, outages per
#  minute max, outage length max s, outlier probability max, outlier size range m, drift range m/sqrt(s))
SENSOR_MIXTURE = (
    ("mocap", 0.40, (50.0, 500.0), (2e-5, 1e-3), 0.02, 0.0, 0.0, 0.0, (0.05, 0.05), (0.0, 0.0)),
    ("total_station", 0.30, (5.0, 50.0), (1e-3, 5e-2), 0.15, 1.0, 3.0, 0.005, (0.03, 0.5), (0.0, 0.0)),
    ("vio", 0.15, (20.0, 200.0), (2e-3, 2e-2), 0.03, 0.5, 1.0, 0.001, (0.03, 0.2), (1e-3, 1e-2)),
    ("gnss", 0.15, (5.0, 20.0), (8e-3, 5e-2), 0.05, 0.5, 2.0, 0.002, (0.1, 0.5), (2e-3, 1e-2)),
)


def draw_perturbation(rng: np.random.Generator, source_rate: float, sensor: str | None = None):
    """A random measurement model (`data.perturb.Perturbation`) from SENSOR_MIXTURE (or the named sensor),
    for a flight sampled at `source_rate` Hz (a raw rate above it keeps every sample). Returns
    (sensor name, Perturbation)."""
    from ..data.perturb import Perturbation
    names = [row[0] for row in SENSOR_MIXTURE]
    if sensor is None:
        weights = np.array([row[1] for row in SENSOR_MIXTURE])
        row = SENSOR_MIXTURE[rng.choice(len(SENSOR_MIXTURE), p=weights / weights.sum())]
    elif sensor in names:
        row = SENSOR_MIXTURE[names.index(sensor)]
    else:
        raise ValueError(f"unknown sensor {sensor!r}; known: {', '.join(names)}")
    name, _, rates, noise, dropout, gaps, gap_len, outliers, outlier_size, drift = row
    log_uniform = lambda low, high: float(np.exp(rng.uniform(np.log(low), np.log(high)))) if high > 0 else 0.0  # noqa
    rate = log_uniform(*rates)
    return name, Perturbation(
        rate=None if rate >= source_rate else rate,
        noise=log_uniform(*noise),
        dropout=float(rng.uniform(0, dropout)),
        gaps=float(rng.uniform(0, gaps)), gap_len=max(gap_len, 0.1),
        outliers=float(rng.uniform(0, outliers)) if rng.random() < 0.5 else 0.0,
        outlier_size=log_uniform(*outlier_size),
        drift=log_uniform(*drift) if drift[1] > 0 else 0.0,
        jitter=float(rng.uniform(0, 1e-3)))
