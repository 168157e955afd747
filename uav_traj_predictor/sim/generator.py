"""Vectorised flight generator: many simulated flights stepped together, returned as `Flight`s.

Reproducibility: flight i draws everything (family, reference, vehicle, wind, noise) from its own
generator `SeedSequence(seed).spawn(n_flights)[i]`, so a flight depends only on (seed, i, arguments),
not on the batch size. The physics runs at `rate` (at least 100 Hz: substeps when `rate` is lower)
and is recorded every substep count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from uav_traj_predictor.data import Flight, ReadReport

from . import profiles
from .noise import apply_noise, check_noise
from .references import FAMILIES, ReferenceGenerator, check_families
from .vehicle import QuadrotorSim, VehicleParams, attitude_quaternions

MIN_PHYSICS_RATE = 100.0
BATCH_FLOATS = 3e7          # cap on (steps x flights x 13) floats held per batch (~240 MB)


@dataclass
class SimulatedFlight:
    """A generated flight plus what produced it (for dataset cards)."""
    flight: Flight
    family: str
    info: dict


def _check_args(n_flights, duration_s, rate):
    if int(n_flights) != n_flights or n_flights < 1:
        raise ValueError(f"n_flights must be a positive integer, got {n_flights}")
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    if not np.isfinite(rate) or not 0.5 <= rate <= 1000:
        raise ValueError(f"rate must be within 0.5..1000 Hz, got {rate}")


def generate_flights(n_flights: int, duration_s: float, seed: int = 0, families=None, rate: float = 100.0,
                     noise: str = "mocap") -> list[Flight]:
    """`n_flights` simulated flights of `duration_s` seconds at `rate` Hz (see module docstring)."""
    return [sim.flight for sim in simulate_flights(n_flights, duration_s, seed, families, rate, noise)]


def simulate_flights(n_flights: int, duration_s: float, seed: int = 0, families=None, rate: float = 100.0,
                     noise: str = "mocap", progress: Callable[[int], None] | None = None) -> list[SimulatedFlight]:
    """Like `generate_flights`, with each flight's family and parameters; `progress(k)` after k more flights."""
    _check_args(n_flights, duration_s, rate)
    names = check_families(families)
    check_noise(noise)
    substeps = max(1, int(np.ceil(MIN_PHYSICS_RATE / rate - 1e-9)))
    dt = 1.0 / (rate * substeps)
    n_steps = int(round(duration_s / dt))
    batch = int(max(1, min(n_flights, BATCH_FLOATS // (13 * (n_steps + 1)))))
    seeds = np.random.SeedSequence(seed).spawn(int(n_flights))
    out = []
    for start in range(0, int(n_flights), batch):
        indices = range(start, min(start + batch, int(n_flights)))
        out += _simulate_batch([np.random.default_rng(seeds[i]) for i in indices], list(indices), names,
                               n_steps, dt, substeps, seed, noise)
        if progress:
            progress(len(indices))
    return out


def _draw_flight_setup(rng, names, duration_s, dt):
    family = names[int(rng.integers(len(names)))]
    reference = ReferenceGenerator(rng).draw(family, duration_s, dt)
    profile = FAMILIES[family].vehicle
    vehicle = profiles.draw_vehicle(rng, profile)
    wind = profiles.draw_wind(rng, profile)
    gusts = profiles.gust_series(rng, len(reference.p), dt, wind["gust_std"], wind["gust_tau"])
    return reference, vehicle, wind["mean"] + gusts, wind


def _simulate_batch(rngs, indices, names, n_steps, dt, substeps, seed, noise):
    setups = [_draw_flight_setup(rng, names, n_steps * dt, dt) for rng in rngs]
    refs = [s[0] for s in setups]
    # time-major stacks so that each step reads contiguous (flights, 3) slices
    ref_p, ref_v, ref_a = (np.ascontiguousarray(np.stack([getattr(r, k) for r in refs], axis=1)) for k in "pva")
    position_only = [j for j, r in enumerate(refs) if r.position_only]
    ref_v[:, position_only] = 0.0
    ref_a[:, position_only] = 0.0
    ref_yaw = np.ascontiguousarray(np.stack([r.yaw for r in refs], axis=1))
    wind = np.ascontiguousarray(np.stack([s[2] for s in setups], axis=1))
    sim = QuadrotorSim(len(rngs), seed=None, params=VehicleParams.stack([s[1] for s in setups]), max_substep=dt)
    sim.reset(np.arange(len(rngs)), position=ref_p[0])
    sim.yaw = ref_yaw[0].copy()
    record = range(0, n_steps + 1, substeps)
    rec_p, rec_v = np.empty((len(record), len(rngs), 3)), np.empty((len(record), len(rngs), 3))
    rec_dir, rec_yaw = np.empty((len(record), len(rngs), 3)), np.empty((len(record), len(rngs)))
    row = 0
    for k in range(n_steps + 1):
        if k % substeps == 0:
            rec_p[row], rec_v[row], rec_dir[row], rec_yaw[row] = sim.p, sim.v, sim.thrust_dir, sim.yaw
            row += 1
        if k == n_steps:
            break
        sim.set_setpoints(ref_p[k], ref_v[k], ref_a[k], ref_yaw[k])
        sim.physics_step(dt, wind[k])
    t = np.arange(len(record)) * dt * substeps
    quats = attitude_quaternions(rec_dir, rec_yaw)
    out = []
    for j, (rng, index) in enumerate(zip(rngs, indices)):
        tn, pn, vn, qn, noise_info = apply_noise(noise, rng, t, rec_p[:, j], rec_v[:, j], quats[:, j])
        family = refs[j].family
        name = f"sim_s{seed}_{index:05d}_{family}"
        flight = Flight(name=name, source=f"sim:seed={seed},index={index},family={family},noise={noise}",
                        t=tn, p=pn, v=vn, q=qn, report=ReadReport(kept=len(tn)))
        info = dict(reference=refs[j].info, wind=dict(mean=setups[j][3]["mean"].round(3).tolist(),
                    gust_std=setups[j][3]["gust_std"], gust_tau=setups[j][3]["gust_tau"]),
                    vehicle={k: float(np.asarray(v)[0]) for k, v in vars(setups[j][1]).items()}, noise=noise_info,
                    max_tracking_error=float(np.linalg.norm(rec_p[:, j] - ref_p[::substeps, j], axis=1).max()))
        out.append(SimulatedFlight(flight=flight, family=family, info=info))
    return out
