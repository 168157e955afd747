"""predictor_node processes over loopback DDS with targets from one TargetArray topic: one node serving 20
targets at 20 Hz plus 5 Odometry vehicles (every one predicted; the input -> prediction latency printed, not
asserted: no timed tests), and two shards splitting one topic (every target by exactly one shard, none
twice; a restarted shard takes its targets back)."""
import math
import os
import signal
import time

import numpy as np
import pytest

from uav_traj_predictor import harness, rosenv
from uav_traj_predictor.core import shard_of

pytestmark = pytest.mark.ros

RATE = 20.0


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint):
    return random_checkpoint  # conftest: 10 Hz, horizon 10, min_history 5


def start(tmp_path, log_name, *ros_args):
    env = rosenv.loopback_env(domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    return harness.start([harness.console_script("predictor_node"), "--ros-args", *ros_args], env,
                         log=tmp_path / f"{log_name}.log", cwd=tmp_path)


def stop(node):
    return harness.stop(node, signal.SIGTERM, 20), node.output()


def position(i, t):
    return (10.0 * i + 3.0 * math.cos(0.6 * t + i), 3.0 * math.sin(0.6 * t + i), 2.0 + 0.05 * i)


class Traffic:
    """This test process: a TargetArray publisher, Odometry publishers, and recorders of the batched outputs
    (receive wall time and message) on the given topics."""

    def __init__(self, context, batch_topics, vehicles=()):
        import rclpy
        from nav_msgs.msg import Odometry
        from rclpy.qos import qos_profile_sensor_data

        from uav_traj_predictor.msg import PredictedTrajectoryArray, TargetArray
        self.TargetArray, self.Odometry = TargetArray, Odometry
        self.node = rclpy.create_node("targets_traffic", context=context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.targets_pub = self.node.create_publisher(TargetArray, "/targets", qos_profile_sensor_data)
        self.odom_pubs = {name: self.node.create_publisher(Odometry, f"/{name}/odom", qos_profile_sensor_data)
                          for name in vehicles}
        self.received = {topic: [] for topic in batch_topics}
        for topic in batch_topics:
            self.node.create_subscription(PredictedTrajectoryArray, topic,
                                          lambda msg, topic=topic: self.received[topic].append((time.time(), msg)),
                                          100)
        self.sent = []                                                  # stamps of the input messages

    @staticmethod
    def split(t):
        sec = math.floor(t)
        return int(sec), min(int(round((t - sec) * 1e9)), 999_999_999)

    def publish_round(self, ids):
        """One TargetArray of `ids` and one Odometry per vehicle, each stamped with the wall clock just
        before it is published."""
        msg = self.TargetArray()
        msg.header.frame_id = "map"
        now = time.time()
        msg.ids = list(ids)
        msg.positions = np.array([position(int(i[1:]), now) for i in ids]).ravel().tolist()
        msg.covariances = np.tile(np.diag([1e-4, 1e-4, 4e-4]).ravel(), len(ids)).tolist()
        msg.header.stamp.sec, msg.header.stamp.nanosec = self.split(now)
        self.sent.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
        self.targets_pub.publish(msg)
        for k, (name, publisher) in enumerate(self.odom_pubs.items()):
            odom = self.Odometry()
            now = time.time()
            odom.header.frame_id, odom.child_frame_id = "map", "base_link"
            p = odom.pose.pose.position
            p.x, p.y, p.z = position(100 + k, now)
            odom.pose.pose.orientation.w = 1.0
            odom.header.stamp.sec, odom.header.stamp.nanosec = self.split(now)
            publisher.publish(odom)

    def run(self, seconds, ids):
        """Publish rounds at RATE for `seconds`, serving the recorders in between."""
        start = time.time()
        for k in range(int(seconds * RATE)):
            self.publish_round(ids)
            self.spin(max(0.0, start + (k + 1) / RATE - time.time()))

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=max(0.0, min(0.01, end - time.monotonic())))
            if time.monotonic() >= end:
                return

    def serving(self, batch_topics):
        """Whether every shard is up: its batched output's publisher is on the graph and the TargetArray writer
        has matched a reader per shard (readers of other nodes would count too: none are left in this session,
        the in-process tests destroy theirs)."""
        return (all(self.node.count_publishers(topic) for topic in batch_topics)
                and self.targets_pub.get_subscription_count() >= len(batch_topics))

    def spin_until(self, condition, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not condition():
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def predicted(self, topic, since=0.0, until=math.inf):
        """{(track id, origin ns)} received on `topic` between the wall times `since` and `until`."""
        return [(track_id, origin.sec * 1_000_000_000 + origin.nanosec)
                for received, msg in self.received[topic] if since <= received < until
                for track_id, origin in zip(msg.track_ids, msg.origins)]


def test_one_node_serves_twenty_targets_of_one_topic_and_five_odometry_vehicles(checkpoint, tmp_path):
    import rclpy
    targets = [f"t{i}" for i in range(20)]
    vehicles = [f"uav{i}" for i in range(1, 6)]
    node = start(tmp_path, "predictor", "-p", f"checkpoint:={checkpoint}", "-p", "target_topics:=['/targets']",
                 "-p", "odom_topic_regex:=/uav[0-9]+/odom", "-p", "discovery_period:=0.3",
                 "-p", "publish_batch:=true", "-p", "publish_markers:=false")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        traffic = Traffic(context, ["/predicted_trajectories"], vehicles)
        publishers = [traffic.targets_pub, *traffic.odom_pubs.values()]
        assert traffic.spin_until(lambda: all(p.get_subscription_count() for p in publishers), 60), \
            "predictor_node did not subscribe to the targets and every vehicle within 60 s"
        traffic.run(5.0, targets)
        traffic.spin(1.0)
    finally:
        code, output = stop(node)
        rclpy.try_shutdown(context=context)
    assert code == 0 and "Traceback" not in output, output
    received = traffic.received["/predicted_trajectories"]
    by_track = {}
    for _, msg in received:
        assert msg.header.frame_id == "map" and msg.horizon_steps == 10
        assert len(msg.positions) == len(msg.position_std) == 30 * len(msg.track_ids)
        assert all(math.isfinite(v) for v in msg.positions)
        for track_id, origin in zip(msg.track_ids, msg.origins):
            by_track.setdefault(track_id, []).append(origin.sec + origin.nanosec * 1e-9)
    assert set(by_track) == set(targets) | set(vehicles), sorted(by_track)
    for track_id, origins in by_track.items():            # about 10 a second for the last ~4.5 s each
        assert len(origins) >= 20 and np.all(np.diff(origins) > 0), (track_id, len(origins))
    # latency: receive time - stamp of the TargetArray that completed the grid sample (the first at or after t0)
    sent = np.array(traffic.sent)
    latencies = [(when - sent[np.searchsorted(sent, origin.sec + origin.nanosec * 1e-9 - 1e-7)]) * 1e3
                 for when, msg in received for track_id, origin in zip(msg.track_ids, msg.origins)
                 if track_id.startswith("t")]
    p50, p99 = np.percentile(latencies, [50, 99])
    print(f"\n  20 targets at 20 Hz + 5 Odometry vehicles: {len(received)} batched messages, "
          f"{sum(map(len, by_track.values()))} predictions; target input -> prediction p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms (load {os.getloadavg()[0]:.2f})")
    assert min(latencies) > 0


def test_two_shards_split_one_topic_and_a_restarted_shard_takes_its_targets_back(checkpoint, tmp_path):
    import rclpy
    targets = [f"t{i}" for i in range(30)]
    owned = [{i for i in targets if shard_of(i, 2) == index} for index in (0, 1)]
    assert owned[0] and owned[1]

    def shard(index, log):
        return start(tmp_path, log, "-r", f"__node:=predictor_shard{index}", "-p", f"checkpoint:={checkpoint}",
                     "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true", "-p", "publish_markers:=false",
                     "-p", f"batch_topic:=/shard{index}/predicted_trajectories", "-p", "shard_count:=2",
                     "-p", f"shard_index:={index}")
    shards = [shard(0, "shard0"), shard(1, "shard1")]
    topics = ["/shard0/predicted_trajectories", "/shard1/predicted_trajectories"]
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        traffic = Traffic(context, topics)
        assert traffic.spin_until(lambda: traffic.serving(topics), 90), \
            f"{traffic.targets_pub.get_subscription_count()} readers of /targets after 90 s:\n" \
            + "\n".join(node.output()[-1500:] for node in shards)
        traffic.run(3.0, targets)
        stopped_at = time.time()
        code, output = stop(shards[1])
        assert code == 0 and "Traceback" not in output, output
        traffic.run(2.0, targets)                                      # shard 1 is down
        restarted_at = time.time()
        shards[1] = shard(1, "shard1_restarted")
        assert traffic.spin_until(lambda: traffic.serving(topics) and traffic.node.count_publishers(topics[1]), 90), \
            f"{traffic.targets_pub.get_subscription_count()} readers of /targets 90 s after the restart"
        traffic.run(3.0, targets)
        traffic.spin(1.0)
    finally:
        codes = [stop(node) for node in shards if node.poll() is None]
        rclpy.try_shutdown(context=context)
    assert all(code == 0 and "Traceback" not in output for code, output in codes), codes
    both = traffic.predicted(topics[0]) + traffic.predicted(topics[1])
    assert len(both) == len(set(both)), "a target's grid step was predicted twice"
    first = [traffic.predicted(topic, until=stopped_at) for topic in topics]
    assert [{track for track, _ in found} for found in first] == owned        # each shard exactly its own
    assert not {t for t, _ in first[0]} & {t for t, _ in first[1]}
    down = [traffic.predicted(topic, since=stopped_at + 0.5, until=restarted_at) for topic in topics]
    assert {track for track, _ in down[0]} == owned[0]                 # shard 0 goes on with its own only
    assert not {track for track, _ in down[1]}                         # nobody predicts shard 1's meanwhile
    back = [traffic.predicted(topic, since=restarted_at) for topic in topics]
    assert {track for track, _ in back[1]} == owned[1]                 # the restarted shard took them back
    assert {track for track, _ in back[0]} == owned[0]
