"""MavsdkBackend against a scripted MAVLink autopilot on 127.0.0.1 (protocol level; no PX4 is run).

The peer (pymavlink, MAVLink 2) plays a PX4 multicopter: HEARTBEATs with autopilot PX4 and its
custom mode / armed flag, COMMAND_ACK for every COMMAND_LONG (arm/disarm, set mode, land, message
intervals, AUTOPILOT_VERSION request, which it also answers), LOCAL_POSITION_NED, ATTITUDE_QUATERNION
and EXTENDED_SYS_STATE at 50 Hz, and a toy vehicle that follows the received position setpoints.
It records every SET_POSITION_TARGET_LOCAL_NED. Loopback only, bounded by a deadline, stops by itself.

What this exercises: MAVSDK's connection and autopilot discovery, arming, offboard start (mode
switch after a setpoint), the setpoint stream (rate, frame, type mask, ENU->NED), land and disarm, the
telemetry conversion back to ENU, a denied arm command (retried, then FAILED) and a silent link (connect
timeout). What it does not: PX4's own acceptance logic (preflight checks,
offboard failsafes), real dynamics, Gazebo.
"""
import os
import socket
import threading
import time

import numpy as np
import pytest

os.environ.setdefault("MAVLINK20", "1")   # pymavlink: MAVLink 2 messages (before mavutil is imported)
mavutil = pytest.importorskip("pymavlink.mavutil", reason="needs pymavlink (pip install pymavlink)")
pytest.importorskip("mavsdk.plugins.offboard", reason="needs mavsdk >= 4 (pip install mavsdk)")

from pymavlink.dialects.v20 import common as mavlink  # noqa: E402

from uav_traj_predictor.datagen.commander import Commander, State  # noqa: E402
from uav_traj_predictor.datagen.config import load_config  # noqa: E402
from uav_traj_predictor.datagen.mavsdk_backend import MavsdkBackend  # noqa: E402
from uav_traj_predictor.datagen.plan import plan_trajectories  # noqa: E402
from uav_traj_predictor.datagen.run import make_backend  # noqa: E402

