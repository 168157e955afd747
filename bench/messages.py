"""What predictor_node's message code costs per call: the raw CDR reader and writer (nodes/cdr.py), the
hand-written rotation (frames.rotate) and the rosbags-serialised MarkerArray (nodes/messages.py), each
against the rclpy / scipy way of doing the same (reference builders from test/helpers/messages.py).

    cd /tmp && $REPO/.venv/bin/python $REPO/bench/messages.py [--tracks 100] [--horizon 10] [--targets 1000]

With --targets N (default 1000) also the multi-target messages: reading a TargetArray of N targets with
covariances (`cdr.read_targets`, which is rclpy's deserialiser plus numpy views) against a hand-written
Python reader of the raw bytes (`python_read_targets` below, the pattern of the Odometry reader, which
loops over the id strings), writing the PredictedTrajectoryArray of N tracks from a batch's arrays
(`cdr.trajectory_array_cdr`) against building the rclpy message and serialising it, and reading it back
(`cdr.read_trajectory_array`) against rclpy's deserialiser plus reading the fields as arrays.

Prints one line per pair: best and median of 7 repeats, in microseconds per call (milliseconds for
the MarkerArray), and the ratio of the best times. CPU only, one thread, no DDS.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def load_reference():
    spec = importlib.util.spec_from_file_location("reference_messages", REPO / "test" / "helpers" / "messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_call(function, number: int, repeat: int = 7) -> tuple[float, float]:
    """(best, median) seconds per call over `repeat` runs of `number` calls."""
    runs = [t / number for t in timeit.repeat(function, number=number, repeat=repeat)]
    return min(runs), statistics.median(runs)


def report(name: str, ours, theirs, unit: str = "us") -> None:
    scale = 1e6 if unit == "us" else 1e3
    (best, median), (other_best, other_median) = ours, theirs
    print(f"  {name:<44} {best * scale:9.2f} {unit} (median {median * scale:8.2f})   "
          f"vs {other_best * scale:9.2f} {unit} "
          f"(median {other_median * scale:8.2f})   {other_best / best:5.1f}x")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=100, help="tracks in the MarkerArray (default 100)")
    parser.add_argument("--horizon", type=int, default=10, help="prediction steps (default 10)")
    parser.add_argument("--targets", type=int, default=1000, help="targets / tracks of the multi-target messages "
                                                                 "(0: skip them)")
    args = parser.parse_args(argv)

    from nav_msgs.msg import Odometry
    from rclpy.serialization import deserialize_message, serialize_message
    from scipy.spatial.transform import Rotation
    from visualization_msgs.msg import MarkerArray

    from uav_traj_predictor.core.prediction import Prediction
    from uav_traj_predictor.frames import rotate
    from uav_traj_predictor.nodes import cdr, messages
    ref = load_reference()

    rng = np.random.default_rng(0)
    odom = Odometry()
    odom.header.frame_id, odom.child_frame_id = "map", "base_link"
    odom.header.stamp.sec, odom.header.stamp.nanosec = 1_795_000_000, 123_456_789
    odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.position.z = rng.normal(size=3).tolist()
    q = Rotation.random(random_state=1).as_quat()
    o = odom.pose.pose.orientation
    o.x, o.y, o.z, o.w = q.tolist()
    odom.twist.twist.linear.x, odom.twist.twist.linear.y, odom.twist.twist.linear.z = rng.normal(size=3).tolist()
    data = serialize_message(odom)

    def rclpy_position():
        msg = deserialize_message(data, Odometry)
        p = msg.pose.pose.position
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, msg.header.frame_id, (p.x, p.y, p.z)

    def rclpy_twist():
        msg = deserialize_message(data, Odometry)
        o, v = msg.pose.pose.orientation, msg.twist.twist.linear
        return Rotation.from_quat([o.x, o.y, o.z, o.w]).apply([v.x, v.y, v.z])

    body = tuple(rng.normal(size=3).tolist())
    q_tuple = tuple(q.tolist())
    h = args.horizon
    prediction = Prediction("uav1", 1_795_000_000.25, 0.1, rng.normal(size=(h, 3)), rng.normal(size=(h, 3)),
                            rng.random((h, 3)), "tracking", "model")
    fleet = [(Prediction(f"uav{i}", 1_795_000_000.25, 0.1, rng.normal(size=(h, 3)), rng.normal(size=(h, 3)),
                         rng.random((h, 3)), "tracking", "model"), "map") for i in range(args.tracks)]

    def rclpy_markers():
        return serialize_message(MarkerArray(markers=[m for p, f in fleet for m in ref.prediction_markers(p, f, 1.0)]))

    messages.markers_cdr(fleet[:1], 1.0)            # build the marker typestore once, outside the timing
    print(f"predictor_node message code, per call (ours vs the rclpy/scipy way; {sys.version.split()[0]})")
    report("read Odometry stamp/frame/position (cdr)", per_call(lambda: cdr.read_stamped_position(data, True), 20000),
           per_call(rclpy_position, 5000))
    report("read Odometry + world twist (cdr + rotate)", per_call(lambda: cdr.read_odometry_twist(data), 20000),
           per_call(rclpy_twist, 2000))
    report("rotate one vector (frames.rotate vs scipy)", per_call(lambda: rotate(q_tuple, body), 50000),
           per_call(lambda: Rotation.from_quat(q_tuple).apply(body), 5000))
    report(f"write Path, {h} poses (cdr)", per_call(lambda: cdr.path_cdr(prediction, "map"), 5000),
           per_call(lambda: serialize_message(ref.path_message(prediction, "map")), 1000))
    report(f"write PredictedTrajectory, {h} steps (cdr)", per_call(lambda: cdr.trajectory_cdr(prediction, "map"), 5000),
           per_call(lambda: serialize_message(ref.trajectory_message(prediction, "map")), 1000))
    report(f"write MarkerArray, {args.tracks} tracks x {h + 1} (rosbags)",
           per_call(lambda: messages.markers_cdr(fleet, 1.0), 3), per_call(rclpy_markers, 3), unit="ms")
    if args.targets:
        multi_target(args.targets, h, ref)
    return 0


def python_read_targets(data: bytes):
    """A TargetArray read from its raw bytes in Python (the Odometry reader's pattern): (stamp, frame, ids,
    positions (n, 3), covariance diagonals (n, 3) | None). The comparison for `cdr.read_targets`."""
    import struct

    from uav_traj_predictor.nodes.cdr import _align, _doubles, _string
    unpack, size = struct.unpack_from, len(data)
    sec, nanosec = unpack("<iI", data, 4)
    frame_id, offset = _string(data, 12)
    offset = _align(offset, 4)
    (count,) = unpack("<I", data, offset)
    offset += 4
    ids = []
    for _ in range(count):
        offset += (4 - offset) % 4
        (length,) = unpack("<I", data, offset)
        start, offset = offset + 4, offset + 4 + length
        if not 0 < length <= size - start:
            raise ValueError(f"bad string length {length}")
        ids.append(data[start:offset - 1].decode("utf-8", "replace"))
    positions, offset = _doubles(data, offset)
    covariances, offset = _doubles(data, offset)
    variances = covariances.reshape(count, 9)[:, ::4] if len(covariances) == 9 * count and count else None
    return sec + nanosec * 1e-9, frame_id, ids, positions.reshape(count, 3), variances


def multi_target(n: int, h: int, ref) -> None:
    """The TargetArray reader and the PredictedTrajectoryArray writer / reader for n targets."""
    from rclpy.serialization import deserialize_message, serialize_message

    from uav_traj_predictor.core.prediction import PredictionBatch
    from uav_traj_predictor.msg import PredictedTrajectoryArray
    from uav_traj_predictor.nodes import cdr
    from uav_traj_predictor.nodes.messages import STATUS_CODES
    rng = np.random.default_rng(1)
    ids = [f"target_{i}" for i in range(n)]
    targets = cdr.target_array_cdr(1_795_000_000_250_000_000, "map", ids, rng.normal(size=(n, 3)),
                                   np.tile(np.eye(3) * 1e-4, (n, 1, 1)))

    assert python_read_targets(targets)[2] == cdr.read_targets(targets).ids
    batch = PredictionBatch(ids, 1_795_000_000.25 + np.zeros(n), 0.1, rng.normal(size=(n, h, 3)),
                            rng.normal(size=(n, h, 3)), rng.random((n, h, 3)), ["tracking"] * n, "model")
    codes = np.array([STATUS_CODES[status] for status in batch.statuses], np.uint8)
    written = cdr.trajectory_array_cdr(batch, "map", codes)

    def rclpy_array():
        msg = deserialize_message(written, PredictedTrajectoryArray)
        return list(msg.track_ids), np.asarray(msg.positions).reshape(n, h, 3)
    print(f"multi-target messages, {n} targets / tracks, {h} steps ({len(targets)} and {len(written)} bytes)")
    report(f"read TargetArray, {n} targets (cdr vs Python loop)", per_call(lambda: cdr.read_targets(targets), 50),
           per_call(lambda: python_read_targets(targets), 10))
    report(f"write PredictedTrajectoryArray, {n} tracks (cdr)",
           per_call(lambda: cdr.trajectory_array_cdr(batch, "map", codes), 50),
           per_call(lambda: serialize_message(ref.trajectory_array_message(batch, "map")), 3))
    report(f"read PredictedTrajectoryArray, {n} tracks (cdr)", per_call(lambda: cdr.read_trajectory_array(written), 50),
           per_call(rclpy_array, 10))


if __name__ == "__main__":
    sys.exit(main())
