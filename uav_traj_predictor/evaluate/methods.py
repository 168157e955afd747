"""Prediction methods under evaluation and how they are named and built.

A method is any object with `predict_segment(segment) -> SegmentPrediction`: row k of the result is
the prediction made at grid index k from positions[:k+1] only (rows without enough history may be
NaN). Names: `model` (the trained network via `model.StreamingPredictor`), `cv`, `ca`, `kf`
(evaluate.baselines), `akf` and `imm` (evaluate.imm: a Kalman filter and a CV/CA IMM whose measurement
noise is the online noise estimate) and `vector:<checkpoint stem>` (evaluate.vector, VECTOR's released
weights).
"""
from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Protocol as TypingProtocol

from ..core.prediction import SegmentPrediction
from .protocol import Protocol

BASELINES = ("cv", "ca", "kf", "akf", "imm")
VECTOR_PREFIX = "vector:"


class Method(TypingProtocol):
    def predict_segment(self, segment) -> SegmentPrediction: ...


class MethodUnavailable(RuntimeError):
    """A requested method cannot be built (missing checkpoint, missing directory, ...)."""


class ModelMethod:
    """The trained network, streamed over each segment exactly as the ROS node runs it."""

    def __init__(self, checkpoint=None, protocol: Protocol = Protocol(), **predictor_options):
        from ..model import StreamingPredictor
        try:
            self.predictor = StreamingPredictor(checkpoint, **predictor_options)
        except ValueError:                       # CheckpointError: already a clear message
            raise
        except Exception as err:                 # torch raises many types on corrupt files
            raise MethodUnavailable(f"model: cannot load checkpoint {checkpoint}: "
                                    f"{type(err).__name__}: {err}") from None
        self.horizon = protocol.horizon
        found = (self.predictor.horizon_steps, self.predictor.min_history, self.predictor.rate)
        if found[0] < protocol.horizon or found[1] > protocol.history or abs(found[2] - protocol.rate) > 1e-9:
            raise MethodUnavailable(f"model: checkpoint (horizon {found[0]}, min history {found[1]}, "
                                    f"{found[2]:g} Hz) does not fit the protocol (horizon {protocol.horizon}, "
                                    f"history {protocol.history}, {protocol.rate:g} Hz)")

    def describe(self) -> str:
        rate = getattr(self.predictor, "online_calibration", 0.0)
        guard = getattr(self.predictor, "guard", 0.0)
        lead = getattr(self.predictor, "lead_calibration", 0.0)
        return (f"StreamingPredictor({getattr(self.predictor, 'model_id', '?')}, online calibration rate {rate:g}, "
                f"guard rate {guard:g}, per-lead calibration rate {lead:g})")

    def predict_segment(self, segment) -> SegmentPrediction:
        result = self.predictor.predict_segment(segment)
        std = None if result.std is None else result.std[:, :self.horizon]
        return SegmentPrediction(result.positions[:, :self.horizon], std)


def default_checkpoint(horizon: int | None = None):
    """Path of the model room's default checkpoint, or with `horizon` steps beyond it the shipped checkpoint
    that covers them (model.shipped_checkpoint_for: models/horizon3s.pt for up to 3 s); MethodUnavailable
    (clear message) when absent."""
    try:
        from ..model import CheckpointError, default_checkpoint_path, shipped_checkpoint_for
    except ImportError as err:
        raise MethodUnavailable(f"model: no default checkpoint available ({err})") from None
    path = default_checkpoint_path()
    if path is None or not Path(path).is_file():
        raise MethodUnavailable(f"model: default checkpoint not found at {path}; "
                                "train one or pass --checkpoint")
    try:
        return shipped_checkpoint_for(horizon)
    except CheckpointError as err:
        raise MethodUnavailable(f"model: {err}") from None


def build_methods(names=None, protocol: Protocol = Protocol(), checkpoint=None, vector_dir=None,
                  notes: list[str] | None = None, model_options: dict | None = None) -> dict[str, Method]:
    """Methods by name, in order. `names` (None = all available) may hold shell patterns such as
    "vector:*". `model` is skipped with a note when no checkpoint can be loaded, unless it was
    asked for by name or `checkpoint` is given (then its error is raised). VECTOR checkpoints come
    from `vector_dir`; `model_options` go to the model's StreamingPredictor (e.g. online_calibration)."""
    from .baselines import make_baseline
    from .vector import vector_methods

    notes = notes if notes is not None else []
    vectors = vector_methods(vector_dir, protocol, notes) if vector_dir is not None else {}
    available = ["model", *BASELINES, *vectors]
    wanted = _select(names, available)
    methods: dict[str, Method] = {}
    for name in wanted:
        if name == "model":
            try:
                methods[name] = _model_method(checkpoint, protocol, model_options or {})
            except MethodUnavailable as err:
                if checkpoint is not None or (names is not None and "model" in names):
                    raise
                notes.append(f"skipping {err}")
        elif name in BASELINES:
            methods[name] = make_baseline(name, protocol)
        else:
            methods[name] = vectors[name]
    return methods


def _model_method(checkpoint, protocol: Protocol, options: dict) -> ModelMethod:
    if checkpoint is not None:
        return ModelMethod(checkpoint, protocol, **options)   # the user named it: its errors surface as they are
    path = default_checkpoint(protocol.horizon)
    try:
        return ModelMethod(path, protocol, **options)
    except ValueError as err:                         # CheckpointError is a ValueError
        raise MethodUnavailable(f"model: default checkpoint {path} is unusable: {err}") from None


def _select(names, available: list[str]) -> list[str]:
    if names is None:
        return list(available)
    wanted = []
    for pattern in names:
        matched = fnmatch.filter(available, pattern)
        if not matched:
            hint = " (VECTOR checkpoints need --vector DIR)" if pattern.startswith("vector") else ""
            raise MethodUnavailable(f"unknown method {pattern!r}{hint}; available: {', '.join(available)}")
        wanted += [name for name in matched if name not in wanted]
    return wanted


def describe(method) -> str:
    """One-line description of a method for the JSON report."""
    return method.describe() if hasattr(method, "describe") else type(method).__name__
