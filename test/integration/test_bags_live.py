"""Live replay across processes (loopback DDS): `bag play` -> predictor_node -> `bag record`, then
`bag eval` of the recorded predictions against the offline stream over the same bag."""
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from helpers.checkpoints import random_checkpoint
from uav_traj_predictor import harness
from uav_traj_predictor.bags.from_flight import write_flights_bag
from uav_traj_predictor.bags.replay_eval import (PredictionTable, evaluate_bag, read_odometry,
                                                 read_recorded_predictions, score_table,
                                                 stream_through_trackbank)
from uav_traj_predictor.bags.storage import open_bag
from uav_traj_predictor.data.flight import make_flight
from uav_traj_predictor.evaluate import Protocol
from uav_traj_predictor.model import StreamingPredictor

pytestmark = pytest.mark.ros

RATE_HZ = 100.0


def flight(seconds, t_start=1_600_000_000.25, seed=4):
    rng = np.random.default_rng(seed)
    t = t_start + np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    s = t - t_start
    p = np.column_stack([4 * np.sin(0.4 * s), 2 * np.sin(0.8 * s), 1.5 + 0.1 * s]) + rng.normal(0, 0.002, (len(t), 3))
    return make_flight("live", "live.txt", t, p)


def stop(child, sig=signal.SIGTERM, timeout=15):
    """Signal a child we started and return its output (killed, and the test failed, if it does not stop
    in time)."""
    if harness.stop(child, sig, timeout) == -signal.SIGKILL:
        pytest.fail(f"{child.name} did not stop on {sig!r}:\n{child.output()}")
    return child.output()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt", seed=1, model_id="live-random",
                             cv_std=[0.02 * (k + 1) for k in range(10)])


def warmed_up_flight(seconds, t_start=1_600_000_000.25):
    """`seconds` of flight preceded by 1 s of warm-up samples and a 0.5 s gap.

    The node's first tick (first torch call) is slow and its sensor-data QoS (depth 5) drops samples
    meanwhile, so its grid would start later than the offline one. The warm-up segment takes that
    hit; the gap (> max_gap) makes node and offline preprocessing both start a new segment exactly at
    the first real sample. The warm-up is too short for any protocol window.
    """
    warm, real = flight(1.0, t_start=t_start - 1.5, seed=5), flight(seconds, t_start=t_start)
    return make_flight("live", "live.txt", np.concatenate([warm.t, real.t]), np.concatenate([warm.p, real.p]))


