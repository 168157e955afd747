"""`ModelSpec`: the model's semantics exported once, for every inference path.

A checkpoint's network (`network.VelocityGRU`, the torch module training differentiates) is exported
here into plain arrays: the input features (velocity, acceleration and measured-noise scales), the GRU
weights, the head MLP and its post-processing (clip of the log-std, residual scale, std calibration per
horizon step and speed bin, the constant-velocity fallback std). This module holds the numpy reference
arithmetic of the features and the head; the C path (`kernels.fused.plan(spec)`, kernels/cstream.c)
is built from the same spec, and `VelocityGRU.features` / `decode` compute the same in torch. Tests hold
all three equal (test_model_spec.py).

Features of one grid step (`features`), float32, from the velocity v_k (m/s), the previous one, the
noise estimate sigma_k (m, data/noise.py) at grid sample k and the interval-mean velocity u_k (m/s,
data.preprocess.interval_velocities):
    [v_k / velocity_scale | (v_k - v_{k-1}) / (dt accel_scale) (0 for a track's first) |
     (log max(sigma_k, floor) - log center) / width | u_k / velocity_scale |
     a_k,xy b_k / accel_scale_xy, b_k]   (the groups it has)
with a_k the attitude-implied horizontal acceleration (m/s^2) and b_k its availability (1 / 0;
data/attitude.py; 0 for a track without orientations).
Head (`head`): MLP(top hidden) -> [residual (H, 3) | log std (H, 3)]; the log-std clipped to
[LOG_STD_MIN, LOG_STD_MAX]; residual * residual_scale_j; std = exp(log std + log residual_scale_j) *
std_calibration_j * speed_calibration[bin(|v_k|), j]; float64 after the MLP.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from ..kernels import GRUWeights
from .network import LOG_STD_MAX, LOG_STD_MIN, VelocityGRU

# per-axis grid speed limit, m/s: far beyond any vehicle, and keeps the float32 network inputs finite
MAX_SPEED = 1e6


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Exported inference parameters of one checkpoint (read-only arrays)."""
    dt: float
    horizon: int
    feature_groups: tuple[str, ...]       # ("velocity", "accel", "noise") prefix
    inv_feature_scale: np.ndarray         # (3 or 6,) float32: 1 / velocity_scale | 1 / (dt accel_scale)
    noise_norm: tuple[float, float, float] | None   # (floor m, log(center m), width) when "noise" is read
    inv_attitude_scale: np.ndarray | None  # (2,) float32: 1 / accel_scale_xy when "attitude" is read
    gru: GRUWeights
    w1: np.ndarray                        # (hidden, head_hidden) float32
    b1: np.ndarray
    w2: np.ndarray                        # (head_hidden, 6 H) float32
    b2: np.ndarray
    head_low: np.ndarray                  # (6 H,) float64: -inf for the residual, LOG_STD_MIN for the log std
    head_high: np.ndarray
    log_residual_scale: np.ndarray        # (3 H,)
    head_scale: np.ndarray                # (6 H,): residual_scale | std_calibration, per column
    speed_edges: np.ndarray               # (E,) m/s
    speed_factor: np.ndarray              # (E + 1, 3 H)
    cv_std: np.ndarray                    # (H, 3): std of the constant-velocity fallback

    @classmethod
    def from_model(cls, model: VelocityGRU, meta: dict) -> "ModelSpec":
        dt = float(meta["dt"])
        arch = model.arch
        first, last = model.head[0], model.head[2]
        f32 = lambda t: np.ascontiguousarray(t.detach().cpu().numpy(), np.float32)   # noqa: E731
        inv_velocity = (1.0 / model.velocity_scale).numpy().astype(np.float32)
        inv_accel = (1.0 / (dt * model.accel_scale)).numpy().astype(np.float32)
        scales = [inv_velocity] + ([inv_accel] if "accel" in arch.features else [])
        noise_norm = None
        if model.uses_noise:
            floor, center, width = model.noise_norm.tolist()
            noise_norm = (float(floor), math.log(center), float(width))
        per_column = lambda a: np.repeat(a.numpy().astype(np.float64), 3, axis=-1)    # noqa: E731  (.., H) -> (.., 3H)
        residual_scale, calibration = per_column(model.residual_scale), per_column(model.std_calibration)
        no_bound = np.full_like(residual_scale, np.inf)
        inv_attitude = None
        if model.uses_attitude:
            inv_attitude = (1.0 / model.accel_scale[:2]).numpy().astype(np.float32)
            inv_attitude.setflags(write=False)
        spec = cls(
            dt=dt, horizon=arch.horizon_steps, feature_groups=arch.features,
            inv_feature_scale=np.concatenate(scales), noise_norm=noise_norm, inv_attitude_scale=inv_attitude,
            gru=GRUWeights.from_module(model.gru),
            w1=f32(first.weight.T), b1=f32(first.bias), w2=f32(last.weight.T), b2=f32(last.bias),
            head_low=np.concatenate([-no_bound, np.full_like(residual_scale, LOG_STD_MIN)]),
            head_high=np.concatenate([no_bound, np.full_like(residual_scale, LOG_STD_MAX)]),
            log_residual_scale=np.log(residual_scale),
            head_scale=np.concatenate([residual_scale, calibration]),
            speed_edges=model.speed_edges.numpy().astype(np.float64),
            speed_factor=per_column(model.speed_calibration),
            cv_std=np.repeat(np.asarray(meta["cv_std"], np.float64)[:, None], 3, axis=1))
        for name in ("inv_feature_scale", "w1", "b1", "w2", "b2", "head_low", "head_high", "log_residual_scale",
                     "head_scale", "speed_edges", "speed_factor", "cv_std"):
            getattr(spec, name).setflags(write=False)
        return spec

    # ---- what the arrays mean -------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return (len(self.inv_feature_scale) + (self.noise_norm is not None) + 3 * self.uses_interval
                + 3 * self.uses_attitude)

    @property
    def uses_attitude(self) -> bool:
        return "attitude" in self.feature_groups

    @property
    def uses_interval(self) -> bool:
        return "interval" in self.feature_groups

    @property
    def hidden(self) -> int:
        return self.gru.hidden_size

    @property
    def uses_noise(self) -> bool:
        return self.noise_norm is not None

    @property
    def features_always_finite(self) -> bool:
        """Whether features of velocities within max_speed (MAX_SPEED of the predictor) cannot overflow
        float32 with these scales (then no check is needed per step)."""
        largest = float(np.abs(self.inv_feature_scale).max()) * 2
        return bool(np.isfinite(largest) and largest * MAX_SPEED < 1e37)

    # ---- reference arithmetic (numpy) ------------------------------------------------------------
    def noise_feature(self, noise) -> np.ndarray:
        """(n,) float32 measured-noise inputs of noise estimates (n,) m (finite, >= 0)."""
        floor, log_center, width = self.noise_norm
        return ((np.log(np.maximum(np.asarray(noise, np.float64), floor)) - log_center) / width).astype(np.float32)

    def features(self, velocities: np.ndarray, previous: np.ndarray, fresh, noise=None,
                 interval=None, attitude=None) -> np.ndarray:
        """float32 inputs (n, input_size) of velocities (n, 3) given the previous ones (n, 3) (ignored
        where `fresh` (n,) bool: a track's first velocity), noise estimates (n,) m, interval-mean
        velocities (n, 3) (None: the velocities) and attitudes (n, 3) [implied x, y m/s^2, available]
        (None: not available)."""
        n = len(velocities)
        features = np.empty((n, self.input_size), np.float32)
        features[:, :3] = velocities
        if "accel" in self.feature_groups:
            features[:, 3:6] = previous
            fresh = np.asarray(fresh, bool)
            if fresh.any():                   # a track's first velocity has none before: zero acceleration
                features[fresh, 3:6] = features[fresh, :3]
            np.subtract(features[:, :3], features[:, 3:6], out=features[:, 3:6])
        scaled = len(self.inv_feature_scale)
        features[:, :scaled] *= self.inv_feature_scale
        if self.uses_noise:
            features[:, scaled] = self.noise_feature(noise)
        if self.uses_interval:
            features[:, scaled + 1:scaled + 4] = velocities if interval is None else interval
            features[:, scaled + 1:scaled + 4] *= self.inv_feature_scale[:3]
        if self.uses_attitude:
            at = scaled + 4
            if attitude is None:
                features[:, at:] = 0.0
            else:
                features[:, at:] = attitude
                features[:, at:at + 2] *= features[:, at + 2:at + 3]
                features[:, at:at + 2] *= self.inv_attitude_scale
        return features

    def head(self, top: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """(n, 6 H) float64 [residual m | calibrated std m] ((H, 3) each, row-major) of top hidden states
        (n, hidden) float32 and the last grid velocities (n, 3)."""
        hidden = np.matmul(top, self.w1)
        hidden += self.b1
        np.tanh(hidden, out=hidden)
        out = np.matmul(hidden, self.w2)
        out += self.b2
        out = out.astype(np.float64)
        np.maximum(out, self.head_low, out=out)       # clips the log std; the residual columns pass as they are
        np.minimum(out, self.head_high, out=out)
        std = out[:, out.shape[1] // 2:]
        std += self.log_residual_scale
        np.exp(std, out=std)
        out *= self.head_scale                        # residual * residual_scale | std * std_calibration
        std *= self.speed_factor[self.speed_bins(velocity)]
        return out

    def speed_bins(self, velocity: np.ndarray) -> np.ndarray:
        """Calibration bin of each speed |v| (n,) (searchsorted on the edges, side "left")."""
        return np.searchsorted(self.speed_edges, np.linalg.norm(velocity, axis=1), side="left")

    def speed_bin(self, speed: float) -> int:
        """`speed_bins` of one speed (bisect_left: the same bin)."""
        return bisect.bisect_left(self.speed_edges.tolist(), speed)
