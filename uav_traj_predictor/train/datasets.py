"""Training data: grid tracks from the simulator, the kinematic mixture or flight files, seen through
measurement models, split by flight, and random augmented chunks for many-to-many training.

A training track is what the predictor would get from a sensor and what really happened, on the same
grid stamps: `measured` (M, 3) grid positions of the perturbed raw stream (data.preprocess, exactly as
evaluation and the node resample it), `truth` (M, 3) the exact positions at those stamps, and `noise` (M,)
the online noise estimate at each grid sample (data/noise.py, as the node computes it). Measurement
models: `sensors` per source (sim/noise.py `SENSOR_MIXTURE`: motion capture, total station / laser
tracker, VIO, GNSS, at 5-500 Hz with dropouts, outages, outliers, drift; or "none"), `copies` draws per
flight. Recorded flight files are their own truth (the copy without a perturbation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.perturb import Perturbation, perturb_flight
from ..data.preprocess import PreprocessConfig, preprocess, resample

SEALED = "sealed"


@dataclass(eq=False)
class TrainTrack:
    """One gap-free grid track: measured positions, exact positions on the same stamps, noise estimate."""
    measured: np.ndarray      # (M, 3)
    truth: np.ndarray         # (M, 3)
    noise: np.ndarray         # (M,) metres
    sensor: str = "none"
    interval: np.ndarray | None = None   # (M-1, 3) interval-mean velocities (None: the grid velocities)
    attitude: np.ndarray | None = None   # (M-1, 3) the attitude input from recorded orientations
    #                                      (data/attitude.py; None: synthesised from the truth, `sample_chunks`)

    def __len__(self) -> int:
        return len(self.measured)


@dataclass
class FlightSet:
    """Grid tracks with a description of where they came from. `groups[i]` is the source flight of
    track i (copies and segments of one flight share it, so splits never leak a flight)."""
    flights: list[TrainTrack]
    description: dict = field(default_factory=dict)
    groups: list[int] | None = None

    def __post_init__(self):
        self.flights = [f if isinstance(f, TrainTrack) else _plain_track(f) for f in self.flights]
        if self.groups is None:
            self.groups = list(range(len(self.flights)))

    @property
    def steps(self) -> int:
        return int(sum(len(f) for f in self.flights))


def _plain_track(positions) -> TrainTrack:
    """A grid array seen exactly (no measurement model): its own truth, zero noise estimate."""
    positions = np.asarray(positions, np.float64)
    return TrainTrack(positions, positions, np.zeros(len(positions)))


def measured_tracks(t, p, perturbation: Perturbation, rng: np.random.Generator, rate: float,
                    sensor: str = "none", name: str = "", q=None) -> list[TrainTrack]:
    """The grid tracks a sensor `perturbation` would give of exact raw samples (t, p) (sorted, finite), with
    the attitude input of their orientations q (N, 4) when given (the orientations follow the kept samples)."""
    from ..data import Flight
    seen = perturb_flight(Flight(name, "", np.asarray(t, np.float64), np.asarray(p, np.float64), q=q),
                          perturbation, rng=rng)
    tracks = []
    for segment in preprocess(seen.t, seen.p, PreprocessConfig(rate=rate), name=name, q=seen.q):
        truth = resample(t, p, segment.times)
        tracks.append(TrainTrack(segment.positions, truth, segment.noise, sensor, segment.interval_velocities,
                                 segment.attitude))
    return tracks


def _draw(rng, sensors, source_rate: float):
    from ..sim.noise import draw_perturbation
    if sensors == "none":
        return "none", Perturbation()
    return draw_perturbation(rng, source_rate, None if sensors == "mixture" else sensors)


def _measure_all(paths, seed: int, rate: float, source_rate: float, sensors, copies: int):
    """Tracks of every (t, p) or (t, p, q) path through `copies` random measurement models each: `sensors`
    "mixture" (SENSOR_MIXTURE), a sensor's name, "none", or a list of those, one per copy."""
    rng = np.random.default_rng([seed, 7])
    per_copy = list(sensors) if isinstance(sensors, (list, tuple)) else [sensors] * copies
    tracks, groups, counts = [], [], {}
    for index, (t, p, *q) in enumerate(paths):
        for kind in per_copy:
            sensor, perturbation = _draw(rng, kind, source_rate)
            counts[sensor] = counts.get(sensor, 0) + 1
            new = measured_tracks(t, p, perturbation, rng, rate, sensor, q=q[0] if q else None)
            tracks += new
            groups += [index] * len(new)
    return tracks, groups, counts


