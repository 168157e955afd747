"""The trajectory commander: a plain-Python state machine flying planned references on a `VehicleBackend`.

    IDLE -> CONNECT -> ARM -> TAKEOFF -> FLY(i) -> HOVER (or LAND -> ARM -> TAKEOFF) -> FLY(i+1) ...
         ... -> LAND -> DONE                       any unrecoverable failure -> (LAND) -> FAILED

- CONNECT / ARM / TAKEOFF / LAND are retried `config.retries[state]` times (timeouts from
  `config.timeouts`); when they stay failing the run ends in FAILED (landing first if airborne).
- FLY(i) moves to the reference's start (minimum-jerk transit, unrecorded), hovers, marks
  "start <i> <family>", streams position + velocity setpoints at `config.setpoint_rate`, marks "end <i>".
  A backend error, a lost vehicle (disarmed / on the ground) or a tracking error above
  `config.abort_error` aborts it ("abort <i> <reason>"); it is retried `config.retries["trajectory"]`
  times, re-arming and taking off again if needed, then skipped.
- Every commander tick records the vehicle state (`recorder.odometry`); boundaries go to
  `recorder.mark`, each completed trajectory to `recorder.trajectory`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from uav_traj_predictor.sim import paths

from .backend import BackendError, VehicleBackend, VehicleState
from .config import DatagenConfig
from .plan import PlannedTrajectory

log = logging.getLogger("uav_traj_predictor.datagen")


class State(str, Enum):
    IDLE = "IDLE"
    CONNECT = "CONNECT"
    ARM = "ARM"
    TAKEOFF = "TAKEOFF"
    FLY = "FLY"
    HOVER = "HOVER"
    LAND = "LAND"
    DONE = "DONE"
    FAILED = "FAILED"


class TrajectoryAborted(RuntimeError):
    """The vehicle could not fly the current reference (reason in the message)."""


@dataclass
class TrajectoryRecord:
    """A flown trajectory: the recorded states with the reference at the same stamps, and statistics."""
    index: int
    family: str
    attempts: int
    t: np.ndarray            # (N,) backend clock, s
    p: np.ndarray            # (N, 3) ENU
    v: np.ndarray            # (N, 3)
    q: np.ndarray            # (N, 4) x, y, z, w
    reference_p: np.ndarray  # (N, 3) reference position at the same stamps
    setpoints: int           # setpoints sent during the trajectory
    planned: PlannedTrajectory

    @property
    def stats(self) -> dict:
        """Tracking error (m) statistics and the achieved setpoint rate (Hz)."""
        error = np.linalg.norm(self.p - self.reference_p, axis=1)
        duration = float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0
        return dict(samples=int(len(self.t)), duration_s=round(duration, 3),
                    rmse_m=round(float(np.sqrt(np.mean(error ** 2))), 4),
                    mean_m=round(float(error.mean()), 4), p95_m=round(float(np.percentile(error, 95)), 4),
                    max_m=round(float(error.max()), 4),
                    setpoint_rate_hz=round(self.setpoints / duration, 2) if duration > 0 else 0.0,
                    max_speed=round(float(np.linalg.norm(self.v, axis=1).max()), 3))


@dataclass
class RunResult:
    """Outcome of `Commander.run`: final state, state transitions (time, state), per-trajectory outcomes."""
    final_state: State
    transitions: list[tuple[float, State]] = field(default_factory=list)
    flown: list[TrajectoryRecord] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)     # {index, family, attempts, reason}
    errors: list[str] = field(default_factory=list)

    @property
    def states(self) -> list[State]:
        return [state for _, state in self.transitions]


class NullRecorder:
    """Records nothing (the commander's recorder interface)."""

    def odometry(self, state: VehicleState) -> None: ...
    def mark(self, t: float, text: str) -> None: ...
    def trajectory(self, record: TrajectoryRecord) -> None: ...


class Commander:
    """Flies `plan` on `backend` per `config`, reporting to `recorder` (see module docstring)."""

    def __init__(self, backend: VehicleBackend, config: DatagenConfig, plan: list[PlannedTrajectory],
                 recorder=None):
        self.backend, self.config, self.plan = backend, config, list(plan)
        self.recorder = recorder or NullRecorder()
        self.period = 1.0 / config.setpoint_rate
        self.current = 0          # index into plan
        self.attempts = 0         # attempts of the current trajectory
        self.result = RunResult(final_state=State.IDLE)
        self._last_recorded = -np.inf

    # ----------------------------------------------------------------------------------- main loop
    def run(self) -> RunResult:
        """Run the state machine to DONE or FAILED; never raises on vehicle failures."""
        handlers = {State.IDLE: lambda: State.CONNECT, State.CONNECT: self._connect, State.ARM: self._arm,
                    State.TAKEOFF: self._takeoff, State.FLY: self._fly, State.HOVER: self._hover,
                    State.LAND: self._land}
        state = State.IDLE
        self._enter(state)
        while state not in (State.DONE, State.FAILED):
            state = handlers[state]()
            self._enter(state)
        self.result.final_state = state
        return self.result

    def _enter(self, state: State) -> None:
        log.info("commander: %s", state.value)
        self.result.transitions.append((self.backend.now(), state))

    def _retrying(self, name: str, action) -> bool:
        """Run `action()` up to 1 + retries[name] times; False (errors kept) when it never succeeded."""
        for attempt in range(1 + int(self.config.retries[name])):
            try:
                action()
                return True
            except BackendError as err:
                message = f"{name} attempt {attempt + 1}: {err}"
                log.warning("commander: %s", message)
                self.result.errors.append(message)
        return False

    def _fail(self) -> State:
        """Unrecoverable: land if airborne (best effort), then FAILED."""
        if self.backend.state().in_air:
            self._retrying("land", lambda: self.backend.land(self.config.timeouts["land"]))
        return State.FAILED

    # ----------------------------------------------------------------------------------- states
    def _connect(self) -> State:
        ok = self._retrying("connect", lambda: self.backend.connect(self.config.timeouts["connect"]))
        return State.ARM if ok else State.FAILED

    def _arm(self) -> State:
        ok = self._retrying("arm", lambda: self.backend.arm(self.config.timeouts["arm"]))
        return State.TAKEOFF if ok else self._fail()

    def _takeoff(self) -> State:
        ok = self._retrying("takeoff", lambda: self.backend.takeoff(self.config.takeoff_altitude,
                                                                     self.config.timeouts["takeoff"]))
        if not ok:
            return self._fail()
        return State.FLY if self.current < len(self.plan) else State.LAND

    def _hover(self) -> State:
        try:
            self._hold(self.config.hover_s)
        except (BackendError, TrajectoryAborted) as err:
            self.result.errors.append(f"hover: {err}")
            return self._recover()
        return State.FLY if self.current < len(self.plan) else State.LAND

    def _land(self) -> State:
        ok = self._retrying("land", lambda: self.backend.land(self.config.timeouts["land"]))
        if not ok:
            return State.FAILED
        ok = self._retrying("land", lambda: self.backend.disarm(self.config.timeouts["disarm"]))
        if self.current < len(self.plan):
            return State.ARM if ok else State.FAILED
        return State.DONE if ok else State.FAILED

    def _fly(self) -> State:
        planned = self.plan[self.current]
        self.attempts += 1
        try:
            record = self._fly_reference(planned)
        except (BackendError, TrajectoryAborted) as err:
            return self._abort(planned, str(err))
        self.recorder.trajectory(record)
        self.result.flown.append(record)
        self._next_trajectory()
        if self.current >= len(self.plan):
            return State.LAND
        return State.HOVER if self.config.between == "hover" else State.LAND

    # ----------------------------------------------------------------------------------- failures
    def _abort(self, planned: PlannedTrajectory, reason: str) -> State:
        family = planned.reference.family
        self.recorder.mark(self.backend.now(), f"abort {planned.index} {reason}")
        self.result.errors.append(f"trajectory {planned.index} ({family}) attempt {self.attempts}: {reason}")
        log.warning("commander: trajectory %d aborted: %s", planned.index, reason)
        if self.attempts > int(self.config.retries["trajectory"]):
            self.result.skipped.append(dict(index=planned.index, family=family, attempts=self.attempts,
                                            reason=reason))
            self._next_trajectory()
        return self._recover()

    def _recover(self) -> State:
        """After an abort: hold where the vehicle is if it still flies, else re-arm and take off."""
        state = self.backend.state()
        if state.armed and state.in_air:
            try:
                self._hold(self.config.hover_s, position=state.p)
                return State.HOVER if self.current < len(self.plan) else State.LAND
            except (BackendError, TrajectoryAborted) as err:
                self.result.errors.append(f"recovery hover: {err}")
                return self._fail()
        if self.current >= len(self.plan):
            return State.LAND
        return State.ARM

    def _next_trajectory(self) -> None:
        self.current += 1
        self.attempts = 0

    # ----------------------------------------------------------------------------------- flying
    def _fly_reference(self, planned: PlannedTrajectory) -> TrajectoryRecord:
        ref = planned.reference
        self._transit(ref.p[0], float(ref.yaw[0]))
        self._hold(self.config.hover_s, position=ref.p[0], yaw=float(ref.yaw[0]))
        self.recorder.mark(self.backend.now(), f"start {planned.index} {ref.family}")
        samples, setpoints = self._stream(ref.duration, lambda tau: ref.sample(tau), check_error=True)
        self.recorder.mark(self.backend.now(), f"end {planned.index}")
        t, p, v, q, ref_p = (np.array(column) for column in zip(*samples))
        return TrajectoryRecord(index=planned.index, family=ref.family, attempts=self.attempts, t=t, p=p, v=v,
                                q=q, reference_p=ref_p, setpoints=setpoints, planned=planned)

    def _transit(self, target, yaw: float) -> None:
        """Minimum-jerk move from the current position to `target` at about transit_speed."""
        start = self.backend.state().p
        span = float(np.linalg.norm(target - start))
        if span < 0.05:
            return
        duration = paths.min_jerk_duration(span, self.config.transit_speed, 2.0)
        dt = 0.01
        p = np.vstack([start, paths.min_jerk(start, target, duration, dt)])
        v = np.gradient(p, dt, axis=0)
        n = len(p)

        def sample(tau):
            i = min(int(round(tau / dt)), n - 1)
            return p[i], v[i], None, yaw

        self._stream((n - 1) * dt, sample, check_error=False)

    def _hold(self, duration: float, position=None, yaw: float | None = None) -> None:
        """Hover at `position` (default: where the vehicle is) for `duration` seconds."""
        state = self.backend.state()
        target = state.p if position is None else np.asarray(position, float)
        heading = _yaw_of(state.q) if yaw is None else yaw
        zero = np.zeros(3)
        self._stream(duration, lambda tau: (target, zero, None, heading), check_error=False)

    def _stream(self, duration: float, sample, check_error: bool):
        """Send setpoints sample(tau) at setpoint_rate for `duration` s; returns (samples, count).

        Ticks are scheduled on the backend clock; a late tick samples the reference at the actual
        elapsed time (missed ticks are skipped, never bunched). Each tick records the vehicle state.
        """
        backend, period = self.backend, self.period
        t0 = backend.now()
        samples, count, k = [], 0, 0
        while True:
            tau = backend.now() - t0
            tau = duration if tau >= duration - 1e-6 else tau
            state = backend.state()
            if state.t > self._last_recorded:      # consecutive streams share their boundary tick
                self.recorder.odometry(state)
                self._last_recorded = state.t
            ref_p, ref_v, _, ref_yaw = sample(tau)
            self._check_vehicle(state, ref_p, check_error)
            samples.append((state.t, state.p, state.v, state.q, ref_p))
            if tau >= duration:
                return samples, count
            backend.set_setpoint(ref_p, ref_v, ref_yaw)
            count += 1
            k = max(k + 1, int((backend.now() - t0) / period) + 1)
            backend.sleep_until(t0 + min(k * period, duration))

    def _check_vehicle(self, state: VehicleState, ref_p, check_error: bool) -> None:
        if not state.armed or not state.in_air:
            raise TrajectoryAborted("vehicle disarmed" if not state.armed else "vehicle on the ground")
        if not np.all(np.isfinite(state.p)):
            raise TrajectoryAborted("non-finite vehicle position")
        error = float(np.linalg.norm(state.p - ref_p))
        if check_error and error > self.config.abort_error:
            raise TrajectoryAborted(f"tracking error {error:.1f} m > {self.config.abort_error} m")


def _yaw_of(q) -> float:
    """ENU heading of quaternion (x, y, z, w)."""
    x, y, z, w = q
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
