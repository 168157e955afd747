"""Vectorised quadrotor: point mass + thrust direction with lags, flown by a PX4-like cascaded controller.

All state is stored as arrays over vehicles (first axis), so `n` flights advance with one numpy call
per operation. Frames: ENU world, z up; thrust is mass-normalised (m/s^2), so no mass appears.

Dynamics (per vehicle)::

    b3'  = (b3_cmd - b3) / tau_att        thrust direction (tilt) first-order response, renormalised
    f'   = (f_cmd - f) / tau_thrust        collective specific thrust, rotor lag
    psi' = clip((psi_sp - psi) / tau_yaw, +-yaw_rate_max)
    a    = f b3 - g e_z - drag (v - wind)  gravity, linear (rotor) drag relative to the air
    v   += a dt,  p += v dt                semi-implicit Euler

Controller (PX4 multicopter position control, simplified): position P -> velocity setpoint (+ feed-forward,
clipped to horizontal / up / down limits) -> velocity PID with acceleration feed-forward -> thrust vector with
vertical priority, tilt limit and thrust limits (PX4 `ControlMath::limitTilt` / thrust saturation).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

GRAVITY = 9.81
GUST_AXIS_SCALE = np.array([1.0, 1.0, 1.0 / 3.0])   # vertical gusts are weaker


@dataclass
class VehicleParams:
    """Per-vehicle physical and controller parameters; every field is an (n,) float array."""
    thrust_max: np.ndarray      # max specific thrust, m/s^2 (thrust-to-weight ratio * g)
    thrust_min: np.ndarray      # min specific thrust, m/s^2
    tilt_max: np.ndarray        # rad
    tau_att: np.ndarray         # s, tilt response time constant
    tau_thrust: np.ndarray      # s, rotor lag
    tau_yaw: np.ndarray         # s
    yaw_rate_max: np.ndarray    # rad/s
    drag: np.ndarray            # 1/s, linear drag coefficient (mass-normalised)
    kp_pos: np.ndarray          # 1/s
    kp_vel: np.ndarray          # 1/s
    ki_vel: np.ndarray          # 1/s^2
    kd_vel: np.ndarray          # dimensionless (on measured acceleration)
    vel_max_xy: np.ndarray      # m/s
    vel_max_up: np.ndarray      # m/s
    vel_max_down: np.ndarray    # m/s

    @property
    def n(self) -> int:
        return len(self.thrust_max)

    @classmethod
    def default(cls, n: int = 1) -> "VehicleParams":
        """A mid-size PX4 multicopter (x500-like): T/W 2.5, 45 deg tilt, 12 m/s."""
        values = dict(thrust_max=2.5 * GRAVITY, thrust_min=0.1 * GRAVITY, tilt_max=np.radians(45.0),
                      tau_att=0.06, tau_thrust=0.03, tau_yaw=0.3, yaw_rate_max=np.radians(120.0), drag=0.25,
                      kp_pos=1.0, kp_vel=2.5, ki_vel=0.4, kd_vel=0.1, vel_max_xy=12.0, vel_max_up=4.0,
                      vel_max_down=3.0)
        return cls(**{k: np.full(n, float(v)) for k, v in values.items()})

    @classmethod
    def stack(cls, params: list["VehicleParams"]) -> "VehicleParams":
        """Concatenate parameter sets of several vehicle groups."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in params]) for f in fields(cls)})

    def validate(self) -> None:
        """Raise ValueError when a parameter is non-finite or out of its physical range."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value.shape != (self.n,) or not np.all(np.isfinite(value)):
                raise ValueError(f"VehicleParams.{f.name} must be a finite ({self.n},) array")
        if np.any(self.thrust_max <= GRAVITY):
            raise ValueError("VehicleParams.thrust_max must exceed gravity (thrust-to-weight > 1)")
        if np.any((self.tilt_max <= 0) | (self.tilt_max >= np.pi / 2)):
            raise ValueError("VehicleParams.tilt_max must be in (0, pi/2)")
        for name in ("tau_att", "tau_thrust", "tau_yaw"):
            if np.any(getattr(self, name) <= 0):
                raise ValueError(f"VehicleParams.{name} must be positive")


def _wrap_angle(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _clip_norm(vec: np.ndarray, max_norm: np.ndarray) -> np.ndarray:
    """Scale rows of vec (n, k) down to at most max_norm (n,)."""
    norm = np.sqrt(np.einsum("ij,ij->i", vec, vec))
    scale = np.minimum(1.0, max_norm / np.maximum(norm, 1e-12))
    return vec * scale[:, None]


def attitude_quaternions(thrust_dir: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4) as x, y, z, w (w >= 0) of the body frame whose z axis is thrust_dir, heading yaw.

    PX4's `bodyzToAttitude` convention (body x in the vertical plane of the heading) is exactly the
    ZYX Euler rotation Rz(yaw) Ry(pitch) Rx(roll) with pitch and roll read from the thrust direction
    expressed in the heading frame, so the quaternion has a closed form (cheap for millions of rows).
    """
    b3 = thrust_dir.reshape(-1, 3)
    psi = yaw.reshape(-1)
    c, s = np.cos(psi), np.sin(psi)
    b3_x = c * b3[:, 0] + s * b3[:, 1]              # thrust direction in the heading frame
    b3_y = -s * b3[:, 0] + c * b3[:, 1]
    pitch = np.arctan2(b3_x, b3[:, 2])
    roll = np.arcsin(np.clip(-b3_y, -1.0, 1.0))
    cy, sy = np.cos(psi / 2), np.sin(psi / 2)
    cp, sp = np.cos(pitch / 2), np.sin(pitch / 2)
    cr, sr = np.cos(roll / 2), np.sin(roll / 2)
    quat = np.stack([sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
                     cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy], axis=1)
    quat *= np.where(quat[:, 3:] < 0, -1.0, 1.0)
    return quat.reshape(thrust_dir.shape[:-1] + (4,))