def simulated(n: int, duration_s: float, seed: int, rate: float, families=None, sim_rate: float = 100.0,
              sensors="mixture", copies: int = 1, orientations: bool = False) -> FlightSet:
    """Flights from the dynamic simulator (exact positions at `sim_rate`), seen through measurement models;
    with `orientations` their attitude input comes from the simulator's own orientations (tilts of the flown
    thrust, drag, wind and attitude lag included) through the product's estimate and check (data/attitude.py),
    as a recorded flight's does; without, `sample_chunks` synthesises it from the truth (the error model)."""
    from ..sim import generate_flights
    flights = generate_flights(n, duration_s, seed=seed, families=families, rate=sim_rate, noise="none")
    paths = [(f.t, f.p, f.q) if orientations else (f.t, f.p) for f in flights]
    tracks, groups, counts = _measure_all(paths, seed, rate, sim_rate, sensors, copies)
    extra = {"orientations": True} if orientations else {}
    return FlightSet(tracks, {"source": "sim", "flights": n, "duration_s": duration_s, "seed": seed,
                              "families": list(families) if families else "all", "sim_rate": sim_rate,
                              "sensors": sensors, "copies": copies, **extra, "sensor_draws": counts}, groups)


def kinematic(n: int, duration_s: float, seed: int, rate: float, families=None, sensors="mixture",
              copies: int = 1) -> FlightSet:
    """Flights from the kinematic mixture (sim/kinematic.py, exact at 50 Hz), seen through measurement models."""
    from ..sim.kinematic import FINE_DT, kinematic_paths
    paths = kinematic_paths(n, duration_s, seed=seed, families=families)
    tracks, groups, counts = _measure_all(paths, seed, rate, 1.0 / FINE_DT, sensors, copies)
    return FlightSet(tracks, {"source": "kinematic", "flights": n, "duration_s": duration_s, "seed": seed,
                              "families": list(families) if families else "all", "sensors": sensors,
                              "copies": copies, "sensor_draws": counts}, groups)


def from_files(paths, rate: float, sensors="none", copies: int = 1, seed: int = 0) -> FlightSet:
    """Flights read from files/folders (never from a `sealed` folder). `sensors` "none": each recorded flight
    as it is, its own truth; else (a sensor name, "mixture" or a list, as for simulated flights) each is
    seen through `copies` random measurement models, the recorded positions (motion capture: sub-millimetre)
    being the truth, at the flight's own median raw rate."""
    from ..data import read_flights, segments_from_flight
    from ..data.flight import fingerprint
    for path in paths:
        if SEALED in Path(path).resolve().parts:
            raise ValueError(f"{path}: refusing to train on the sealed evaluation set")
    flights = read_flights([str(p) for p in paths])
    description = {"source": "files", "paths": [str(p) for p in paths], "flights": len(flights),
                   "fingerprints": [fingerprint(flight) for flight in flights]}
    if sensors != "none":
        tracks, groups, counts = [], [], {}
        for index, flight in enumerate(flights):
            raw_rate = 1.0 / float(np.median(np.diff(flight.t)))
            new, _, drawn = _measure_all([(flight.t, flight.p, flight.q)], seed * 1000 + index, rate, raw_rate,
                                         sensors, copies)
            tracks += new
            groups += [index] * len(new)
            for sensor, count in drawn.items():
                counts[sensor] = counts.get(sensor, 0) + count
        return FlightSet(tracks, {**description, "sensors": sensors, "copies": copies, "sensor_draws": counts},
                         groups)
    tracks, groups = [], []
    for index, flight in enumerate(flights):
        for segment in segments_from_flight(flight, PreprocessConfig(rate=rate)):
            tracks.append(TrainTrack(segment.positions, segment.positions, segment.noise, "recorded",
                                     segment.interval_velocities, segment.attitude))
            groups.append(index)
    return FlightSet(tracks, description, groups)


