"""Reference trajectory families and `ReferenceGenerator`, shared by the batch generator and the commander.

A family draws a random reference (positions, velocity and acceleration feed-forward, yaw) from a seeded
numpy Generator. Every family chains several manoeuvres within one flight and starts from a hover.

| family | models | typical speed |
|---|---|---|
| vector | VECTOR's PX4/Gazebo data: circles and figure-8s on random planes, r 1-15 m, w 0.5-3 rad/s, alt 5-10 m, capped to flyable speed/accel; 30 % flown from position setpoints only (`Reference.position_only`) | 1-10 m/s |
| waypoints | random waypoints, rest-to-rest minimum-jerk moves with hovers or pass-through splines | 0.3-8 m/s |
| racing | laps through random 3D gates at the limit of speed / lateral accel (human FPV, UZH-FPV-like) | 4-20 m/s, <= 20 m/s^2 |
| hover_dash | indoor hover, slow moves and meanders, dashes and stops with drift (EuRoC-like) | 0.2-1.5 m/s |
| clover | rose ("clover") and Lissajous patterns flown yaw-forward (Blackbird-like) | 0.5-7 m/s |

Use::

    gen = ReferenceGenerator(seed=3)
    ref = gen.draw("racing", duration_s=60.0, dt=0.01)
    p, v, a, yaw = ref.sample(12.34)         # setpoint at t = 12.34 s (linear interpolation)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import paths

MIN_ALTITUDE = 0.3   # m, references never go lower


@dataclass
class Reference:
    """A reference sampled every dt seconds from t = 0: positions, velocities, accelerations (T, 3), yaw (T,)."""
    family: str
    dt: float
    p: np.ndarray
    v: np.ndarray
    a: np.ndarray
    yaw: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def position_only(self) -> bool:
        """True when this reference is meant to be flown from position setpoints alone (no feed-forward)."""
        return self.info.get("feedforward") == "position"

    @property
    def t(self) -> np.ndarray:
        return np.arange(len(self.p)) * self.dt

    @property
    def duration(self) -> float:
        return (len(self.p) - 1) * self.dt

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Setpoint (position, velocity, acceleration, yaw) at time t, held at the ends."""
        x = np.clip(t / self.dt, 0.0, len(self.p) - 1.0)
        i = min(int(x), len(self.p) - 2) if len(self.p) > 1 else 0
        w = x - i if len(self.p) > 1 else 0.0
        j = min(i + 1, len(self.p) - 1)
        lerp = lambda arr: (1 - w) * arr[i] + w * arr[j]  # noqa: E731
        return lerp(self.p), lerp(self.v), lerp(self.a), float(lerp(self.yaw))


