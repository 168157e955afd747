"""predictor_node message handling under adversarial Odometry (issue 9, fuzzing part, node side).

The raw-CDR reader `cdr.read_stamped_position` (what the node's raw subscription uses to turn
Odometry bytes into a sample) is fuzzed alone: it returns exactly the message's stamp/frame/position for
any serialisable Odometry or PoseStamped, and for arbitrary, truncated or bit-flipped bytes it returns or
raises ValueError, nothing else. Then the node is built in this process (own rclpy context, loopback DDS
from conftest) and its subscription callback `_on_message` is called directly with the serialised bytes of
hypothesis-drawn nav_msgs/Odometry: any stamp the message can carry (int32 sec, uint32 nanosec, zero),
NaN/Inf/extreme positions, zero quaternions, frame changes;
`_tick`, the marker and diagnostics timers are called in between. Publishers are replaced by recorders,
so every message the node would publish is checked (after a serialisation round trip): nothing escapes,
every published number is finite.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.ros, pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                                         "ignore:invalid value encountered:RuntimeWarning")]
rclpy = pytest.importorskip("rclpy")

from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402

from helpers.checkpoints import TINY, random_checkpoint  # noqa: E402

TOPICS = ["/uav0/odom", "/uav1/odom"]
INT32, UINT32 = 2**31 - 1, 2**32 - 1


class Recorder:
    """Stands in for a publisher: keeps what would have been published, as a subscriber would get it
    (the node publishes some outputs as hand-written CDR bytes, others as messages: both are
    serialised/deserialised here, so a byte string that rclpy cannot read fails the test)."""

    def __init__(self, msg_type):
        self.msg_type = msg_type
        self.messages = []

    def publish(self, msg):
        data = msg if isinstance(msg, (bytes, bytearray)) else serialize_message(msg)
        self.messages.append(deserialize_message(bytes(data), self.msg_type))


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    checkpoint = random_checkpoint(tmp_path_factory.mktemp("node") / "tiny.pt", **TINY)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = PredictorNode(context=context, parameter_overrides=[
        Parameter("checkpoint", value=str(checkpoint)), Parameter("odom_topics", value=TOPICS),
        Parameter("track_timeout", value=2.0)])
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Path
    from visualization_msgs.msg import MarkerArray

    from uav_traj_predictor.msg import PredictedTrajectory
    for entry in node.inputs.values():
        entry.path_pub, entry.trajectory_pub = Recorder(Path), Recorder(PredictedTrajectory)
    node.marker_pub, node.diagnostics_pub = Recorder(MarkerArray), Recorder(DiagnosticArray)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def odometry(stamp_sec, stamp_nanosec, position, frame, quaternion):
    msg = Odometry()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp_sec, stamp_nanosec
    msg.header.frame_id = frame
    msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = position
    (msg.pose.pose.orientation.x, msg.pose.pose.orientation.y, msg.pose.pose.orientation.z,
     msg.pose.pose.orientation.w) = quaternion
    return msg


def send(node, entry, msg):
    """What the raw subscription hands the callback: the message's CDR bytes."""
    node._on_message(entry, serialize_message(msg))


def published(node):
    """Every PredictedTrajectory, Path and Marker recorded since the last call (then cleared)."""
    out = []
    for entry in node.inputs.values():
        out += entry.trajectory_pub.messages + entry.path_pub.messages
        entry.trajectory_pub.messages, entry.path_pub.messages = [], []
    out += node.marker_pub.messages
    node.marker_pub.messages = []
    node.diagnostics_pub.messages = []
    return out


def numbers(msg):
    """All float fields of the published messages that carry predicted numbers."""
    if hasattr(msg, "position_std"):          # PredictedTrajectory
        return [v for group in (msg.positions, msg.velocities, msg.position_std) for p in group
                for v in (p.x, p.y, p.z)]
    if hasattr(msg, "poses"):                 # Path
        return [v for pose in msg.poses for v in (pose.pose.position.x, pose.pose.position.y, pose.pose.position.z)]
    return [v for marker in msg.markers for v in
            [marker.pose.position.x, marker.pose.position.y, marker.pose.position.z,
             marker.scale.x, marker.scale.y, marker.scale.z] + [c for p in marker.points for c in (p.x, p.y, p.z)]]


def reset_node(node):
    for track_id in list(node.bank.tracks):
        node.bank.remove(track_id)
    for entry in node.inputs.values():
        entry.frame_id = ""
        entry.arrivals.clear()
    node.latest.clear()
    published(node)


def feed_normal(node, entry, t0, count, frame="map"):
    for k in range(count):
        t = t0 + 0.05 * k
        send(node, entry, odometry(int(t), int((t % 1) * 1e9), (0.5 * t, 0.2 * t, 10.0), frame, (0, 0, 0, 1)))
    node._tick()


