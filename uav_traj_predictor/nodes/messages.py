"""Between the core's numbers and ROS messages: stamps, the int32 limit of Time, status codes, markers.

Stamps are float seconds in the core (float64 keeps ~0.2 us at epoch times); messages get them split
into sec/nanosec, and future steps are offset from t0 in exact integer nanoseconds. The per-message
outputs (Path, PredictedTrajectory) and the raw input reader are in `nodes.cdr`.

The RViz MarkerArray (a line strip through the horizon and one 2-sigma ellipsoid per step, per track,
a few times a second) is serialised by rosbags, with the message definitions of the installed
`visualization_msgs` (read from its share directory: ament_index, else the interpreter's prefix), so its layout
is the one the installed distribution's rclpy sends (Jazzy's Marker has texture and mesh fields that Humble's lacks).
`bench/messages.py` measures it against building rclpy Marker objects.
"""
from __future__ import annotations

import colorsys
import dataclasses
import math
import sys
import zlib
from functools import lru_cache

import numpy as np
from builtin_interfaces.msg import Time
from rosbags.typesys import Stores, get_typestore, get_types_from_msg
from rosbags.interfaces import Nodetype

from ..core.prediction import FALLBACK_CV, TRACKING, WARMING_UP, Prediction
from ..msg import PredictedTrajectory
from ..resources import package_share_dir

STATUS_CODES = {TRACKING: PredictedTrajectory.STATUS_TRACKING, WARMING_UP: PredictedTrajectory.STATUS_WARMING_UP,
                FALLBACK_CV: PredictedTrajectory.STATUS_FALLBACK_CV}
CV_MODEL_ID = "cv"       # model_id published while the constant-velocity fallback produced the numbers
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
LINE_STRIP, SPHERE, ADD, DELETE = 4, 2, 0, 2   # visualization_msgs/Marker constants
LINE_WIDTH_M, MIN_DIAMETER_M = 0.05, 0.02