def mixture(spec: dict, seed: int, rate: float, scale: float = 1.0) -> FlightSet:
    """A set built from a config `data` section: a list of {source, flights, duration_s, families, sensors,
    copies...}."""
    sets = []
    for index, part in enumerate(spec["sources"]):
        n = max(1, int(round(part["flights"] * scale)))
        part_seed = seed * 1000 + index
        sensors = part.get("sensors", "mixture")
        copies = len(sensors) if isinstance(sensors, list) else int(part.get("copies", 1))
        if part["source"] == "sim":
            sets.append(simulated(n, part["duration_s"], part_seed, rate, part.get("families"),
                                  part.get("sim_rate", 100.0), sensors, copies, part.get("orientations") is True))
        elif part.get("orientations"):
            raise ValueError(f"data.sources[{index}]: orientations: only a 'sim' source has orientations "
                             f"(a {part['source']!r} one gets the attitude input from its exact positions)")
        elif part["source"] == "kinematic":
            sets.append(kinematic(n, part["duration_s"], part_seed, rate, part.get("families"), sensors, copies))
        else:
            raise ValueError(f"unknown data source {part['source']!r}: expected 'sim' or 'kinematic'")
    return combine(sets)


def combine(sets) -> FlightSet:
    """One FlightSet of several, their flights kept apart (groups renumbered, so splits never leak a flight)."""
    tracks, groups, offset = [], [], 0
    for flight_set in sets:
        tracks += flight_set.flights
        groups += [offset + g for g in flight_set.groups]
        offset += max(flight_set.groups, default=-1) + 1
    return FlightSet(tracks, {"parts": [s.description for s in sets]}, groups)


def split_flights(flight_set: FlightSet, fraction: float, seed: int) -> tuple[FlightSet, FlightSet]:
    """Split by source flight: (rest, held-out) with `fraction` of the flights held out (at least one)."""
    names = sorted(set(flight_set.groups))
    order = np.random.default_rng(seed).permutation(len(names))
    count = max(1, int(round(fraction * len(order))))
    held = {names[i] for i in order[:count]}
    pick = lambda keep: FlightSet([f for f, g in zip(flight_set.flights, flight_set.groups) if (g in held) == keep],  # noqa
                                  flight_set.description, [g for g in flight_set.groups if (g in held) == keep])
    return pick(False), pick(True)


@dataclass(frozen=True)
class Augment:
    """Per-chunk augmentation: yaw rotation, mirror, spatial scale (log-uniform), extra vertical scale
    (log-uniform, more or less vertical motion), extra white noise on the measured positions (uniform std
    range, metres; not seen by the noise estimate: keep it 0 for models that read the noise level)."""
    yaw: bool = True
    mirror: bool = True
    scale: tuple[float, float] = (0.7, 1.4)
    z_scale: tuple[float, float] = (1.0, 1.0)
    noise: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def from_dict(cls, values: dict | None) -> "Augment":
        values = dict(values or {})
        for key in ("scale", "z_scale", "noise"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass
class Chunks:
    """A batch of training chunks (offset so measured[:, 0] = 0): measured and exact positions (B, T, 3),
    noise estimate (B, T), interval-mean velocities (B, T - 1, 3) (NaN rows: use the grid velocities),
    the attitude input (B, T - 1, 3) when asked for (`sample_chunks`' dt)."""
    measured: torch.Tensor
    truth: torch.Tensor
    noise: torch.Tensor
    interval: torch.Tensor | None = None
    attitude: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.measured)


# the attitude input in training (docs/model.md, "The vehicle's attitude"): a chunk has it with ATTITUDE_SHARE; a track
# without orientations (a kinematic one; a simulated one without `orientations`) gets it from its exact positions'
# acceleration through an error model of a real attitude (per chunk: gain 1 +- ATTITUDE_GAIN, bias ATTITUDE_BIAS m/s^2
# per axis, white noise of ATTITUDE_WHITE m/s^2); one with orientations (a recorded flight, a simulated one with
# `orientations`) from them (data/attitude.py), availability as its check says
ATTITUDE_SHARE = 0.7
ATTITUDE_GAIN, ATTITUDE_BIAS, ATTITUDE_WHITE = 0.1, 0.15, (0.1, 0.8)


def synthetic_attitude(truth: np.ndarray, dt: float, rng: np.random.Generator) -> np.ndarray:
    """(B, T - 1, 3) [implied x, y m/s^2, available = 1] at grid samples 1..T-1 of exact positions (B, T, 3):
    the central second difference (the last row repeats the one before), through the error model."""
    acc = (truth[:, 2:, :2] - 2 * truth[:, 1:-1, :2] + truth[:, :-2, :2]) / dt ** 2
    acc = np.concatenate([acc, acc[:, -1:]], axis=1)
    count = len(acc)
    gain = 1.0 + ATTITUDE_GAIN * rng.standard_normal((count, 1, 1))
    bias = ATTITUDE_BIAS * rng.standard_normal((count, 1, 2))
    sigma = rng.uniform(*ATTITUDE_WHITE, (count, 1, 1))
    acc = gain * acc + bias + sigma * rng.standard_normal(acc.shape)
    return np.concatenate([acc, np.ones(acc.shape[:2] + (1,))], axis=-1)


