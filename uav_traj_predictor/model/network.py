"""The streaming velocity GRU: a stateful encoder over normalised world-frame velocities and a one-shot
horizon head that predicts the residual to constant-velocity extrapolation plus a per-step log-std.

Positions for horizon step j (1..H) made at grid index k are
    p_{k+j} = p_k + j * dt * v_k + residual_j * residual_scale_j
with v_k = (p_k - p_{k-1}) / dt the last grid velocity, so the network never sees absolute positions
(position-offset invariance by construction). Heading invariance comes from random yaw augmentation.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -7.0, 5.0
SPEED_EDGES = (0.5, 1.0, 2.0, 5.0)   # m/s: bins of the speed-dependent std calibration
# the measured-noise input (input_features 7): (log(max(sigma, floor)) - log(center)) / width, sigma the
# track's raw-position noise estimate (data/noise.py) in metres; 0.1 mm -> -2.3, 3 mm -> 0, 5 cm -> +1.9
NOISE_FLOOR_M, NOISE_CENTER_M, NOISE_WIDTH = 1e-4, 3e-3, 1.5
# input groups by input_features; "interval": velocities between raw-sample interval means
# (data.preprocess.interval_velocities), scaled like the velocity; "attitude": the attitude-implied horizontal
# acceleration (data/attitude.py) times its availability (1 / 0), scaled like the acceleration, and the availability
FEATURE_SETS = {3: ("velocity",), 6: ("velocity", "accel"), 7: ("velocity", "accel", "noise"),
                10: ("velocity", "accel", "noise", "interval"),
                13: ("velocity", "accel", "noise", "interval", "attitude")}


@dataclass(frozen=True)
class Architecture:
    """Shape of the network; stored in every checkpoint."""
    input_features: int = 10         # 3: velocity; 6: + its last difference (accel.); 7: + noise level;
                                     # 10: + interval-mean velocity; 13: + attitude (FEATURE_SETS)
    hidden: int = 96
    layers: int = 1
    head_hidden: int = 128
    horizon_steps: int = 10
    head: str = "cv_residual_mlp"    # one-shot residual to constant velocity + per-step per-axis log-std

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def features(self) -> tuple[str, ...]:
        """Names of the input feature groups, in order ("velocity", "accel", "noise")."""
        return FEATURE_SETS[self.input_features]

    @classmethod
    def from_dict(cls, values: dict) -> "Architecture":
        return cls(**{key: values[key] for key in cls.__dataclass_fields__})


class VelocityGRU(nn.Module):
    """GRU encoder over normalised velocities + MLP head (mean residual and log-std per step and axis).

    Buffers hold the normalisation so a checkpoint is self-contained:
    `velocity_scale` (3,) divides input velocities, `accel_scale` (3,) the acceleration features
    (v_k - v_{k-1}) / dt (zero for a track's first velocity); `residual_scale` (H,) multiplies the head's residual
    output (metres); predicted stds are multiplied by `std_calibration` (H,) and by the row of
    `speed_calibration` (K, H) of the current speed's bin (edges `speed_edges` (K-1,), m/s), both fitted
    after training.
    """

    def __init__(self, arch: Architecture):
        super().__init__()
        if arch.input_features not in FEATURE_SETS:
            raise ValueError(f"input_features must be one of {sorted(FEATURE_SETS)}, got {arch.input_features}")
        self.arch = arch
        self.gru = nn.GRU(arch.input_features, arch.hidden, arch.layers, batch_first=True)
        self.head = nn.Sequential(nn.Linear(arch.hidden, arch.head_hidden), nn.Tanh(),
                                  nn.Linear(arch.head_hidden, 2 * 3 * arch.horizon_steps))
        horizon = arch.horizon_steps
        self.register_buffer("velocity_scale", torch.ones(3))
        self.register_buffer("accel_scale", torch.ones(3))
        self.register_buffer("residual_scale", torch.ones(horizon))
        self.register_buffer("std_calibration", torch.ones(horizon))
        self.register_buffer("speed_edges", torch.tensor(SPEED_EDGES))
        self.register_buffer("speed_calibration", torch.ones(len(SPEED_EDGES) + 1, horizon))
        if "noise" in arch.features:
            self.register_buffer("noise_norm", torch.tensor([NOISE_FLOOR_M, NOISE_CENTER_M, NOISE_WIDTH],
                                                            dtype=torch.float64))

    @property
    def uses_noise(self) -> bool:
        """Whether the network reads the measured noise level (input_features 7)."""
        return "noise" in self.arch.features

    @property
    def uses_interval(self) -> bool:
        """Whether the network reads the interval-mean velocities (input_features 10)."""
        return "interval" in self.arch.features

    @property
    def uses_attitude(self) -> bool:
        """Whether the network reads the attitude-implied acceleration (input_features 13)."""
        return "attitude" in self.arch.features

    def features(self, velocities: torch.Tensor, dt: float, noise: torch.Tensor | None = None,
                 interval: torch.Tensor | None = None, attitude: torch.Tensor | None = None) -> torch.Tensor:
        """Network inputs for raw velocities (B, T, 3) m/s seen from a track's start (the streaming view) and,
        for the groups the architecture has, the noise estimate (B, T) m at each of those grid samples,
        the interval-mean velocities (B, T, 3) m/s (None: the velocities themselves) and the attitude
        (B, T, 3) [implied x, implied y m/s^2, available 1 / 0] (None: not available)."""
        scaled = velocities * (1.0 / self.velocity_scale)
        if self.arch.input_features == 3:
            return scaled
        accel = torch.diff(velocities, dim=1, prepend=velocities[:, :1]) * (1.0 / (dt * self.accel_scale))
        parts = [scaled, accel]
        if self.uses_noise:
            if noise is None:
                raise ValueError("this model reads the measured noise level: pass noise (B, T) in metres")
            floor, center, width = self.noise_norm.tolist()
            level = (torch.log(torch.clamp(noise.to(torch.float64), min=floor)) - math.log(center)) / width
            parts.append(level.to(velocities.dtype)[..., None])
        if self.uses_interval:
            parts.append((velocities if interval is None else interval) * (1.0 / self.velocity_scale))
        if self.uses_attitude:
            if attitude is None:
                attitude = velocities.new_zeros(velocities.shape)
            attitude = attitude.to(velocities.dtype)
            parts.append(attitude[..., :2] * attitude[..., 2:] * (1.0 / self.accel_scale[:2]))
            parts.append(attitude[..., 2:])
        return torch.cat(parts, dim=-1)

    def encode(self, velocities: torch.Tensor, dt: float, h0: torch.Tensor | None = None,
               noise: torch.Tensor | None = None, interval: torch.Tensor | None = None,
               attitude: torch.Tensor | None = None):
        """Run the GRU over raw velocities (B, T, 3) m/s [noise (B, T) m, interval velocities (B, T, 3),
        attitude (B, T, 3)] -> (hidden (B, T, hidden), h_n)."""
        return self.gru(self.features(velocities, dt, noise, interval, attitude), h0)

    def decode(self, hidden: torch.Tensor):
        """Head on top-layer hidden states (..., hidden) -> (residual m (..., H, 3), log_std (..., H, 3)).

        `log_std` is the raw (uncalibrated) log of the per-axis std in metres.
        """
        out = self.head(hidden).unflatten(-1, (2, self.arch.horizon_steps, 3))
        scale = self.residual_scale[:, None]
        residual = out[..., 0, :, :] * scale
        log_std = out[..., 1, :, :].clamp(LOG_STD_MIN, LOG_STD_MAX) + torch.log(scale)
        return residual, log_std

    def std_scale(self, speed: torch.Tensor) -> torch.Tensor:
        """Calibration factor of the std for current speeds (...,) m/s -> (..., H)."""
        return self.speed_calibration[torch.bucketize(speed, self.speed_edges)] * self.std_calibration

    def forward(self, velocities: torch.Tensor, dt: float, h0: torch.Tensor | None = None,
                noise: torch.Tensor | None = None, interval: torch.Tensor | None = None,
                attitude: torch.Tensor | None = None):
        hidden, _ = self.encode(velocities, dt, h0, noise, interval, attitude)
        return self.decode(hidden)


def cv_offsets(velocity: torch.Tensor | np.ndarray, horizon: int, dt: float):
    """Constant-velocity displacement j * dt * v for j = 1..H: (..., 3) -> (..., H, 3)."""
    steps = np.arange(1, horizon + 1, dtype=np.float64) * dt
    if isinstance(velocity, torch.Tensor):
        steps_t = torch.as_tensor(steps, dtype=velocity.dtype, device=velocity.device)
        return velocity[..., None, :] * steps_t[:, None]
    return velocity[..., None, :] * steps[:, None]


def residual_targets(positions: torch.Tensor, horizon: int, dt: float):
    """Training targets from grid positions (B, T+1, 3): for each k in 1..T-H the future residual.

    Returns (velocities (B, T, 3), residual (B, T-H, H, 3)) where residual[:, k-1] belongs to the prediction
    made after velocity k (grid index k): p_{k+j} - p_k - j dt v_k.
    """
    velocities = (positions[:, 1:] - positions[:, :-1]) / dt
    count = positions.shape[1] - 1 - horizon
    futures = torch.stack([positions[:, 1 + j:1 + j + count] for j in range(1, horizon + 1)], dim=2)
    base = positions[:, 1:1 + count, None, :]
    residual = futures - base - cv_offsets(velocities[:, :count], horizon, dt)
    return velocities, residual


def training_targets(measured: torch.Tensor, truth: torch.Tensor, horizon: int, dt: float):
    """Targets of measured grid positions (B, T+1, 3) whose exact positions on the same stamps are `truth`:
    (velocities (B, T, 3) of the measured positions, residual to the exact future (B, T-H, H, 3), residual
    to the measured future (B, T-H, H, 3)). Both residuals are taken from the measured p_k and v_k, what
    the network sees: truth_{k+j} - p_k - j dt v_k and measured_{k+j} - p_k - j dt v_k."""
    velocities, measured_residual = residual_targets(measured, horizon, dt)
    count = measured.shape[1] - 1 - horizon
    futures = torch.stack([truth[:, 1 + j:1 + j + count] for j in range(1, horizon + 1)], dim=2)
    base = measured[:, 1:1 + count, None, :]
    residual = futures - base - cv_offsets(velocities[:, :count], horizon, dt)
    return velocities, residual, measured_residual
