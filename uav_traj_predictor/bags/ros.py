"""rclpy helpers shared by `bag play` and `bag record`: message classes by type name, QoS conversion
between rosbags and rclpy, and a signal-aware rclpy context. Imported only by those two commands.
"""
from __future__ import annotations

import importlib
import signal
import threading
from contextlib import contextmanager

import rclpy
from rclpy.duration import Duration
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile,
                       ReliabilityPolicy)
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)

from .types import INFINITE_TIME, default_qos


class UnsupportedTopicType(LookupError):
    """The rclpy message class of a topic type cannot be imported in this environment."""


def message_class(msgtype: str):
    """The rclpy message class of 'pkg/msg/Name' (UnsupportedTopicType when it is not installed)."""
    try:
        package, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ValueError, ImportError, AttributeError) as err:
        raise UnsupportedTopicType(f"type {msgtype!r} is not available to rclpy here ({err})") from None


def _duration(time: QosTime) -> Duration:
    if (time.sec, time.nsec) in ((0, 0), tuple(INFINITE_TIME)):
        return Duration()                         # rmw default / infinite
    return Duration(seconds=time.sec, nanoseconds=time.nsec)


def _time(duration: Duration) -> QosTime:
    nanoseconds = duration.nanoseconds
    if nanoseconds <= 0 or nanoseconds >= INFINITE_TIME.sec * 10**9:
        return INFINITE_TIME
    return QosTime(*divmod(nanoseconds, 10**9))


def qos_to_rclpy(qos: Qos | None, depth: int | None = None) -> QoSProfile:
    """rclpy QoSProfile of a bag profile (None: reliable, volatile, keep last); `depth` overrides."""
    qos = qos or default_qos()
    profile = QoSProfile(
        history=HistoryPolicy.KEEP_ALL if qos.history == QosHistory.KEEP_ALL else HistoryPolicy.KEEP_LAST,
        depth=depth or max(qos.depth, 1),
        reliability=(ReliabilityPolicy.BEST_EFFORT if qos.reliability == QosReliability.BEST_EFFORT
                     else ReliabilityPolicy.RELIABLE),
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if qos.durability == QosDurability.TRANSIENT_LOCAL
                    else DurabilityPolicy.VOLATILE),
    )
    if qos.liveliness == QosLiveliness.MANUAL_BY_TOPIC:
        profile.liveliness = LivelinessPolicy.MANUAL_BY_TOPIC
    profile.deadline = _duration(qos.deadline)
    profile.lifespan = _duration(qos.lifespan)
    profile.liveliness_lease_duration = _duration(qos.liveliness_lease_duration)
    return profile


def qos_from_rclpy(profile: QoSProfile) -> Qos:
    """The bag (rosbags) form of an rclpy QoSProfile, e.g. one a publisher offers."""
    return Qos(
        history=QosHistory.KEEP_ALL if profile.history == HistoryPolicy.KEEP_ALL else QosHistory.KEEP_LAST,
        depth=int(profile.depth),
        reliability=(QosReliability.BEST_EFFORT if profile.reliability == ReliabilityPolicy.BEST_EFFORT
                     else QosReliability.RELIABLE),
        durability=(QosDurability.TRANSIENT_LOCAL if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                    else QosDurability.VOLATILE),
        deadline=_time(profile.deadline),
        lifespan=_time(profile.lifespan),
        liveliness=(QosLiveliness.MANUAL_BY_TOPIC if profile.liveliness == LivelinessPolicy.MANUAL_BY_TOPIC
                    else QosLiveliness.AUTOMATIC),
        liveliness_lease_duration=_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


@contextmanager
def ros_session(node_name: str, stop: threading.Event):
    """rclpy context + node; SIGINT/SIGTERM set `stop` (the caller finishes cleanly) instead of raising."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node(node_name, context=context)
    try:
        yield node
    finally:
        node.destroy_node()
        context.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
