"""`EmbeddedSimBackend`: the commander's vehicle is the package's own quadrotor simulator, in process.

Closed loop, lockstep: `sleep_until(t)` advances `sim.QuadrotorSim` to `t` under the last setpoint, so a
dataset is produced as fast as the CPU allows. A flat ground at z = 0 holds the vehicle while it is
landed (the physics is frozen there); take-off and landing are flown with vertical setpoint ramps.
`fail_first` makes named operations fail a number of times first (for testing the commander's retries).
"""
from __future__ import annotations

import numpy as np

from uav_traj_predictor.sim import profiles
from uav_traj_predictor.sim.vehicle import QuadrotorSim, VehicleParams, attitude_quaternions

from .backend import BackendError, VehicleBackend, VehicleState, wait_for

GROUND_Z = 0.0
LANDED_BELOW = 0.05     # m above ground counted as landed


class EmbeddedSimBackend(VehicleBackend):
    """A simulated PX4-like multicopter (see module docstring).

    profile: "default" (x500-like `VehicleParams.default`) or a key of `sim.profiles.VEHICLE_PROFILES`
    (parameters and wind drawn from `seed`); `wind=False` keeps the air still.
    """

    def __init__(self, seed: int = 0, profile: str = "default", wind: bool = False, climb_speed: float = 1.5,
                 land_speed: float = 0.8, max_step: float = 0.01, fail_first: dict[str, int] | None = None):
        rng = np.random.default_rng(seed)
        if profile == "default":
            params = VehicleParams.default(1)
        elif profile in profiles.VEHICLE_PROFILES:
            params = profiles.draw_vehicle(rng, profile)
        else:
            raise ValueError(f"unknown vehicle profile {profile!r}; expected 'default' or one of "
                             f"{', '.join(profiles.VEHICLE_PROFILES)}")
        wind_setup = profiles.draw_wind(rng, "standard" if profile == "default" else profile) if wind else None
        self.sim = QuadrotorSim(1, seed=int(rng.integers(2 ** 31)), params=params, max_substep=max_step,
                                wind_mean=None if wind_setup is None else wind_setup["mean"][None],
                                gust_std=None if wind_setup is None else wind_setup["gust_std"],
                                gust_tau=None if wind_setup is None else wind_setup["gust_tau"])
        self.sim.reset(0, position=[0.0, 0.0, GROUND_Z])
        self.climb_speed, self.land_speed = float(climb_speed), float(land_speed)
        self.params = {k: float(np.asarray(v)[0]) for k, v in vars(params).items()}
        self.wind = None if wind_setup is None else {k: np.round(np.asarray(v, float), 3).tolist()
                                                      for k, v in wind_setup.items()}
        self.description = f"embedded QuadrotorSim, profile {profile}, wind {'on' if wind else 'off'}"
        self.connected = self.armed = self.in_air = self.landing = False
        self.fail_first = dict(fail_first or {})

    # ----------------------------------------------------------------------------------- faults
    def _maybe_fail(self, operation: str) -> None:
        if self.fail_first.get(operation, 0) > 0:
            self.fail_first[operation] -= 1
            raise BackendError(f"{operation}: injected failure")

    def _require(self, condition: bool, message: str) -> None:
        if not condition:
            raise BackendError(message)

    # ----------------------------------------------------------------------------------- commands
    def connect(self, timeout: float) -> None:
        self._maybe_fail("connect")
        self.connected = True

    def arm(self, timeout: float) -> None:
        self._require(self.connected, "arm: not connected")
        self._maybe_fail("arm")
        self.armed = True

    def takeoff(self, altitude: float, timeout: float) -> None:
        self._require(self.armed, "takeoff: not armed")
        self._maybe_fail("takeoff")
        start = self.sim.p[0].copy()
        target = start + [0.0, 0.0, float(altitude)]
        self.in_air = True
        self._ramp(start, target, self.climb_speed)
        wait_for(self, lambda s: abs(s.p[2] - target[2]) < 0.1 and np.linalg.norm(s.v) < 0.2, timeout,
                 f"take-off to {altitude:.1f} m")

    def land(self, timeout: float) -> None:
        self._maybe_fail("land")
        if not self.in_air:
            return
        start = self.sim.p[0].copy()
        self.landing = True
        try:
            self._ramp(start, np.array([start[0], start[1], GROUND_Z]), self.land_speed)
            wait_for(self, lambda s: not s.in_air, timeout, "touch-down")
        finally:
            self.landing = False

    def disarm(self, timeout: float) -> None:
        self._require(not self.in_air, "disarm: refusing to disarm in the air")
        self._maybe_fail("disarm")
        self.armed = False

    def set_setpoint(self, position, velocity, yaw: float) -> None:
        if self.armed and self.in_air:
            self.sim.set_setpoint(0, position=position, velocity=velocity, yaw=yaw)

    def _ramp(self, start: np.ndarray, target: np.ndarray, speed: float, rate: float = 50.0) -> None:
        """Fly a straight constant-speed setpoint ramp from start to target (take-off / landing)."""
        distance = float(np.linalg.norm(target - start))
        duration = distance / speed
        velocity = (target - start) / max(duration, 1e-9)
        t0 = self.now()
        for k in range(1, int(np.ceil(duration * rate)) + 1):
            s = min(k / rate, duration)
            self.set_setpoint(start + velocity * s, velocity if s < duration else np.zeros(3), self.sim.sp_yaw[0])
            self.sleep_until(t0 + k / rate)
        self.set_setpoint(target, np.zeros(3), self.sim.sp_yaw[0])

    # ----------------------------------------------------------------------------------- state, clock
    def state(self) -> VehicleState:
        sim = self.sim
        q = attitude_quaternions(sim.thrust_dir, sim.yaw)
        return VehicleState(t=sim.time, p=sim.p[0].copy(), v=sim.v[0].copy(), q=q[0], armed=self.armed,
                            in_air=self.in_air)

    def now(self) -> float:
        return self.sim.time

    def sleep_until(self, t: float) -> None:
        dt = t - self.sim.time
        if dt <= 1e-9:
            self.sim.time = max(self.sim.time, t)
            return
        if not self.in_air:          # resting on the ground: time passes, nothing moves
            self.sim.time = t
            return
        self.sim.step(dt)
        self.sim.time = t            # no drift from summing steps: the clock lands exactly on t
        self._touch_ground()

    def _touch_ground(self) -> None:
        """Ground contact: touch-down while landing; otherwise the ground stops the vehicle (it keeps flying)."""
        sim = self.sim
        if self.landing and sim.p[0, 2] <= GROUND_Z + LANDED_BELOW:
            self.in_air = False
            sim.reset(0, position=[sim.p[0, 0], sim.p[0, 1], GROUND_Z], yaw=float(sim.yaw[0]))
        elif sim.p[0, 2] < GROUND_Z:   # crashed into the ground: stop there, keep flying
            sim.p[0, 2], sim.v[0, 2] = GROUND_Z, max(sim.v[0, 2], 0.0)
