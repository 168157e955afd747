"""Run methods over flights under the protocol and build the JSON report.

Report layout (read by other tools):
    {"protocol": {...}, "perturbation": {label, seed, settings}, "methods": {METHOD: description},
     "pooled": {METHOD: summary}, "groups": {FOLDER: {METHOD: summary}}, "files": {FILE: {METHOD: summary}}}
where a summary is `metrics.summarise` (windows, ade, fde, ade_0p5, the per-lead ade_<lead> / fde_<lead>,
err_by_step, [coverage_1sigma, coverage_2sigma, nll]) and pooled entries also carry `seconds` (prediction wall
time). A method that predicts fewer steps than the protocol's horizon (`method_horizon`: VECTOR's 1 s) is
scored on the same windows over its own steps (per-lead figures only).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..data import Flight, read_flight, segments_from_flight
from ..data.flight import fingerprint
from ..data.perturb import Perturbation, perturb_flight
from ..data.readers import detect_format, flight_paths
from .methods import build_methods, describe
from .metrics import WindowScores, score_windows, summarise
from .protocol import Protocol, truth_windows, window_indices

EXAMPLE_FRACTIONS = (0.2, 0.5, 0.8)   # where in a group's first segment the plotted windows sit


def evaluate_flights(paths_or_flights, methods=None, protocol: Protocol = Protocol(), *,
                     progress: bool = False, examples: dict | None = None,
                     notes: list[str] | None = None, unusable: list[str] | None = None,
                   perturbation: Perturbation | None = None, seed: int = 0, export=None) -> dict:
    """Evaluate `methods` on flights and return the report dict (layout in the module docstring).

    paths_or_flights: a path, or an iterable of paths (files, bag directories, folders searched
    recursively) and/or in-memory `Flight`s. methods: {name: method}, a list of names/patterns for
    `build_methods`, or None for every available method. Groups are the flight's parent folder
    name. `examples`, when a dict, receives a few windows per group for plotting. `unusable`, when a
    list, receives one line per flight that gave no window (`no_window_reason`). `perturbation`: every
    flight is first passed through this measurement model (`data.perturb`, seeded per flight by `seed`
    and its name); the truth is then the perturbed flight too, as it is for a user's own sensor. Both
    are recorded in the report ("perturbation"). `export` receives every segment's scored windows:
    export.add(flight name, segment, window indices (n,), {method: positions (n, H, 3)}, std={method: std (n, H,
    3) or None}); evaluate.export.TumExport collects the k-step-ahead predictions and truth for TUM files
    (written by the caller), bench/coverage_axes.py the standardised errors.
    """
    perturbation = perturbation or Perturbation()
    if not isinstance(methods, Mapping):
        methods = build_methods(methods, protocol, notes=notes)
    file_scores, file_groups = {}, {}
    seconds = {name: 0.0 for name in methods}
    trained_on = {name: prints for name, method in methods.items() if (prints := trained_fingerprints(method))}
    in_sample: dict[str, list[str]] = {}
    attitude: dict[str, list[int]] = {}   # group -> [scored windows, of them with orientations, with the input in use]
    for flight in _iter_flights(paths_or_flights, progress, protocol.velocity_source == "twist"):
        seen = fingerprint(flight) if trained_on else None
        for name, prints in trained_on.items():
            if seen in prints:
                in_sample.setdefault(name, []).append(flight.name)
        flight = perturb_flight(flight, perturbation, seed)
        key, group = _unique_key(flight, file_scores), flight_group(flight)
        group_examples = None if examples is None else examples.setdefault(group, [])
        file_groups[key] = group
        file_scores[key] = evaluate_flight(flight, methods, protocol, seconds, group_examples, export,
                                           attitude.setdefault(group, [0, 0, 0]))
        if unusable is not None and not any(len(scores) for scores in file_scores[key].values()):
            unusable.append(no_window_reason(key, flight, protocol))
    report = build_report(file_scores, file_groups, protocol, {name: describe(m) for name, m in methods.items()})
    for name, spent in seconds.items():
        report["pooled"][name]["seconds"] = round(spent, 3)
    report["perturbation"] = {"label": perturbation.label(), "seed": int(seed), **perturbation.to_dict()}
    report["in_sample"] = in_sample
    # per group, the share of scored windows whose newest grid sample had the attitude input in use (its
    # consistency check passed: data/attitude.py), what a checkpoint with that input read; absent when no flight
    # had orientations
    if any(oriented for _, oriented, _ in attitude.values()):
        report["attitude_in_use"] = {group: round(on / windows, 4) for group, (windows, _, on) in attitude.items()
                                     if windows}
    return report


def trained_fingerprints(method) -> set[str]:
    """Fingerprints of the recorded flights a method's checkpoint was trained on (its metadata's
    training.data, any depth); empty for methods without one."""
    meta = getattr(getattr(method, "predictor", None), "meta", None)
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            found.update(node.get("fingerprints", ()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk((meta or {}).get("training", {}).get("data"))
    return found


def in_sample_warnings(report: dict) -> list[str]:
    """One line per method that was scored on flights its checkpoint was trained on."""
    lines = []
    for name, names in report.get("in_sample", {}).items():
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        lines.append(f"{name}: trained on {len(names)} of these flights ({shown}): its figures on them are not "
                     "held out; score them leave-one-flight-out (bench/finetune_lofo.py)")
    return lines


def evaluate_flight(flight: Flight, methods: Mapping, protocol: Protocol = Protocol(),
                    seconds: dict | None = None, examples: list | None = None, export=None,
                    attitude: list | None = None) -> dict[str, WindowScores]:
    """WindowScores per method for one flight (all its segments' windows); `attitude` [windows, with orientations,
    in use] is incremented by the scored windows, those of segments with orientations and those whose newest grid
    sample had the attitude input in use."""
    parts = {name: [] for name in methods}
    for segment in segments_from_flight(flight, protocol.preprocess_config()):
        indices = window_indices(len(segment), protocol)
        if len(indices) == 0:
            continue
        if attitude is not None:
            attitude[0] += len(indices)
            if segment.attitude is not None:         # row k - 1: grid sample k (the window's newest)
                attitude[1] += len(indices)
                attitude[2] += int(np.count_nonzero(segment.attitude[np.asarray(indices) - 1, 2]))
        truth = truth_windows(segment.positions, indices, protocol.horizon)
        predictions = {}
        for name, method in methods.items():
            started = time.perf_counter()
            prediction = method.predict_segment(segment)
            if seconds is not None:
                seconds[name] += time.perf_counter() - started
            steps = method_horizon(method, protocol)
            positions, std = _rows(prediction, name, len(segment), indices, steps, flight)
            parts[name].append(_score(positions, truth[:, :steps], std, name, flight))
            predictions[name] = (positions, std)
        if examples is not None and not examples:
            examples.extend(_pick_examples(segment, indices, truth, predictions, protocol))
        if export is not None:
            export.add(flight.name, segment, indices, {name: pos for name, (pos, _) in predictions.items()},
                       std={name: std for name, (_, std) in predictions.items()})
    return {name: WindowScores.concat(chunks) if chunks else _no_windows(method_horizon(methods[name], protocol))
            for name, chunks in parts.items()}


def method_horizon(method, protocol: Protocol = Protocol()) -> int:
    """Steps a method is scored on: the protocol's horizon, or fewer when the method predicts fewer
    (its `max_horizon`, e.g. VECTOR's 10 steps = 1 s)."""
    return min(protocol.horizon, int(getattr(method, "max_horizon", None) or protocol.horizon))


def build_report(file_scores: Mapping[str, Mapping[str, WindowScores]], file_groups: Mapping[str, str],
                 protocol: Protocol = Protocol(), method_info: Mapping[str, str] | None = None) -> dict:
    """Report dict from per-file WindowScores: files, groups (window-weighted) and pooled."""
    short, leads, horizon = protocol.short_steps, protocol.lead_steps, protocol.horizon
    methods = list(method_info or next(iter(file_scores.values()), {}))
    by_group: dict[str, list[str]] = {}
    for key in file_scores:
        by_group.setdefault(file_groups[key], []).append(key)

    def pooled(keys):
        return {name: summarise(WindowScores.concat([file_scores[k][name] for k in keys]), short, leads, horizon)
                for name in methods}
    return {
        "protocol": protocol.to_dict(),
        "methods": dict(method_info or {name: name for name in methods}),
        "pooled": pooled(list(file_scores)) if file_scores else {name: {"windows": 0} for name in methods},
        "groups": {group: pooled(keys) for group, keys in sorted(by_group.items())},
        "files": {key: {name: summarise(scores[name], short, leads, horizon) for name in methods}
                  for key, scores in file_scores.items()},
    }


def score_predictions(positions, indices, predicted, std=None, protocol: Protocol = Protocol()) -> dict:
    """Score externally produced predictions with the evaluation metrics.

    positions: (M, 3) grid positions of one segment (or a Segment); indices: (n,) grid indices k at
    which the predictions were made; predicted: (n, >=H, 3) positions at k+1..k+H; std: same shape
    or None. Only the first protocol.horizon steps are scored; every k needs k + H <= M - 1.
    Returns the summary dict (see metrics.summarise); `score_prediction_windows` gives the
    concatenable WindowScores instead.
    """
    return summarise(score_prediction_windows(positions, indices, predicted, std, protocol), protocol.short_steps,
                     protocol.lead_steps)


def score_prediction_windows(positions, indices, predicted, std=None, protocol: Protocol = Protocol()) -> WindowScores:
    """WindowScores of externally produced predictions (arguments as for `score_predictions`)."""
    grid = np.asarray(getattr(positions, "positions", positions), np.float64)
    indices = np.asarray(indices, np.int64).reshape(-1)
    horizon = protocol.horizon
    predicted = np.asarray(predicted, np.float64)
    if predicted.ndim != 3 or predicted.shape[0] != len(indices) or predicted.shape[1] < horizon:
        raise ValueError(f"predicted positions must be (n={len(indices)}, >= {horizon}, 3), got {predicted.shape}")
    if len(indices) and (indices.min() < 0 or indices.max() + horizon > len(grid) - 1):
        raise ValueError(f"prediction indices must lie in [0, {len(grid) - 1 - horizon}] "
                         f"for a {horizon}-step horizon on {len(grid)} grid positions")
    std = None if std is None else np.asarray(std, np.float64)[:, :horizon]
    return score_windows(predicted[:, :horizon], truth_windows(grid, indices, horizon), std)


def no_window_reason(key: str, flight: Flight, protocol: Protocol = Protocol()) -> str:
    """One line saying why a flight gave no window: no usable sample (with the reader's drop reasons), or
    no segment long enough for the protocol."""
    dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(flight.report.dropped.items()))
    dropped = f"; dropped: {dropped}" if dropped else ""
    if len(flight.t) == 0:
        return f"{key}: no usable samples{dropped}"
    return (f"{key}: no windows: no segment reaches history + horizon + 1 = "
            f"{protocol.history + protocol.horizon + 1} grid samples ({len(flight.t)} samples kept{dropped})")