@dataclass(frozen=True)
class Family:
    """A reference family: its builder, the vehicle profile it is flown with, and a one-line description."""
    name: str
    build: Callable      # (rng, duration_s, dt) -> (positions (>=1, 3), yaw_mode, smooth_s, info)
    vehicle: str         # key of profiles.VEHICLE_PROFILES
    description: str


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _concat(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(pieces, axis=0)


def _elapsed(pieces: list[np.ndarray], dt: float) -> float:
    return sum(len(piece) for piece in pieces) * dt


# ------------------------------------------------------------------------------------------ vector
def _unit_shape(kind: str, theta: np.ndarray) -> np.ndarray:
    """Closed unit curves through the origin at theta = 0: circle or figure-8 (lemniscate of Gerono)."""
    if kind == "circle":
        return np.stack([np.cos(theta) - 1.0, np.sin(theta), np.zeros_like(theta)], axis=1)
    return np.stack([np.sin(theta), np.sin(theta) * np.cos(theta), np.zeros_like(theta)], axis=1)


def _shape_gains(kind: str) -> tuple[float, float]:
    """Peak |dc/dtheta| and |d2c/dtheta2| of a unit shape (speed and accel per unit w and w^2)."""
    theta = np.linspace(0, 2 * np.pi, 2001)
    c = _unit_shape(kind, theta)
    d1 = np.gradient(c, theta, axis=0)
    d2 = np.gradient(d1, theta, axis=0)
    return float(np.linalg.norm(d1, axis=1).max()), float(np.linalg.norm(d2, axis=1).max())


_SHAPE_GAINS = {kind: _shape_gains(kind) for kind in ("circle", "figure8")}


def _build_vector(rng, duration, dt):
    start = np.array([rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(5, 10)])
    pieces, current, shapes = [paths.hold(start, rng.uniform(1, 3), dt)], start, []
    v_cap, a_cap = rng.uniform(5, 10), rng.uniform(4, 9)   # what PX4's limits let the x500 fly
    while _elapsed(pieces, dt) < duration:
        if shapes and rng.random() < 0.4:   # reposition to a new altitude / spot, as the logger did
            target = np.array([rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(5, 10)])
            span = np.linalg.norm(target - current)
            pieces.append(paths.min_jerk(current, target, paths.min_jerk_duration(span, rng.uniform(1, 4), 3.0), dt))
            current = target
        kind = "circle" if rng.random() < 0.5 else "figure8"
        radius, omega = rng.uniform(1, 15), rng.uniform(0.5, 3)
        gain_v, gain_a = _SHAPE_GAINS[kind]
        omega_fly = min(omega, v_cap / (radius * gain_v), np.sqrt(a_cap / (radius * gain_a)))
        max_tilt = np.arcsin(np.clip((current[2] - 1.0) / (2 * radius), 0.0, 1.0))
        rotation = paths.random_rotation(rng, max_tilt)
        ramp, loops = rng.uniform(1, 3), rng.integers(1, 4)
        cruise = max(0.0, 2 * np.pi * loops / omega_fly - ramp)
        total = 2 * ramp + cruise
        t = np.arange(1, int(round(total / dt)) + 1) * dt
        ramp_in_out = np.clip(np.minimum(t, total - t) / ramp, 0.0, 1.0)
        theta = np.cumsum(omega_fly * ramp_in_out ** 2 * (3 - 2 * ramp_in_out)) * dt   # smoothstep w ramps
        pieces.append(current + radius * _unit_shape(kind, theta) @ rotation.T)
        current = pieces[-1][-1]
        pieces.append(paths.hold(current, rng.uniform(0, 2), dt))
        shapes.append(dict(shape=kind, radius=round(radius, 3), omega=round(omega, 3), omega_flown=round(omega_fly, 3)))
    # MAVROS position-only setpoints (no feed-forward: PX4 lags and cuts the shapes) in some flights
    feedforward = "position" if rng.random() < 0.3 else "full"
    return _concat(pieces), "fixed", 0.05, dict(v_cap=v_cap, a_cap=a_cap, feedforward=feedforward, shapes=shapes)


# ------------------------------------------------------------------------------------------ waypoints
def _build_waypoints(rng, duration, dt):
    half = rng.uniform(4, 40)
    z_lo, z_hi = 1.0, rng.uniform(3, 15)
    a_max = rng.uniform(1.5, 6)

    def draw_point(near=None, reach=None):
        point = np.array([rng.uniform(-half, half), rng.uniform(-half, half), rng.uniform(z_lo, z_hi)])
        if near is None or np.linalg.norm(point - near) <= reach:
            return point
        return near + (point - near) * reach / np.linalg.norm(point - near)

    current = draw_point()
    pieces = [paths.hold(current, rng.uniform(0.5, 2), dt)]
    while _elapsed(pieces, dt) < duration:
        speed = _loguniform(rng, 0.3, 8)
        reach = speed * rng.uniform(3, 20)          # no leg takes much longer than 20 s
        if rng.random() < 0.5:    # rest-to-rest minimum-jerk move, maybe a hover
            target = draw_point(current, reach)
            span = np.linalg.norm(target - current)
            pieces.append(paths.min_jerk(current, target, paths.min_jerk_duration(span, speed, a_max), dt))
            if rng.random() < 0.5:
                pieces.append(paths.hold(target, rng.uniform(0.5, 4), dt))
        else:                     # pass-through spline over a few waypoints, speed-profiled
            knots = [current]
            for _ in range(rng.integers(2, 6)):
                knots.append(draw_point(knots[-1], reach))
            knots = np.vstack(knots)
            pieces.append(paths.timed_path(paths.open_spline(knots), dt, speed, a_max, 0.7 * a_max))
        current = pieces[-1][-1]
    return _concat(pieces), str(rng.choice(["fixed", "forward", "wander"])), 0.1, dict(half_extent=half, a_max=a_max)


# ------------------------------------------------------------------------------------------ racing
def _build_racing(rng, duration, dt):
    n_gates = int(rng.integers(4, 11))
    radius = _loguniform(rng, 4, 30)
    aspect = rng.uniform(0.4, 1.0)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n_gates))
    radii = radius * rng.uniform(0.5, 1.5, n_gates)
    z = np.clip(rng.uniform(1, 3) + rng.uniform(-1, 1, n_gates) * rng.uniform(0, 3), 0.5, None)
    gates = np.column_stack([radii * np.cos(angles), aspect * radii * np.sin(angles), z])
    if rng.random() < 0.3:        # crossing tracks with hairpins
        gates = gates[rng.permutation(n_gates)]
    v_max, a_lat, a_lon = _loguniform(rng, 5, 20), _loguniform(rng, 4, 20), _loguniform(rng, 3, 12)
    lap = paths.closed_spline(gates)
    lap_length = np.linalg.norm(np.diff(lap, axis=0), axis=1).sum()
    n_laps = int(np.ceil(duration * 0.6 * v_max / lap_length)) + 1
    laps = [paths.closed_spline(gates + rng.normal(0, 0.3, gates.shape))[:-1] for _ in range(n_laps)]
    course = np.vstack(laps + [laps[0][:1]])
    course -= course[0] - gates[0]
    course[:, 2] = np.maximum(course[:, 2], 0.3)
    start = course[0]
    pieces = [paths.hold(start, rng.uniform(0.5, 2), dt), paths.timed_path(course, dt, v_max, a_lat, a_lon)]
    joined = _concat(pieces)
    joined += paths.band_limited_noise(rng, len(joined), dt, rng.uniform(0.05, 0.3), 0.7)   # pilot wobble
    info = dict(gates=n_gates, track_radius=radius, v_max=v_max, a_lat=a_lat, a_lon=a_lon, lap_length=lap_length)
    return joined, "forward", 0.15, info


