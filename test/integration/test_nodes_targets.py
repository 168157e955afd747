"""predictor_node with inputs from sensors and trackers, built in this process (one DDS participant, no
traffic needed): TargetArray messages (one track per target id), PoseWithCovarianceStamped and
PointStamped topics, the supplied covariance used as the noise level, the batched output, id conflicts,
max_tracks, bad messages, and shards splitting the ids. The same across processes over DDS:
test_nodes_targets_live.py."""
import math

import numpy as np
import pytest

from uav_traj_predictor.core import shard_of

pytestmark = pytest.mark.ros

DT = 0.1


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint):
    return random_checkpoint  # conftest: 10 Hz, horizon 10, min_history 5


BUILT = []     # nodes built by the running test, destroyed by the `context` fixture


@pytest.fixture
def context():
    """A context for the test's nodes; they are destroyed after the test, then the context is shut down (a
    node left alive would keep its DDS participant, and its /targets reader, in this process for the tests
    that follow)."""
    import rclpy
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    while BUILT:
        BUILT.pop().destroy_node()
    rclpy.try_shutdown(context=context)


class Recorder:
    """Stands in for a publisher: keeps what the node publishes (serialised bytes)."""

    def __init__(self):
        self.sent = []

    def publish(self, message):
        self.sent.append(message)


def make_node(context, checkpoint, *args):
    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    node = PredictorNode(context=context, cli_args=["--ros-args", "-p", f"checkpoint:={checkpoint}", *args])
    BUILT.append(node)
    node.batch_pub = Recorder() if node.batch_pub is not None else None
    node.diagnostics_pub = Recorder()
    return node


def targets_bytes(t, ids, positions, covariances=None, frame="map"):
    from rclpy.serialization import serialize_message

    from uav_traj_predictor.msg import TargetArray
    msg = TargetArray()
    sec = math.floor(t)
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(sec), int(round((t - sec) * 1e9)) % 1_000_000_000
    msg.header.frame_id = frame
    msg.ids = list(ids)
    msg.positions = np.asarray(positions, np.float64).ravel().tolist()
    if covariances is not None:
        msg.covariances = np.asarray(covariances, np.float64).ravel().tolist()
    return serialize_message(msg)


def position(i, t):
    return (10.0 * i + 2.0 * math.cos(0.5 * t), 2.0 * math.sin(0.5 * t), 1.0 + 0.1 * i)


def feed(node, ids, seconds, rate=20.0, t_start=1000.0, covariance=None, topic="/targets", frame="map"):
    """Feed TargetArray messages of `ids` straight to the node's callback, ticking after each."""
    source = node.target_inputs[topic]
    for k in range(int(seconds * rate)):
        t = t_start + k / rate
        covariances = None if covariance is None else np.tile(np.asarray(covariance).ravel(), len(ids))
        node._on_targets(source, targets_bytes(t, ids, [position(int(i[1:]), t) for i in ids], covariances, frame))
        node._tick()


def batches(node):
    from rclpy.serialization import deserialize_message

    from uav_traj_predictor.msg import PredictedTrajectoryArray
    return [deserialize_message(data, PredictedTrajectoryArray) for data in node.batch_pub.sent]


def diagnostics(node):
    node._publish_diagnostics()
    return {s.name: (s.level, s.message, {kv.key: kv.value for kv in s.values})
            for s in node.diagnostics_pub.sent[-1].status}


TARGET_CONFIGS = {
    "no_batch": (["-p", "target_topics:=['/targets']"], "parameter 'target_topics': targets are published only in "
                                                      "the batched output: set publish_batch: true"),
    "shard": (["-p", "odom_topics:=['/a/odom']", "-p", "shard_count:=2", "-p", "shard_index:=2"],
              "parameter 'shard_index': 2 is not below shard_count 2"),
    "twist_targets": (["-p", "target_topics:=['/targets']", "-p", "publish_batch:=true", "-p",
                       "velocity_source:=twist"], "velocity_source 'twist' needs input_type 'odometry' and no "
                                                  "target_topics"),
    "twist_point": (["-p", "odom_topics:=['/a/odom']", "-p", "input_type:=point", "-p", "velocity_source:=twist"],
                    "velocity_source 'twist' needs input_type 'odometry'"),
    "input_type": (["-p", "odom_topics:=['/a/odom']", "-p", "input_type:=detection"],
                   "parameter 'input_type': must be one of ['odometry', 'pose', 'pose_covariance', 'point']"),
}


