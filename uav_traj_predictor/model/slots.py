"""`TrackSlots`: the slot table of a `StreamingPredictor` and the one state object of its C path.

Per slot (track): whether it is live, how many grid velocities it has consumed since its last reset,
its last velocity, its GRU state (the kernels stepper's (layers, capacity, hidden) float32 array) and
top hidden row, and the status of its latest prediction. The C path (kernels/cstream.c,
`Plan.advance(slots, ...)`) reads `gru`, `top`, `last_velocity`, `count` and `active` from this object and
advances them in place. Capacity grows by doubling; `listeners` (objects with `grow(capacity)` and
`reset(indices)`, e.g. the online calibration) follow it.
"""
from __future__ import annotations

import numpy as np

from ..core.prediction import WARMING_UP


class TrackSlots:
    """Slots 0..capacity-1 over a kernels `GRUStepper` (see module doc)."""

    def __init__(self, stepper, hidden: int, listeners=()):
        capacity = stepper.capacity
        self.stepper = stepper
        self.listeners = list(listeners)
        self.active = np.zeros(capacity, bool)
        self.count = np.zeros(capacity, np.int64)
        self.last_velocity = np.zeros((capacity, 3), np.float64)
        self.top = np.zeros((capacity, hidden), np.float32)
        self.status = np.full(capacity, WARMING_UP, dtype=object)
        # the GRU state (layers, capacity, hidden): the stepper's array (numpy on the CPU paths); a plain
        # attribute (re-bound when the stepper grows) so the C call reads it without a Python call
        self.gru = stepper.state

    @property
    def capacity(self) -> int:
        return len(self.active)

    @property
    def active_tracks(self) -> int:
        return int(np.count_nonzero(self.active))

    def add(self, n: int) -> np.ndarray:
        """Allocate `n` fresh slots (zero state, warming up) and return their indices."""
        free = np.flatnonzero(~self.active)
        if len(free) < n:
            self._grow(max(2 * self.capacity, self.capacity + n - len(free)))
            free = np.flatnonzero(~self.active)
        indices = free[:n]
        self.active[indices] = True
        self.reset(indices)
        return indices

    def remove(self, indices) -> None:
        """Free slots; they may be handed out again by `add`."""
        self.active[self.checked(indices)] = False

    def reset(self, indices) -> None:
        """Zero the state of slots (after a gap or a time jump): warming up again."""
        indices = self.checked(indices)
        self.stepper.reset(indices)
        self.count[indices] = 0
        self.last_velocity[indices] = 0.0
        self.top[indices] = 0.0
        self.status[indices] = WARMING_UP
        for listener in self.listeners:
            listener.reset(indices)

    def checked(self, indices) -> np.ndarray:
        """`indices` as a 1-D int64 array; IndexError unless every one is a live slot."""
        indices = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if indices.ndim == 1 and (not indices.size or (indices.min() >= 0 and indices.max() < self.capacity
                                                       and self.active[indices].all())):
            return indices
        raise IndexError(f"track indices {indices.tolist()} include unknown or removed tracks")

    def _grow(self, capacity: int) -> None:
        old = self.capacity
        self.stepper.ensure_capacity(capacity)
        self.gru = self.stepper.state

        def extend(array, fill):
            out = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
            out[:old] = array
            return out
        self.active = extend(self.active, False)
        self.count = extend(self.count, 0)
        self.last_velocity = extend(self.last_velocity, 0.0)
        self.top = extend(self.top, 0.0)
        self.status = extend(self.status, WARMING_UP)
        for listener in self.listeners:
            listener.grow(capacity)