# ---- the raw CDR reader alone ---------------------------------------------------------------------
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
frames = st.text(max_size=40)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(sec=st.integers(-2**31, INT32), nanosec=st.integers(0, UINT32), frame=frames, child=frames,
       position=st.tuples(any_float, any_float, any_float), pose=st.booleans())
def test_cdr_reader_returns_exactly_the_message_fields(sec, nanosec, frame, child, position, pose):
    from geometry_msgs.msg import PoseStamped

    from uav_traj_predictor.nodes.cdr import read_stamped_position
    frame, child = frame.replace("\x00", ""), child.replace("\x00", "")   # ROS strings end at NUL
    msg = PoseStamped() if pose else Odometry()
    msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, nanosec, frame
    point = msg.pose.position if pose else msg.pose.pose.position
    point.x, point.y, point.z = position
    if not pose:
        msg.child_frame_id = child
    stamp, frame_id, xyz = read_stamped_position(serialize_message(msg), not pose)
    assert stamp == sec + nanosec * 1e-9 and frame_id == frame
    np.testing.assert_array_equal(xyz, position)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.binary(max_size=300) | st.builds(
    lambda cut, flips, frame: (cut, flips, frame), st.integers(0, 400),
    st.lists(st.tuples(st.integers(0, 399), st.integers(0, 255)), max_size=4), frames))
def test_cdr_reader_on_garbage_returns_or_raises_value_error(data):
    from uav_traj_predictor.nodes.cdr import read_stamped_position
    if isinstance(data, tuple):                     # a real message, truncated and with bytes overwritten
        cut, flips, frame = data
        msg = odometry(5, 6, (1.0, 2.0, 3.0), frame.replace("\x00", ""), (0, 0, 0, 1))
        raw = bytearray(serialize_message(msg))[:cut]
        for index, value in flips:
            if index < len(raw):
                raw[index] = value
        data = bytes(raw)
    for has_child_frame in (True, False):
        try:
            stamp, frame_id, xyz = read_stamped_position(data, has_child_frame)
        except ValueError:
            continue
        assert isinstance(stamp, float) and isinstance(frame_id, str) and len(xyz) == 3


# ---- the hand-written output serialisers ---------------------------------------------------------------
@settings(max_examples=100, deadline=None, derandomize=True)
@given(t0=st.floats(-2e9, 2.1e9), dt=st.sampled_from([0.1, 0.05, 0.02, 1 / 30]), horizon=st.integers(1, 12),
       frame=frames, track=frames, status=st.sampled_from(["tracking", "warming_up", "fallback_cv"]),
       with_std=st.booleans(), scale=st.sampled_from([1e-300, 1.0, 1e6, 1e300]), seed=st.integers(0, 1000))
def test_serialised_outputs_equal_rclpy_messages(t0, dt, horizon, frame, track, status, with_std, scale, seed):
    """cdr.path_cdr / cdr.trajectory_cdr / messages.markers_cdr decode to exactly the messages the rclpy
    reference builders make,
    for any stamp, step, horizon, text and magnitude (padding bytes differ: rclpy leaves them unset, so
    decoded messages are compared)."""
    from nav_msgs.msg import Path
    from visualization_msgs.msg import MarkerArray

    from helpers.messages import path_message, prediction_markers, trajectory_message
    from uav_traj_predictor.core.prediction import Prediction
    from uav_traj_predictor.msg import PredictedTrajectory
    from uav_traj_predictor.nodes import cdr, messages
    frame, track = frame.replace("\x00", ""), track.replace("\x00", "")
    rng = np.random.default_rng(seed)
    prediction = Prediction(track, t0, dt, rng.normal(size=(horizon, 3)) * scale, rng.normal(size=(horizon, 3)),
                            np.abs(rng.normal(size=(horizon, 3))) if with_std else None, status, "model")
    def decoded(data, kind):
        return deserialize_message(data if isinstance(data, bytes) else serialize_message(data), kind)
    assert decoded(cdr.path_cdr(prediction, frame), Path) == decoded(path_message(prediction, frame), Path)
    assert decoded(cdr.trajectory_cdr(prediction, frame), PredictedTrajectory) == \
        decoded(trajectory_message(prediction, frame), PredictedTrajectory)
    # the rclpy side round-trips too: colours are float32
    assert decoded(messages.markers_cdr([(prediction, frame)], 1.0), MarkerArray) == \
        decoded(MarkerArray(markers=prediction_markers(prediction, frame, 1.0)), MarkerArray)


