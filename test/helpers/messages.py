"""Reference outputs of predictor_node built the slow, obvious way, as rclpy message objects: what the
package's serialisers (nodes/cdr.py, nodes/messages.py) must produce byte-for-byte after decoding.
Test helpers only (also loaded by bench/messages.py for the rclpy side of its figures); needs rclpy."""
import numpy as np
from geometry_msgs.msg import Point, PoseStamped, Vector3
from nav_msgs.msg import Path
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from uav_traj_predictor.core.prediction import TRACKING
from uav_traj_predictor.msg import PredictedTrajectory, PredictedTrajectoryArray
from builtin_interfaces.msg import Duration, Time

from uav_traj_predictor.nodes.messages import CV_MODEL_ID, STATUS_CODES, to_time, track_colour


def to_seconds(stamp) -> float:
    """builtin_interfaces/Time (or Duration) -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def shifted(stamp: Time, nanoseconds: int) -> Time:
    """stamp + an integer number of nanoseconds, exactly (no float rounding at epoch magnitudes)."""
    total = stamp.sec * 1_000_000_000 + stamp.nanosec + int(nanoseconds)
    return Time(sec=total // 1_000_000_000, nanosec=total % 1_000_000_000)


def to_duration(seconds: float) -> Duration:
    stamp = to_time(seconds)
    return Duration(sec=stamp.sec, nanosec=stamp.nanosec)


def path_message(prediction, frame_id: str) -> Path:
    """nav_msgs/Path: H poses at t0 + k dt (k = 1..H), orientation identity."""
    path = Path()
    path.header.stamp, path.header.frame_id = to_time(prediction.t0), frame_id
    step = int(round(prediction.dt * 1e9))
    for k, (x, y, z) in enumerate(prediction.positions.tolist(), start=1):
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = shifted(path.header.stamp, k * step), frame_id
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = x, y, z
        pose.pose.orientation.w = 1.0
        path.poses.append(pose)
    return path


def trajectory_message(prediction, frame_id: str) -> PredictedTrajectory:
    """uav_traj_predictor/PredictedTrajectory with std, status, model id, horizon start and step."""
    msg = PredictedTrajectory()
    msg.track_id, msg.status = prediction.track_id, STATUS_CODES[prediction.status]
    msg.model_id = prediction.model_id if prediction.status == TRACKING else CV_MODEL_ID
    msg.header.stamp, msg.header.frame_id = to_time(prediction.t0), frame_id
    msg.time_step = to_duration(prediction.dt)
    msg.horizon_start = shifted(msg.header.stamp, int(round(prediction.dt * 1e9)))
    msg.positions = [Point(x=x, y=y, z=z) for x, y, z in prediction.positions.tolist()]
    msg.velocities = [Vector3(x=x, y=y, z=z) for x, y, z in prediction.velocities.tolist()]
    std = prediction.position_std
    msg.calibrated = std is not None
    msg.position_std = [Vector3(x=x, y=y, z=z) for x, y, z in
                        (np.zeros_like(prediction.positions) if std is None else std).tolist()]
    return msg


def trajectory_array_message(batch, frame_id: str, rows=None) -> PredictedTrajectoryArray:
    """uav_traj_predictor/PredictedTrajectoryArray of a core.PredictionBatch (its rows `rows`, all when None),
    one field at a time from Python objects."""
    rows = range(len(batch)) if rows is None else list(rows)
    msg = PredictedTrajectoryArray()
    msg.header.frame_id, msg.model_id = frame_id, batch.model_id
    msg.header.stamp = to_time(max(float(batch.t0[i]) for i in rows)) if rows else to_time(0.0)
    msg.horizon_steps = batch.positions.shape[1]
    msg.time_step = to_duration(batch.dt)
    msg.track_ids = [batch.track_ids[i] for i in rows]
    msg.origins = [to_time(float(batch.t0[i])) for i in rows]
    msg.status = [STATUS_CODES[batch.statuses[i]] for i in rows]
    msg.positions = [float(v) for i in rows for v in batch.positions[i].ravel()]
    msg.velocities = [float(v) for i in rows for v in batch.velocities[i].ravel()]
    if batch.position_std is not None:
        msg.position_std = [float(v) for i in rows for v in batch.position_std[i].ravel()]
    return msg


def colour(track_id, alpha):
    r, g, b, a = track_colour(track_id, alpha)
    return ColorRGBA(r=r, g=g, b=b, a=a)


def prediction_markers(prediction, frame_id: str, lifetime: float) -> list:
    """LINE_STRIP from the current grid position through the horizon + one SPHERE ellipsoid per step
    (diameters 2 sigma per axis, at least 2 cm). Namespace = track id, ids 0 (line) and 1..H."""
    header = Header(stamp=to_time(prediction.t0), frame_id=frame_id)
    tracking = prediction.status == TRACKING
    start = prediction.positions[0] - prediction.velocities[0] * prediction.dt
    line = Marker(header=header, ns=prediction.track_id, id=0, type=Marker.LINE_STRIP, action=Marker.ADD,
                  color=colour(prediction.track_id, 1.0 if tracking else 0.4), lifetime=to_duration(lifetime))
    line.pose.orientation.w = 1.0
    line.scale.x = 0.05
    line.points = [Point(x=x, y=y, z=z) for x, y, z in np.vstack([start, prediction.positions]).tolist()]
    markers = [line]
    if prediction.position_std is None:
        return markers
    for k, ((x, y, z), (sx, sy, sz)) in enumerate(zip(prediction.positions.tolist(),
                                                     prediction.position_std.tolist()), start=1):
        sphere = Marker(header=header, ns=prediction.track_id, id=k, type=Marker.SPHERE, action=Marker.ADD,
                        color=colour(prediction.track_id, 0.25), lifetime=to_duration(lifetime))
        sphere.pose.position = Point(x=x, y=y, z=z)
        sphere.pose.orientation.w = 1.0
        sphere.scale = Vector3(x=max(2 * sx, 0.02), y=max(2 * sy, 0.02), z=max(2 * sz, 0.02))
        markers.append(sphere)
    return markers


def delete_markers(track_id: str, horizon_steps: int, frame_id: str) -> list:
    """DELETE for the line and every ellipsoid of a dropped track."""
    return [Marker(header=Header(frame_id=frame_id), ns=track_id, id=k, action=Marker.DELETE)
            for k in range(horizon_steps + 1)]
