"""`MavsdkBackend`: PX4 (SITL with Gazebo, or a real vehicle) through MAVSDK offboard control.

Uses `mavsdk` >= 4 from PyPI: the native MAVSDK binding (ctypes over the bundled libcmavsdk, no gRPC and
no separate mavsdk_server process), through its synchronous API. PX4 SITL's offboard link listens for
a ground station / companion on UDP 14540: `url="udpin://0.0.0.0:14540"` (the default).

- connect: add the connection, wait for the first autopilot, subscribe to LOCAL_POSITION_NED
  (position + velocity), ATTITUDE_QUATERNION, armed (HEARTBEAT) and in-air (EXTENDED_SYS_STATE), ask
  for them at `telemetry_rate` (MAV_CMD_SET_MESSAGE_INTERVAL, best effort), wait for a first position.
- arm: MAV_CMD_COMPONENT_ARM_DISARM, then wait until the heartbeat says armed.
- takeoff(alt): offboard take-off: a hold setpoint at the current position, offboard start
  (MAV_CMD_DO_SET_MODE, PX4 main mode OFFBOARD), a vertical ramp at `climb_speed` streamed at
  `setpoint_rate`, then wait until within 0.3 m of the altitude.
- set_setpoint: SET_POSITION_TARGET_LOCAL_NED with position + velocity + yaw, sent at once.
- land: offboard stop, MAV_CMD_NAV_LAND, wait until on the ground. disarm: wait for PX4's auto-disarm
  after landing, else send it.

Frames: the commander's ENU / FLU is converted to PX4's NED / FRD here and back for telemetry, with
`uav_traj_predictor.frames`.
The clock is the wall clock (time.time() advanced by time.monotonic()).
"""
from __future__ import annotations

import threading
import time

import numpy as np
from ..frames import enu_to_ned, enu_yaw_to_ned_deg, ned_to_enu, px4_to_ros_attitude, yaw_of
from .backend import BackendError, VehicleBackend, VehicleState, wait_for

def _import_mavsdk():
    try:
        import mavsdk
        from mavsdk.plugins.action import Action, ActionError
        from mavsdk.plugins.offboard import Offboard, OffboardError, PositionNedYaw, VelocityNedYaw
        from mavsdk.plugins.telemetry import Telemetry
    except ImportError as err:
        raise BackendError(f"the PX4 backend needs the `mavsdk` package >= 4 ({err}); "
                           "install it with `pip install mavsdk`") from None
    return dict(mavsdk=mavsdk, Action=Action, ActionError=ActionError, Offboard=Offboard,
                OffboardError=OffboardError, PositionNedYaw=PositionNedYaw, VelocityNedYaw=VelocityNedYaw,
                Telemetry=Telemetry)


