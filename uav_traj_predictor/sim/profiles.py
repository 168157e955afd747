"""Random vehicle and wind parameters per vehicle profile (uniform ranges, drawn per flight).

| profile | used by | thrust/weight | tilt max | tilt lag | speed limit |
|---|---|---|---|---|---|
| standard | vector, waypoints | 1.8-3.0 | 35-55 deg | 0.05-0.12 s | 12 m/s |
| agile | clover (Blackbird's mocap-room quad) | 2.5-4.0 | 45-65 deg | 0.03-0.07 s | 10 m/s |
| racing | racing | 3.5-6.0 | 65-80 deg | 0.02-0.05 s | 25 m/s |
| indoor | hover_dash | 1.6-2.5 | 20-35 deg | 0.06-0.15 s | 3-4 m/s |

Wind: outdoor mean 0-5 m/s (random heading) with Ornstein-Uhlenbeck gusts (std 0-1.5 m/s, correlation
0.5-5 s, vertical a third); indoor (indoor, agile) no mean wind and gusts <= 0.3 m/s. Racing is indoor
or outdoor 50/50.
"""
from __future__ import annotations

import numpy as np

from .vehicle import GRAVITY, GUST_AXIS_SCALE, VehicleParams

_COMMON = dict(tau_thrust=(0.02, 0.05), tau_yaw=(0.2, 0.5), yaw_rate_max_deg=(60, 180), drag=(0.1, 0.4),
               kp_pos=(0.8, 1.5), kp_vel=(1.8, 3.5), ki_vel=(0.2, 0.8), kd_vel=(0.0, 0.2),
               vel_max_up=(3, 5), vel_max_down=(2, 4), thrust_min_ratio=(0.05, 0.15))

VEHICLE_PROFILES: dict[str, dict[str, tuple[float, float]]] = {
    "standard": dict(_COMMON, thrust_to_weight=(1.8, 3.0), tilt_max_deg=(35, 55), tau_att=(0.05, 0.12),
                     vel_max_xy=(12, 12)),
    "agile": dict(_COMMON, thrust_to_weight=(2.5, 4.0), tilt_max_deg=(45, 65), tau_att=(0.03, 0.07),
                  kp_pos=(1.0, 2.0), kp_vel=(2.5, 4.5), vel_max_xy=(10, 10)),
    "racing": dict(_COMMON, thrust_to_weight=(3.5, 6.0), tilt_max_deg=(65, 80), tau_att=(0.02, 0.05),
                   tau_thrust=(0.01, 0.03), tau_yaw=(0.05, 0.15), yaw_rate_max_deg=(300, 600), drag=(0.1, 0.3),
                   kp_pos=(1.5, 3.0), kp_vel=(3.0, 6.0), ki_vel=(0.3, 1.0), kd_vel=(0.0, 0.1),
                   vel_max_xy=(25, 25), vel_max_up=(12, 15), vel_max_down=(8, 10)),
    "indoor": dict(_COMMON, thrust_to_weight=(1.6, 2.5), tilt_max_deg=(20, 35), tau_att=(0.06, 0.15),
                   drag=(0.2, 0.5), kp_pos=(0.8, 1.5), kp_vel=(1.5, 3.0), vel_max_xy=(3, 4),
                   vel_max_up=(1.5, 2), vel_max_down=(1, 1.5)),
}
WIND_PROFILES = {"standard": "outdoor", "agile": "indoor", "racing": "either", "indoor": "indoor"}


def draw_vehicle(rng: np.random.Generator, profile: str) -> VehicleParams:
    """One vehicle's parameters drawn uniformly from the profile's ranges."""
    draw = {name: rng.uniform(lo, hi) for name, (lo, hi) in VEHICLE_PROFILES[profile].items()}
    values = dict(
        thrust_max=draw["thrust_to_weight"] * GRAVITY, thrust_min=draw["thrust_min_ratio"] * GRAVITY,
        tilt_max=np.radians(draw["tilt_max_deg"]), tau_att=draw["tau_att"], tau_thrust=draw["tau_thrust"],
        tau_yaw=draw["tau_yaw"], yaw_rate_max=np.radians(draw["yaw_rate_max_deg"]), drag=draw["drag"],
        kp_pos=draw["kp_pos"], kp_vel=draw["kp_vel"], ki_vel=draw["ki_vel"], kd_vel=draw["kd_vel"],
        vel_max_xy=draw["vel_max_xy"], vel_max_up=draw["vel_max_up"], vel_max_down=draw["vel_max_down"])
    return VehicleParams(**{k: np.array([float(v)]) for k, v in values.items()})


def draw_wind(rng: np.random.Generator, profile: str) -> dict:
    """Wind parameters: mean (3,), gust std (m/s), gust correlation time (s)."""
    kind = WIND_PROFILES[profile]
    if kind == "either":
        kind = "outdoor" if rng.random() < 0.5 else "indoor"
    if kind == "indoor":
        return dict(mean=np.zeros(3), gust_std=rng.uniform(0, 0.3), gust_tau=rng.uniform(0.3, 2.0))
    speed, heading = rng.uniform(0, 5), rng.uniform(0, 2 * np.pi)
    return dict(mean=np.array([speed * np.cos(heading), speed * np.sin(heading), 0.0]),
                gust_std=rng.uniform(0, 1.5), gust_tau=rng.uniform(0.5, 5.0))


def gust_series(rng: np.random.Generator, n: int, dt: float, gust_std: float, gust_tau: float) -> np.ndarray:
    """(n, 3) Ornstein-Uhlenbeck gusts (exact discretisation), vertical component scaled by 1/3."""
    from scipy.signal import lfilter
    decay = np.exp(-dt / gust_tau)
    white = rng.standard_normal((n, 3)) * gust_std * np.sqrt(1 - decay ** 2)
    white[0] = rng.standard_normal(3) * gust_std     # start in the stationary distribution
    gusts = lfilter([1.0], [1.0, -decay], white, axis=0)
    return gusts * GUST_AXIS_SCALE
