"""Message types and QoS for bags: one rosbags typestore (Jazzy + the package's messages: PredictedTrajectory,
PredictedTrajectoryArray, TargetArray) and the QoS profiles written into / read from rosbag2 metadata. No
rclpy here (see qos_to_rclpy in ros.py).
"""
from __future__ import annotations

from functools import lru_cache

from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

ODOMETRY = "nav_msgs/msg/Odometry"
POSE = "geometry_msgs/msg/PoseStamped"
POSE_COVARIANCE = "geometry_msgs/msg/PoseWithCovarianceStamped"
POINT = "geometry_msgs/msg/PointStamped"
PREDICTED_TRAJECTORY = "uav_traj_predictor/msg/PredictedTrajectory"
PREDICTED_TRAJECTORY_ARRAY = "uav_traj_predictor/msg/PredictedTrajectoryArray"
TARGET_ARRAY = "uav_traj_predictor/msg/TargetArray"
PACKAGE_TYPES = (PREDICTED_TRAJECTORY, PREDICTED_TRAJECTORY_ARRAY, TARGET_ARRAY)
CLOCK = "rosgraph_msgs/msg/Clock"

ZERO_TIME = QosTime(0, 0)
# rmw's "infinite" duration as rosbag2 Jazzy writes it into metadata v9.
INFINITE_TIME = QosTime(9223372036, 854775807)


def package_definition(msgtype: str) -> str:
    """Text of msg/<Name>.msg of one of the package's types, from its share directory."""
    from ..resources import share_path
    return share_path("msg", f"{msgtype.rsplit('/', 1)[1]}.msg").read_text()


class UnknownMessageType(LookupError):
    """A message type the typestore cannot (de)serialise or describe."""


@lru_cache(maxsize=1)
def typestore():
    """A rosbags typestore with the ROS 2 Jazzy types and, when the package's share directory can be
    found, the package's messages (PACKAGE_TYPES; see `require_type`)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    for msgtype in PACKAGE_TYPES:
        try:
            store.register(get_types_from_msg(package_definition(msgtype), msgtype))
        except OSError as err:   # share dir not found: only our custom types are unavailable
            _missing_reasons[msgtype] = f"msg/{msgtype.rsplit('/', 1)[1]}.msg not found ({err})"
    return store


_missing_reasons: dict[str, str] = {}


def require_type(msgtype: str):
    """The typestore, after checking it knows `msgtype` (UnknownMessageType with the reason if not)."""
    store = typestore()
    if msgtype not in store.fielddefs:
        reason = _missing_reasons.get(msgtype, "not a ROS 2 Jazzy type nor one of this package's")
        raise UnknownMessageType(f"message type {msgtype!r} is unknown: {reason}")
    return store


def default_qos(depth: int = 10, reliable: bool = True, transient_local: bool = False) -> Qos:
    """A fully specified QoS profile (what `ros2 bag record` stores for a default publisher)."""
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=depth,
        reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        deadline=INFINITE_TIME,
        lifespan=INFINITE_TIME,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=INFINITE_TIME,
        avoid_ros_namespace_conventions=False,
    )


def combined_qos(profiles) -> Qos | None:
    """One profile compatible with every offered one (what `ros2 bag play` does): reliable and
    transient-local only if all offers are; None when no profile was recorded."""
    profiles = list(profiles or [])
    if not profiles:
        return None
    reliable = all(p.reliability == QosReliability.RELIABLE for p in profiles)
    transient = all(p.durability == QosDurability.TRANSIENT_LOCAL for p in profiles)
    depth = max((p.depth for p in profiles if p.depth > 0), default=10)
    return default_qos(depth=depth, reliable=reliable, transient_local=transient)
