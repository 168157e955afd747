"""A node's ROS 2 parameters as one validated settings dataclass (the package's config pattern,
uav_traj_predictor/config.py), declared with types, ranges, read-only flags and descriptions.

A node lists its parameters as a frozen dataclass deriving from `NodeParameters` (fields made with
`config.setting(default, description, low=, high=, choices=, read_only=)`); `declare(node, cls)` declares
one ROS parameter per field (visible to `ros2 param describe`), reads the values and returns the
validated instance. rclpy's own refusals (a wrong type, a value outside the descriptor's range) and the
dataclass's (choices, checks) both become `ConfigError("parameter '<name>': ...")`. Overrides that name
no declared parameter are refused too (a typo would otherwise be silently ignored); that needs the node
built with `NODE_OPTIONS` (`automatically_declare_parameters_from_overrides`, rclpy's public way to see
the overrides). Runtime changes: `params.replace(name=value)` validates like a new instance.
"""
from __future__ import annotations

import math
import typing

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException, ParameterUninitializedException
from rclpy.parameter import Parameter

from ..config import ConfigError, Settings, rule_of

__all__ = ["ConfigError", "NODE_OPTIONS", "NodeParameters", "declare", "describe"]

NODE_OPTIONS = dict(automatically_declare_parameters_from_overrides=True)
BUILT_IN = {"use_sim_time", "start_type_description_service"}


class NodeParameters(Settings):
    """Base of a node's parameter dataclass: messages name `parameter '<name>'`."""
    KEY = "parameter '{}'"


def _is_array(kind) -> bool:
    return typing.get_origin(kind) in (tuple, list)


def _array_type(kind) -> Parameter.Type:
    item = typing.get_args(kind)[0] if typing.get_args(kind) else str
    return {str: Parameter.Type.STRING_ARRAY, float: Parameter.Type.DOUBLE_ARRAY, int: Parameter.Type.INTEGER_ARRAY,
            bool: Parameter.Type.BOOL_ARRAY}[item]


def _ros_default(item, kind):
    """What declare_parameter gets: the value, or the array type when the default array is empty."""
    if _is_array(kind):
        return list(item.default) if item.default else _array_type(kind)
    return item.default


def _descriptor(item, kind) -> ParameterDescriptor:
    rule = rule_of(item)
    text = rule.description + (f" One of: {', '.join(map(str, rule.choices))}." if rule.choices else "")
    descriptor = ParameterDescriptor(description=text, read_only=rule.read_only)
    if rule.low is not None and rule.high is not None and math.isfinite(rule.high):
        if kind is float:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(rule.low),
                                                                  to_value=float(rule.high))]
        elif kind is int:
            descriptor.integer_range = [IntegerRange(from_value=int(rule.low), to_value=int(rule.high), step=1)]
    return descriptor


def _expected(item, kind) -> str:
    rule = rule_of(item)
    name = _array_type(kind).name.lower() if _is_array(kind) else kind.__name__
    if rule.choices:
        return f"a {name} in {list(rule.choices)}"
    if rule.low is not None and rule.high is not None:
        return f"a {name} in [{rule.low}, {rule.high}]"
    return f"a {name}"


def _value(node, name: str, kind):
    """A parameter's value; an array declared by type only and left unset reads as ()."""
    try:
        result = node.get_parameter(name).value
    except ParameterUninitializedException:
        return ()
    if _is_array(kind):
        return tuple(result) if result is not None else ()
    return result


def declare(node, cls):
    """Declare every parameter of the dataclass `cls` on `node` and return the validated instance (see
    the module doc); ConfigError names the parameter, the value and what is allowed."""
    overridden = set(node.list_parameters([], 0).names)     # auto-declared from the overrides (NODE_OPTIONS)
    values = {}
    for item, kind in cls.settings():
        if node.has_parameter(item.name) and item.name not in BUILT_IN:
            node.undeclare_parameter(item.name)               # re-declared with its type, range and description
        try:
            node.declare_parameter(item.name, _ros_default(item, kind), _descriptor(item, kind))
        except ParameterException as error:
            raise cls.error(item.name, f"{' '.join(str(error).split())}; expected {_expected(item, kind)}") from None
        values[item.name] = _value(node, item.name, kind)
    known = {item.name for item, _ in cls.settings()} | BUILT_IN
    unknown = sorted(name for name in overridden if name not in known and not name.startswith("qos_overrides."))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; this node declares: {', '.join(sorted(known))}")
    return cls(**values)


def describe(cls, executable: str) -> str:
    """The `--help` text of a node executable: every parameter with type, default, range and meaning."""
    lines = [f"usage: {executable} [--help] [--ros-args (-p NAME:=VALUE | --params-file FILE) ...]", "", "parameters:"]
    for item, kind in cls.settings():
        rule = rule_of(item)
        name = _array_type(kind).name.lower() if _is_array(kind) else kind.__name__
        bounds = f", [{rule.low}, {rule.high}]" if rule.low is not None and rule.high is not None else ""
        choices = f", one of {list(rule.choices)}" if rule.choices else ""
        changeable = "" if rule.read_only else ", settable at runtime"
        lines.append(f"  {item.name} ({name}, default {list(item.default) if _is_array(kind) else item.default!r}"
                     f"{bounds}{choices}{changeable})")
        lines.append(f"      {rule.description}")
    return "\n".join(lines)