# ------------------------------------------------------------------------------------------ hover_dash
def _build_hover_dash(rng, duration, dt):
    half = rng.uniform(2, 6)
    z_lo, z_hi = 0.5, rng.uniform(1.5, 3.0)

    def draw_point(near, reach):
        step = rng.uniform(-reach, reach, 3) * [1, 1, 0.4]
        return np.clip(near + step, [-half, -half, z_lo], [half, half, z_hi])

    current = draw_point(np.zeros(3), half)
    pieces = [paths.hold(current, rng.uniform(0.5, 3), dt)]
    while _elapsed(pieces, dt) < duration:
        kind = rng.choice(["hover", "move", "wander", "dash"], p=[0.2, 0.3, 0.3, 0.2])
        if kind == "hover":
            pieces.append(paths.hold(current, rng.uniform(0.5, 4), dt))
            continue
        if kind == "wander":    # slow curvy meander through nearby points
            knots = [current]
            for _ in range(rng.integers(3, 7)):
                knots.append(draw_point(knots[-1], 1.2))
            pieces.append(paths.timed_path(paths.open_spline(np.vstack(knots)), dt, rng.uniform(0.3, 1.5),
                                           rng.uniform(0.5, 2.5), 1.0))
            current = pieces[-1][-1]
            continue
        if kind == "move":
            target, speed, accel = draw_point(current, 2.0), rng.uniform(0.2, 1.0), 1.0
        else:
            target, speed, accel = draw_point(current, 6.0), rng.uniform(1.0, 2.5), 3.0
        span = np.linalg.norm(target - current)
        pieces.append(paths.min_jerk(current, target, paths.min_jerk_duration(span, speed, accel), dt))
        pieces.append(paths.hold(target, rng.uniform(0.2, 2), dt))
        current = target
    joined = _concat(pieces)
    joined += paths.band_limited_noise(rng, len(joined), dt, rng.uniform(0.02, 0.25), rng.uniform(0.5, 2.0))
    return joined, "wander", 0.15, dict(half_extent=half)


# ------------------------------------------------------------------------------------------ clover
def _clover_curve(rng) -> tuple[np.ndarray, str]:
    theta = np.linspace(0, 2 * np.pi, 4001)[:-1]
    if rng.random() < 0.6:
        petals_k = int(rng.choice([2, 3]))
        size = rng.uniform(1.0, 5)
        r = size * np.cos(petals_k * theta)
        curve = np.column_stack([r * np.cos(theta), r * np.sin(theta), rng.uniform(0, 0.3) * np.sin(2 * theta)])
        return curve, f"rose{petals_k}"
    fa, fb, fc = rng.integers(1, 4, 3)
    size = rng.uniform(1, 6, 2)
    phase = rng.uniform(0, np.pi)
    curve = np.column_stack([size[0] * np.sin(fa * theta + phase), size[1] * np.sin(fb * theta),
                             rng.uniform(0, 1) * np.sin(fc * theta)])
    return curve, f"lissajous{fa}{fb}{fc}"