class QuadrotorSim:
    """n quadrotors with their cascaded controllers, stepped together.

    Real-time use (sim_node, datagen commander)::

        sim = QuadrotorSim(n_vehicles=2, seed=0)
        sim.reset(0, position=[0, 0, 1])
        sim.set_setpoint(0, position=[1, 0, 2], velocity=[0.5, 0, 0], yaw=0.0)
        sim.step(0.01)
        p, v, q = sim.state()

    Wind is an Ornstein-Uhlenbeck gust process around a per-vehicle mean, stepped from the sim's own
    generator unless `step(dt, wind=...)` is given an explicit wind (the batch generator precomputes it).
    """

    def __init__(self, n_vehicles: int = 1, seed: int | None = 0, params: VehicleParams | None = None,
                 wind_mean=None, gust_std=None, gust_tau=None, max_substep: float = 0.01):
        if n_vehicles < 1:
            raise ValueError(f"n_vehicles must be >= 1, got {n_vehicles}")
        self.n = int(n_vehicles)
        self.params = params if params is not None else VehicleParams.default(self.n)
        if self.params.n != self.n:
            raise ValueError(f"params describe {self.params.n} vehicles, expected {self.n}")
        self.params.validate()
        self.rng = np.random.default_rng(seed)
        self.max_substep = float(max_substep)
        self.wind_mean = np.broadcast_to(np.asarray(0.0 if wind_mean is None else wind_mean, float), (self.n, 3)).copy()
        self.gust_std = self._per_vehicle(0.0 if gust_std is None else gust_std)
        self.gust_tau = self._per_vehicle(2.0 if gust_tau is None else gust_tau)
        if np.any(self.gust_tau <= 0) or np.any(self.gust_std < 0):
            raise ValueError("gust_tau must be positive and gust_std non-negative")
        self.time = 0.0
        n = self.n
        self.p, self.v, self.a = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
        self.thrust_dir = np.tile([0.0, 0.0, 1.0], (n, 1))
        self.thrust = np.full(n, GRAVITY)
        self.yaw = np.zeros(n)
        self.vel_integral = np.zeros((n, 3))
        self.gust = np.zeros((n, 3))
        self.sp_p, self.sp_v, self.sp_a = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
        self.sp_yaw = np.zeros(n)

    def _per_vehicle(self, value) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, float), (self.n,)).copy()

    # ----------------------------------------------------------------------------------- commands
    def reset(self, index, position, velocity=None, yaw=None) -> None:
        """Place vehicle(s) `index` at rest (hovering) at `position`; the setpoint becomes that hover."""
        idx = np.atleast_1d(np.asarray(index, dtype=int))
        self.p[idx] = np.asarray(position, float)
        self.v[idx] = 0.0 if velocity is None else np.asarray(velocity, float)
        self.a[idx] = 0.0
        self.thrust_dir[idx] = [0.0, 0.0, 1.0]
        self.thrust[idx] = GRAVITY
        self.yaw[idx] = 0.0 if yaw is None else yaw
        self.vel_integral[idx] = 0.0
        self.gust[idx] = 0.0
        self.sp_p[idx], self.sp_v[idx], self.sp_a[idx] = self.p[idx], self.v[idx], 0.0
        self.sp_yaw[idx] = self.yaw[idx]

    def set_setpoint(self, index, position, velocity=None, accel=None, yaw=None) -> None:
        """Setpoint of vehicle(s) `index`: position with optional velocity/acceleration feed-forward and yaw."""
        idx = np.atleast_1d(np.asarray(index, dtype=int))
        position = np.asarray(position, float)
        if not np.all(np.isfinite(position)):
            raise ValueError(f"setpoint position must be finite, got {position}")
        self.sp_p[idx] = position
        self.sp_v[idx] = 0.0 if velocity is None else np.nan_to_num(np.asarray(velocity, float))
        self.sp_a[idx] = 0.0 if accel is None else np.nan_to_num(np.asarray(accel, float))
        if yaw is not None:
            self.sp_yaw[idx] = yaw

    def set_setpoints(self, position, velocity, accel, yaw) -> None:
        """Setpoints of all vehicles at once: (n, 3), (n, 3), (n, 3), (n,); no copies, no checks (hot path)."""
        self.sp_p, self.sp_v, self.sp_a, self.sp_yaw = position, velocity, accel, yaw

    # ----------------------------------------------------------------------------------- stepping
    def step(self, dt: float, wind: np.ndarray | None = None) -> None:
        """Advance all vehicles by dt seconds (split into substeps of at most max_substep)."""
        if not dt > 0:
            raise ValueError(f"dt must be positive, got {dt}")
        substeps = max(1, int(np.ceil(dt / self.max_substep - 1e-9)))
        h = dt / substeps
        for _ in range(substeps):
            if wind is None:
                wind_now = self.wind_mean + self._step_gust(h)
            else:
                wind_now = wind
            self.physics_step(h, wind_now)
        self.time += dt

    def _step_gust(self, h: float) -> np.ndarray:
        decay = np.exp(-h / self.gust_tau)[:, None]
        noise_scale = (self.gust_std * np.sqrt(1.0 - decay[:, 0] ** 2))[:, None]
        self.gust = self.gust * decay + noise_scale * self.rng.standard_normal((self.n, 3))
        return self.gust * GUST_AXIS_SCALE

    def physics_step(self, h: float, wind: np.ndarray) -> None:
        f_cmd, dir_cmd = self._control(h)
        prm = self.params
        alpha_att = (1.0 - np.exp(-h / prm.tau_att))[:, None]
        b3 = self.thrust_dir + alpha_att * (dir_cmd - self.thrust_dir)
        b3 /= np.sqrt(np.einsum("ij,ij->i", b3, b3))[:, None]
        self.thrust_dir = b3
        self.thrust = self.thrust + (1.0 - np.exp(-h / prm.tau_thrust)) * (f_cmd - self.thrust)
        yaw_rate = np.clip(_wrap_angle(self.sp_yaw - self.yaw) / prm.tau_yaw, -prm.yaw_rate_max, prm.yaw_rate_max)
        self.yaw = _wrap_angle(self.yaw + yaw_rate * h)
        acc = self.thrust[:, None] * b3 - prm.drag[:, None] * (self.v - wind)
        acc[:, 2] -= GRAVITY
        self.a = acc
        self.v = self.v + acc * h
        self.p = self.p + self.v * h

    def _control(self, h: float) -> tuple[np.ndarray, np.ndarray]:
        """Cascaded PX4-like controller: returns commanded specific thrust (n,) and direction (n, 3)."""
        prm = self.params
        vel_sp = self.sp_v + prm.kp_pos[:, None] * (self.sp_p - self.p)
        vel_sp[:, :2] = _clip_norm(vel_sp[:, :2], prm.vel_max_xy)
        vel_sp[:, 2] = np.clip(vel_sp[:, 2], -prm.vel_max_down, prm.vel_max_up)
        vel_err = vel_sp - self.v
        acc_sp = (self.sp_a + prm.kp_vel[:, None] * vel_err + prm.ki_vel[:, None] * self.vel_integral
                  - prm.kd_vel[:, None] * self.a)
        thrust_vec = acc_sp
        thrust_vec[:, 2] += GRAVITY
        # vertical priority: clip the vertical thrust first, then give the horizontal what tilt/thrust leave
        f_z = np.clip(thrust_vec[:, 2], prm.thrust_min, prm.thrust_max)
        f_xy_max = np.minimum(np.tan(prm.tilt_max) * f_z, np.sqrt(np.maximum(prm.thrust_max ** 2 - f_z ** 2, 0.0)))
        f_xy = _clip_norm(thrust_vec[:, :2], f_xy_max)
        saturated = (f_z != thrust_vec[:, 2]) | (np.abs(f_xy - thrust_vec[:, :2]).sum(axis=1) > 1e-9)
        # anti-windup: integrate only while the thrust is not saturated (PX4 does likewise)
        self.vel_integral += np.where(saturated[:, None], 0.0, vel_err * h)
        f_cmd_vec = np.column_stack([f_xy, f_z])
        f_cmd = np.sqrt(np.einsum("ij,ij->i", f_cmd_vec, f_cmd_vec))
        return f_cmd, f_cmd_vec / f_cmd[:, None]

    # ----------------------------------------------------------------------------------- outputs
    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of positions (n, 3), velocities (n, 3) and quaternions (n, 4) as x, y, z, w."""
        return self.p.copy(), self.v.copy(), attitude_quaternions(self.thrust_dir, self.yaw)

    def tilt(self) -> np.ndarray:
        """Current tilt angle of each vehicle, rad."""
        return np.arccos(np.clip(self.thrust_dir[:, 2], -1.0, 1.0))
