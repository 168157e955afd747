"""Settings as validated dataclasses: the package's one configuration pattern (the training YAML, the
datagen YAML and the nodes' ROS parameters) and its one `ConfigError`.

A settings class is a dataclass deriving from `Settings` whose fields carry their rule in
`setting(default, description, low=, high=, positive=, choices=, check=)`. Constructing one validates
every field against its annotation (int, float, bool, str, a tuple of strings, a [low, high] pair, a
mapping, a nested settings class or a list of them, optionally `| None`) and its rule, then calls the
class's `check()` for rules between fields; the first problem raises `ConfigError(key, problem)`, whose
message is "<key>: <problem>" with the key dotted (`optim.lr`, `data.sources[0].flights`) or, for node
parameters, `parameter 'track_timeout'`. `from_mapping(cls, values)` builds one from a parsed YAML
mapping, naming unknown and missing keys the same way. The idea is that of `data.PreprocessConfig`:
the object cannot exist with a bad value in it.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from numbers import Integral, Real
from typing import Any


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the key (or the parameter) and why."""

    def __init__(self, key: str | None, problem: str | None = None):
        if problem is None:                 # ConfigError("a whole-config problem")
            key, problem = None, key
        self.key, self.problem = key, problem
        super().__init__(problem if key is None else f"{key}: {problem}")

    def within(self, prefix: str) -> "ConfigError":
        """The same error with its key prefixed (a nested section, a file name)."""
        return ConfigError(prefix + (self.key or "").lstrip(), self.problem) if self.key else \
            ConfigError(prefix.rstrip(": .") or None, self.problem)


@dataclass(frozen=True)
class Rule:
    """What a setting must satisfy beyond its annotated type, and how it is described."""
    description: str = ""
    low: float | None = None          # inclusive
    high: float | None = None
    positive: bool = False            # > 0
    choices: tuple = ()
    read_only: bool = True            # node parameters: fixed after start-up
    check: Callable[[Any], str | None] | None = None    # extra rule: value -> problem text or None


def setting(default: Any = dataclasses.MISSING, description: str = "", *, low=None, high=None,
            positive: bool = False, choices=(), read_only: bool = True, check=None):
    """A dataclass field with its rule; a list or dict default is copied per instance."""
    rule = Rule(description, low, high, positive, tuple(choices), read_only, check)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"rule": rule})
    return dataclasses.field(default=default, metadata={"rule": rule})


def rule_of(item: dataclasses.Field) -> Rule:
    return item.metadata.get("rule", Rule())


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _optional(kind) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(kind)):
            return args[0], True
    return kind, False


def _is_settings(kind) -> bool:
    return isinstance(kind, type) and issubclass(kind, Settings)


def _number(value, rule: Rule, integer: bool) -> str | None:
    if integer:
        if isinstance(value, bool) or not isinstance(value, Integral):
            return f"must be an integer, got {value!r}"
    elif isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if rule.positive and value <= 0:
        return f"must be > 0, got {value}"
    if rule.low is not None and value < rule.low:
        return f"must be >= {rule.low}, got {value}"
    if rule.high is not None and value > rule.high:
        return f"must be <= {rule.high}, got {value}"
    return None


def problem_of(value, kind, rule: Rule = Rule()) -> str | None:
    """Why `value` is not a valid `kind` under `rule` (None: it is)."""
    kind, optional = _optional(kind)
    if value is None:
        return None if optional else "must be set, got None"
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is bool:
        found = None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    elif kind is int or kind is float:
        found = _number(value, rule, integer=kind is int)
    elif kind is str:
        found = None if isinstance(value, str) else f"must be a string, got {value!r}"
    elif origin in (tuple, list) and args and args[-1] is Ellipsis or origin is list:
        item = args[0] if args else Any
        if not isinstance(value, (list, tuple)):
            found = f"must be a list, got {value!r}"
        else:
            found = next((f"[{i}]: {p}" for i, v in enumerate(value)
                          if item is not Any and not _is_settings(item) and (p := problem_of(v, item))), None)
    elif origin is tuple and len(args) == 2:            # a [low, high] pair
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            found = f"must be a list [low, high] of two numbers, got {value!r}"
        else:
            found = next((f"[low, high]: {p}" for v in value if (p := _number(v, rule, integer=False))), None)
            if found is None and value[0] > value[1]:
                found = f"low must not exceed high, got {list(value)}"
        return found or (rule.check(value) if rule.check else None)
    elif origin is dict or kind is dict:
        found = None if isinstance(value, Mapping) else f"must be a mapping, got {value!r}"
    elif _is_settings(kind):
        found = None if isinstance(value, kind) else f"must be a mapping, got {value!r}"
    else:
        found = None
    if found is None and rule.choices and value not in rule.choices:
        found = f"must be one of {list(rule.choices)}, got {value!r}"
    if found is None and rule.check is not None:
        found = rule.check(value)
    return found


class Settings:
    """Base of the settings dataclasses: validates every field at construction (see the module doc).

    `KEY` formats a field name in messages ("{}" -> `rate`; nodes use "parameter '{}'"); `check()` is the
    hook for rules between fields (raise `self.error(name, problem)`)."""
    KEY = "{}"
    EXTRA_KEYS = False          # from_mapping: keep quiet about keys that are no field (read elsewhere)

    def __post_init__(self):
        hints = _hints(type(self))
        for item in fields(self):
            problem = problem_of(getattr(self, item.name), hints[item.name], rule_of(item))
            if problem:
                raise self.error(item.name, problem)
        self.check()

    def check(self) -> None:
        """Rules between fields; raise self.error(name, problem)."""

    @classmethod
    def error(cls, name: str, problem: str) -> ConfigError:
        return ConfigError(cls.KEY.format(name), problem)

    @classmethod
    def settings(cls) -> list[tuple[dataclasses.Field, Any]]:
        """(field, resolved type) of every setting, in declaration order."""
        hints = _hints(cls)
        return [(item, hints[item.name]) for item in fields(cls)]

    def replace(self, **changes):
        """A copy with `changes`, validated like a new one."""
        return dataclasses.replace(self, **changes)


def from_mapping(cls, values, prefix: str = ""):
    """An instance of the settings class `cls` from a parsed mapping (YAML): unknown keys, missing keys,
    wrong values and nested sections (mappings, lists of mappings) all raise ConfigError naming the
    dotted key under `prefix`."""
    where = prefix.rstrip(".")
    if not isinstance(values, Mapping):
        raise ConfigError(where or "config", f"must be a mapping, got {values!r}")
    known = {item.name: (item, kind) for item, kind in cls.settings()}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            if cls.EXTRA_KEYS:
                continue
            raise ConfigError(f"{prefix}{key}", f"unknown key (expected one of {sorted(known)})")
        item, kind = known[key]
        inner, _ = _optional(kind)
        if _is_settings(inner) and value is not None:
            value = from_mapping(inner, value, f"{prefix}{key}.")
        elif typing.get_origin(inner) is list and typing.get_args(inner) and _is_settings(typing.get_args(inner)[0]):
            if not isinstance(value, list):
                raise ConfigError(f"{prefix}{key}", f"must be a list, got {value!r}")
            value = [from_mapping(typing.get_args(inner)[0], v, f"{prefix}{key}[{i}].") for i, v in enumerate(value)]
        kwargs[key] = value
    for name, (item, _) in known.items():
        if name not in kwargs and item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}", "missing")
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise error.within(prefix) if prefix else error from None
