"""Typed, ranged, described ROS 2 parameters declared from one table, with clear errors.

A node lists `Param`s; `declare(node, specs)` declares them (types, ranges, read-only flags and
descriptions visible to `ros2 param describe`) and turns rclpy's exceptions into `ConfigError`
messages that name the parameter, the value and what is allowed. `check(specs, name, value)` is the
shared validator for start-up and runtime changes (choices, which rclpy's descriptors cannot express).
"""
from __future__ import annotations

from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException, ParameterUninitializedException
from rclpy.parameter import Parameter


class ConfigError(ValueError):
    """A node's configuration is unusable; the message says which parameter and why."""


@dataclass(frozen=True)
class Param:
    name: str
    default: object                    # a value, or a Parameter.Type for arrays that may be empty
    description: str
    low: float | None = None           # numeric range (inclusive)
    high: float | None = None
    choices: tuple = ()
    read_only: bool = True             # False: may be changed at runtime (validated by `check`)


def _descriptor(spec: Param) -> ParameterDescriptor:
    text = spec.description + (f" One of: {', '.join(map(str, spec.choices))}." if spec.choices else "")
    descriptor = ParameterDescriptor(description=text, read_only=spec.read_only)
    if spec.low is not None and isinstance(spec.default, float):
        descriptor.floating_point_range = [FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high))]
    elif spec.low is not None and isinstance(spec.default, int) and not isinstance(spec.default, bool):
        descriptor.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return descriptor


def declare(node, specs: list[Param]) -> dict:
    """Declare every parameter; returns {name: value}. Raises ConfigError for wrong types, ranges, choices
    and for overrides naming no declared parameter (a typo would otherwise be silently ignored)."""
    values = {}
    for spec in specs:
        try:
            node.declare_parameter(spec.name, spec.default, _descriptor(spec))
        except ParameterException as error:
            raise ConfigError(f"parameter '{spec.name}': {_describe(error)}; expected {_expected(spec)}") from None
        values[spec.name] = value(node, spec.name)
        check(specs, spec.name, values[spec.name])
    known = {spec.name for spec in specs} | {"use_sim_time", "start_type_description_service"}
    unknown = sorted(name for name in getattr(node, "_parameter_overrides", {})
                     if name not in known and not name.startswith("qos_overrides."))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; this node declares: {', '.join(sorted(known))}")
    return values


def value(node, name: str):
    """A parameter's value; an array declared by type only and left unset reads as []."""
    try:
        result = node.get_parameter(name).value
    except ParameterUninitializedException:
        return []
    return list(result) if isinstance(result, (list, tuple)) or hasattr(result, "tolist") else result


def check(specs: list[Param], name: str, new_value) -> None:
    """Raise ConfigError when `new_value` is outside the choices/range of parameter `name`."""
    spec = next((s for s in specs if s.name == name), None)
    if spec is None:
        return
    if spec.choices and new_value not in spec.choices:
        raise ConfigError(f"parameter '{name}' = {new_value!r} is not one of {list(spec.choices)}")
    if spec.low is not None and isinstance(new_value, (int, float)) and not spec.low <= new_value <= spec.high:
        raise ConfigError(f"parameter '{name}' = {new_value!r} is outside [{spec.low}, {spec.high}]")


def _expected(spec: Param) -> str:
    kind = spec.default.name.lower() if isinstance(spec.default, Parameter.Type) else type(spec.default).__name__
    if spec.choices:
        return f"a {kind} in {list(spec.choices)}"
    if spec.low is not None:
        return f"a {kind} in [{spec.low}, {spec.high}]"
    return f"a {kind}"


def _describe(error: Exception) -> str:
    return " ".join(str(error).split())