def test_wrong_target_and_shard_parameters_are_refused_clearly(context, checkpoint):
    from uav_traj_predictor.nodes.params import ConfigError
    for case, (args, message) in TARGET_CONFIGS.items():
        with pytest.raises(ConfigError) as error:
            make_node(context, checkpoint, *args)
        assert message in str(error.value), (case, str(error.value))


def test_every_target_is_a_track_in_the_batched_output_with_its_covariance_level(context, checkpoint):
    node = make_node(context, checkpoint, "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true")
    ids = [f"t{i}" for i in range(12)]
    variances = np.diag([0.0004, 0.0009, 0.0016])                      # 2, 3 and 4 cm
    feed(node, ids, 2.0, covariance=variances)
    assert sorted(node.bank.tracks) == sorted(ids)
    level = math.sqrt((0.0004 + 0.0009 + 0.0016) / 3)
    assert all(node.bank.tracks[i].noise_level == pytest.approx(level) for i in ids)
    last = batches(node)[-1]
    assert sorted(last.track_ids) == sorted(ids) and last.horizon_steps == 10 and last.header.frame_id == "map"
    assert len(last.positions) == len(last.velocities) == len(last.position_std) == 12 * 10 * 3
    assert all(math.isfinite(v) for v in last.positions) and min(last.position_std) > 0
    assert list(last.status) == [0] * 12 and last.model_id == "test-random"       # tracking after 2 s
    origins = [o.sec + o.nanosec * 1e-9 for o in last.origins]
    assert max(origins) == pytest.approx(1001.9) and min(origins) > 1001.7
    positions = np.array(last.positions).reshape(12, 10, 3)
    for row, track_id in enumerate(last.track_ids):                    # near the target, moving on its circle
        t0 = origins[row]
        assert np.linalg.norm(positions[row, 0] - position(int(track_id[1:]), t0 + DT)) < 0.5
    values = diagnostics(node)["predictor_node: targets /targets"][2]
    assert values["tracks"] == "12" and values["tracks.tracking"] == "12" and values["targets_in_last_message"] == "12"
    assert float(diagnostics(node)["predictor_node"][2]["latency_p99_ms"]) > 0


def test_the_covariance_can_be_switched_off_and_bad_covariances_fall_back_to_the_estimate(context, checkpoint):
    node = make_node(context, checkpoint, "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true",
                     "-p", "use_covariance:=false")
    feed(node, ["t0", "t1"], 0.5, covariance=np.eye(3) * 0.01)
    assert all(track.supplied_noise is None for track in node.bank.tracks.values())
    node = make_node(context, checkpoint, "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true")
    source = node.target_inputs["/targets"]
    covariances = np.stack([np.eye(3) * 0.01, np.diag([-1.0, 0.01, 0.01]), np.full((3, 3), np.nan), np.zeros((3, 3))])
    for k in range(10):
        node._on_targets(source, targets_bytes(1000 + 0.05 * k, ["t0", "t1", "t2", "t3"],
                                               [position(i, 1000 + 0.05 * k) for i in range(4)], covariances))
        node._tick()
    tracks = node.bank.tracks
    assert tracks["t0"].supplied_noise == pytest.approx(0.1)                 # used
    assert [tracks[i].supplied_noise for i in ("t1", "t2", "t3")] == [None] * 3  # invalid, invalid, unknown
    assert node.stats["covariance_invalid"] == 20 and source.covariance_invalid == 20
    # covariances of the wrong size: reported, not used, the positions still are
    node._on_targets(source, targets_bytes(1000.5, ["t0", "t1"], [position(0, 1000.5), position(1, 1000.5)],
                                           np.zeros(10)))
    assert node.stats["covariance_size"] == 1 and tracks["t1"].samples == 11
    level, message, _ = diagnostics(node)["predictor_node: targets /targets"]
    assert "bad covariances" in message


