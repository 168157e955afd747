"""`uav-traj bag eval`: the evaluation protocol over a bag's inputs, model streamed as the node runs it.

Inputs: Odometry, PoseStamped, PoseWithCovarianceStamped and PointStamped topics (one track each, named by
the topic) and uav_traj_predictor/TargetArray topics (one track per target id, named by the id, as
predictor_node names them). Ground truth and baselines: each track is read with `data.read_flight(bag,
topic=...)` (targets: `data.readers.bag.read_bag_targets`) and scored by `evaluate.evaluate_flight` exactly
as `uav-traj evaluate` scores a flight file. Model: the samples are pushed message by message (merged by
stamp) through `core.TrackBank` with a tick after every message, the predictor_node's path, with a supplied
covariance's noise level (`Flight.noise`) as the node uses it; each prediction (made at a grid sample t0)
is scored at the protocol window of that grid sample. Recorded predictions
(uav_traj_predictor/msg/PredictedTrajectory or PredictedTrajectoryArray on `predictions_topic`) are scored
the same way against the inputs in the same bag, so a live run can be evaluated after the fact.

Windows without a matching prediction are not scored; `report["bag"]["coverage"]` says how many
windows each streamed/recorded method covered of those the protocol defines.
"""
from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np

from .storage import BagError, open_bag
from .types import (ODOMETRY, POINT, POSE, POSE_COVARIANCE, PREDICTED_TRAJECTORY, PREDICTED_TRAJECTORY_ARRAY,
                    TARGET_ARRAY)

MATCH_TOLERANCE = 1e-3   # of a grid step: how close a prediction's t0 must be to a grid sample's time
INPUT_TYPES = (ODOMETRY, POSE, POSE_COVARIANCE, POINT, TARGET_ARRAY)   # what bag eval streams (default: Odometry)


@dataclass
class PredictionTable:
    """Predictions of one track: origins t0 (n,) sorted, positions (n, H, 3), std (n, H, 3) or None rows."""
    t0: np.ndarray
    positions: np.ndarray
    std: list

    @classmethod
    def build(cls, rows) -> PredictionTable:
        """From (t0, positions (H,3), std (H,3) | None) rows; the first prediction per t0 is kept."""
        rows = sorted(rows, key=lambda row: row[0])
        kept, last = [], None
        for row in rows:
            if last is None or row[0] != last:
                kept.append(row)
                last = row[0]
        if not kept:
            return cls(np.zeros(0), np.zeros((0, 0, 3)), [])
        horizon = min(len(row[1]) for row in kept)
        return cls(np.array([row[0] for row in kept], np.float64),
                   np.array([np.asarray(row[1])[:horizon] for row in kept], np.float64),
                   [None if row[2] is None else np.asarray(row[2])[:horizon] for row in kept])

    def lookup(self, times: np.ndarray, tolerance: float) -> np.ndarray:
        """Row of the prediction made at each of `times` (-1 where there is none within tolerance)."""
        rows = np.full(len(times), -1, np.int64)
        if len(self.t0) == 0:
            return rows
        index = np.clip(np.searchsorted(self.t0, times), 1, len(self.t0) - 1) if len(self.t0) > 1 \
            else np.zeros(len(times), np.int64)
        for candidate in (index - 1, index):
            candidate = np.clip(candidate, 0, len(self.t0) - 1)
            close = np.abs(self.t0[candidate] - times) <= tolerance
            rows = np.where((rows < 0) & close, candidate, rows)
        return rows


def odometry_topics(bag, wanted=None) -> list[str]:
    """The input topics to evaluate: `wanted` (checked: one of INPUT_TYPES), or every Odometry topic of the
    bag, else every topic of the other input types."""
    listing = ", ".join(f"{name} [{topic.msgtype}]" for name, topic in sorted(bag.topics.items())) or "none"
    if not wanted:
        available = bag.topics_of_type(ODOMETRY) or sorted(
            name for name, topic in bag.topics.items() if topic.msgtype in INPUT_TYPES)
        if not available:
            raise BagError(f"{bag.path}: no input topic ({', '.join(INPUT_TYPES)}); topics: {listing}")
        return available
    for topic in wanted:
        if topic not in bag.topics:
            raise BagError(f"{bag.path}: no topic {topic}; topics: {listing}")
        if bag.topics[topic].msgtype not in INPUT_TYPES:
            raise BagError(f"{bag.path}: topic {topic} is {bag.topics[topic].msgtype}, not one of "
                           f"{', '.join(INPUT_TYPES)}")
    return list(wanted)


