"""Adversarial-stream fuzzing of the prediction core (TrackBank + OnlineResampler + StreamingPredictor).

    nice .venv/bin/python bench/fuzz.py [--cases 10000] [--seed 0] [--checkpoint CKPT] [--max-ops 300]

A case is a list of operations over a few tracks: normal 20 Hz samples and adversarial ones (NaN/Inf,
extreme values, duplicate and reversed stamps, clock jumps, gaps, teleports, bursts, frame changes,
silence past the track timeout, NaN / extreme measured velocities). Cases rotate through the four core
modes: no smoothing / causal smoothing x velocity source pose / twist (the vehicle's velocity pushed
with every sample). Every operation goes through a `TrackBank`; after each tick the
invariants are checked:

  * no exception escapes `push` / `tick` / `reset`;
  * every published value is finite (t0, positions, velocities, std) with the right shapes and status;
  * every reset is reported: a track's grid continues (t0 advances by dt per consumed velocity and the
    history grows) unless a "new"/"reset"/"dropped" event for it came with the same tick;
  * bookkeeping holds: the predictor's per-slot history equals the track's, a track whose history
    grew got a prediction, the predictor has exactly one active slot per live track, and its capacity
    stays bounded by the peak number of live tracks.

The same operation language is used by the hypothesis tests (test/unit/core/test_core_fuzz.py), which
draw operations with hypothesis instead of numpy. Without --checkpoint a tiny random checkpoint is
written to a temporary folder (the invariants do not depend on the weights).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from uav_traj_predictor.core import TrackBank  # noqa: E402
from uav_traj_predictor.core.prediction import (EVENT_DROPPED, EVENT_IGNORED, EVENT_NEW,  # noqa: E402
                                                EVENT_RESET, STATUSES)
from uav_traj_predictor.data.preprocess import PreprocessConfig  # noqa: E402

NOMINAL_DT = 0.05            # 20 Hz odometry
NOW_PER_PUSH = 0.01          # receive clock advance per push (several tracks share it)
TRACK_TIMEOUT = 2.0
EXTREME_POSITIONS = (1e6, 1e12, 1e100, 1e300, 1.7e308, 5e-324)
EXTREME_STAMPS = (1.7e9, 1e12, 1.7e18, -1e9, 0.0)

# operation kinds: (kind, track index, value in [0, 1) that parameterises it)
ADVERSARIAL = ("burst", "nan_position", "inf_position", "nan_stamp", "inf_stamp", "extreme_position",
               "extreme_stamp", "duplicate", "reversed", "jump_back", "gap", "teleport", "tiny_step",
               "frame_change", "silence", "nan_velocity", "extreme_velocity")
KINDS = ("normal", "tick") + ADVERSARIAL
# drawing weights: mostly normal samples so that tracks get past warm-up between the faults
WEIGHTS = np.array([0.80, 0.08] + [0.12 / len(ADVERSARIAL)] * len(ADVERSARIAL))


class InvariantViolation(AssertionError):
    """The core broke one of the promises listed in the module doc."""


@dataclass
class VehicleState:
    """The generator's idea of one vehicle: its stamp clock, position and velocity."""
    stamp: float
    position: np.ndarray
    velocity: np.ndarray


@dataclass
class Counts:
    cases: int = 0
    operations: int = 0
    samples: int = 0
    ticks: int = 0
    predictions: int = 0
    statuses: Counter = field(default_factory=Counter)
    resets: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)
    dropped: int = 0
    new_tracks: int = 0
    exceptions: Counter = field(default_factory=Counter)
    violations: Counter = field(default_factory=Counter)
    failure_context: Counter = field(default_factory=Counter)   # (failure, mode, float-max input?) -> cases
    operations_by_kind: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)     # (case seed/ops, traceback text), first few only

    def merge_events(self, events) -> None:
        for event in events:
            if event.kind == EVENT_RESET:
                self.resets[event.reason] += 1
            elif event.kind == EVENT_IGNORED:
                self.ignored[event.reason] += 1
            elif event.kind == EVENT_DROPPED:
                self.dropped += 1
            elif event.kind == EVENT_NEW:
                self.new_tracks += 1