PX4_OFFBOARD = 6          # PX4 custom main mode
PX4_AUTO, PX4_AUTO_LAND = 4, 6
# SET_POSITION_TARGET_LOCAL_NED type_mask bits: 0-2 position, 3-5 velocity, 6-8 acceleration, 11 yaw rate
POSITION_AND_VELOCITY_IGNORED = 0b111111


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScriptedAutopilot(threading.Thread):
    """A PX4-like MAVLink peer (see module docstring); runs until stop() or `lifetime` seconds."""

    def __init__(self, port: int, lifetime: float = 40.0):
        super().__init__(daemon=True)
        self.link = mavutil.mavlink_connection(f"udpout:127.0.0.1:{port}", source_system=1, source_component=1,
                                               dialect="common")
        self.deadline = time.monotonic() + lifetime
        self.stopped = threading.Event()
        self.armed, self.main_mode, self.sub_mode = False, 3, 0
        self.p, self.v, self.landed_at = np.zeros(3), np.zeros(3), None      # NED
        self.sp_p, self.sp_v = np.zeros(3), np.zeros(3)
        self.denied: set[int] = set()         # commands answered MAV_RESULT_DENIED
        self.commands: list[tuple[float, int]] = []
        self.setpoints: list[tuple[float, tuple, int, int, int]] = []     # (time, values, mask, frame, mode)

    def stop(self):
        self.stopped.set()
        self.join(timeout=5)
        self.link.close()

    def run(self):
        last_heartbeat = last_telemetry = 0.0
        while not self.stopped.is_set() and time.monotonic() < self.deadline:
            now = time.monotonic()
            if now - last_heartbeat >= 0.2:
                self._heartbeat()
                last_heartbeat = now
            if now - last_telemetry >= 0.02:
                self._move(now - last_telemetry if last_telemetry else 0.0)
                self._telemetry(now)
                last_telemetry = now
            message = self.link.recv_match(blocking=True, timeout=0.005)
            if message is not None:
                self._handle(message, now)

    def _heartbeat(self):
        base = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (mavlink.MAV_MODE_FLAG_SAFETY_ARMED if self.armed else 0)
        self.link.mav.heartbeat_send(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_PX4, base,
                                     (self.main_mode << 16) | (self.sub_mode << 24),
                                     mavlink.MAV_STATE_ACTIVE if self.armed else mavlink.MAV_STATE_STANDBY)

    def _move(self, dt):
        """Toy vehicle: follows the setpoint (offboard) or descends (land); on the ground when disarmed."""
        if not self.armed:
            self.v[:] = 0.0
            return
        if self.main_mode == PX4_AUTO and self.sub_mode == PX4_AUTO_LAND:
            self.sp_p, self.sp_v = np.array([self.p[0], self.p[1], 0.0]), np.zeros(3)
        step = min(1.0, dt / 0.1)
        self.v = self.sp_v + (self.sp_p - self.p) / 0.1
        self.p = self.p + step * (self.sp_p - self.p)
        if self.p[2] > -0.02 and self.main_mode == PX4_AUTO:   # touched down: PX4 disarms ~0.5 s later
            self.landed_at = self.landed_at or time.monotonic()
            if time.monotonic() - self.landed_at > 0.5:
                self.armed = False

    def _telemetry(self, now):
        boot_ms = int(now * 1000) % 2 ** 32
        self.link.mav.local_position_ned_send(boot_ms, *self.p, *self.v)
        self.link.mav.attitude_quaternion_send(boot_ms, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        in_air = self.armed and self.p[2] < -0.05
        self.link.mav.extended_sys_state_send(mavlink.MAV_VTOL_STATE_MC, mavlink.MAV_LANDED_STATE_IN_AIR if in_air
                                              else mavlink.MAV_LANDED_STATE_ON_GROUND)

    def _handle(self, message, now):
        kind = message.get_type()
        if kind == "COMMAND_LONG":
            self._command(message, now)
        elif kind == "SET_POSITION_TARGET_LOCAL_NED":
            values = (message.x, message.y, message.z, message.vx, message.vy, message.vz, message.yaw)
            self.setpoints.append((now, values, message.type_mask, message.coordinate_frame, self.main_mode))
            if self.main_mode == PX4_OFFBOARD:
                self.sp_p = np.array(values[:3])
                self.sp_v = np.array(values[3:6])

    def _command(self, message, now):
        self.commands.append((now, message.command))
        if message.command in self.denied:
            self.link.mav.command_ack_send(message.command, mavlink.MAV_RESULT_DENIED, 0, 0,
                                           message.get_srcSystem(), message.get_srcComponent())
            return
        if message.command == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
            self.armed = message.param1 > 0.5
        elif message.command == mavlink.MAV_CMD_DO_SET_MODE:
            self.main_mode, self.sub_mode = int(message.param2), int(message.param3)
        elif message.command == mavlink.MAV_CMD_NAV_LAND:
            self.main_mode, self.sub_mode = PX4_AUTO, PX4_AUTO_LAND
        elif message.command == mavlink.MAV_CMD_REQUEST_MESSAGE and int(message.param1) == 148:
            capabilities = (mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | mavlink.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                            | mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED)
            self.link.mav.autopilot_version_send(capabilities, 0x010F0000, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8,
                                                 0, 0, 1)
        self.link.mav.command_ack_send(message.command, mavlink.MAV_RESULT_ACCEPTED, 0, 0,
                                       message.get_srcSystem(), message.get_srcComponent())


@pytest.fixture
def autopilot():
    port = free_udp_port()
    peer = ScriptedAutopilot(port)
    peer.start()
    yield peer, f"udpin://127.0.0.1:{port}"
    peer.stop()


def test_commander_flies_scripted_px4_peer_over_mavlink(autopilot):
    peer, url = autopilot
    config = load_config(trajectories=1, families=["hover_dash"], duration_s=(2.0, 2.0), takeoff_altitude=1.0,
                         hover_s=0.3, transit_speed=3.0, setpoint_rate=40.0, seed=3,
                         timeouts=dict(connect=5, arm=3, takeoff=5, land=5, disarm=3),
                         px4=dict(url=url, climb_speed=2.0))
    backend = make_backend("px4", config)     # the path `uav-traj datagen run --backend px4` takes
    assert isinstance(backend, MavsdkBackend) and backend.setpoint_rate == 40.0
    marks = []

    class Marks:
        def odometry(self, state): ...
        def mark(self, t, text): marks.append((t, text))
        def trajectory(self, record): ...

    started = time.monotonic()
    try:
        result = Commander(backend, config, plan_trajectories(config), Marks()).run()
    finally:
        backend.close()
    elapsed = time.monotonic() - started
    assert result.final_state == State.DONE, result.errors
    assert result.states == [State.IDLE, State.CONNECT, State.ARM, State.TAKEOFF, State.FLY, State.LAND, State.DONE]
    assert [text.split()[0] for _, text in marks] == ["start", "end"]
    assert elapsed < 25

    commands = [command for _, command in peer.commands]
    for needed in (mavlink.MAV_CMD_COMPONENT_ARM_DISARM, mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_CMD_NAV_LAND):
        assert needed in commands
    offboard_at = next(t for t, c in peer.commands if c == mavlink.MAV_CMD_DO_SET_MODE)
    assert peer.setpoints[0][0] < offboard_at, "PX4 needs setpoints streaming before the switch to offboard"

    # every setpoint: local NED frame, position + velocity used
    assert {frame for *_, frame, _ in peer.setpoints} == {mavlink.MAV_FRAME_LOCAL_NED}
    assert all(mask & POSITION_AND_VELOCITY_IGNORED == 0 for _, _, mask, _, _ in peer.setpoints)

    # the stream during the trajectory: rate of distinct setpoints (MAVSDK's own 20 Hz resend repeats values)
    t_start, t_end = (t for t, _ in marks)
    wall_offset = time.time() - time.monotonic()
    window = [(t, values) for t, values, *_ in peer.setpoints if t_start <= t + wall_offset <= t_end]
    distinct = len({values for _, values in window})
    span = window[-1][0] - window[0][0]
    rate = (distinct - 1) / span
    print(f"setpoint stream: {len(window)} messages, {distinct} distinct over {span:.2f} s = {rate:.1f} Hz")
    assert rate >= 20.0
    # ENU -> NED: the trajectory flies above ground, so NED down is negative
    assert max(values[2] for _, values in window) < 0
    assert not peer.armed


def test_denied_arming_is_retried_then_fails_cleanly(autopilot):
    peer, url = autopilot
    peer.denied.add(mavlink.MAV_CMD_COMPONENT_ARM_DISARM)
    config = load_config(trajectories=1, retries=dict(arm=1), timeouts=dict(connect=5, arm=2))
    backend = MavsdkBackend(url=url)
    try:
        result = Commander(backend, config, plan_trajectories(config)).run()
    finally:
        backend.close()
    assert result.states == [State.IDLE, State.CONNECT, State.ARM, State.FAILED]
    assert len(result.errors) == 2 and all("COMMAND_DENIED" in error for error in result.errors)
    arm_requests = [c for _, c in peer.commands if c == mavlink.MAV_CMD_COMPONENT_ARM_DISARM]
    assert len(arm_requests) >= 2 and not peer.setpoints


def test_no_autopilot_times_out_on_connect():
    config = load_config(trajectories=1, retries=dict(connect=0), timeouts=dict(connect=1.0))
    backend = MavsdkBackend(url=f"udpin://127.0.0.1:{free_udp_port()}")
    try:
        result = Commander(backend, config, plan_trajectories(config)).run()
    finally:
        backend.close()
    assert result.states == [State.IDLE, State.CONNECT, State.FAILED]
    assert "no autopilot heartbeat" in result.errors[0]