def flight_group(flight: Flight) -> str:
    """Group of a flight: the name of the folder it came from (its own name when there is none)."""
    parent = Path(flight.source).parent.name if flight.source else ""
    return parent or flight.name or "flights"


def _iter_flights(paths_or_flights, progress: bool, velocities: bool = False):
    items = [paths_or_flights] if isinstance(paths_or_flights, (str, Path, Flight)) else list(paths_or_flights)
    expanded = []
    for item in items:
        expanded.extend([item] if isinstance(item, Flight) else flight_paths(item))
    if progress:
        from tqdm import tqdm
        expanded = tqdm(expanded, desc="evaluate", unit="file")
    for item in expanded:
        yield item if isinstance(item, Flight) else read_flight(item, **_read_options(item, velocities))


def _read_options(path, velocities: bool) -> dict:
    """TUM files keep their extra columns (Blackbird's vx vy vz) when measured velocities are wanted."""
    return {"extra_columns": True} if velocities and detect_format(Path(path)) == "tum" else {}


def _unique_key(flight: Flight, taken: Mapping) -> str:
    """The flight's source path; ":name" then "#2", "#3", ... appended while already taken."""
    key = flight.source or flight.name
    if key in taken:
        key = f"{key}:{flight.name}"
    base, suffix = key, 2
    while key in taken:
        key, suffix = f"{base}#{suffix}", suffix + 1
    return key