def _build_clover(rng, duration, dt):
    curve, shape = _clover_curve(rng)
    curve = curve + [0.0, 0.0, rng.uniform(1.0, 3.0)]
    v_max, a_lat, a_lon = rng.uniform(0.5, 7), rng.uniform(2, 12), rng.uniform(2, 8)
    loop_length = np.linalg.norm(np.diff(curve, axis=0), axis=1).sum()
    n_loops = int(np.ceil(duration * v_max / max(loop_length, 0.5))) + 1
    course = np.vstack([curve] * n_loops + [curve[:1]])
    pieces = [paths.hold(course[0], rng.uniform(1, 2), dt), paths.timed_path(course, dt, v_max, a_lat, a_lon)]
    yaw_mode = "forward" if rng.random() < 0.7 else "fixed"
    return _concat(pieces), yaw_mode, 0.05, dict(shape=shape, v_max=v_max, a_lat=a_lat, loop_length=loop_length)


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("vector", _build_vector, "standard", "circles / figure-8s on random planes (VECTOR's PX4/Gazebo set)"),
    Family("waypoints", _build_waypoints, "standard", "random waypoints: minimum-jerk moves, hovers, splines"),
    Family("racing", _build_racing, "racing", "aggressive laps through random 3D gates (UZH-FPV-like)"),
    Family("hover_dash", _build_hover_dash, "indoor", "indoor hover / slow moves / dashes and stops (EuRoC-like)"),
    Family("clover", _build_clover, "agile", "rose and Lissajous patterns, yaw-forward (Blackbird-like)"),
]}


def check_families(families) -> list[str]:
    """Validate family names (None = all); returns the list, or raises ValueError naming the bad one."""
    if families is None:
        return list(FAMILIES)
    names = [families] if isinstance(families, str) else list(families)
    if not names:
        raise ValueError("families must name at least one family")
    for name in names:
        if name not in FAMILIES:
            raise ValueError(f"unknown reference family '{name}'; known: {', '.join(FAMILIES)}")
    return names


def _yaw_profile(mode: str, v: np.ndarray, dt: float, rng) -> np.ndarray:
    yaw0 = rng.uniform(-np.pi, np.pi)
    if mode == "forward":
        return paths.yaw_forward(v, yaw0)
    if mode == "wander":
        return yaw0 + paths.band_limited_noise(rng, len(v), dt, rng.uniform(0.1, 1.5), rng.uniform(2, 8))[:, 0]
    return np.full(len(v), yaw0)


class ReferenceGenerator:
    """Draws references of the named families from its own seeded numpy Generator (reproducible)."""

    def __init__(self, seed: int | np.random.Generator | None = 0):
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def draw(self, family: str, duration_s: float, dt: float = 0.01) -> Reference:
        """A reference of `family` covering [0, duration_s] sampled every dt seconds."""
        check_families([family])
        if not duration_s > 0 or not dt > 0:
            raise ValueError(f"duration_s and dt must be positive, got {duration_s}, {dt}")
        # build past the end so that smoothing and differences do not see an artificial stop there
        raw, yaw_mode, smooth_s, info = FAMILIES[family].build(self.rng, duration_s + 1.0, dt)
        n = int(round(duration_s / dt)) + 1
        margin = n + int(round(1.0 / dt))
        if len(raw) < margin:
            raw = np.vstack([raw, np.tile(raw[-1], (margin - len(raw), 1))])
        raw[:, 2] = np.maximum(raw[:, 2], MIN_ALTITUDE)
        p, v, a = (x[:n] for x in paths.finish_reference(raw[:margin], dt, smooth_s))
        yaw = _yaw_profile(yaw_mode, v, dt, self.rng)
        info = dict(info, yaw=yaw_mode)
        return Reference(family=family, dt=dt, p=p, v=v, a=a, yaw=yaw, info=info)

    def draw_random(self, duration_s: float, dt: float = 0.01, families=None) -> Reference:
        """A reference of a family chosen uniformly among `families` (None = all)."""
        names = check_families(families)
        return self.draw(names[int(self.rng.integers(len(names)))], duration_s, dt)
