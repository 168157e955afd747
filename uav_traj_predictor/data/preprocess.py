"""Raw samples -> clean, uniformly resampled segments (the one definition the online resampler mirrors).

Steps of `preprocess`: drop non-finite rows, sort by time (stable), drop repeated stamps (keep the
first), split at gaps > max_gap, resample each segment onto t0 + k*dt (t0 = its first stamp, up to its
last stamp) by linear interpolation on the raw stamps, then optionally a causal Savitzky-Golay filter.
The arithmetic helpers here (`grid_count`, `interpolate`, `velocity_integral`, `causal_savgol_coeffs`)
are shared with `core.OnlineResampler` so the offline and online paths compute the same numbers.

Grid velocities (what the model consumes) are v_k = mean velocity over (t_{k-1}, t_k]: with
`velocity_source="pose"` (default) the finite difference of grid positions; with "twist" the mean of
the measured world-frame velocities (e.g. an Odometry twist rotated out of the body frame), linearly
interpolated between raw samples and integrated exactly over the grid interval. Both estimate the
same quantity; the twist is the better one when the estimator's velocity is less noisy than its
differentiated position (GPS, VIO). Positions always come from the poses.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import savgol_coeffs

from .attitude import ThrustAxis, grid_orientations, segment_attitude
from .noise import noise_series

SMOOTHINGS = (None, "savgol")
MIN_INTERVAL_SAMPLES = 2      # raw samples a grid interval needs for its mean to replace the grid sample
GAP_HISTORY = 3               # raw steps that tell a stream's own sample interval (the shortest of them)
LOW_RATE_GAP_FACTOR = 2.5     # a step splits a segment above max(max_gap, this x that interval) ...
LOW_RATE_GAP_CAP = 1.0        # ... but never above max(max_gap, this) s: slower streams split as before
VELOCITY_SOURCES = ("pose", "twist")


@dataclass(frozen=True)
class PreprocessConfig:
    """Grid rate (Hz), gap that splits segments (s) and the optional causal smoothing."""
    rate: float = 10.0
    max_gap: float = 0.2
    smoothing: str | None = None
    savgol_window: int = 5
    savgol_order: int = 2
    velocity_source: str = "pose"      # "pose": differences of grid positions; "twist": measured velocities

    def __post_init__(self):
        if not (np.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"PreprocessConfig.rate must be a positive number of Hz, got {self.rate}")
        if not (self.max_gap > 0):
            raise ValueError(f"PreprocessConfig.max_gap must be > 0 s, got {self.max_gap}")
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"PreprocessConfig.smoothing must be one of {SMOOTHINGS}, got {self.smoothing!r}")
        if self.smoothing and not (0 <= self.savgol_order < self.savgol_window):
            raise ValueError("PreprocessConfig needs 0 <= savgol_order < savgol_window, got "
                             f"order {self.savgol_order}, window {self.savgol_window}")
        if self.velocity_source not in VELOCITY_SOURCES:
            raise ValueError(f"PreprocessConfig.velocity_source must be one of {VELOCITY_SOURCES}, "
                             f"got {self.velocity_source!r}")

    @property
    def dt(self) -> float:
        return 1.0 / self.rate


@dataclass(eq=False)  # array fields: equality is identity
class Segment:
    """One gap-free stretch resampled onto a uniform grid: sample k is at t0 + k * dt."""
    t0: float
    dt: float
    positions: np.ndarray          # (M, 3)
    name: str = ""                 # flight it came from
    measured_velocities: np.ndarray | None = None   # (M-1, 3) interval means of measured velocities
    noise: np.ndarray | None = None    # (M,) raw-position noise estimate (m) when grid sample k was completed
    interval_velocities: np.ndarray | None = None   # (M-1, 3) velocities between raw-sample interval means
    attitude: np.ndarray | None = None   # (M-1, 3) [implied x, implied y, available] at grid samples 1..M-1
    #                                      (core/attitude.py) when the flight has orientations

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def times(self) -> np.ndarray:
        """(M,) grid stamps t0 + k * dt."""
        return grid_times(self.t0, self.dt, len(self.positions))

    @property
    def velocities(self) -> np.ndarray:
        """(M-1, 3) grid velocities; row k-1 is the mean velocity over (t_{k-1}, t_k]: the measured one
        when the segment has it (velocity_source "twist"), else diff(positions) / dt."""
        if self.measured_velocities is not None:
            return self.measured_velocities
        return np.diff(self.positions, axis=0) / self.dt


def grid_times(t0: float, dt: float, count: int) -> np.ndarray:
    """The grid stamps t0 + k * dt, k = 0..count-1 (the single definition used everywhere)."""
    return t0 + np.arange(count) * dt


def grid_count(t0: float, t_last: float, dt: float) -> int:
    """Number of grid stamps t0 + k*dt (k >= 0) that are <= t_last, decided by the exact comparison."""
    count = int(np.floor((t_last - t0) / dt)) + 1
    while t0 + count * dt <= t_last:
        count += 1
    while count > 0 and t0 + (count - 1) * dt > t_last:
        count -= 1
    return count


def interpolate(t_a, p_a, t_b, p_b, g):
    """Linear interpolation between raw samples (t_a, p_a) and (t_b, p_b) at stamps g (broadcasting)."""
    w = (g - t_a) / (t_b - t_a)
    return p_a + w * (p_b - p_a)


def velocity_integral(t_a, v_a, t_b, v_b, g):
    """Integral from t_a to g of the velocity linearly interpolated between (t_a, v_a) and (t_b, v_b)
    (broadcasting); at g = t_b it is the trapezoid (t_b - t_a) (v_a + v_b) / 2."""
    s = g - t_a
    return s * (v_a + (0.5 * s / (t_b - t_a)) * (v_b - v_a))


def mean_velocities(t: np.ndarray, v: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(len(times) - 1, 3) mean of the piecewise-linear velocity over each (times[k-1], times[k]].

    The running integral is exact for piecewise-linear v; grid stamps use the same sample pairs as
    `resample` (and as the online resampler when the later sample arrives).
    """
    if len(times) < 2:
        return np.zeros((0, 3))
    if len(t) == 1:
        return np.repeat(v[:1], len(times) - 1, axis=0)
    pieces = velocity_integral(t[:-1, None], v[:-1], t[1:, None], v[1:], t[1:, None])
    at_samples = np.concatenate([np.zeros((1, 3)), np.cumsum(pieces, axis=0)])
    j = np.clip(np.searchsorted(t, times, side="left") - 1, 0, len(t) - 2)
    at_grid = at_samples[j] + velocity_integral(t[j, None], v[j], t[j + 1, None], v[j + 1], times[:, None])
    return np.diff(at_grid, axis=0) / np.diff(times)[:, None]


