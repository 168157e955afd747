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
from .references import FAMILIES, Reference, ReferenceGenerator, check_families
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


def _stack_time_major(arrays: list[np.ndarray]) -> np.ndarray:
    """(T, ...) arrays of each flight -> one contiguous (T, flights, ...) array: a step reads one slice."""
    return np.ascontiguousarray(np.stack(arrays, axis=1))


def _fly(sim: QuadrotorSim, refs: list[Reference], wind: np.ndarray, n_steps: int, dt: float, substeps: int):
    """Step all vehicles along their references; returns (p, v, thrust_dir, yaw) recorded every substeps."""
    ref_p, ref_v, ref_a, ref_yaw = (_stack_time_major([getattr(r, k) for r in refs]) for k in ("p", "v", "a", "yaw"))
    position_only = [j for j, r in enumerate(refs) if r.position_only]
    ref_v[:, position_only] = 0.0
    ref_a[:, position_only] = 0.0
    sim.reset(np.arange(sim.n), position=ref_p[0])
    sim.yaw = ref_yaw[0].copy()
    n_rec = n_steps // substeps + 1
    rec_p, rec_v, rec_dir = (np.empty((n_rec, sim.n, 3)) for _ in range(3))
    rec_yaw = np.empty((n_rec, sim.n))
    for k in range(n_steps + 1):
        if k % substeps == 0:
            row = k // substeps
            rec_p[row], rec_v[row], rec_dir[row], rec_yaw[row] = sim.p, sim.v, sim.thrust_dir, sim.yaw
        if k < n_steps:
            sim.set_setpoints(ref_p[k], ref_v[k], ref_a[k], ref_yaw[k])
            sim.physics_step(dt, wind[k])
    return rec_p, rec_v, rec_dir, rec_yaw


def _simulate_batch(rngs, indices, names, n_steps, dt, substeps, seed, noise):
    setups = [_draw_flight_setup(rng, names, n_steps * dt, dt) for rng in rngs]
    refs = [s[0] for s in setups]
    sim = QuadrotorSim(len(rngs), seed=None, params=VehicleParams.stack([s[1] for s in setups]), max_substep=dt)
    rec_p, rec_v, rec_dir, rec_yaw = _fly(sim, refs, _stack_time_major([s[2] for s in setups]), n_steps, dt, substeps)
    t = np.arange(len(rec_p)) * dt * substeps
    quats = attitude_quaternions(rec_dir, rec_yaw)
    out = []
    for j, (rng, index) in enumerate(zip(rngs, indices)):
        p, v, q = (np.ascontiguousarray(x[:, j]) for x in (rec_p, rec_v, quats))
        tn, pn, vn, qn, noise_info = apply_noise(noise, rng, t.copy(), p, v, q)
        family = refs[j].family
        flight = Flight(name=f"sim_s{seed}_{index:05d}_{family}", t=tn, p=pn, v=vn, q=qn,
                        source=f"sim:seed={seed},index={index},family={family},noise={noise}",
                        report=ReadReport(kept=len(tn)))
        wind = setups[j][3]
        info = dict(reference=refs[j].info, noise=noise_info,
                    wind=dict(mean=wind["mean"].round(3).tolist(), gust_std=wind["gust_std"],
                              gust_tau=wind["gust_tau"]),
                    vehicle={k: float(np.asarray(val)[0]) for k, val in vars(setups[j][1]).items()},
                    max_tracking_error=float(np.linalg.norm(p - refs[j].p[::substeps], axis=1).max()))
        out.append(SimulatedFlight(flight=flight, family=family, info=info))
    return out