def read_odometry(path, topics, notes: list[str] | None = None) -> dict:
    """{track name: data.Flight} of the input topics, read by the data room's bag reader: a topic's name for
    the one-track types, each target's id for TargetArray topics (an id already taken by an earlier topic
    is left out with a note, as predictor_node keeps it with its first input)."""
    from ..data import FlightFormatError, read_flight
    from ..data.readers.bag import read_bag_targets
    bag_types = open_bag(path).topics
    flights = {}
    for topic in topics:
        try:
            if bag_types[topic].msgtype == TARGET_ARRAY:
                for target, flight in read_bag_targets(path, topic).items():
                    if target in flights:
                        if notes is not None:
                            notes.append(f"{topic}: target id {target} is already a track of another input; left out")
                        continue
                    flights[target] = flight
            else:
                flights[topic] = read_flight(path, fmt="bag", topic=topic)
        except FlightFormatError as err:
            raise BagError(str(err)) from None
    return flights


def stream_through_trackbank(flights: dict, predictor, cfg) -> dict:
    """Push every sample (merged by stamp across tracks, one track per flight; with velocity_source
    "twist" its world-frame twist too, with a supplied covariance its noise level) through a TrackBank,
    ticking after each sample as the predictor_node does; {track name: PredictionTable}."""
    from ..core import TrackBank
    bank = TrackBank(predictor, cfg)
    # each generator gets its own `order` (a generator expression would read the loop variable late: every
    # sample was tagged with the last track, so with several tracks all went to the last one)
    streams = [[(float(t), order, i) for i, t in enumerate(flight.t)] for order, flight in enumerate(flights.values())]
    topics = list(flights)
    twist = cfg.velocity_source == "twist"
    rows = {topic: [] for topic in topics}
    for stamp, order, i in heapq.merge(*streams):
        topic = topics[order]
        noise, q = flights[topic].noise, flights[topic].q
        bank.push(topic, stamp, flights[topic].p[i], velocity=flights[topic].v[i] if twist else None,
                  noise=None if noise is None else float(noise[i]), orientation=None if q is None else q[i])
        for prediction in bank.tick().predictions:
            rows[prediction.track_id].append((prediction.t0, prediction.positions, prediction.position_std))
    return {topic: PredictionTable.build(found) for topic, found in rows.items()}


def read_recorded_predictions(bag, topic: str) -> dict:
    """{track_id: PredictionTable} from the PredictedTrajectory or PredictedTrajectoryArray messages on `topic`."""
    if topic not in bag.topics:
        raise BagError(f"{bag.path}: no topic {topic}; topics: {', '.join(sorted(bag.topics))}")
    msgtype = bag.topics[topic].msgtype
    if msgtype not in (PREDICTED_TRAJECTORY, PREDICTED_TRAJECTORY_ARRAY):
        raise BagError(f"{bag.path}: topic {topic} is {msgtype}, not {PREDICTED_TRAJECTORY} or "
                       f"{PREDICTED_TRAJECTORY_ARRAY}")
    rows: dict[str, list] = {}
    for raw in bag.messages([topic]):
        message = bag.deserialize(raw)
        if msgtype == PREDICTED_TRAJECTORY_ARRAY:
            _array_rows(message, rows)
            continue
        t0 = message.header.stamp.sec + message.header.stamp.nanosec * 1e-9
        positions = np.array([(p.x, p.y, p.z) for p in message.positions], np.float64).reshape(-1, 3)
        std = np.array([(s.x, s.y, s.z) for s in message.position_std], np.float64).reshape(-1, 3)
        usable_std = message.calibrated and std.shape == positions.shape and (std > 0).all()
        rows.setdefault(message.track_id, []).append((t0, positions, std if usable_std else None))
    return {track: PredictionTable.build(found) for track, found in rows.items()}


