"""The vehicle side of the commander: `VehicleBackend` and the state it reports.

Frames: everything the commander sees is ENU world (x east, y north, z up), metres, seconds; yaw is
the ENU heading (0 = east, counter-clockwise). Backends convert to their own frame (PX4: NED).

Time: a backend owns the clock the commander runs on. `now()` is the backend's time and
`sleep_until(t)` waits for it: the embedded simulator steps its physics up to `t` (faster than real
time), a real vehicle sleeps on the wall clock. The commander never calls `time.sleep` itself.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class BackendError(RuntimeError):
    """A vehicle command failed or timed out; the message says which and why (the commander retries)."""


@dataclass
class VehicleState:
    """What the vehicle reports: stamp (s, backend clock), ENU position / velocity, quaternion x, y, z, w."""
    t: float
    p: np.ndarray
    v: np.ndarray
    q: np.ndarray
    armed: bool
    in_air: bool


class VehicleBackend(ABC):
    """One vehicle the commander flies. Blocking calls raise `BackendError` on failure or timeout."""

    #: short description of the vehicle for the dataset card (model, simulator, autopilot)
    description: str = "vehicle"

    @abstractmethod
    def connect(self, timeout: float) -> None:
        """Open the link and wait until the vehicle is seen and reports its state."""

    @abstractmethod
    def arm(self, timeout: float) -> None:
        """Arm the motors and wait until the vehicle reports armed."""

    @abstractmethod
    def takeoff(self, altitude: float, timeout: float) -> None:
        """Climb to `altitude` metres above the take-off point and hold there (setpoint mode ready)."""

    @abstractmethod
    def set_setpoint(self, position, velocity, yaw: float) -> None:
        """Position (ENU, m) + velocity feed-forward (ENU, m/s) + yaw (rad) setpoint; sent at once."""

    @abstractmethod
    def state(self) -> VehicleState:
        """The latest vehicle state."""

    @abstractmethod
    def land(self, timeout: float) -> None:
        """Land where the vehicle is and wait until it is on the ground."""

    @abstractmethod
    def disarm(self, timeout: float) -> None:
        """Disarm and wait until the vehicle reports disarmed."""

    @abstractmethod
    def now(self) -> float:
        """Current time on the backend's clock, seconds."""

    @abstractmethod
    def sleep_until(self, t: float) -> None:
        """Return when the backend's clock reaches `t` (at once if it already has)."""

    def close(self) -> None:
        """Release the link (idempotent)."""


def wait_for(backend: VehicleBackend, condition, timeout: float, what: str, period: float = 0.05) -> VehicleState:
    """Poll `condition(state)` on the backend's clock every `period` s; BackendError after `timeout` s."""
    deadline = backend.now() + timeout
    while True:
        state = backend.state()
        if condition(state):
            return state
        if backend.now() >= deadline - 1e-9:
            raise BackendError(f"timed out after {timeout:.1f} s waiting for {what}")
        backend.sleep_until(min(backend.now() + period, deadline))