@pytest.mark.slow
def test_play_into_predictor_node_and_record_matches_offline(tmp_path, ros_env, console_script, checkpoint):
    source, recorded = tmp_path / "source", tmp_path / "recorded"
    write_flights_bag([warmed_up_flight(15.0)], source)
    uav_traj = console_script("uav-traj")
    node = harness.start([console_script("predictor_node"), "--ros-args", "-p", f"checkpoint:={checkpoint}",
                          "-p", "odom_topics:=['/odom']", "-p", "publish_markers:=false"], ros_env,
                         log=tmp_path / "predictor_node.log")
    recorder = harness.start([uav_traj, "bag", "record", "/odom", "/predicted_trajectory", "--out", str(recorded)],
                             ros_env, log=tmp_path / "recorder.log")
    try:
        # --delay: the node's best-effort reader matches the player's writer a moment after the writer
        # sees it; samples sent in between are lost (the warm-up segment absorbs that too).
        player = subprocess.run([uav_traj, "bag", "play", str(source), "--rate", "2", "--wait-for-subscribers", "2",
                                 "--wait-timeout", "60", "--delay", "1"],
                                env=ros_env, capture_output=True, text=True, timeout=120)
        time.sleep(1.0)                                   # the last predictions reach the recorder
    finally:
        record_log = stop(recorder)                       # SIGTERM: a clean stop that flushes the bag
        node_log = stop(node)
    logs = f"player:\n{player.stdout}{player.stderr}\nrecorder:\n{record_log}\nnode:\n{node_log}"
    assert player.returncode == 0 and "played 1600 messages" in player.stdout, logs
    assert recorder.returncode == 0, logs
    assert "/odom [nav_msgs/msg/Odometry]: 1600" in record_log, logs
    assert "/predicted_trajectory [uav_traj_predictor/msg/PredictedTrajectory]" in record_log, logs

    bag = open_bag(recorded)
    assert bag.topics["/predicted_trajectory"].qos, "the publisher's offered QoS is recorded"
    from rosbags.highlevel import AnyReader
    with AnyReader([recorded]) as reader:               # the custom type's definition travels with the bag
        definition = reader.topics["/predicted_trajectory"].msgdef.data
    assert "STATUS_FALLBACK_CV" in definition and "position_std" in definition
    report = evaluate_bag(recorded, checkpoint=checkpoint, methods=["model"], predictions_topic="/predicted_trajectory")
    coverage = report["bag"]["coverage"]
    assert coverage["model"]["covered"] == coverage["model"]["defined"] > 100
    assert coverage["recorded"]["covered"] >= 0.95 * coverage["recorded"]["defined"], (coverage, logs)

    # Same windows: the offline TrackBank stream restricted to the windows the live node predicted.
    protocol = Protocol()
    truth = read_odometry(recorded, ["/odom"])
    offline = stream_through_trackbank(truth, StreamingPredictor(checkpoint), protocol.preprocess_config())["/odom"]
    live = next(iter(read_recorded_predictions(bag, "/predicted_trajectory").values()))
    keep = np.isin(np.round(offline.t0, 6), np.round(live.t0, 6))
    same = PredictionTable(offline.t0[keep], offline.positions[keep], [s for s, k in zip(offline.std, keep) if k])
    live_scores, live_windows, _ = score_table(truth["/odom"], live, protocol)
    offline_scores, offline_windows, _ = score_table(truth["/odom"], same, protocol)
    assert live_windows == offline_windows == coverage["recorded"]["covered"]
    assert np.abs(live_scores.errors - offline_scores.errors).max() < 0.01
    if coverage["recorded"]["covered"] == coverage["recorded"]["defined"]:
        for key in ("ade", "fde", "ade_0p5"):
            assert abs(report["pooled"]["recorded"][key] - report["pooled"]["model"][key]) < 0.01


def test_play_remaps_offsets_and_publishes_raw_bytes_and_clock(tmp_path, ros_env, console_script):
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rosgraph_msgs.msg import Clock

    source = tmp_path / "source"
    write_flights_bag([flight(3.0)], source)
    stored = [m.data for m in open_bag(source).messages()]
    received, clocks = [], []
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bag_play_probe", context=context)
    node.create_subscription(Odometry, "/uav9/odom", received.append, 1000, raw=True)
    node.create_subscription(Clock, "/clock", lambda m: clocks.append(m.clock.sec + m.clock.nanosec * 1e-9), 100)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    done = threading.Event()

    def spin():
        while not done.is_set():
            executor.spin_once(timeout_sec=0.05)
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        player = subprocess.run([console_script("uav-traj"), "bag", "play", str(source), "--rate", "4",
                                 "--start-offset", "1", "--remap", "/odom:=/uav9/odom", "--clock", "50",
                                 "--wait-for-subscribers", "1", "--delay", "0.5"],
                                env=ros_env, capture_output=True, text=True, timeout=60)
        time.sleep(0.3)
    finally:
        done.set()
        spinner.join()
        node.destroy_node()
        context.try_shutdown()
    assert player.returncode == 0, player.stdout + player.stderr
    assert "played 200 messages" in player.stdout and "/uav9/odom: 200" in player.stdout
    assert [bytes(m) for m in received] == stored[100:]          # raw CDR, byte for byte, after 1 s
    assert len(clocks) >= 10 and np.all(np.diff(clocks) >= 0)
    assert 1_600_000_001.2 <= clocks[0] and clocks[-1] <= 1_600_000_003.3