def _rows(prediction, name: str, length: int, indices: np.ndarray, horizon: int, flight: Flight):
    positions = np.asarray(prediction.positions)
    if positions.ndim != 3 or positions.shape[0] != length or positions.shape[1] < horizon or positions.shape[2] != 3:
        raise ValueError(f"{name} on {flight.source or flight.name}: predict_segment returned positions "
                         f"{positions.shape}, expected ({length}, >= {horizon}, 3)")
    std = None if prediction.std is None else np.asarray(prediction.std)[indices, :horizon]
    return positions[indices, :horizon], std


def _score(positions, truth, std, name: str, flight: Flight) -> WindowScores:
    try:
        return score_windows(positions, truth, std)
    except ValueError as err:
        raise ValueError(f"{name} on {flight.source or flight.name}: {err}") from None


def _no_windows(horizon: int) -> WindowScores:
    return WindowScores(np.zeros((0, horizon)), None, None, None)


def _pick_examples(segment, indices, truth, predictions, protocol) -> list[dict]:
    """A few windows of one segment with history, truth and every method's prediction."""
    picks = sorted({int(round(f * (len(indices) - 1))) for f in EXAMPLE_FRACTIONS})
    return [{
        "k": int(indices[i]),
        "history": segment.positions[indices[i] - protocol.history: indices[i] + 1].copy(),
        "truth": truth[i].copy(),
        "predictions": {name: (pos[i].copy(), None if std is None else std[i].copy())
                        for name, (pos, std) in predictions.items()},
    } for i in picks]