def _array_rows(message, rows: dict) -> None:
    """Add each track of a PredictedTrajectoryArray message to `rows` as (t0, positions, std | None)."""
    count, horizon = len(message.track_ids), int(message.horizon_steps)
    positions = np.asarray(message.positions, np.float64).reshape(count, horizon, 3)
    std = np.asarray(message.position_std, np.float64)
    std = std.reshape(count, horizon, 3) if std.size == positions.size else None
    for i, track in enumerate(message.track_ids):
        origin = message.origins[i]
        usable = std is not None and (std[i] > 0).all()
        rows.setdefault(track, []).append((origin.sec + origin.nanosec * 1e-9, positions[i],
                                           std[i] if usable else None))


def match_tracks(tables: dict, odom_topics: list[str]) -> dict:
    """{input track: PredictionTable}: a track id equal to the input's name (a topic, or a target id), or to
    the topic's namespace, or the only track when the bag has a single input track."""
    matched = {}
    for track, table in tables.items():
        name = track if track.startswith("/") else "/" + track
        for topic in odom_topics:
            if track == topic or name in (topic, topic.rsplit("/", 1)[0] or "/"):
                matched[topic] = table
    if not matched and len(tables) == 1 and len(odom_topics) == 1:
        matched[odom_topics[0]] = next(iter(tables.values()))
    return matched


def score_table(flight, table: PredictionTable | None, protocol):
    """(WindowScores over the covered windows, windows covered, windows defined) of one flight."""
    from ..data import segments_from_flight
    from ..evaluate import WindowScores, score_prediction_windows, window_indices
    if table is not None and len(table.t0) and table.positions.shape[1] < protocol.horizon:
        raise BagError(f"predictions have {table.positions.shape[1]} steps; the protocol scores {protocol.horizon}")
    parts, covered, defined = [], 0, 0
    for segment in segments_from_flight(flight, protocol.preprocess_config()):
        indices = window_indices(len(segment), protocol)
        defined += len(indices)
        if table is None or len(indices) == 0:
            continue
        rows = table.lookup(segment.t0 + indices * segment.dt, MATCH_TOLERANCE * segment.dt)
        ok = rows >= 0
        if not ok.any():
            continue
        found = rows[ok]
        stds = [table.std[r] for r in found]
        std = np.array(stds) if all(s is not None for s in stds) else None
        parts.append(score_prediction_windows(segment.positions, indices[ok], table.positions[found], std, protocol))
        covered += int(ok.sum())
    if not parts:
        return WindowScores(np.zeros((0, protocol.horizon)), None, None, None), covered, defined
    return WindowScores.concat(parts), covered, defined


def add_example_predictions(examples: list, flight, tables: dict, protocol) -> None:
    """Add streamed/recorded predictions to the plot examples `evaluate_flight` picked from `flight`
    (they come from its first segment with windows)."""
    from ..data import segments_from_flight
    from ..evaluate import window_indices
    segment = next((seg for seg in segments_from_flight(flight, protocol.preprocess_config())
                    if len(window_indices(len(seg), protocol))), None)
    if segment is None:
        return
    for example in examples:
        when = np.array([segment.t0 + example["k"] * segment.dt])
        for name, table in tables.items():
            row = table.lookup(when, MATCH_TOLERANCE * segment.dt)[0] if table is not None else -1
            if row >= 0:
                std = table.std[row]
                example["predictions"][name] = (table.positions[row, :protocol.horizon].copy(),
                                                None if std is None else std[:protocol.horizon].copy())


def build_model(checkpoint, explicit: bool, notes: list[str], horizon: int | None = None):
    """A StreamingPredictor over `checkpoint` (None: the default one, or the shipped one that covers `horizon`
    steps), or None with a note when there is no usable checkpoint and the model was not asked for by name."""
    from ..evaluate.methods import MethodUnavailable, default_checkpoint
    from ..model import CheckpointError, StreamingPredictor
    try:
        return StreamingPredictor(checkpoint or default_checkpoint(horizon))
    except (MethodUnavailable, CheckpointError) as err:
        if explicit:
            raise
        notes.append(f"skipping model: {err}")
        return None