def test_pose_with_covariance_and_point_topics_are_tracks(context, checkpoint):
    from geometry_msgs.msg import PointStamped, PoseWithCovarianceStamped
    from rclpy.serialization import serialize_message
    for input_type in ("pose_covariance", "point"):
        node = make_node(context, checkpoint, "-p", "odom_topics:=['/radar/track7']", "-p", f"input_type:={input_type}",
                         "-p", "publish_batch:=true")
        node.inputs["/radar/track7"].trajectory_pub = Recorder()
        entry = node.inputs["/radar/track7"]
        for k in range(40):
            t = 1000 + k / 20
            msg = PoseWithCovarianceStamped() if input_type == "pose_covariance" else PointStamped()
            msg.header.frame_id, msg.header.stamp.sec = "map", int(t)
            msg.header.stamp.nanosec = int(round((t - int(t)) * 1e9))
            point = msg.pose.pose.position if input_type == "pose_covariance" else msg.point
            point.x, point.y, point.z = position(1, t)
            if input_type == "pose_covariance":
                covariance = np.zeros(36)
                covariance[[0, 7, 14]] = 0.0025 if k != 30 else -1.0      # 5 cm; one invalid
                msg.pose.covariance = covariance.tolist()
            node._on_message(entry, serialize_message(msg))
            node._tick()
        track = node.bank.tracks["radar"]
        assert entry.trajectory_pub.sent and batches(node)[-1].track_ids == ["radar"]
        values = diagnostics(node)["predictor_node: radar"][2]
        if input_type == "pose_covariance":
            assert track.noise_level == pytest.approx(0.05) and values["noise_source"] == "covariance"
            assert values["covariance_invalid"] == "1" and node.stats["covariance_invalid"] == 1
        else:
            assert track.supplied_noise is None and values["noise_source"] == "estimate"
        BUILT.remove(node)                    # one node of this name at a time in the context
        node.destroy_node()


def test_an_id_fed_by_two_inputs_is_kept_by_the_first_and_max_tracks_holds(context, checkpoint):
    node = make_node(context, checkpoint, "-p", "target_topics:=['/radar', '/camera']", "-p", "publish_batch:=true",
                     "-p", "odom_topics:=['/t5/odom']", "-p", "max_tracks:=6")
    feed(node, ["t0", "t1", "t2"], 0.5, topic="/radar")
    feed(node, ["t2", "t3", "t5"], 0.5, topic="/camera")       # t2: the radar's; t5: the /t5/odom topic's
    owner = {track_id: feeder.topic for track_id, feeder in node.target_owner.items()}
    assert owner == {"t0": "/radar", "t1": "/radar", "t2": "/radar", "t3": "/camera"}
    assert node.target_inputs["/camera"].conflicts == 20 and node.stats["ignored.id_conflict"] == 20
    feed(node, [f"t{i}" for i in range(6, 12)], 0.2, topic="/radar")   # 6 new ids, room for 2 (t5 is reserved)
    assert len(node.bank.tracks) == 6 and node.bank.refused_samples > 0
    assert all(feeder.topic in ("/radar", "/camera") for feeder in node.target_owner.values())
    assert len(node.target_owner) == 6                        # refused ids are not remembered as owned
    _, message, values = diagnostics(node)["predictor_node"]
    assert "max_tracks 6 reached" in message
    _, message, _ = diagnostics(node)["predictor_node: targets /camera"]
    assert "20 id conflicts" in message


def test_bad_target_messages_are_counted_and_the_frame_change_resets(context, checkpoint):
    node = make_node(context, checkpoint, "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true")
    source = node.target_inputs["/targets"]
    good = targets_bytes(1000.0, ["t0", "t1"], [position(0, 1000), position(1, 1000)])
    for bad in (b"", good[:40], b"\x00\x00" + good[2:], targets_bytes(1000.0, ["t0", "t1"], np.zeros(5))):
        node._on_targets(source, bad)
    node._on_targets(source, targets_bytes(0.0, ["t0"], [position(0, 0)]))
    assert node.stats["ignored.malformed"] == 4 and node.stats["ignored.zero_stamp"] == 1 and not node.bank.tracks
    feed(node, ["t0", "t1"], 1.0)
    feed(node, ["t0", "t1"], 0.3, t_start=1001.0, frame="odom")
    assert node.stats["reset.frame_changed"] == 2
    assert batches(node)[-1].header.frame_id == "odom"
    nan = targets_bytes(1001.5, ["t0", "t1"], [(math.nan, 0.0, 1.0), position(1, 1001.5)], frame="odom")
    node._on_targets(source, nan)                              # one target's NaN: ignored by the core, no crash
    assert node.bank.tracks["t0"].ignored["non_finite"] == 1


