"""Building blocks for references: polynomial segments, speed-profiled paths, smoothing, yaw.

A reference is built as positions sampled every `dt` seconds; velocities and accelerations are taken
from them by central differences once the pieces are joined and smoothed (see `finish_reference`).
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d


def min_jerk(p0, p1, duration: float, dt: float, v0=None, a0=None, v1=None, a1=None) -> np.ndarray:
    """Quintic (minimum-jerk) segment from state (p0, v0, a0) to (p1, v1, a1), sampled at dt (excl. t=0)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    v0, a0, v1, a1 = (np.zeros(3) if x is None else np.asarray(x, float) for x in (v0, a0, v1, a1))
    T = max(float(duration), dt)
    # coefficients of p(s) = sum c_k s^k for s in [0, T]
    c0, c1, c2 = p0, v0, a0 / 2
    rhs = np.stack([p1 - c0 - c1 * T - c2 * T ** 2, v1 - c1 - 2 * c2 * T, a1 - 2 * c2])
    mat = np.array([[T ** 3, T ** 4, T ** 5], [3 * T ** 2, 4 * T ** 3, 5 * T ** 4], [6 * T, 12 * T ** 2, 20 * T ** 3]])
    c3, c4, c5 = np.linalg.solve(mat, rhs)
    s = np.arange(1, int(round(T / dt)) + 1)[:, None] * dt
    return c0 + c1 * s + c2 * s ** 2 + c3 * s ** 3 + c4 * s ** 4 + c5 * s ** 5


def min_jerk_duration(distance: float, speed: float, accel: float) -> float:
    """Rest-to-rest quintic duration with mean speed `speed` and peak acceleration at most `accel`."""
    distance = max(distance, 1e-6)
    return max(distance / max(speed, 1e-3), np.sqrt(5.7735 * distance / max(accel, 1e-3)), 0.3)


def hold(p, duration: float, dt: float) -> np.ndarray:
    """Hover at p for duration seconds."""
    return np.tile(np.asarray(p, float), (max(1, int(round(duration / dt))), 1))


def resample_path(points: np.ndarray, ds: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Resample a polyline (M, 3) at arclength spacing ~ds; returns (s (K,), points (K, 3))."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    keep = np.concatenate([[True], seg > 1e-9])
    points = points[keep]
    s = np.concatenate([[0.0], np.cumsum(seg[keep[1:]])])
    n = max(2, int(np.ceil(s[-1] / ds)) + 1)
    s_new = np.linspace(0.0, s[-1], n)
    return s_new, np.stack([np.interp(s_new, s, points[:, k]) for k in range(3)], axis=1)


def speed_profile(s: np.ndarray, points: np.ndarray, v_max: float, a_lat: float, a_lon: float,
                  v_start: float = 0.0, v_end: float = 0.0) -> np.ndarray:
    """Fastest speed along a path under v_max, lateral accel (curvature) and longitudinal accel limits.

    Classic forward/backward pass, in closed form: v^2(s_i) = min_j (v_lim^2(s_j) + 2 a_lon |s_i - s_j|)
    over the points before (forward) or after (backward) s_i, computed with cumulative minima.
    """
    ds = np.gradient(s)
    tangent = np.gradient(points, axis=0) / ds[:, None]
    curvature = np.linalg.norm(np.gradient(tangent, axis=0), axis=1) / ds
    curvature = gaussian_filter1d(curvature, 3.0, mode="nearest")
    v2 = np.minimum(v_max ** 2, a_lat / np.maximum(curvature, 1e-9))
    v2[0], v2[-1] = min(v2[0], v_start ** 2), min(v2[-1], v_end ** 2)
    forward = 2 * a_lon * s + np.minimum.accumulate(v2 - 2 * a_lon * s)
    backward = -2 * a_lon * s + np.minimum.accumulate((v2 + 2 * a_lon * s)[::-1])[::-1]
    return np.sqrt(np.maximum(np.minimum(forward, backward), 0.0))


def timed_path(points: np.ndarray, dt: float, v_max: float, a_lat: float, a_lon: float,
               v_start: float = 0.0, v_end: float = 0.0, ds: float = 0.05) -> np.ndarray:
    """Fly a geometric path (M, 3) as fast as the limits allow; positions sampled at dt (excl. t=0)."""
    s, pts = resample_path(points, ds)
    if s[-1] < 1e-6:
        return hold(points[-1], dt, dt)
    speed = np.maximum(speed_profile(s, pts, v_max, a_lat, a_lon, v_start, v_end), 0.05)
    t = np.concatenate([[0.0], np.cumsum(2 * np.diff(s) / (speed[1:] + speed[:-1]))])
    t_grid = np.arange(1, int(np.ceil(t[-1] / dt)) + 1) * dt
    s_grid = np.interp(t_grid, t, s)
    return np.stack([np.interp(s_grid, s, pts[:, k]) for k in range(3)], axis=1)


def closed_spline(knots: np.ndarray, samples_per_knot: int = 40) -> np.ndarray:
    """Dense samples of a periodic cubic spline through knots (M, 3), one lap, closed."""
    closed = np.vstack([knots, knots[:1]])
    u = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    spline = CubicSpline(u, closed, bc_type="periodic")
    return spline(np.linspace(0.0, u[-1], samples_per_knot * len(knots) + 1))


def open_spline(knots: np.ndarray, samples_per_knot: int = 40) -> np.ndarray:
    """Dense samples of a natural cubic spline through knots (M, 3)."""
    u = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(knots, axis=0), axis=1))])
    keep = np.concatenate([[True], np.diff(u) > 1e-6])
    spline = CubicSpline(u[keep], knots[keep], bc_type="natural")
    return spline(np.linspace(0.0, u[keep][-1], samples_per_knot * int(keep.sum()) + 1))