def make_tiny_checkpoint(path: Path, hidden: int = 8, seed: int = 0) -> Path:
    """A small random checkpoint in the real format (the fuzzing does not depend on the weights)."""
    import torch

    from uav_traj_predictor.model import Architecture, VelocityGRU, save_checkpoint
    torch.manual_seed(seed)
    model = VelocityGRU(Architecture(hidden=hidden, layers=1, head_hidden=8, horizon_steps=10))
    meta = {"model_id": "fuzz-tiny", "rate": 10.0, "dt": 0.1, "min_history": 5, "cv_std": [0.05] * 10,
            "training": {"data": "none (random weights for fuzzing)"}, "metrics": {}}
    return save_checkpoint(path, model, meta)


def random_operations(rng: np.random.Generator, max_ops: int, tracks: int) -> list[tuple[str, int, float]]:
    """A random case: mostly normal samples with adversarial operations mixed in."""
    count = int(rng.integers(1, max_ops + 1))
    kinds = rng.choice(len(KINDS), size=count, p=WEIGHTS / WEIGHTS.sum())
    return [(KINDS[k], int(rng.integers(tracks)), float(rng.random())) for k in kinds]


class CaseRunner:
    """Plays one case's operations through a fresh TrackBank over a shared predictor and checks it."""

    def __init__(self, predictor, counts: Counts, smoothing: str | None = None, velocity_source: str = "pose"):
        self.predictor = predictor
        self.counts = counts
        self.cfg = PreprocessConfig(rate=predictor.rate, smoothing=smoothing, velocity_source=velocity_source)

    def run(self, operations, seed: int = 0) -> None:
        """Play `operations`; raise InvariantViolation (or whatever escaped the core) on failure."""
        self.rng = np.random.default_rng(seed)
        self.bank = TrackBank(self.predictor, self.cfg, track_timeout=TRACK_TIMEOUT)
        self.vehicles: dict[int, VehicleState] = {}
        self.now = 1000.0
        self.last = {}             # track id -> (t0, history) of its last prediction
        self.peak_tracks = 0
        self.counts.cases += 1
        try:
            for kind, track, value in operations:
                self.counts.operations += 1
                self.counts.operations_by_kind[kind] += 1
                self._apply(kind, track, value)
            self._tick()
        finally:
            for track_id in list(self.bank.tracks):
                self.bank.remove(track_id)
        if self.predictor.active_tracks:
            raise InvariantViolation("predictor slots still active after every track was removed")

    # ---- operations -------------------------------------------------------------------------
    def _vehicle(self, track: int) -> VehicleState:
        if track not in self.vehicles:
            self.vehicles[track] = VehicleState(stamp=50.0 + track, position=self.rng.uniform(-50, 50, 3),
                                                velocity=self.rng.normal(0, 3, 3))
        return self.vehicles[track]

    def _advance(self, vehicle: VehicleState, step: float) -> None:
        vehicle.stamp += step
        vehicle.velocity = vehicle.velocity + self.rng.normal(0, 0.5, 3) * max(min(step, 1.0), 0.0)
        vehicle.position = vehicle.position + vehicle.velocity * max(min(step, 1.0), 0.0)

    def _apply(self, kind: str, track: int, value: float) -> None:
        if kind == "tick":
            return self._tick()
        if kind == "silence":
            self.now += TRACK_TIMEOUT * (1.05 + value)
            return self._tick()
        vehicle = self._vehicle(track)
        stamp, position, velocity = None, None, None
        if kind == "normal":
            self._advance(vehicle, NOMINAL_DT * (0.5 + value))
        elif kind == "burst":
            self._advance(vehicle, NOMINAL_DT / 10)
        elif kind == "tiny_step":
            self._advance(vehicle, 1e-9 + value * 1e-6)
        elif kind == "nan_position":
            position = vehicle.position.copy()
            position[int(value * 3)] = np.nan
            self._advance(vehicle, NOMINAL_DT)
        elif kind == "inf_position":
            position = vehicle.position.copy()
            position[int(value * 3)] = np.inf if value < 0.5 else -np.inf
            self._advance(vehicle, NOMINAL_DT)
        elif kind in ("nan_stamp", "inf_stamp"):
            stamp = np.nan if kind == "nan_stamp" else (np.inf if value < 0.5 else -np.inf)
        elif kind == "extreme_position":
            magnitude = EXTREME_POSITIONS[int(value * len(EXTREME_POSITIONS))]
            vehicle.position = np.sign(self.rng.normal(size=3)) * magnitude
            self._advance(vehicle, NOMINAL_DT)
        elif kind == "extreme_stamp":
            vehicle.stamp = EXTREME_STAMPS[int(value * len(EXTREME_STAMPS))]
        elif kind == "duplicate":
            position = vehicle.position + (0.0 if value < 0.5 else self.rng.normal(0, 1, 3))
        elif kind == "reversed":
            stamp = vehicle.stamp - (0.001 + 0.9 * value)
        elif kind == "jump_back":
            vehicle.stamp -= 1.5 + 10 ** (6 * value)
        elif kind == "gap":
            self._advance(vehicle, 0.25 + 10 * value)
        elif kind == "teleport":
            direction = self.rng.normal(size=3)
            vehicle.position = vehicle.position + direction / np.linalg.norm(direction) * 10 ** (1 + 5 * value)
            self._advance(vehicle, NOMINAL_DT)
        elif kind == "frame_change":
            return self.bank.reset(f"uav{track}", "frame_change")
        elif kind == "nan_velocity":
            velocity = vehicle.velocity.copy()
            velocity[int(value * 3)] = np.nan if value < 0.5 else np.inf
            self._advance(vehicle, NOMINAL_DT)
        elif kind == "extreme_velocity":
            velocity = np.sign(self.rng.normal(size=3)) * EXTREME_POSITIONS[int(value * len(EXTREME_POSITIONS))]
            self._advance(vehicle, NOMINAL_DT)
        else:
            raise ValueError(f"unknown fuzz operation {kind!r}")
        self._push(track, vehicle.stamp if stamp is None else stamp,
                   vehicle.position if position is None else position,
                   vehicle.velocity if velocity is None else velocity)

    def _push(self, track: int, stamp: float, position: np.ndarray, velocity: np.ndarray) -> None:
        self.now += NOW_PER_PUSH
        self.counts.samples += 1
        self.bank.push(f"uav{track}", stamp, np.array(position, dtype=np.float64), now=self.now,
                       velocity=np.array(velocity, dtype=np.float64))
        self.peak_tracks = max(self.peak_tracks, len(self.bank))

    # ---- invariants -------------------------------------------------------------------------
    def _tick(self) -> None:
        before = {track_id: track.history for track_id, track in self.bank.tracks.items()}
        result = self.bank.tick(self.now)
        self.counts.ticks += 1
        self.counts.merge_events(result.events)
        self.counts.predictions += len(result.predictions)
        broken = {event.track_id for event in result.events
                  if event.kind in (EVENT_NEW, EVENT_RESET, EVENT_DROPPED)}
        predicted = set()
        for prediction in result.predictions:
            self.counts.statuses[prediction.status] += 1
            self._check_prediction(prediction, broken)
            predicted.add(prediction.track_id)
        for track_id in broken:
            if track_id not in predicted:
                self.last.pop(track_id, None)
        self._check_bookkeeping(before, predicted, broken)

    def _violation(self, name: str, message: str):
        self.counts.violations[name] += 1
        raise InvariantViolation(f"{name}: {message}")

    def _check_prediction(self, prediction, broken: set) -> None:
        horizon = self.bank.horizon_steps
        arrays = {"positions": prediction.positions, "velocities": prediction.velocities}
        if prediction.position_std is not None:
            arrays["position_std"] = prediction.position_std
        for name, array in arrays.items():
            if np.shape(array) != (horizon, 3):
                self._violation("shape", f"{prediction.track_id} {name} has shape {np.shape(array)}")
            if not np.isfinite(array).all():
                self._violation("non_finite_output", f"{prediction.track_id} {name} = {array!r}")
        if not np.isfinite(prediction.t0) or prediction.status not in STATUSES:
            self._violation("header", f"{prediction.track_id} t0 {prediction.t0} status {prediction.status}")
        if prediction.position_std is not None and (prediction.position_std < 0).any():
            self._violation("negative_std", f"{prediction.track_id}")
        previous = self.last.get(prediction.track_id)
        if previous is not None and prediction.track_id not in broken:
            t0, history = previous
            steps = prediction.history - history
            if steps < 1:
                self._violation("unreported_reset", f"{prediction.track_id} history {history} -> "
                                f"{prediction.history} without a reset event")
            expected = t0 + steps * prediction.dt
            if not np.isclose(prediction.t0, expected, rtol=0, atol=1e-6 * max(1.0, abs(t0))):
                self._violation("unreported_reset", f"{prediction.track_id} t0 {t0} -> {prediction.t0} after "
                                f"{steps} velocities (expected {expected}) without a reset event")
        self.last[prediction.track_id] = (prediction.t0, prediction.history)

    def _check_bookkeeping(self, before: dict, predicted: set, broken: set) -> None:
        tracks = self.bank.tracks
        active = self.predictor.active_tracks
        if active != len(tracks):
            self._violation("slot_leak", f"{active} active predictor slots for {len(tracks)} tracks")
        if self.predictor.capacity > max(8, 2 * max(self.peak_tracks, 1)):
            self._violation("unbounded_growth", f"capacity {self.predictor.capacity} for peak {self.peak_tracks}")
        for track_id, track in tracks.items():
            slot_history = int(self.predictor.history(track.slot)[0])
            if slot_history != track.history:
                self._violation("history_mismatch", f"{track_id}: predictor {slot_history}, bank {track.history}")
            grew = track.history > before.get(track_id, 0) or (track_id in broken and track.history > 0)
            if grew and track_id not in predicted:
                self._violation("lost_prediction", f"{track_id} consumed velocities but made no prediction")
            if track.queued_velocities or track.queued_samples:
                self._violation("queue_not_drained", f"{track_id} still has queued samples after tick")


