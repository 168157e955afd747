"""Validation of the `uav-traj train` YAML config: types, ranges and unknown keys, one clear error each.

`validate(cfg)` raises `ConfigError("<key>: <problem>")` (the key dotted, e.g. `optim.lr`); the CLI adds
the file name. Source entries (`data.sources[i]`) are checked for shape and the common fields; the
source-specific extras (families, noise, ...) are read by `datasets`.
"""
from __future__ import annotations

import math
from numbers import Integral, Real


class ConfigError(ValueError):
    """A config value of the wrong type, out of range, or an unknown key."""


def _integer(low=None):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, Integral):
            return f"must be an integer, got {value!r}"
        if low is not None and value < low:
            return f"must be >= {low}, got {value}"
        return None
    return check


def _number(low=None, high=None, positive=False):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if positive and value <= 0:
            return f"must be > 0, got {value}"
        if low is not None and value < low:
            return f"must be >= {low}, got {value}"
        if high is not None and value > high:
            return f"must be <= {high}, got {value}"
        return None
    return check


def _boolean(value):
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _text(value):
    return None if isinstance(value, str) else f"must be a string, got {value!r}"


def _pair(low=0.0):
    def check(value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            return f"must be a list [low, high] of two numbers, got {value!r}"
        for item in value:
            problem = _number(low=low)(item)
            if problem:
                return f"[low, high]: {problem}"
        if value[0] > value[1]:
            return f"low must not exceed high, got {list(value)}"
        return None
    return check


MODEL = {"input_features": _integer(1), "hidden": _integer(1), "layers": _integer(1), "head_hidden": _integer(1),
         "head": _text}
AUGMENT = {"yaw": _boolean, "mirror": _boolean, "scale": _pair(), "z_scale": _pair(), "noise": _pair()}
OPTIM = {"epochs": _integer(1), "steps_per_epoch": _integer(1), "batch_size": _integer(1), "chunk_steps": _integer(1),
         "lr": _number(positive=True), "weight_decay": _number(low=0.0), "grad_clip": _number(positive=True),
         "loss_from": _integer(0), "nll_weight": _number(low=0.0), "relative_floor": _number(low=0.0),
         "patience": _integer(1)}
OPTIM_REQUIRED = ("epochs", "steps_per_epoch", "batch_size", "chunk_steps", "lr", "grad_clip", "loss_from",
                  "nll_weight", "patience")
DATA = {"val_fraction": _number(low=0.0, high=1.0), "calib_fraction": _number(low=0.0, high=1.0)}
SOURCE = {"flights": _integer(1), "duration_s": _number(positive=True)}
TOP = {"seed": _integer(0), "rate": _number(positive=True), "horizon_steps": _integer(1),
       "min_history": _integer(0), "threads": _integer(1)}
SECTIONS = ("model", "data", "augment", "optim")


def _fail(key: str, problem: str):
    raise ConfigError(f"{key}: {problem}")


def _check_mapping(values, checks: dict, prefix: str, extra: tuple = (), required: tuple = ()):
    """Every key known and its value valid; `extra` keys are allowed but checked elsewhere."""
    if not isinstance(values, dict):
        _fail(prefix.rstrip("."), f"must be a mapping, got {values!r}")
    for key, value in values.items():
        if key not in checks and key not in extra:
            _fail(f"{prefix}{key}", f"unknown key (expected one of {sorted([*checks, *extra])})")
        problem = checks[key](value) if key in checks else None
        if problem:
            _fail(f"{prefix}{key}", problem)
    for key in required:
        if key not in values:
            _fail(f"{prefix}{key}", "missing")


def _check_sources(sources):
    if not isinstance(sources, list):
        _fail("data.sources", f"must be a list, got {sources!r}")
    for index, part in enumerate(sources):
        prefix = f"data.sources[{index}]"
        if not isinstance(part, dict):
            _fail(prefix, f"must be a mapping, got {part!r}")
        if part.get("source") not in ("sim", "kinematic"):
            _fail(f"{prefix}.source", f"must be 'sim' or 'kinematic', got {part.get('source')!r}")
        for key, check in SOURCE.items():
            if key not in part:
                _fail(f"{prefix}.{key}", "missing")
            problem = check(part[key])
            if problem:
                _fail(f"{prefix}.{key}", problem)


def validate(cfg: dict) -> dict:
    """Check a train config (a mapping with the required sections); raise ConfigError naming the key."""
    _check_mapping(cfg, TOP, "", extra=SECTIONS)
    _check_mapping(cfg["model"], MODEL, "model.")
    _check_mapping(cfg.get("augment") or {}, AUGMENT, "augment.")
    _check_mapping(cfg["optim"], OPTIM, "optim.", required=OPTIM_REQUIRED)
    _check_mapping(cfg["data"], DATA, "data.", extra=("sources",), required=("sources",))
    _check_sources(cfg["data"]["sources"])
    return cfg