def test_record_stops_on_duration_and_names_missing_topics(tmp_path, ros_env, console_script):
    out = tmp_path / "empty"
    result = subprocess.run([console_script("uav-traj"), "bag", "record", "/nobody/publishes", "--out", str(out),
                             "--duration", "0.5"], env=ros_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "/nobody/publishes: not recorded (never published while recording)" in result.stdout
    assert open_bag(out).message_count == 0                      # a valid, empty bag (metadata flushed)


def test_loop_replays_until_stopped(tmp_path):
    import uav_traj_predictor.bags.ros  # noqa: F401  (rclpy imported before the clock starts)
    from uav_traj_predictor.bags.play import PlayOptions, play_bag
    source = tmp_path / "short"
    write_flights_bag([flight(0.5)], source)                     # 50 messages, 0.05 s at 10x
    stop_event = threading.Event()
    threading.Timer(1.5, stop_event.set).start()
    stats = play_bag(source, PlayOptions(rate=10.0, loop=True, topics=["/odom"]), stop=stop_event)
    assert stats.stopped and stats.loops >= 3
    assert stats.total >= 3 * 50 and stats.published["/odom"] == stats.total


@pytest.mark.slow
def test_targets_bag_plays_into_predictor_node_and_its_batched_output_is_scored(tmp_path, ros_env, console_script,
                                                                             checkpoint):
    """Two flights as targets of one TargetArray topic (with covariances): `bag play` -> predictor_node
    (target_topics, publish_batch) -> `bag record` of the targets and the PredictedTrajectoryArray, then
    `bag eval --predictions-topic` scores the live predictions like the offline stream."""
    from uav_traj_predictor.bags.writer import BagWriter, write_targets
    source, recorded = tmp_path / "source", tmp_path / "recorded"
    flights = {"a": warmed_up_flight(10.0), "b": warmed_up_flight(10.0)}
    flights["b"] = make_flight("b", "b.txt", flights["b"].t, flights["b"].p + [20.0, 0.0, 0.0])
    with BagWriter(source) as writer:
        write_targets(writer, "/targets", {name: (f.t, f.p) for name, f in flights.items()}, sigma=0.01)
    uav_traj = console_script("uav-traj")
    node = harness.start([console_script("predictor_node"), "--ros-args", "-p", f"checkpoint:={checkpoint}",
                          "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true",
                          "-p", "publish_markers:=false"], ros_env, log=tmp_path / "predictor_node.log")
    recorder = harness.start([uav_traj, "bag", "record", "/targets", "/predicted_trajectories", "--out",
                              str(recorded)], ros_env, log=tmp_path / "recorder.log")
    try:
        player = subprocess.run([uav_traj, "bag", "play", str(source), "--rate", "2", "--wait-for-subscribers", "2",
                                 "--wait-timeout", "60", "--delay", "1"],
                                env=ros_env, capture_output=True, text=True, timeout=120)
        time.sleep(1.0)
    finally:
        record_log = stop(recorder)
        node_log = stop(node)
    logs = f"player:\n{player.stdout}{player.stderr}\nrecorder:\n{record_log}\nnode:\n{node_log}"
    assert player.returncode == 0 and "played 1100 messages" in player.stdout, logs
    assert "/targets [uav_traj_predictor/msg/TargetArray]: 1100" in record_log, logs
    assert "/predicted_trajectories [uav_traj_predictor/msg/PredictedTrajectoryArray]" in record_log, logs
    report = evaluate_bag(recorded, checkpoint=checkpoint, methods=["model"],
                          predictions_topic="/predicted_trajectories")
    assert report["bag"]["tracks"] == ["a", "b"]
    coverage = report["bag"]["coverage"]
    assert coverage["model"]["covered"] == coverage["model"]["defined"] > 100
    assert coverage["recorded"]["covered"] >= 0.95 * coverage["recorded"]["defined"], (coverage, logs)
    assert abs(report["pooled"]["recorded"]["ade"] - report["pooled"]["model"]["ade"]) < 0.02, report["pooled"]
