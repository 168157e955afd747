"""The trajectories a data-generation run flies: references drawn from the simulator's own families.

The references come from `sim.references.ReferenceGenerator` (the same families and parameters as
`uav-traj generate`), then are made flyable for the vehicle at hand: slowed down (retimed, shape kept)
to `max_speed`, raised above `min_altitude`, and optionally moved so they start above the home point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uav_traj_predictor.sim.references import Reference, ReferenceGenerator

from .config import DatagenConfig

REFERENCE_DT = 0.01


@dataclass
class PlannedTrajectory:
    """One trajectory to fly: its index, the (adapted) reference and what was changed."""
    index: int
    reference: Reference
    adaptation: dict


def retime(reference: Reference, max_speed: float) -> tuple[Reference, float]:
    """The same path flown slower so that its peak speed is at most max_speed; returns (ref, factor)."""
    peak = float(np.linalg.norm(reference.v, axis=1).max())
    factor = max(1.0, peak / max_speed)
    if factor == 1.0:
        return reference, 1.0
    slowed = Reference(family=reference.family, dt=reference.dt * factor, p=reference.p,
                       v=reference.v / factor, a=reference.a / factor ** 2, yaw=reference.yaw,
                       info=reference.info)
    return slowed, factor


def place(reference: Reference, home_xy, min_altitude: float, recenter: bool) -> tuple[Reference, np.ndarray]:
    """Shift the reference (a copy): start above home_xy when recenter, lowest point >= min_altitude."""
    shift = np.zeros(3)
    if recenter:
        shift[:2] = np.asarray(home_xy, float) - reference.p[0, :2]
    shift[2] = max(0.0, min_altitude - float(reference.p[:, 2].min()))
    moved = Reference(family=reference.family, dt=reference.dt, p=reference.p + shift, v=reference.v,
                      a=reference.a, yaw=reference.yaw, info=reference.info)
    return moved, shift


def plan_trajectories(config: DatagenConfig, home_xy=(0.0, 0.0)) -> list[PlannedTrajectory]:
    """`config.trajectories` references, reproducible from `config.seed` (see module docstring)."""
    generator = ReferenceGenerator(seed=config.seed)
    planned = []
    for index in range(config.trajectories):
        duration = float(generator.rng.uniform(*config.duration_s))
        drawn = generator.draw_random(duration, REFERENCE_DT, families=config.families)
        slowed, factor = retime(drawn, config.max_speed)
        placed, shift = place(slowed, home_xy, config.min_altitude, config.recenter)
        adaptation = dict(drawn_duration_s=round(duration, 3), retime_factor=round(factor, 4),
                          shift_m=np.round(shift, 3).tolist(),
                          peak_speed=round(float(np.linalg.norm(placed.v, axis=1).max()), 3))
        planned.append(PlannedTrajectory(index=index, reference=placed, adaptation=adaptation))
    return planned