# ---- the node's callback ---------------------------------------------------------------------------
coordinates = (st.floats(-1e4, 1e4) | st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1.7e308, 5e-324]))
messages_strategy = st.lists(st.tuples(
    st.integers(0, len(TOPICS) - 1),
    st.sampled_from(["step"] * 6 + ["same", "back", "jump_back", "gap", "zero", "int32_edge", "negative", "raw"]),
    st.integers(-2**31, INT32), st.integers(0, UINT32),
    st.tuples(coordinates, coordinates, coordinates),
    st.sampled_from(["map"] * 6 + ["odom", ""]),
    st.sampled_from([(0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0), (math.nan, 0.0, 0.0, 1.0)]),
    st.booleans()), min_size=1, max_size=80)


def stamp_for(kind, clock, raw_sec, raw_nanosec):
    """(sec, nanosec, new clock) for one drawn message; `clock` is the track's last float stamp."""
    steps = {"step": 0.05, "same": 0.0, "back": -0.3, "jump_back": -50.0, "gap": 3.0}
    if kind in steps:
        t = clock + steps[kind]
    elif kind == "zero":
        return 0, 0, clock
    elif kind == "int32_edge":       # around the int32 limit of builtin_interfaces/Time (R6)
        t = INT32 + 0.5 - 0.1 * (raw_nanosec % 20)
    elif kind == "negative":
        t = -1000.0 + 0.05 * (raw_nanosec % 100)
    else:
        return raw_sec, raw_nanosec, raw_sec + raw_nanosec * 1e-9
    sec = math.floor(t)
    return int(max(-2**31, min(INT32, sec))), int(round((t - sec) * 1e9)) % 10**9, t


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(drawn=messages_strategy)
def test_adversarial_odometry_never_escapes_and_publishes_only_finite_numbers(node, drawn):
    reset_node(node)
    entries = [node.inputs[topic] for topic in TOPICS]
    clocks = [1000.0] * len(TOPICS)
    for track, kind, raw_sec, raw_nanosec, position, frame, quaternion, tick in drawn:
        if kind == "step" and not all(map(math.isfinite, position)):
            position = (clocks[track] * 0.5, 0.0, 10.0) if raw_nanosec % 2 else position
        sec, nanosec, clocks[track] = stamp_for(kind, clocks[track], raw_sec, raw_nanosec)
        send(node, entries[track], odometry(sec, nanosec, position, frame, quaternion))
        if tick:
            node._tick()
    node._tick()
    node._publish_markers()
    node._publish_diagnostics()
    for msg in published(node):                     # as a subscriber gets them (see Recorder)
        values = np.array(numbers(msg), dtype=np.float64)
        assert np.isfinite(values).all(), f"non-finite value published in {type(msg).__name__}"


def test_frame_change_resets_the_track_and_is_counted(node):
    reset_node(node)
    entry = node.inputs["/uav0/odom"]
    feed_normal(node, entry, 100.0, 30, frame="map")
    assert node.bank.tracks["uav0"].history > 0
    before = node.stats["reset.frame_changed"]
    feed_normal(node, entry, 101.5, 30, frame="odom")
    assert node.stats["reset.frame_changed"] == before + 1
    trajectories = entry.trajectory_pub.messages
    assert trajectories and trajectories[-1].header.frame_id == "odom"


def test_zero_stamp_and_zero_quaternion(node):
    """A zero stamp is ignored and counted; a zero quaternion is harmless (only the position is used)."""
    reset_node(node)
    entry = node.inputs["/uav1/odom"]
    before = node.stats["ignored.zero_stamp"]
    send(node, entry, odometry(0, 0, (1.0, 2.0, 3.0), "map", (0, 0, 0, 0)))
    assert node.stats["ignored.zero_stamp"] == before + 1
    for k in range(30):
        t = 200.0 + 0.05 * k
        send(node, entry, odometry(int(t), int((t % 1) * 1e9), (t, 0.0, 5.0), "map", (0, 0, 0, 0)))
    node._tick()
    assert entry.trajectory_pub.messages, "zero quaternions stopped the predictions"


def test_stamps_at_the_int32_limit_neither_crash_nor_wrap(node):
    """Regression for R6 (fixed in 999f4ed): an input stamped at sec = 2**31 - 1 once made the hand-written
    CDR raise struct.error in _tick (the node exited); now the horizon is cut to the stamps Time can hold."""
    from helpers.messages import to_seconds
    reset_node(node)
    entry = node.inputs["/uav0/odom"]
    feed_normal(node, entry, INT32 - 0.5, 19)          # input stamps up to 2**31 - 1 + 0.4 s: all valid
    (received,) = entry.path_pub.messages
    stamps = [to_seconds(pose.header.stamp) for pose in received.poses]
    assert stamps[0] > INT32 - 1.0 and np.all(np.diff(stamps) > 0), stamps
