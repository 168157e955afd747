"""The rclpy names that differ between the ROS 2 distributions this package runs on, in one place.

Nodes and benchmarks import these names from here, never from the rclpy module that happens to hold
them on one distribution. What differs (checked against the rclpy sources of each branch; Jazzy and
Kilted are also run here):

- QoS event callbacks: `rclpy.event_handler` from Iron on (Jazzy, Kilted); Humble (rclpy 3.3) has
  the same `PublisherEventCallbacks` / `SubscriptionEventCallbacks`, with the same keywords
  (`use_default_callbacks=`, `incompatible_qos=`, ...), in `rclpy.qos_event` only. Jazzy still has
  `rclpy.qos_event` as a deprecation shim, so the new name is tried first.

Importing this module imports rclpy (it is the rclpy shim); the DDS environment is rosenv's job.
"""
import importlib

_EVENT_CALLBACK_MODULES = ("rclpy.event_handler", "rclpy.qos_event")   # newest first


def _import_first(names):
    """The first of the modules `names` that exists; a module that exists but fails to import raises."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:   # the module is there but something it imports is not
                raise
    raise ImportError(f"this rclpy has none of {', '.join(names)} (is it a ROS 2 distribution older than Humble?)")


_events = _import_first(_EVENT_CALLBACK_MODULES)
EVENT_CALLBACKS_MODULE = _events.__name__   # which one this rclpy has (reported by tests and --version checks)
PublisherEventCallbacks = _events.PublisherEventCallbacks
SubscriptionEventCallbacks = _events.SubscriptionEventCallbacks

__all__ = ["EVENT_CALLBACKS_MODULE", "PublisherEventCallbacks", "SubscriptionEventCallbacks"]