def random_rotation(rng: np.random.Generator, max_tilt: float = np.pi / 2) -> np.ndarray:
    """Rotation matrix taking the xy plane to a random plane whose normal is within max_tilt of z."""
    heading = rng.uniform(0, 2 * np.pi)
    tilt = np.arccos(rng.uniform(np.cos(max_tilt), 1.0))   # uniform over the spherical cap
    cz, sz, ct, st = np.cos(heading), np.sin(heading), np.cos(tilt), np.sin(tilt)
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rot_x = np.array([[1, 0, 0], [0, ct, -st], [0, st, ct]])
    spin = rng.uniform(0, 2 * np.pi)
    rot_spin = np.array([[np.cos(spin), -np.sin(spin), 0], [np.sin(spin), np.cos(spin), 0], [0, 0, 1]])
    return rot_z @ rot_x @ rot_spin


def band_limited_noise(rng: np.random.Generator, n: int, dt: float, std: float, corr_time: float) -> np.ndarray:
    """(n, 3) smooth random drift with correlation time ~corr_time, scaled to std.

    White noise on a coarse grid (corr_time / 4) is low-passed by a Gaussian of 4 coarse samples and
    interpolated to dt by a cubic spline (C2, so it can be differentiated twice), which keeps the cost
    independent of corr_time / dt.
    """
    coarse_dt = max(corr_time / 4.0, dt)
    m = int(np.ceil(n * dt / coarse_dt)) + 2
    pad = 16
    coarse = gaussian_filter1d(rng.standard_normal((m + 2 * pad, 3)), 4.0, axis=0, mode="wrap")[pad:pad + m]
    noise = CubicSpline(np.arange(m) * coarse_dt, coarse, axis=0)(np.arange(n) * dt)
    return noise * (std / max(noise.std(), 1e-12))


def finish_reference(p: np.ndarray, dt: float, smooth_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth joined positions (Gaussian, smooth_s seconds) and differentiate: (p, v, a), each (T, 3)."""
    if smooth_s > 0:
        p = gaussian_filter1d(p, smooth_s / dt, axis=0, mode="nearest")
    v = np.gradient(p, dt, axis=0)
    a = np.gradient(v, dt, axis=0)
    return p, v, a


def yaw_forward(v: np.ndarray, yaw0: float = 0.0, min_speed: float = 0.3) -> np.ndarray:
    """Heading along the horizontal velocity; held (last value) while slower than min_speed."""
    speed = np.linalg.norm(v[:, :2], axis=1)
    heading = np.arctan2(v[:, 1], v[:, 0])
    moving = speed > min_speed
    idx = np.where(moving, np.arange(len(v)), -1)
    idx = np.maximum.accumulate(idx)
    yaw = np.where(idx >= 0, heading[np.maximum(idx, 0)], yaw0)
    return np.unwrap(yaw)