def sample_chunks(flights, count: int, length: int, rng: np.random.Generator,
                  augment: Augment | None, dt: float | None = None) -> Chunks:
    """`count` random chunks of `length` grid samples, augmented; with `dt` (s), the attitude input too
    (see ATTITUDE_SHARE)."""
    flights = [f if isinstance(f, TrainTrack) else _plain_track(f) for f in flights]
    usable = [f for f in flights if len(f) >= length]
    if not usable:
        raise ValueError(f"no flight has {length} grid samples; lower chunk_steps or lengthen the flights")
    weights = np.array([len(f) - length + 1 for f in usable], np.float64)
    picks = rng.choice(len(usable), size=count, p=weights / weights.sum())
    measured, truth = np.empty((count, length, 3)), np.empty((count, length, 3))
    noise, interval = np.empty((count, length)), np.full((count, length - 1, 3), np.nan)
    recorded = np.full((count, length - 1, 3), np.nan)
    for row, pick in enumerate(picks):
        track = usable[pick]
        start = rng.integers(len(track) - length + 1)
        origin = track.measured[start]
        measured[row] = track.measured[start:start + length] - origin
        truth[row] = track.truth[start:start + length] - origin
        noise[row] = track.noise[start:start + length]
        if track.interval is not None:
            interval[row] = track.interval[start:start + length - 1]
        if track.attitude is not None:
            recorded[row] = track.attitude[start:start + length - 1]
    if augment is not None:
        measured, truth, noise, interval, recorded = _augment(measured, truth, noise, interval, rng, augment,
                                                              recorded)
    as_tensor = lambda a: torch.from_numpy(a.astype(np.float32))    # noqa: E731
    attitude = None
    if dt is not None:
        attitude = synthetic_attitude(truth, dt, rng)
        has = np.isfinite(recorded).all(axis=(1, 2))
        attitude[has] = recorded[has]
        attitude *= (rng.random(count) < ATTITUDE_SHARE)[:, None, None]
        attitude = as_tensor(attitude)
    return Chunks(as_tensor(measured), as_tensor(truth), as_tensor(noise), as_tensor(interval), attitude)


def _augment(measured, truth, noise, interval, rng: np.random.Generator, augment: Augment, attitude=None):
    """The augmentation of a batch; the recorded attitude input (B, T - 1, 3) follows the positions' horizontal
    rotation, mirror and scale (its availability column as it is)."""
    count = len(measured)
    length = measured.shape[1]
    padded = np.concatenate([interval, np.zeros((count, 1, 3))], axis=1)   # velocities transform like positions
    if attitude is None:
        attitude = np.full((count, length - 1, 3), np.nan)
    tilt = np.concatenate([attitude[..., :2], np.zeros((count, length - 1, 1))], axis=-1)
    tilt = np.concatenate([tilt, np.zeros((count, 1, 3))], axis=1)
    both = np.stack([measured, truth, padded, tilt])         # (4, B, T, 3): one transform for all
    if augment.yaw:
        angle = rng.uniform(0, 2 * np.pi, count)
        c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
        x, y = both[..., 0].copy(), both[..., 1].copy()
        both[..., 0] = c * x - s * y
        both[..., 1] = s * x + c * y
    if augment.mirror:
        both[..., 1] *= np.where(rng.random(count) < 0.5, -1.0, 1.0)[:, None]
    low, high = augment.scale
    factor = np.exp(rng.uniform(np.log(low), np.log(high), count))
    both *= factor[:, None, None]
    noise = noise * factor[:, None]                          # the estimate is linear in the positions
    low, high = augment.z_scale
    if (low, high) != (1.0, 1.0):
        vertical = np.exp(rng.uniform(np.log(low), np.log(high), count))
        both[..., 2] *= vertical[:, None]
        noise = noise * np.cbrt(vertical)[:, None]           # the estimate: geometric mean over the axes
    measured, truth, interval = both[0], both[1], both[2][:, :length - 1]
    attitude = np.concatenate([both[3][:, :length - 1, :2], attitude[..., 2:]], axis=-1)
    low, high = augment.noise
    if high > 0:
        sigma = rng.uniform(low, high, count)[:, None, None]
        measured = measured + rng.normal(size=measured.shape) * sigma
    return measured, truth, noise, interval, attitude
