"""Kinematic training-data mixture: smooth random trajectories sampled straight onto the 10 Hz grid.

A cheap complement to the dynamic simulator (`uav_traj_predictor.sim`): reference families (orbits and
figure-8s on tilted planes, rose/clover curves, spline waypoint tours with stops, band-limited random
acceleration, hover with dashes, slow indoor 3D exploration), optionally tracked through a second-order
lag (a position controller's response), plus mocap-like white noise with rare jumps. Everything is
reproducible from one seed.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import lfilter
from scipy.spatial.transform import Rotation

from ..data.windows import window_indices

FINE_DT = 0.02
KINEMATIC_FAMILIES = ("orbit", "rose", "waypoints", "random_accel", "hover_hops", "explore")


def _log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _smooth_noise(rng, n, corr_time, dt=FINE_DT):
    """Unit-variance band-limited noise (first-order low-pass of white noise), shape (n,)."""
    alpha = float(np.exp(-dt / corr_time))
    x = lfilter([np.sqrt(1 - alpha ** 2)], [1, -alpha], rng.standard_normal(n + 200))
    return x[200:]


def _tilted(rng, max_tilt):
    axis = rng.normal(size=3)
    axis[2] = 0.0
    axis /= np.linalg.norm(axis) + 1e-12
    tilt = Rotation.from_rotvec(axis * rng.uniform(0, max_tilt))
    return (Rotation.from_euler("z", rng.uniform(0, 2 * np.pi)) * tilt).as_matrix()


def _phase(rng, n, rate, variation):
    """Integrated angular rate that wanders around `rate` by a relative `variation`."""
    factor = np.clip(1 + variation * _smooth_noise(rng, n, rng.uniform(1, 6)), 0.2, 2.0)
    return np.cumsum(rate * factor) * FINE_DT + rng.uniform(0, 2 * np.pi)


def orbit(rng, n):
    """Circle, ellipse, figure-8 or Lissajous on a randomly tilted plane with varying angular rate."""
    speed = _log_uniform(rng, 0.3, 14.0)
    radius = _log_uniform(rng, 0.7, 15.0)
    radius = max(radius, speed ** 2 / rng.uniform(4.0, 20.0))      # bounded centripetal acceleration
    phi = _phase(rng, n, speed / radius, rng.uniform(0, 0.3))
    kind = rng.choice(["circle", "ellipse", "eight", "lissajous"])
    b = 1.0 if kind == "circle" else rng.uniform(0.3, 1.0)
    m = {"circle": 1, "ellipse": 1, "eight": 2, "lissajous": rng.choice([2, 3])}[kind]
    planar = np.stack([radius * np.cos(phi), b * radius * np.sin(m * phi) / (m if kind != "circle" else 1),
                       np.zeros(n)], axis=1)
    return planar @ _tilted(rng, rng.choice([0.0, 0.3, 1.2])).T


def rose(rng, n):
    """Rose ("clover") curve r = R cos(k phi), mostly horizontal, as flown by racing/mocap demos."""
    k = rng.choice([2, 2, 3, 4])
    radius = _log_uniform(rng, 1.0, 8.0)
    peak_speed = _log_uniform(rng, 0.5, 8.0)
    phi = _phase(rng, n, peak_speed / (radius * k), rng.uniform(0, 0.2))
    r = radius * np.cos(k * phi)
    planar = np.stack([r * np.cos(phi), r * np.sin(phi), 0.1 * radius * np.sin(2 * phi) * rng.uniform(0, 1)], 1)
    return planar @ _tilted(rng, 0.15).T


def waypoints(rng, n):
    """Cubic-spline tour through random waypoints, sometimes pausing at them."""
    box = _log_uniform(rng, 1.5, 40.0)
    speed = _log_uniform(rng, 0.3, 15.0)
    pts, times, t = [np.zeros(3)], [0.0], 0.0
    flat = rng.uniform(0.05, 0.5)
    while t < n * FINE_DT + 5:
        step = rng.uniform(-box, box, 3) * np.array([1, 1, flat])
        pts.append(pts[-1] * 0.3 + step)
        t += max(np.linalg.norm(pts[-1] - pts[-2]) / speed, 0.4)
        times.append(t)
        if rng.random() < 0.15:                                    # hover at the waypoint
            pts.append(pts[-1])
            t += rng.uniform(0.5, 3.0)
            times.append(t)
    spline = CubicSpline(times, np.array(pts), bc_type="clamped")
    return spline(np.arange(n) * FINE_DT)


def random_accel(rng, n):
    """Band-limited random acceleration with speed-keeping damping (irregular, pilot-like motion)."""
    acc_std = _log_uniform(rng, 0.2, 8.0)
    corr = _log_uniform(rng, 0.3, 3.0)
    damping = _log_uniform(rng, 0.7, 5.0)
    flat = rng.uniform(0.2, 1.0)
    acc = np.stack([_smooth_noise(rng, n, corr) for _ in range(3)], 1) * acc_std * np.array([1, 1, flat])
    v = np.zeros((n, 3))
    for i in range(1, n):
        v[i] = v[i - 1] + FINE_DT * (acc[i] - v[i - 1] / damping)
    return np.cumsum(v, axis=0) * FINE_DT


def hover_hops(rng, n):
    """Hovering with slow drift, interrupted by short hops to a new hover point (the kinematic cousin of the
    dynamic simulator's `hover_dash` reference family, sim/references.py; called `hover_dash` too before
    issue 15, renamed so that each family name means one generator)."""
    drift = _log_uniform(rng, 0.005, 0.1)
    p = np.stack([_smooth_noise(rng, n, rng.uniform(0.5, 3)) for _ in range(3)], 1) * drift
    offset, i = np.zeros(3), 0
    out = np.empty((n, 3))
    while i < n:
        hold = int(rng.uniform(1.0, 6.0) / FINE_DT)
        out[i:i + hold] = offset
        i += hold
        target = offset + rng.normal(size=3) * _log_uniform(rng, 0.5, 8.0) * np.array([1, 1, 0.3])
        duration = max(np.linalg.norm(target - offset) / _log_uniform(rng, 0.5, 6.0), 0.5)
        s = np.linspace(0, 1, max(int(duration / FINE_DT), 2))[:, None]
        dash = offset + (target - offset) * (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5)
        out[i:i + len(dash)] = dash[:max(0, n - i)]
        i += len(dash)
        offset = target
    return out + p


def explore(rng, n):
    """Slow indoor 3D exploration, as a manually flown MAV in a room (EuRoC-like): gentle band-limited
    acceleration on all three axes (vertical about as strong as horizontal: the pilot climbs and descends,
    the altitude hold bobs), speed-keeping damping, and weak springs for the walls and the floor/ceiling
    (the room bounds horizontal excursions to a few metres and altitude excursions to about a metre).

    No hover-to-dash onsets: the motion is continuous, ~0.2-1.3 m/s, so the 1 s future is as predictable
    horizontally as vertically (unlike `hover_hops`, whose hops from a hover dominate its slow samples)."""
    acc_std = _log_uniform(rng, 0.15, 0.8)                  # m/s^2 per axis
    corr = _log_uniform(rng, 0.4, 2.0)                      # s, how long an acceleration is held
    damping = _log_uniform(rng, 0.7, 3.0)                   # s, speed-keeping time constant
    vertical = rng.uniform(0.6, 1.2)                        # vertical / horizontal acceleration
    period_xy, period_z = _log_uniform(rng, 10.0, 40.0), _log_uniform(rng, 3.0, 10.0)   # s, walls / height
    stiffness = (2 * np.pi / np.array([period_xy, period_xy, period_z])) ** 2
    acc = np.stack([_smooth_noise(rng, n, corr) for _ in range(3)], 1) * acc_std * np.array([1, 1, vertical])
    p, v = np.zeros(3), np.zeros(3)
    out = np.empty((n, 3))
    for i in range(n):
        v = v + FINE_DT * (acc[i] - v / damping - stiffness * p)
        p = p + FINE_DT * v
        out[i] = p
    return out


GENERATORS = {"orbit": orbit, "rose": rose, "waypoints": waypoints, "random_accel": random_accel,
              "hover_hops": hover_hops, "explore": explore}


def _track(rng, reference):
    """Second-order lag (natural frequency 2.5-10 rad/s, damping 0.6-1.0) of the reference, 50% of flights."""
    if rng.random() < 0.5:
        return reference
    wn, zeta = rng.uniform(2.5, 10.0), rng.uniform(0.6, 1.0)
    p, v = reference[0].copy(), np.zeros(3)
    out = np.empty_like(reference)
    for i, ref in enumerate(reference):
        v += FINE_DT * (wn ** 2 * (ref - p) - 2 * zeta * wn * v)
        p = p + FINE_DT * v
        out[i] = p
    return out


def kinematic_paths(n_flights: int, duration_s: float, seed: int = 0, families=None):
    """`n_flights` exact paths (t (N,), p (N, 3)) sampled every FINE_DT (50 Hz) from the kinematic families
    (round-robin), each offset by a random start: raw samples for a measurement model (sim/noise.py)."""
    families = _families(families)
    rng = np.random.default_rng(seed)
    n_fine = int(round(duration_s / FINE_DT)) + 1
    t = np.arange(n_fine) * FINE_DT
    out = []
    for index in range(n_flights):
        path = _track(rng, GENERATORS[families[index % len(families)]](rng, n_fine))
        out.append((t.copy(), path + rng.uniform(-50, 50, 3)))
    return out


def _families(families) -> list[str]:
    families = list(families or KINEMATIC_FAMILIES)
    unknown = sorted(set(families) - set(GENERATORS))
    if unknown:
        raise ValueError(f"unknown kinematic families {unknown}; known: {sorted(GENERATORS)}")
    return families


def kinematic_flights(n_flights: int, duration_s: float, seed: int = 0, families=None, rate: float = 10.0,
                      noise: tuple[float, float] = (1e-4, 3e-3), glitches: float = 0.1) -> list[np.ndarray]:
    """`n_flights` grid position arrays (M, 3) at `rate` Hz from the kinematic families (round-robin).

    `noise`: log-uniform range of the white position noise (m); `glitches`: fraction of flights with rare
    4 cm position jumps (mocap glitches)."""
    families = _families(families)
    rng = np.random.default_rng(seed)
    n_fine = int(round(duration_s / FINE_DT)) + 1
    stride = int(round(1.0 / (rate * FINE_DT)))
    flights = []
    for index in range(n_flights):
        family = families[index % len(families)]
        path = _track(rng, GENERATORS[family](rng, n_fine))
        grid = path[rng.integers(stride)::stride]
        grid = grid + rng.normal(size=grid.shape) * _log_uniform(rng, *noise)
        if rng.random() < glitches:                                  # rare mocap glitches
            hits = rng.random(len(grid)) < 0.003
            grid[hits] += rng.normal(size=(hits.sum(), 3)) * 0.04
        flights.append(grid + rng.uniform(-50, 50, 3))
    return flights


def cv_error_by_speed(grids, dt: float = 0.1, horizon: int = 10, history: int = 20,
                      edges=(0.0, 0.5, 1.0, 2.0)) -> list[tuple[float, float, float, float, float]]:
    """How predictable a set of grid flights is per speed bin: rows (low, high, share of windows,
    per-axis RMS of the horizontal and of the vertical constant-velocity error after `horizon` steps, m)."""
    errors, speeds = [], []
    for grid in grids:
        grid = np.asarray(grid, float)
        k = window_indices(len(grid), history, horizon)
        if not len(k):
            continue
        v = np.diff(grid, axis=0) / dt
        errors.append(grid[k + horizon] - grid[k] - horizon * dt * v[k - 1])
        speeds.append(np.linalg.norm(v[k - 1], axis=1))
    errors, speeds = np.concatenate(errors), np.concatenate(speeds)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        e = errors[(speeds >= low) & (speeds < high)]
        rows.append((low, high, len(e) / len(errors), float(np.sqrt(np.mean(e[:, :2] ** 2))),
                     float(np.sqrt(np.mean(e[:, 2] ** 2)))))
    return rows


def main(argv=None) -> int:
    """`python -m uav_traj_predictor.sim.kinematic [FOLDER ...]`: the 1 s constant-velocity error per speed
    bin (horizontal per axis vs vertical) of the slow simulated families and of flight folders (statistics
    only: nothing is fitted to them)."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", help="flight folders to compare with (e.g. ../shared/flights/euroc)")
    parser.add_argument("--flights", type=int, default=60)
    args = parser.parse_args(argv)
    from ..data import load_segments, preprocess
    from .generator import generate_flights
    groups = {}
    for folder in args.folders:
        groups[f"real {folder.rstrip('/').split('/')[-1]}"] = [s.positions for s in load_segments([folder])]
    groups["sim hover_dash"] = [s.positions for f in generate_flights(args.flights, 60.0, seed=5,
                                                                        families=["hover_dash"], rate=50.0)
                                for s in preprocess(f.t, f.p)]
    for family in ("hover_hops", "explore"):
        groups[f"kinematic {family}"] = kinematic_flights(args.flights, 60.0, 5, [family], 10.0, (1e-4, 1e-3), 0.0)
    print("| flights | " + " | ".join(f"{lo:g}-{hi:g} m/s: share, xy / z (m)" for lo, hi in
                                       zip((0.0, 0.5, 1.0), (0.5, 1.0, 2.0))) + " |")
    print("|---|" + "---|" * 3)
    for label, grids in groups.items():
        cells = [f"{share * 100:.0f} %, {xy:.3f} / {z:.3f}" for _, _, share, xy, z in cv_error_by_speed(grids)]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