class MavsdkBackend(VehicleBackend):
    """PX4 through MAVSDK offboard control (see module docstring)."""

    def __init__(self, url: str = "udpin://0.0.0.0:14540", telemetry_rate: float = 50.0,
                 setpoint_rate: float = 50.0, climb_speed: float = 1.0, model: str = "PX4 x500 (gz)"):
        self.url = url
        self.telemetry_rate, self.setpoint_rate, self.climb_speed = telemetry_rate, setpoint_rate, climb_speed
        self.description = f"{model} via MAVSDK offboard at {url}"
        self._api = None
        self._sdk = self._system = self._action = self._offboard = self._telemetry = None
        self._lock = threading.Lock()
        self._p = self._v = None
        self._q = np.array([0.0, 0.0, 0.0, 1.0])
        self._armed = self._in_air = False
        self._mono0, self._wall0 = time.monotonic(), time.time()
        self.offboard_active = False

    # ----------------------------------------------------------------------------------- link
    def connect(self, timeout: float) -> None:
        api = self._api = self._api or _import_mavsdk()
        if self._sdk is None:
            mavsdk = api["mavsdk"]
            self._sdk = mavsdk.Mavsdk(mavsdk.Configuration.create_with_component_type(
                mavsdk.ComponentType.GROUND_STATION))
            result = self._sdk.add_any_connection(self.url)
            if result != mavsdk.ConnectionResult.SUCCESS:
                self.close()
                raise BackendError(f"connect: cannot open {self.url}: {mavsdk.ConnectionResult(result).name}")
        if self._system is None:
            self._system = self._sdk.first_autopilot(float(timeout))
            if self._system is None:
                raise BackendError(f"connect: no autopilot heartbeat on {self.url} within {timeout:.0f} s")
            self._action, self._offboard = api["Action"](self._system), api["Offboard"](self._system)
            self._telemetry = api["Telemetry"](self._system)
            self._subscribe()
        wait_for(self, lambda s: self._p is not None, timeout, "a first LOCAL_POSITION_NED")

    def _subscribe(self) -> None:
        telemetry = self._telemetry
        for set_rate in (telemetry.set_rate_velocity_ned, telemetry.set_rate_attitude_quaternion):
            try:
                set_rate(self.telemetry_rate)
            except Exception:        # best effort: PX4 streams these by default on the offboard link
                pass
        telemetry.subscribe_position_velocity_ned(self._on_position_velocity)
        telemetry.subscribe_attitude_quaternion(self._on_attitude)
        telemetry.subscribe_armed(lambda armed, _: setattr(self, "_armed", bool(armed)))
        telemetry.subscribe_in_air(lambda in_air, _: setattr(self, "_in_air", bool(in_air)))

    def _on_position_velocity(self, data, _user) -> None:
        position = ned_to_enu([data.position.north_m, data.position.east_m, data.position.down_m])
        velocity = ned_to_enu([data.velocity.north_m_s, data.velocity.east_m_s, data.velocity.down_m_s])
        with self._lock:
            self._p, self._v = position, velocity

    def _on_attitude(self, q, _user) -> None:
        quaternion = px4_to_ros_attitude([q.w, q.x, q.y, q.z])
        with self._lock:
            self._q = quaternion

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.destroy()
        self._sdk = self._system = self._action = self._offboard = self._telemetry = None

    # ----------------------------------------------------------------------------------- commands
    def _call(self, what: str, function, *args):
        """Run a MAVSDK call, turning its errors into BackendError."""
        if self._system is None:
            raise BackendError(f"{what}: not connected")
        try:
            return function(*args)
        except (self._api["ActionError"], self._api["OffboardError"]) as err:
            raise BackendError(f"{what}: {err}") from None

    def arm(self, timeout: float) -> None:
        self._call("arm", self._action.arm)
        wait_for(self, lambda s: s.armed, timeout, "the vehicle to report armed")

    def takeoff(self, altitude: float, timeout: float) -> None:
        start = self.state().p
        target = start + [0.0, 0.0, float(altitude)]
        self.set_setpoint(start, np.zeros(3), self._yaw())
        self._call("takeoff (offboard start)", self._offboard.start)
        self.offboard_active = True
        duration = float(altitude) / self.climb_speed
        climb = np.array([0.0, 0.0, self.climb_speed])
        t0, period = self.now(), 1.0 / self.setpoint_rate
        for k in range(int(np.ceil(duration / period)) + 1):
            s = min(k * period, duration)
            self.set_setpoint(start + climb * s, climb if s < duration else np.zeros(3), self._yaw())
            self.sleep_until(t0 + (k + 1) * period)
        self.set_setpoint(target, np.zeros(3), self._yaw())
        wait_for(self, lambda s: abs(s.p[2] - target[2]) < 0.3, timeout, f"take-off to {altitude:.1f} m")

    def set_setpoint(self, position, velocity, yaw: float) -> None:
        api = self._api
        n, e, d = enu_to_ned(position)
        vn, ve, vd = enu_to_ned(velocity)
        yaw_deg = enu_yaw_to_ned_deg(yaw)
        self._call("setpoint", self._offboard.set_position_velocity_ned,
                   api["PositionNedYaw"](float(n), float(e), float(d), yaw_deg),
                   api["VelocityNedYaw"](float(vn), float(ve), float(vd), yaw_deg))

    def land(self, timeout: float) -> None:
        if not self.state().in_air:
            return
        if self.offboard_active:
            try:
                self._offboard.stop()
            except self._api["OffboardError"]:
                pass                  # the land command switches mode anyway
            self.offboard_active = False
        self._call("land", self._action.land)
        wait_for(self, lambda s: not s.in_air, timeout, "touch-down")

    def disarm(self, timeout: float) -> None:
        try:                          # PX4 disarms by itself shortly after landing
            wait_for(self, lambda s: not s.armed, min(timeout, 3.0), "auto-disarm")
            return
        except BackendError:
            pass
        self._call("disarm", self._action.disarm)
        wait_for(self, lambda s: not s.armed, timeout, "the vehicle to report disarmed")

    # ----------------------------------------------------------------------------------- state, clock
    def _yaw(self) -> float:
        return yaw_of(self.state().q)

    def state(self) -> VehicleState:
        with self._lock:
            p = np.full(3, np.nan) if self._p is None else self._p.copy()
            v = np.zeros(3) if self._v is None else self._v.copy()
            q = self._q.copy()
        return VehicleState(t=self.now(), p=p, v=v, q=q, armed=self._armed, in_air=self._in_air)

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0)

    def sleep_until(self, t: float) -> None:
        delay = t - self.now()
        if delay > 0:
            time.sleep(delay)