def uses_float_max(operations) -> bool:
    """Whether a case pushes positions of magnitude 1.7e308 (float64 maximum)."""
    index = EXTREME_POSITIONS.index(1.7e308) if 1.7e308 in EXTREME_POSITIONS else -1
    return any(kind == "extreme_position" and int(value * len(EXTREME_POSITIONS)) == index
               for kind, _, value in operations)


def failure_of(predictor, operations, seed: int, smoothing: str | None, velocity_source: str = "pose") -> str | None:
    """The violation name or exception type one case ends with (None if it passes); counts discarded."""
    runner = CaseRunner(predictor, Counts(), smoothing=smoothing, velocity_source=velocity_source)
    try:
        runner.run(operations, seed=seed)
    except InvariantViolation as error:
        return str(error).split(":")[0]
    except Exception as error:  # a fuzzer looks at everything that escapes
        for track_id in list(runner.bank.tracks):
            runner.bank.remove(track_id)
        return type(error).__name__
    return None


def shrink(predictor, operations, seed: int, smoothing: str | None, velocity_source: str = "pose",
           budget: int = 2000) -> list:
    """Greedy delta debugging: drop chunks of operations while the case keeps failing the same way."""
    target = failure_of(predictor, operations, seed, smoothing, velocity_source)
    chunk = max(1, len(operations) // 2)
    while chunk >= 1 and budget > 0:
        start, removed = 0, False
        while start < len(operations) and budget > 0:
            candidate = operations[:start] + operations[start + chunk:]
            budget -= 1
            if candidate and failure_of(predictor, candidate, seed, smoothing, velocity_source) == target:
                operations, removed = candidate, True
            else:
                start += chunk
        if not removed:
            chunk //= 2
    return operations


def run_cases(predictor, cases: int, seed: int, max_ops: int, tracks: int, counts: Counts,
              keep_failures: int = 5) -> Counts:
    """Run `cases` random cases (odd cases with causal smoothing, every other pair with velocity source
    twist); failures are counted, not raised.

    The first `keep_failures` failures are shrunk to a minimal operation list and kept with their text.
    """
    seen = set()
    for case in range(cases):
        case_seed = seed * 1_000_003 + case
        smoothing = "savgol" if case % 2 else None
        velocity_source = "twist" if case % 4 >= 2 else "pose"
        operations = random_operations(np.random.default_rng(case_seed), max_ops, tracks)
        runner = CaseRunner(predictor, counts, smoothing=smoothing, velocity_source=velocity_source)
        try:
            runner.run(operations, seed=case_seed)
            continue
        except InvariantViolation as error:
            text = str(error)
        except Exception as error:  # a fuzzer counts everything that escapes
            counts.exceptions[type(error).__name__] += 1
            for track_id in list(runner.bank.tracks):
                runner.bank.remove(track_id)
            text = traceback.format_exc()
        kind = failure_of(predictor, operations, case_seed, smoothing, velocity_source)
        mode = f"smoothing {smoothing or 'none'}, velocity {velocity_source}"
        counts.failure_context[(kind, mode, uses_float_max(operations))] += 1
        if len(counts.failures) < keep_failures and kind not in seen:
            seen.add(kind)
            minimal = shrink(predictor, operations, case_seed, smoothing, velocity_source)
            counts.failures.append((case_seed, mode, minimal, text))
    return counts


def report(counts: Counts, elapsed: float) -> str:
    """Human-readable summary of a fuzzing run."""
    def fmt(counter):
        return ", ".join(f"{key} {value}" for key, value in sorted(counter.items())) or "none"
    lines = [
        f"cases {counts.cases}, operations {counts.operations}, samples pushed {counts.samples}, "
        f"ticks {counts.ticks}, predictions {counts.predictions} in {elapsed:.1f} s",
        f"predictions by status: {fmt(counts.statuses)}",
        f"resets by reason: {fmt(counts.resets)}",
        f"ignored samples by reason: {fmt(counts.ignored)}",
        f"tracks: new {counts.new_tracks}, dropped after timeout {counts.dropped}",
        "adversarial operations: "
        f"{fmt(Counter({k: v for k, v in counts.operations_by_kind.items() if k in ADVERSARIAL}))}",
        f"exceptions escaped: {sum(counts.exceptions.values())} ({fmt(counts.exceptions)})",
        f"invariant violations: {sum(counts.violations.values())} ({fmt(counts.violations)})",
    ]
    for (kind, mode, float_max), cases in sorted(counts.failure_context.items()):
        lines.append(f"  failing cases: {cases} x {kind} ({mode}, "
                     f"{'with' if float_max else 'without'} 1.7e308 positions)")
    for case_seed, mode, operations, text in counts.failures:
        lines += [f"--- failing case: seed {case_seed}, {mode}, shrunk to {operations}",
                  text.rstrip()[-2000:]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-ops", type=int, default=300, help="operations per case (uniform 1..N)")
    parser.add_argument("--tracks", type=int, default=2, help="track ids per case")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to fuzz with (default: a tiny random one)")
    args = parser.parse_args(argv)

    from uav_traj_predictor.model import StreamingPredictor
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = args.checkpoint or make_tiny_checkpoint(Path(folder) / "fuzz.pt")
        predictor = StreamingPredictor(checkpoint)
    started = time.perf_counter()
    counts = run_cases(predictor, args.cases, args.seed, args.max_ops, args.tracks, Counts())
    print(report(counts, time.perf_counter() - started))
    return 1 if counts.exceptions or counts.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
