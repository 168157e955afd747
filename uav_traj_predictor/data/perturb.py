"""Measurement models applied to recorded flights: what a flight would look like through another sensor.

The flights users have are rarely motion-capture clean: a total station / laser tracker gives 1-5 cm at
5-50 Hz with dropouts, VIO centimetres plus drift, GNSS several cm. `perturb_flight` turns any `Flight`
into such a stream, seeded (the same seed and flight name always give the same samples, whatever the
order flights are perturbed in), so `uav-traj evaluate --perturb ...` answers "what will I get with my
sensor" and training can draw measurement models (train/datasets.py).

A `Perturbation` is written `key=value,...` (`Perturbation.parse`), applied in this order:

| key | unit | what |
|---|---|---|
| speed | x | replay this many times faster (< 1: slower): stamps / speed, the same path, velocities x speed |
| scale | x | the same timing on a path this many times larger: positions scaled about the first, velocities x scale |
| rate | Hz | thin to this raw rate: the nearest raw sample to each t0 + m / rate (kept once; no upsampling) |
| gaps | per minute | mean number of outages (Poisson in time); each removes every sample in an interval |
| gap_len | s | outage length, uniform in [gap_len / 10, gap_len] (default 2 s) |
| dropout | 0-1 | each remaining sample is dropped independently with this probability |
| drift | m/sqrt(s) | random-walk position bias per axis (VIO-like drift) |
| noise | m | white Gaussian position noise per axis |
| outliers | 0-1 | each sample is an outlier with this probability: displaced by N(0, outlier_size^2) per axis |
| outlier_size | m | outlier displacement std per axis (default 0.2 m) |
| jitter | s | white stamp noise (samples keep their order) |
| attitude | deg | white orientation noise: each orientation turned by a random rotation vector of this std per axis |
| positions_only | 0 / 1 | 1: drop the orientations (a sensor that measures positions only: total station, tracker) |

Velocities (Flight.v) and orientations follow the kept rows (velocities scaled by `speed` and `scale`). A
supplied measurement covariance (Flight.noise, scaled with the positions) follows its rows while the model only
removes samples or changes the speed or scale; one that adds error (noise, drift, outliers, jitter) drops it,
since it no longer describes the stream.

`speed` scales every stamp about t = 0 (time itself runs faster, so the flights of one bag keep their relative
timing) and answers "what will I get when my drone flies faster (or slower) than the flights I have": the
benches' `--slow K` replays (bench/hindsight_anchors.py, bench/finetune_lofo.py) are `speed=1/K`. `scale`
keeps the timing and stretches the path (speeds and accelerations x scale, the training's spatial augmentation
applied to a recorded flight). Both leave the orientations as recorded: a vehicle flying the replay would tilt
further (its accelerations grow by speed^2 or scale), so a replay's attitude no longer matches its motion (the
attitude input's consistency check then turns it off: data/attitude.py). `attitude` models an attitude estimate's
error (an onboard filter's is ~1 deg), drawn last (the other keys' samples are those without it).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
from scipy.spatial.transform import Rotation

from ..frames import valid_quaternions
from .flight import Flight, ReadReport


@dataclass(frozen=True)
class Perturbation:
    """One measurement model (see the module table); the defaults change nothing."""
    speed: float = 1.0
    scale: float = 1.0
    rate: float | None = None
    gaps: float = 0.0
    gap_len: float = 2.0
    dropout: float = 0.0
    drift: float = 0.0
    noise: float = 0.0
    outliers: float = 0.0
    outlier_size: float = 0.2
    jitter: float = 0.0
    attitude: float = 0.0
    positions_only: float = 0.0

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None and item.name == "rate":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"perturbation {item.name} must be a finite number, got {value!r}")
            if value < 0:
                raise ValueError(f"perturbation {item.name} must be >= 0, got {value!r}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"perturbation rate must be > 0 Hz, got {self.rate!r}")
        if self.gap_len <= 0 or self.outlier_size <= 0:
            raise ValueError("perturbation gap_len and outlier_size must be > 0")
        for name in ("speed", "scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"perturbation {name} must be > 0 (a factor), got {getattr(self, name)!r}")
        if self.positions_only not in (0.0, 1.0):
            raise ValueError(f"perturbation positions_only is 0 or 1, got {self.positions_only!r}")
        for name in ("dropout", "outliers"):
            if getattr(self, name) >= 1:
                raise ValueError(f"perturbation {name} is a probability in [0, 1), got {getattr(self, name)!r}")

    @classmethod
    def parse(cls, text: str) -> "Perturbation":
        """`"rate=20,noise=0.01,dropout=0.05"` -> Perturbation (ValueError naming the bad part).
        `"none"` or `""`: no perturbation."""
        text = text.strip()
        if text in ("", "none", "clean"):
            return cls()
        known = {item.name for item in fields(cls)}
        values = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in known:
                raise ValueError(f"perturbation {part!r}: expected key=value with key one of {sorted(known)}")
            if key in values:
                raise ValueError(f"perturbation {key!r} given twice in {text!r}")
            try:
                values[key] = float(value)
            except ValueError:
                raise ValueError(f"perturbation {part!r}: {value!r} is not a number") from None
        return cls(**values)

    @property
    def is_identity(self) -> bool:
        return self == Perturbation()

    @property
    def adds_error(self) -> bool:
        """Whether the model changes the measured positions or stamps (not only which samples, or the speed)."""
        return self.noise > 0 or self.drift > 0 or self.outliers > 0 or self.jitter > 0

    def label(self) -> str:
        """`key=value,...` of the settings that differ from the defaults ("clean" for none)."""
        default = Perturbation()
        parts = [f"{item.name}={getattr(self, item.name):g}" for item in fields(self)
                 if getattr(self, item.name) != getattr(default, item.name)]
        return ",".join(parts) or "clean"

    def to_dict(self) -> dict:
        return asdict(self)


def flight_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one flight: depends on the seed and the flight's name only."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def perturb_flight(flight: Flight, perturbation: Perturbation, seed: int = 0,
                   rng: np.random.Generator | None = None) -> Flight:
    """A perturbed copy of `flight` (the original is left alone); its report notes what was done.
    `rng` overrides the per-flight stream `flight_rng(seed, flight.name)`."""
    if perturbation.is_identity:
        return flight
    rng = flight_rng(seed, flight.name) if rng is None else rng
    t = np.asarray(flight.t, np.float64)
    order = np.argsort(t, kind="stable")
    finite = np.isfinite(t[order])
    rows = order[finite]
    t = t[rows]
    positions = np.asarray(flight.p, np.float64)
    origin = positions[rows[0]] if len(rows) else np.zeros(3)       # scale's centre: the flight's first sample
    if perturbation.speed != 1.0:
        t = t / perturbation.speed
    keep = np.ones(len(t), bool)
    if perturbation.rate is not None:
        keep &= _thin(t, perturbation.rate)
    if perturbation.gaps > 0:
        keep &= _outages(t, perturbation.gaps, perturbation.gap_len, rng)
    if perturbation.dropout > 0:
        keep &= rng.random(len(t)) >= perturbation.dropout
    rows, t = rows[keep], t[keep]
    p = positions[rows]                                             # a copy (fancy indexing)
    if perturbation.scale != 1.0:
        p = origin + perturbation.scale * (p - origin)
    if perturbation.drift > 0 and len(t):
        steps = np.sqrt(np.diff(t, prepend=t[0]))[:, None] * rng.standard_normal((len(t), 3))
        p += perturbation.drift * np.cumsum(steps, axis=0)
    if perturbation.noise > 0:
        p += perturbation.noise * rng.standard_normal(p.shape)
    outliers = 0
    if perturbation.outliers > 0:
        hit = rng.random(len(t)) < perturbation.outliers
        outliers = int(hit.sum())
        p[hit] += perturbation.outlier_size * rng.standard_normal((outliers, 3))
    if perturbation.jitter > 0 and len(t):
        t = np.maximum.accumulate(t + perturbation.jitter * rng.standard_normal(len(t)))
    take = lambda a: None if a is None else np.asarray(a)[rows]      # noqa: E731
    q = None if perturbation.positions_only else take(flight.q)
    if perturbation.attitude > 0 and q is not None and len(q):
        turn = Rotation.from_rotvec(np.radians(perturbation.attitude) * rng.standard_normal((len(q), 3)))
        valid = valid_quaternions(q)
        q = q.copy()
        q[valid] = (Rotation.from_quat(q[valid]) * turn[valid]).as_quat()
    v = take(flight.v)
    if v is not None and perturbation.speed * perturbation.scale != 1.0:
        v = v * (perturbation.speed * perturbation.scale)
    noise = None if perturbation.adds_error else take(flight.noise)
    if noise is not None and perturbation.scale != 1.0:
        noise = noise * perturbation.scale
    report = ReadReport(kept=len(t), dropped=dict(flight.report.dropped), notes=list(flight.report.notes))
    report.notes.append(f"perturbed ({perturbation.label()}, seed {seed}): kept {len(t)} of "
                        f"{len(flight.t)} samples, {outliers} outliers")
    # a supplied covariance (flight.noise) describes the original sensor: kept with its rows unless error is added
    return replace(flight, t=t, p=p, v=v, q=q, extra=take(flight.extra), report=report, noise=noise)


def _thin(t: np.ndarray, rate: float) -> np.ndarray:
    """Mask keeping, for each stamp t0 + m / rate, the nearest sample (each sample at most once)."""
    keep = np.zeros(len(t), bool)
    if len(t) == 0:
        return keep
    targets = t[0] + np.arange(int(math.floor((t[-1] - t[0]) * rate + 1e-9)) + 1) / rate
    right = np.clip(np.searchsorted(t, targets), 1, max(len(t) - 1, 1))
    left = right - 1
    nearest = np.where(np.abs(t[np.minimum(right, len(t) - 1)] - targets) < np.abs(t[left] - targets),
                       np.minimum(right, len(t) - 1), left)
    keep[nearest] = True
    return keep


def _outages(t: np.ndarray, per_minute: float, length: float, rng: np.random.Generator) -> np.ndarray:
    """Mask removing samples inside outages that start as a Poisson process of `per_minute`."""
    keep = np.ones(len(t), bool)
    if len(t) == 0:
        return keep
    start = t[0] + rng.exponential(60.0 / per_minute)
    while start < t[-1]:
        span = rng.uniform(0.1 * length, length)
        keep &= ~((t >= start) & (t < start + span))
        start += span + rng.exponential(60.0 / per_minute)
    return keep