def to_time(seconds: float) -> Time:
    """float seconds (>= 0) -> builtin_interfaces/Time, nanoseconds rounded and carried."""
    sec = math.floor(seconds)
    nanosec = int(round((seconds - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=int(sec), nanosec=nanosec)


def stamp_ns(seconds: float) -> int:
    """float seconds -> integer nanoseconds, rounded as `to_time` rounds."""
    stamp = to_time(seconds)
    return stamp.sec * 1_000_000_000 + stamp.nanosec


TIME_LIMIT = 2.0 ** 31        # builtin_interfaces/Time.sec is int32: stamps must stay below 2038-01-19


def representable(prediction: Prediction) -> Prediction | None:
    """The prediction cut to the steps whose stamps fit in builtin_interfaces/Time (None: none fits)."""
    fits = int(np.count_nonzero(prediction.times < TIME_LIMIT - 1e-6))
    if fits == len(prediction.positions):
        return prediction
    if fits == 0 or not prediction.t0 < TIME_LIMIT - 1e-6:
        return None
    std = None if prediction.position_std is None else prediction.position_std[:fits]
    return dataclasses.replace(prediction, positions=prediction.positions[:fits],
                               velocities=prediction.velocities[:fits], position_std=std)



def track_colour(track_id: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """A stable, distinct colour (r, g, b, a) per track id (hue from a CRC of the id)."""
    hue = (zlib.crc32(track_id.encode()) % 360) / 360.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return (r, g, b, alpha)


# ---- markers (rosbags serialiser, installed definitions) ----------------------------------------------
def _message_definition(msgtype: str) -> str:
    package, kind, name = msgtype.split("/")
    share = package_share_dir(package)
    if share is None:
        raise FileNotFoundError(f"cannot find the installed definition of {msgtype}: no share/{package} through "
                                f"ament_index nor under {sys.prefix}")
    return (share / kind / f"{name}.msg").read_text()


def _referenced_types(fields) -> list[str]:
    found = []
    for _, (node, spec) in fields:
        if node in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            node, spec = spec[0]
        if node == Nodetype.NAME:
            found.append(spec)
    return found


@lru_cache(maxsize=1)
def marker_typestore():
    """A rosbags typestore holding visualization_msgs/msg/MarkerArray and every type it uses, parsed from
    the installed interface definitions (`<share>/<package>/msg/<Name>.msg`)."""
    definitions, pending = {}, [MARKER_ARRAY]
    while pending:
        msgtype = pending.pop()
        if msgtype in definitions:
            continue
        types = get_types_from_msg(_message_definition(msgtype), msgtype)
        definitions.update(types)
        pending += [name for name in _referenced_types(types[msgtype][1]) if name not in definitions]
    store = get_typestore(Stores.EMPTY)
    store.register(definitions)
    return store


class _Markers:
    """Builds rosbags Marker objects; fields the package does not set keep their empty values."""

    def __init__(self):
        self.store = marker_typestore()
        self.types = types = self.store.types
        self.Marker = types["visualization_msgs/msg/Marker"]
        fields = dict(self.store.fielddefs["visualization_msgs/msg/Marker"][1])
        self.optional = {}
        for name in ("texture_resource", "text", "mesh_resource"):
            if name in fields:
                self.optional[name] = ""
        if "colors" in fields:
            self.optional["colors"] = []
        if "uv_coordinates" in fields:
            self.optional["uv_coordinates"] = []
        if "texture" in fields:
            self.optional["texture"] = self._empty("sensor_msgs/msg/CompressedImage")
        if "mesh_file" in fields:
            self.optional["mesh_file"] = self._empty("visualization_msgs/msg/MeshFile")
        if "mesh_use_embedded_materials" in fields:
            self.optional["mesh_use_embedded_materials"] = False

    def _empty(self, msgtype: str):
        """A message of `msgtype` with every field empty / zero."""
        values = {}
        for name, (node, spec) in self.store.fielddefs[msgtype][1]:
            if node == Nodetype.BASE:
                values[name] = "" if spec[0] == "string" else (False if spec[0] == "bool" else 0)
            elif node == Nodetype.NAME:
                values[name] = self._empty(spec)
            elif node == Nodetype.SEQUENCE and spec[0][0] == Nodetype.BASE and spec[0][1][0] in ("uint8", "char"):
                values[name] = np.zeros(0, dtype=np.uint8)
            else:
                values[name] = []
        return self.types[msgtype](**values)

    def header(self, nanoseconds: int, frame_id: str):
        sec, nanosec = divmod(nanoseconds, 1_000_000_000)
        stamp = self.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
        return self.types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)

    def marker(self, header, ns: str, marker_id: int, kind: int, action: int, position=(0.0, 0.0, 0.0),
               scale=(0.0, 0.0, 0.0), rgba=(0.0, 0.0, 0.0, 0.0), lifetime_ns: int = 0, points=()):
        t = self.types
        pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](*position),
                                           orientation=t["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0))
        point = t["geometry_msgs/msg/Point"]
        return self.Marker(header=header, ns=ns, id=marker_id, type=kind, action=action, pose=pose,
                           scale=t["geometry_msgs/msg/Vector3"](*scale), color=t["std_msgs/msg/ColorRGBA"](*rgba),
                           lifetime=t["builtin_interfaces/msg/Duration"](*divmod(lifetime_ns, 1_000_000_000)),
                           frame_locked=False, points=[point(*p) for p in points], **self.optional)

    def serialize(self, markers) -> bytes:
        array = self.types[MARKER_ARRAY](markers=markers)
        return bytes(self.store.serialize_cdr(array, MARKER_ARRAY))


@lru_cache(maxsize=1)
def _markers() -> _Markers:
    return _Markers()


def markers_cdr(predictions: list[tuple[Prediction, str]], lifetime: float) -> bytes:
    """Serialised visualization_msgs/MarkerArray for every (prediction, frame): per track (namespace =
    track id) a LINE_STRIP (id 0) from the current grid position through the horizon, and with a std one
    SPHERE per step (ids 1..H, diameters 2 sigma per axis, at least 2 cm)."""
    build = _markers()
    lifetime_ns = stamp_ns(lifetime)
    markers = []
    for prediction, frame_id in predictions:
        header = build.header(stamp_ns(prediction.t0), frame_id)
        tracking = prediction.status == TRACKING
        start = prediction.positions[0] - prediction.velocities[0] * prediction.dt
        line = np.vstack([start, prediction.positions]).tolist()
        markers.append(build.marker(header, prediction.track_id, 0, LINE_STRIP, ADD, scale=(LINE_WIDTH_M, 0.0, 0.0),
                                    rgba=track_colour(prediction.track_id, 1.0 if tracking else 0.4),
                                    lifetime_ns=lifetime_ns, points=line))
        if prediction.position_std is None:
            continue
        rgba = track_colour(prediction.track_id, 0.25)
        for k, (position, std) in enumerate(zip(prediction.positions.tolist(), prediction.position_std.tolist()), 1):
            scale = tuple(max(2 * s, MIN_DIAMETER_M) for s in std)
            markers.append(build.marker(header, prediction.track_id, k, SPHERE, ADD, position, scale, rgba,
                                        lifetime_ns))
    return build.serialize(markers)


def delete_markers_cdr(track_id: str, horizon_steps: int, frame_id: str) -> bytes:
    """Serialised MarkerArray deleting the line and every ellipsoid of a track that was dropped."""
    build = _markers()
    header = build.header(0, frame_id)
    return build.serialize([build.marker(header, track_id, k, 0, DELETE) for k in range(horizon_steps + 1)])
