"""Training data: grid position arrays from the simulator, the kinematic mixture or flight files,
split by flight, and random augmented chunks for many-to-many training."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .kinematic import kinematic_flights

SEALED = "sealed"


@dataclass
class FlightSet:
    """Grid position arrays (M_i, 3) with a description of where they came from."""
    flights: list[np.ndarray]
    description: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(sum(len(f) for f in self.flights))


def _grid_segments(flights, rate: float) -> list[np.ndarray]:
    from ..data.preprocess import PreprocessConfig, preprocess
    cfg = PreprocessConfig(rate=rate)
    out = []
    for flight in flights:
        out += [segment.positions for segment in preprocess(flight.t, flight.p, cfg)]
    return out


def simulated(n: int, duration_s: float, seed: int, rate: float, families=None, sim_rate: float = 100.0,
              noise: str = "mocap") -> FlightSet:
    """Flights from the dynamic simulator, resampled on the grid exactly like real files."""
    from ..sim import generate_flights
    flights = generate_flights(n, duration_s, seed=seed, families=families, rate=sim_rate, noise=noise)
    return FlightSet(_grid_segments(flights, rate),
                     {"source": "sim", "flights": n, "duration_s": duration_s, "seed": seed,
                      "families": list(families) if families else "all", "sim_rate": sim_rate, "noise": noise})


def kinematic(n: int, duration_s: float, seed: int, rate: float, families=None,
              noise=(1e-4, 3e-3), glitches: float = 0.1) -> FlightSet:
    """Flights from the kinematic mixture (train/kinematic.py); `noise` = white position noise range, m."""
    return FlightSet(kinematic_flights(n, duration_s, seed=seed, families=families, rate=rate,
                                       noise=tuple(noise), glitches=glitches),
                     {"source": "kinematic", "flights": n, "duration_s": duration_s, "seed": seed,
                      "families": list(families) if families else "all", "noise": list(noise),
                      "glitches": glitches})


def from_files(paths, rate: float) -> FlightSet:
    """Flights read from files/folders (never from a `sealed` folder)."""
    from ..data import read_flights
    for path in paths:
        if SEALED in Path(path).resolve().parts:
            raise ValueError(f"{path}: refusing to train on the sealed evaluation set")
    flights = read_flights([str(p) for p in paths])
    return FlightSet(_grid_segments(flights, rate),
                     {"source": "files", "paths": [str(p) for p in paths], "flights": len(flights)})


def mixture(spec: dict, seed: int, rate: float, scale: float = 1.0) -> FlightSet:
    """A set built from a config `data` section: a list of {source, flights, duration_s, families...}."""
    sets = []
    for index, part in enumerate(spec["sources"]):
        n = max(1, int(round(part["flights"] * scale)))
        part_seed = seed * 1000 + index
        if part["source"] == "sim":
            sets.append(simulated(n, part["duration_s"], part_seed, rate, part.get("families"),
                                  part.get("sim_rate", 100.0), part.get("noise", "mocap")))
        elif part["source"] == "kinematic":
            sets.append(kinematic(n, part["duration_s"], part_seed, rate, part.get("families"),
                                  part.get("noise", (1e-4, 3e-3)), part.get("glitches", 0.1)))
        else:
            raise ValueError(f"unknown data source {part['source']!r}: expected 'sim' or 'kinematic'")
    return FlightSet([f for s in sets for f in s.flights], {"parts": [s.description for s in sets]})


def split_flights(flight_set: FlightSet, fraction: float, seed: int) -> tuple[FlightSet, FlightSet]:
    """Split by flight: (rest, held-out) with `fraction` of the flights held out (at least one)."""
    order = np.random.default_rng(seed).permutation(len(flight_set.flights))
    count = max(1, int(round(fraction * len(order))))
    pick = lambda idx: [flight_set.flights[i] for i in sorted(idx)]  # noqa: E731
    return (FlightSet(pick(order[count:]), flight_set.description),
            FlightSet(pick(order[:count]), flight_set.description))


@dataclass(frozen=True)
class Augment:
    """Per-chunk augmentation: yaw rotation, mirror, spatial scale (log-uniform), extra vertical scale
    (log-uniform, more or less vertical motion), extra white position noise (uniform std range, metres)."""
    yaw: bool = True
    mirror: bool = True
    scale: tuple[float, float] = (0.7, 1.4)
    z_scale: tuple[float, float] = (1.0, 1.0)
    noise: tuple[float, float] = (0.0, 0.002)

    @classmethod
    def from_dict(cls, values: dict | None) -> "Augment":
        values = dict(values or {})
        for key in ("scale", "z_scale", "noise"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def sample_chunks(flights: list[np.ndarray], count: int, length: int, rng: np.random.Generator,
                  augment: Augment | None) -> torch.Tensor:
    """`count` random chunks of `length` grid positions (offset to start at 0), augmented: (count, length, 3)."""
    usable = [f for f in flights if len(f) >= length]
    if not usable:
        raise ValueError(f"no flight has {length} grid samples; lower chunk_steps or lengthen the flights")
    weights = np.array([len(f) - length + 1 for f in usable], np.float64)
    picks = rng.choice(len(usable), size=count, p=weights / weights.sum())
    chunks = np.empty((count, length, 3))
    for row, pick in enumerate(picks):
        start = rng.integers(len(usable[pick]) - length + 1)
        chunk = usable[pick][start:start + length]
        chunks[row] = chunk - chunk[0]
    if augment is not None:
        chunks = _augment(chunks, rng, augment)
    return torch.from_numpy(chunks.astype(np.float32))


def _augment(chunks: np.ndarray, rng: np.random.Generator, augment: Augment) -> np.ndarray:
    count = len(chunks)
    if augment.yaw:
        angle = rng.uniform(0, 2 * np.pi, count)
        c, s = np.cos(angle), np.sin(angle)
        x, y = chunks[..., 0].copy(), chunks[..., 1].copy()
        chunks[..., 0] = c[:, None] * x - s[:, None] * y
        chunks[..., 1] = s[:, None] * x + c[:, None] * y
    if augment.mirror:
        chunks[..., 1] *= np.where(rng.random(count) < 0.5, -1.0, 1.0)[:, None]
    low, high = augment.scale
    chunks *= np.exp(rng.uniform(np.log(low), np.log(high), count))[:, None, None]
    low, high = augment.z_scale
    if (low, high) != (1.0, 1.0):
        chunks[..., 2] *= np.exp(rng.uniform(np.log(low), np.log(high), count))[:, None]
    low, high = augment.noise
    if high > 0:
        sigma = rng.uniform(low, high, count)[:, None, None]
        chunks += rng.normal(size=chunks.shape) * sigma
    return chunks