def evaluate_bag(path, odom_topics=None, checkpoint=None, vector_dir=None, methods=None,
                 predictions_topic=None, protocol=None, notes: list[str] | None = None,
                 examples: dict | None = None, perturbation=None, seed: int = 0) -> dict:
    """The evaluation report (evaluate.runner layout plus a "bag" section) for the bag at `path`.

    methods: names among model, cv, ca, kf, vector:* (patterns allowed); None = all available.
    Method "model" is the TrackBank stream; "recorded" the predictions on `predictions_topic` (one
    topic or a list, e.g. each vehicle's <ns>/predicted_trajectory). `perturbation` (data.perturb,
    seeded per topic by `seed`): every odometry topic is seen through that measurement model first, for
    the stream, the baselines and the truth alike; recorded in the report.
    """
    from ..data.perturb import Perturbation, perturb_flight
    perturbation = perturbation or Perturbation()
    from ..evaluate import Protocol, build_methods, build_report, evaluate_flight
    from ..evaluate.methods import BASELINES, describe
    from ..evaluate.runner import flight_group
    protocol = protocol or Protocol()
    notes = notes if notes is not None else []
    bag = open_bag(path)
    notes.extend(bag.notes)
    topics = odometry_topics(bag, odom_topics)
    flights = {topic: perturb_flight(flight, perturbation, seed)
               for topic, flight in read_odometry(path, topics, notes).items()}

    wants_model = methods is None or "model" in methods
    if methods is None:
        baseline_names = list(BASELINES) + (["vector:*"] if vector_dir else [])
    else:
        baseline_names = [name for name in methods if name != "model"]
    baselines = build_methods(baseline_names, protocol, vector_dir=vector_dir, notes=notes)
    method_info, seconds = {}, {}

    streamed = {}
    if wants_model:
        predictor = build_model(checkpoint, explicit=methods is not None, notes=notes, horizon=protocol.horizon)
        if predictor is not None:
            started = time.perf_counter()
            streamed = {"model": stream_through_trackbank(flights, predictor, protocol.preprocess_config())}
            seconds["model"] = time.perf_counter() - started
            method_info["model"] = f"core.TrackBank stream over StreamingPredictor({predictor.model_id})"
    method_info.update({name: describe(method) for name, method in baselines.items()})
    seconds.update({name: 0.0 for name in baselines})
    prediction_topics = [predictions_topic] if isinstance(predictions_topic, str) else list(predictions_topic or [])
    if prediction_topics:
        tracks = {}
        for name in prediction_topics:
            tracks.update(read_recorded_predictions(bag, name))
        streamed["recorded"] = match_tracks(tracks, list(flights))
        method_info["recorded"] = f"predictions recorded on {', '.join(prediction_topics)}"
        for topic in flights:
            if topic not in streamed["recorded"]:
                notes.append(f"recorded: no track of {', '.join(prediction_topics)} matches input track {topic}")

    file_scores, file_groups, coverage = {}, {}, {name: {"covered": 0, "defined": 0} for name in streamed}
    for topic, flight in flights.items():
        key = f"{path}:{topic}"
        file_groups[key] = flight_group(flight)
        group_examples = examples.setdefault(file_groups[key], []) if examples is not None else None
        had_examples = bool(group_examples)
        scores = evaluate_flight(flight, baselines, protocol, seconds, group_examples)
        if group_examples and not had_examples:
            add_example_predictions(group_examples, flight, {name: t.get(topic) for name, t in streamed.items()},
                                    protocol)
        for name, tables in streamed.items():
            scores[name], covered, defined = score_table(flight, tables.get(topic), protocol)
            coverage[name]["covered"] += covered
            coverage[name]["defined"] += defined
        file_scores[key] = {name: scores[name] for name in method_info}
    report = build_report(file_scores, file_groups, protocol, method_info)
    for name, spent in seconds.items():
        report["pooled"][name]["seconds"] = round(spent, 3)
    for name, counts in coverage.items():
        if counts["covered"] < counts["defined"]:
            notes.append(f"{name}: predictions for {counts['covered']} of {counts['defined']} protocol windows")
    report["bag"] = {"path": str(path), "odometry_topics": topics, "tracks": list(flights),
                     "predictions_topics": prediction_topics,
                     "coverage": coverage, "notes": list(notes)}
    report["perturbation"] = {"label": perturbation.label(), "seed": int(seed), **perturbation.to_dict()}
    return report