def resample(t: np.ndarray, p: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Positions at grid `times` (within [t[0], t[-1]]) by linear interpolation on strictly increasing t.

    A grid stamp g in (t[j], t[j+1]] uses the pair (j, j+1), the same pair the online resampler uses
    when sample j+1 arrives; g == t[0] gives p[0].
    """
    if len(t) == 1:
        return np.repeat(p[:1], len(times), axis=0)
    j = np.clip(np.searchsorted(t, times, side="left") - 1, 0, len(t) - 2)
    return interpolate(t[j, None], p[j], t[j + 1, None], p[j + 1], times[:, None])


@lru_cache(maxsize=64)
def causal_savgol_coeffs(window: int, order: int, available: int) -> np.ndarray:
    """Dot-product weights of a causal Savitzky-Golay fit evaluated at the newest of its samples.

    With fewer than `window` samples available (a segment's start), the fit uses the `available`
    samples and order min(order, available - 1), which is the identity while the fit interpolates.
    """
    length = min(window, available)
    coeffs = savgol_coeffs(length, min(order, length - 1), pos=length - 1, use="dot")
    coeffs.setflags(write=False)
    return coeffs


def causal_savgol_point(coeffs: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Causal Savitzky-Golay value of `window` (w, 3), evaluated relative to its newest row.

    p_new + sum(c_i (p_i - p_new)) equals sum(c_i p_i) (the weights sum to 1) but cannot overflow
    for finite positions that differ by less than the float64 range (a constant stream is exact),
    and keeps precision at large offsets.
    """
    newest = window[-1]
    return newest + coeffs @ (window - newest)


def causal_smooth(positions: np.ndarray, window: int, order: int) -> np.ndarray:
    """Causal Savitzky-Golay over grid positions: row k depends on rows k-window+1..k only."""
    smoothed = np.empty_like(positions)
    head = min(window - 1, len(positions))
    for k in range(head):
        smoothed[k] = causal_savgol_point(causal_savgol_coeffs(window, order, k + 1), positions[: k + 1])
    if len(positions) >= window:
        windows = np.lib.stride_tricks.sliding_window_view(positions, window, axis=0)  # (M-w+1, 3, w)
        newest = positions[window - 1:]
        coeffs = causal_savgol_coeffs(window, order, window)
        smoothed[window - 1:] = newest + (windows - newest[:, :, None]) @ coeffs   # causal_savgol_point, batched
    return smoothed


def clean_samples(t, p, v=None, q=None):
    """Finite rows only, sorted by time (stable), repeated stamps dropped (the first one kept).

    Returns (t, p), or (t, p, v) when measured velocities v (N, 3) are given (rows with a non-finite
    velocity are dropped too, as the online resampler ignores such samples); orientations q (N, 4), when
    given, follow the kept rows and are returned last (a row that is no rotation is kept: its sample is still a
    position).
    """
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape != (len(t), 3):
        raise ValueError(f"preprocess expects t (N,) and p (N, 3), got {t.shape} and {p.shape}")
    finite = np.isfinite(t) & np.isfinite(p).all(axis=1)
    if v is not None:
        v = np.asarray(v, dtype=np.float64)
        if v.shape != p.shape:
            raise ValueError(f"preprocess expects velocities v (N, 3) like p, got {v.shape}")
        finite &= np.isfinite(v).all(axis=1)
    if q is not None:
        q = np.asarray(q, dtype=np.float64).reshape(len(t), 4)
    order = np.argsort(t[finite], kind="stable")
    t, p = t[finite][order], p[finite][order]
    first = np.diff(t, prepend=-np.inf) > 0
    out = (t[first], p[first]) + (() if v is None else (v[finite][order][first],))
    return out + (() if q is None else (q[finite][order][first],))


def gap_limits(steps: np.ndarray, max_gap: float) -> np.ndarray:
    """(n,) the longest step (s) that does not split a segment, for each of the raw steps (n,) of a stream
    in order: max(max_gap, min(LOW_RATE_GAP_CAP, LOW_RATE_GAP_FACTOR x the shortest of the GAP_HISTORY
    steps before it)) (max_gap for the first). A 5 Hz sensor (steps of 0.2 s) thus keeps its segments with the default
    max_gap of 0.2 s, while for raw rates above ~12.5 Hz the limit is max_gap itself. `gap_limit` is the
    online twin (one step at a time)."""
    limits = np.full(len(steps), float(max_gap))
    if len(steps) > 1:
        padded = np.concatenate([np.full(GAP_HISTORY, np.inf), steps[:-1]])
        windows = np.lib.stride_tricks.sliding_window_view(padded, GAP_HISTORY)[:len(steps)]
        shortest = windows.min(axis=1)
        stretched = np.minimum(LOW_RATE_GAP_CAP, LOW_RATE_GAP_FACTOR * shortest)
        limits = np.maximum(limits, np.where(np.isfinite(shortest), stretched, 0.0))
    return limits


def gap_limit(recent_steps, max_gap: float) -> float:
    """`gap_limits` of the next step given the (up to GAP_HISTORY) steps before it."""
    if not recent_steps:
        return max_gap
    return max(max_gap, min(LOW_RATE_GAP_CAP, LOW_RATE_GAP_FACTOR * min(recent_steps)))


def split_at_gaps(t: np.ndarray, max_gap: float) -> list[slice]:
    """Slices of sorted stamps `t` with no step larger than its gap limit (`gap_limits`)."""
    if len(t) == 0:
        return []
    steps = np.diff(t)
    cuts = np.flatnonzero(steps > gap_limits(steps, max_gap)) + 1
    bounds = np.concatenate(([0], cuts, [len(t)]))
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def resample_segment(t: np.ndarray, p: np.ndarray, cfg: PreprocessConfig, name: str = "",
                     v: np.ndarray | None = None, q: np.ndarray | None = None,
                     attitude_state: ThrustAxis | None = None) -> Segment | None:
    """Grid one gap-free stretch of clean samples; None when it spans fewer than two grid stamps.
    With measured velocities `v`, the segment's grid velocities are their interval means; with orientations
    `q` (N, 4), the segment carries the attitude input (core/attitude.py; `attitude_state`: the vehicle's
    estimate, carried across its segments)."""
    count = grid_count(t[0], t[-1], cfg.dt)
    if count < 2:
        return None
    times = grid_times(t[0], cfg.dt, count)
    interpolated = resample(t, p, times)
    positions = interpolated
    if cfg.smoothing == "savgol":
        positions = causal_smooth(positions, cfg.savgol_window, cfg.savgol_order)
    measured = None if v is None else mean_velocities(t, v, times)
    segment = Segment(t0=float(t[0]), dt=cfg.dt, positions=positions, name=name, measured_velocities=measured,
                      noise=grid_noise(t, p, times), interval_velocities=interval_velocities(t, p, times, interpolated))
    if q is not None:
        segment.attitude = segment_attitude(segment.velocities, grid_orientations(t, q, times), cfg.dt,
                                            ThrustAxis() if attitude_state is None else attitude_state)
    return segment


def interval_velocities(t: np.ndarray, p: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(len(times) - 1, 3) velocities between the means of the raw samples of consecutive grid intervals.

    Interval k (k >= 1) holds the raw samples with stamps in (times[k-1], times[k]]; interval 0 the first
    raw sample. Its mean position m_k and mean stamp tau_k (an interval with fewer than
    MIN_INTERVAL_SAMPLES raw samples: the interpolated grid position `grid`, before any smoothing, and the
    grid stamp, so u_k = v_k for raw rates at or below the grid rate) give
    u_k = (m_k - m_{k-1}) / (tau_k - tau_{k-1}): every raw sample contributes, so with white noise of
    sigma at n raw samples per grid step u_k is about sqrt(n / 2) times less noisy than the grid
    difference v_k (which reads one sample per step), and for clean motion it is the mean velocity
    around t_k - dt / 2. Sums run relative to the stretch's first sample (stamps and positions), in
    stamp order: `core.OnlineResampler` computes the same numbers sample by sample.
    """
    count = len(times)
    if count < 2:
        return np.zeros((0, 3))
    t_ref, p_ref = t[0], p[0]
    interval = np.searchsorted(times, t, side="left")          # sample i is in (times[k-1], times[k]]
    inside = interval < count                                   # samples after the last grid stamp: not yet
    n = np.bincount(interval[inside], minlength=count).astype(np.float64)
    sum_t = np.bincount(interval[inside], weights=t[inside] - t_ref, minlength=count)
    sum_p = np.stack([np.bincount(interval[inside], weights=p[inside, a] - p_ref[a], minlength=count)
                      for a in range(3)], axis=1)
    empty = n < MIN_INTERVAL_SAMPLES
    n_safe = np.where(empty, 1.0, n)
    tau = np.where(empty, times - t_ref, sum_t / n_safe)
    mean = np.where(empty[:, None], grid - p_ref, sum_p / n_safe[:, None])
    return (mean[1:] - mean[:-1]) / (tau[1:] - tau[:-1])[:, None]


def grid_noise(t: np.ndarray, p: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(len(times),) the raw-position noise estimate (`data.noise`, fresh per gap-free stretch) after the
    raw sample that completes each grid stamp (the first raw stamp >= it), as the online path has it
    when it emits that grid sample."""
    completing = np.minimum(np.searchsorted(t, times, side="left"), len(t) - 1)
    return noise_series(t, p)[completing]


def preprocess(t, p, cfg: PreprocessConfig = PreprocessConfig(), name: str = "", v=None, q=None) -> list[Segment]:
    """Raw stamps (N,) and positions (N, 3), in any order and with bad rows -> uniform `Segment`s.

    `v` (N, 3): measured world-frame velocities, required when cfg.velocity_source is "twist".
    `q` (N, 4): the vehicle's orientations (x, y, z, w; body to world): the segments then carry the attitude
    input (`Segment.attitude`), with one thrust-axis estimate carried across them as a track keeps it.
    """
    if cfg.velocity_source == "twist":
        if v is None:
            raise ValueError(f"{name or 'flight'}: velocity_source 'twist' needs measured velocities, "
                             "and this data has none (use velocity_source 'pose')")
    else:
        v = None
    t, p, *rest = clean_samples(t, p, v, q)
    v = rest.pop(0) if v is not None else None
    q = rest.pop(0) if q is not None else None
    state = None if q is None else ThrustAxis()
    parts = split_at_gaps(t, cfg.max_gap)
    segments = (resample_segment(t[part], p[part], cfg, name, None if v is None else v[part],
                                 None if q is None else q[part], state) for part in parts)
    return [segment for segment in segments if segment is not None]


def segments_from_flight(flight, cfg: PreprocessConfig = PreprocessConfig()) -> list[Segment]:
    """`preprocess` of one `Flight` (its velocities too, for velocity_source "twist", and its orientations),
    named after it."""
    return preprocess(flight.t, flight.p, cfg, name=flight.name, v=flight.v, q=flight.q)


def load_segments(paths, cfg: PreprocessConfig = PreprocessConfig(), **read_options) -> list[Segment]:
    """Read every flight under `paths` (see `read_flights`) and preprocess each into segments."""
    from .readers import read_flights
    return [segment for flight in read_flights(paths, **read_options)
            for segment in segments_from_flight(flight, cfg)]