def test_two_shards_split_the_ids_each_to_exactly_one(context, checkpoint):
    ids = [f"t{i}" for i in range(40)]
    shards = [make_node(context, checkpoint, "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true",
                        "-p", "shard_count:=2", "-p", f"shard_index:={index}") for index in (0, 1)]
    served = []
    for index, node in enumerate(shards):
        feed(node, ids, 0.5)
        predicted = {track_id for batch in batches(node) for track_id in batch.track_ids}
        assert predicted == set(node.bank.tracks) == {i for i in ids if shard_of(i, 2) == index}
        assert node.target_inputs["/targets"].other_shard == 10 * (40 - len(predicted))
        values = diagnostics(node)["predictor_node"][2]
        assert (values["shard_index"], values["shard_count"]) == (str(index), "2")
        served.append(predicted)
    assert served[0] | served[1] == set(ids) and not served[0] & served[1] and min(map(len, served)) >= 10
    node = make_node(context, checkpoint, "-p", "odom_topic_regex:=/uav[0-9]+/odom", "-p", "shard_count:=2",
                     "-p", "shard_index:=0")
    for name in ("/uav1/odom", "/uav2/odom", "/uav3/odom", "/uav4/odom"):   # what discovery would hand over
        node._subscribe(name)
    assert sorted(node.inputs) == sorted(f"/uav{i}/odom" for i in range(1, 5) if shard_of(f"uav{i}", 2) == 0)
    assert len(node.other_shard_topics) == 4 - len(node.inputs)


def test_a_large_batch_goes_out_in_messages_below_batch_max_kib(context, checkpoint):
    """100 targets with 10 steps (720 bytes of numbers each: positions, velocities, std) and batch_max_kib 64:
    two messages per tick (82 tracks and 18), each below 64 KiB, whole tracks, together every target once."""
    node = make_node(context, checkpoint, "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true",
                     "-p", "batch_max_kib:=64")
    ids = [f"t{i}" for i in range(100)]
    feed(node, ids, 0.5)
    sizes = [len(data) for data in node.batch_pub.sent]
    assert max(sizes) <= 64 * 1024
    last_tick = batches(node)[-2:]
    assert [len(b.track_ids) for b in last_tick] == [82, 18]
    assert sorted(i for b in last_tick for i in b.track_ids) == sorted(ids)
    assert len({(b.origins[0].sec, b.origins[0].nanosec) for b in last_tick}) == 1
    node = make_node(context, checkpoint, "-p", "target_topics:=['/targets2']", "-p", "publish_batch:=true",
                     "-p", "batch_max_kib:=0")
    feed(node, ids, 0.3, topic="/targets2")
    assert all(len(b.track_ids) == 100 for b in batches(node)[2:])   # one message per tick


@pytest.fixture(scope="module")
def attitude_checkpoint(tmp_path_factory):
    from helpers.checkpoints import random_checkpoint
    return str(random_checkpoint(tmp_path_factory.mktemp("att") / "att.pt", features=13, min_history=5))


def test_the_pose_orientation_feeds_a_checkpoint_with_the_attitude_input(context, checkpoint, attitude_checkpoint):
    """Odometry orientations reach the core's thrust-axis estimate (diagnostics: attitude in_use) for a checkpoint
    with the attitude input; `use_orientation: false`, a checkpoint without the input and PointStamped inputs do
    not read them."""
    from nav_msgs.msg import Odometry
    from rclpy.serialization import serialize_message
    from scipy.spatial.transform import Rotation

    from helpers.attitude import weaving
    t, p, q, _ = weaving(Rotation.from_euler("y", 90, degrees=True), seconds=30.0, dt=0.05)
    cases = ((attitude_checkpoint, [], True), (attitude_checkpoint, ["-p", "use_orientation:=false"], False),
             (checkpoint, [], False))
    for ckpt, args, reads in cases:
        node = make_node(context, ckpt, "-p", "odom_topics:=['/uav1/odom']", *args)
        assert node.read_orientation == reads
        entry = node.inputs["/uav1/odom"]
        entry.trajectory_pub = entry.path_pub = Recorder()
        for k in range(len(t)):
            msg = Odometry()
            stamp = 1000.0 + t[k]
            msg.header.frame_id, msg.header.stamp.sec = "map", int(stamp)
            msg.header.stamp.nanosec = int(round((stamp - int(stamp)) * 1e9)) % 1_000_000_000
            msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = p[k].tolist()
            o = msg.pose.pose.orientation
            o.x, o.y, o.z, o.w = q[k].tolist()
            node._on_message(entry, serialize_message(msg))
            node._tick()
        track = node.bank.tracks["uav1"]
        values = diagnostics(node)["predictor_node: uav1"][2]
        if reads:
            assert values["attitude"] == "in_use" and track.attitude_state == "in_use"
        else:
            assert "attitude" not in values and track.attitude is None
        assert entry.trajectory_pub.sent
        BUILT.remove(node)
        node.destroy_node()
    node = make_node(context, attitude_checkpoint, "-p", "odom_topics:=['/radar/track7']", "-p", "input_type:=point")
    assert not node.read_orientation
