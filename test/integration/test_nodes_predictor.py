"""predictor_node across processes over loopback DDS: outputs, bad input, discovery, timeout, parameters.

One predictor_node process serves the whole scenario (DDS processes are slow to start); this test
process publishes crafted odometry with rclpy and records every output.
"""
import math
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from uav_traj_predictor import harness, rosenv

pytestmark = pytest.mark.ros

HORIZON, MIN_HISTORY, DT = 10, 5, 0.1
RATE = 20.0   # odometry rate of the crafted streams


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint):
    return random_checkpoint  # conftest: 10 Hz, horizon 10, min_history 5


def start(tmp_path, name, *ros_args):
    """Start an installed console script on this session's loopback DDS domain, output to a log file."""
    env = rosenv.loopback_env(domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    return harness.start([harness.console_script(name), "--ros-args", *ros_args], env, log=tmp_path / f"{name}.log",
                         cwd=tmp_path)


def stop(node, timeout=20):
    """SIGTERM; (exit code, output). SIGKILLed (code -9) when it does not stop within `timeout` s."""
    return harness.stop(node, signal.SIGTERM, timeout), node.output()


# ---- parameter validation ---------------------------------------------------------------------
BAD_CONFIGS = {
    "grid_rate": (["-p", "grid_rate:=20.0"], "grid rate 20 Hz differs from the checkpoint's 10 Hz"),
    "choice": (["-p", "backend:=gpu"],
               "parameter 'backend': must be one of ['auto', 'torch', 'numpy', 'triton'], got 'gpu'"),
    "range": (["-p", "track_timeout:=-1.0"], "parameter 'track_timeout'"),
    "type": (["-p", "max_gap:=abc"], "parameter 'max_gap'"),
    "regex": (["-p", "odom_topic_regex:=(["], "parameter 'odom_topic_regex': not a valid regex"),
    "typo": (["-p", "trak_timeout:=1.0"], "unknown parameter(s) ['trak_timeout']"),
    "no_input": ([], "no input: set 'odom_topics'"),
    "checkpoint": (["-p", "checkpoint:=/nonexistent/model.pt"], "/nonexistent/model.pt: no such checkpoint file"),
    "twist_pose": (["-p", "input_type:=pose", "-p", "velocity_source:=twist"],
                   "velocity_source 'twist' needs input_type 'odometry'"),
    "online_rate": (["-p", "online_calibration:=0.9"], "parameter 'online_calibration'"),
    "guard_rate": (["-p", "guard:=-0.1"], "parameter 'guard'"),
    "max_tracks": (["-p", "max_tracks:=0"], "parameter 'max_tracks'"),
    "too_many_topics": (["-p", "odom_topics:=['/a/odom', '/b/odom']", "-p", "max_tracks:=1"],
                        "parameter 'odom_topics': 2 topics exceed max_tracks 1"),
}


def test_wrong_parameters_are_refused_with_a_clear_message(checkpoint):
    """Each bad configuration raises ConfigError naming the parameter (nodes built in this process)."""
    import rclpy

    from uav_traj_predictor.nodes.params import ConfigError
    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        for case, (args, message) in BAD_CONFIGS.items():
            inputs = [] if case == "no_input" else ["-p", "odom_topics:=['/uav1/odom']"]
            cli = ["--ros-args", "-p", f"checkpoint:={checkpoint}", *inputs, *args]
            with pytest.raises(ConfigError) as error:
                PredictorNode(context=context, cli_args=cli)
            assert message in str(error.value), (case, str(error.value))
    finally:
        rclpy.try_shutdown(context=context)


def test_max_tracks_bounds_subscriptions_and_tracks_and_is_reported(checkpoint):
    """Topics beyond max_tracks are not subscribed, new track ids beyond it never allocated; /diagnostics
    says so (WARN, refused_topics, refused_samples)."""
    import rclpy

    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    context = rclpy.Context()
    rclpy.init(context=context)
    node = None
    try:
        node = PredictorNode(context=context, cli_args=[
            "--ros-args", "-p", f"checkpoint:={checkpoint}", "-p", "odom_topics:=['/uav1/odom', '/uav2/odom']",
            "-p", "odom_topic_regex:=/uav[0-9]+/odom", "-p", "max_tracks:=2"])
        assert node.config.max_tracks == 2 and node.bank.max_tracks == 2
        for topic in ("/uav3/odom", "/uav3/odom", "/uav4/odom"):      # what discovery would hand over
            node._subscribe(topic)
        assert sorted(node.inputs) == ["/uav1/odom", "/uav2/odom"] and node.stats["refused_topics"] == 2
        slots = node.bank.predictor.active_tracks
        now = node.get_clock().now().nanoseconds * 1e-9
        for k in range(5):
            for track in ("uav1", "uav2", "intruder"):
                node.bank.push(track, 100.0 + 0.05 * k, (0.1 * k, 0.0, 1.0), now=now)
        node._tick()
        assert set(node.bank.tracks) == {"uav1", "uav2"} and node.bank.refused_samples == 5
        assert node.bank.predictor.active_tracks == slots + 2     # the intruder got no slot
        assert node.stats["ignored.track_limit"] == 1                   # one event per refused id
        published = []
        node.diagnostics_pub = type("Recorder", (), {"publish": lambda self, msg: published.append(msg)})()
        node._publish_diagnostics()
        status = published[0].status[0]
        values = {kv.key: kv.value for kv in status.values}
        assert status.level == status.WARN and "max_tracks 2 reached" in status.message
        assert (values["max_tracks"], values["refused_topics"], values["refused_samples"]) == ("2", "2", "5")
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_wrong_parameter_exits_the_console_script_non_zero(console_script, ros_env, tmp_path):
    run = subprocess.run([console_script("predictor_node"), "--ros-args", "-p", "track_timeout:=-1.0"],
                         env=ros_env, cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert run.returncode == 2, run.stderr
    assert "predictor_node: configuration error: parameter 'track_timeout'" in run.stderr
    assert "[0.01, 3600.0]" in run.stderr and "Traceback" not in run.stderr


# ---- the live scenario ------------------------------------------------------------------------
class Scenario:
    """Crafted odometry publishers and recorders of every output, in this test process."""

    def __init__(self, context, tracks):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Odometry, Path
        from rclpy.qos import qos_profile_sensor_data
        from visualization_msgs.msg import MarkerArray

        from uav_traj_predictor.msg import PredictedTrajectory
        self.rclpy, self.Odometry = rclpy, Odometry
        self.node = rclpy.create_node("scenario", context=context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.pubs = {name: self.node.create_publisher(Odometry, f"/{name}/odom", qos_profile_sensor_data)
                     for name in tracks}
        self.trajectories = {name: [] for name in tracks}
        self.paths = {name: [] for name in tracks}
        for name in tracks:
            self.node.create_subscription(PredictedTrajectory, f"/{name}/predicted_trajectory",
                                          self.trajectories[name].append, 100)
            self.node.create_subscription(Path, f"/{name}/predicted_path", self.paths[name].append, 100)
        self.markers, self.diagnostics = [], []
        self.node.create_subscription(MarkerArray, "/predicted_markers", self.markers.append, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 100)

    def publish(self, name, stamp, position, frame="map", orientation=(0.0, 0.0, 0.0, 1.0), twist=(0.0, 0.0, 0.0)):
        msg = self.Odometry()
        sec = math.floor(stamp)
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(sec), int(round((stamp - sec) * 1e9)) % 1_000_000_000
        msg.header.frame_id = frame
        msg.child_frame_id = "base_link"
        msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = map(float, position)
        o = msg.pose.pose.orientation
        o.x, o.y, o.z, o.w = map(float, orientation)
        msg.twist.twist.linear.x, msg.twist.twist.linear.y, msg.twist.twist.linear.z = map(float, twist)
        self.pubs[name].publish(msg)

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def spin_until(self, condition, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not condition():
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def set_parameter_async(self, name, value):
        """Request a parameter change without blocking the publishing loop; returns the future."""
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters
        request = SetParameters.Request(parameters=[Parameter(name=name, value=ParameterValue(
            type=ParameterType.PARAMETER_INTEGER, integer_value=value))])
        return self.parameter_client.call_async(request)

    def last_diagnostics(self):
        return {s.name: (s.message, {kv.key: kv.value for kv in s.values}) for s in self.diagnostics[-1].status}


def circle(t, radius=3.0, omega=0.8, offset=(0.0, 0.0, 2.0)):
    return np.array([radius * math.cos(omega * t), radius * math.sin(omega * t), 0.0]) + offset


@pytest.fixture(scope="module")
def scenario_run(checkpoint, tmp_path_factory):
    """Run predictor_node and the whole scripted scenario once; tests below assert on the recordings."""
    import rclpy
    tmp = tmp_path_factory.mktemp("predictor")
    node = start(tmp, "predictor_node",
                 "-p", f"checkpoint:={checkpoint}",
                 "-p", "odom_topics:=['/t1/odom', '/t2/odom', '/bad/odom', '/noisy/odom']",
                 "-p", "odom_topic_regex:=/disc[0-9]+/odom", "-p", "discovery_period:=0.3",
                 "-p", "track_timeout:=1.0", "-p", "max_speed:=20.0", "-p", "marker_rate:=10.0",
                 "-p", "diagnostics_period:=0.5")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        sc = Scenario(context, ["t1", "t2", "bad", "disc1", "noisy"])
        ready = sc.spin_until(lambda: all(p.get_subscription_count() > 0 for p in sc.pubs.values()), 60)
        assert ready, "predictor_node did not subscribe to every input within 60 s"
        from rcl_interfaces.srv import SetParameters
        sc.parameter_client = sc.node.create_client(SetParameters, "/predictor_node/set_parameters")
        assert sc.parameter_client.wait_for_service(timeout_sec=30)
        start_wall = time.time()
        bad_offset, bad_shift, steps = 0.0, np.zeros(3), int(5.0 * RATE)
        noise = np.random.default_rng(0).normal(0, 0.02, (steps, 3))   # VIO-like 2 cm position noise
        for k in range(steps):
            t = k / RATE                 # regular stamps: a stalled test process cannot fake a gap
            now = start_wall + t
            sc.publish("t1", now, circle(t))
            if t < 2.5:                                           # then silent: dropped after 1 s
                sc.publish("t2", now, circle(t, 5.0, -0.5), frame="odom")
            sc.publish("disc1", now, circle(t, 1.0, 1.5))
            sc.publish("noisy", now, circle(t, 2.0, 0.6) + noise[k])
            stamp = 1000.0 + k / RATE + bad_offset
            if k == 40:
                sc.publish("bad", stamp, [math.nan, 0.0, 1.0])          # non-finite
            elif k == 41:
                sc.publish("bad", 1000.0 + 39 / RATE, circle(39 / RATE))  # duplicate stamp
            elif k == 42:
                sc.publish("bad", stamp - 0.3, circle(k / RATE))       # out of order
            elif k == 43:
                sc.publish("bad", 0.0, circle(k / RATE))               # zero stamp
            else:
                if k == 45:
                    bad_offset += 0.5                                   # gap
                if k == 60:
                    bad_shift = np.array([50.0, 0.0, 0.0])              # teleport: 1000 m/s
                if k == 75:
                    bad_offset -= 10.0                                  # clock jumps back
                sc.publish("bad", 1000.0 + k / RATE + bad_offset, circle(k / RATE) + bad_shift)
            if k == 60:
                rejected = sc.set_parameter_async("horizon_steps", HORIZON + 5)
                accepted = sc.set_parameter_async("horizon_steps", 4)
            sc.spin(max(0.0, start_wall + (k + 1) / RATE - time.time()))
        sc.final_diagnostics = sc.last_diagnostics()    # before the tracks time out
        sc.spin(1.0)
        assert sc.spin_until(lambda: rejected.done() and accepted.done(), 30)
        sc.rejected, sc.accepted = rejected.result().results[0], accepted.result().results[0]
        yield sc
    finally:
        code, output = stop(node)
        rclpy.try_shutdown(context=context)
    assert code == 0, output
    assert "Traceback" not in output, output


def stamp(msg_time):
    return msg_time.sec + msg_time.nanosec * 1e-9


def nanoseconds(msg_time):
    return msg_time.sec * 1_000_000_000 + msg_time.nanosec


DT_NS = 100_000_000


def test_every_vehicle_gets_future_stamped_bounded_predictions_in_its_frame(scenario_run):
    sc = scenario_run
    for name, frame in (("t1", "map"), ("t2", "odom"), ("disc1", "map")):
        trajectories, paths = sc.trajectories[name], sc.paths[name]
        assert len(trajectories) >= 15 and len(paths) >= 15, name
        for msg in trajectories:
            step = stamp(msg.time_step)
            assert msg.header.frame_id == frame and msg.track_id == name
            assert step == pytest.approx(DT) and nanoseconds(msg.horizon_start) == nanoseconds(msg.header.stamp) + DT_NS
            assert len(msg.positions) == len(msg.velocities) == len(msg.position_std) in (HORIZON, 4)
            assert msg.calibrated and all(math.isfinite(p.x) and math.isfinite(s.z)
                                          for p, s in zip(msg.positions, msg.position_std))
        t0s = np.array([stamp(m.header.stamp) for m in trajectories])
        steps = np.diff(t0s) / DT       # one per grid step; a burst that arrives together gives only the newest
        assert np.allclose(steps, np.round(steps), atol=1e-5) and steps.min() > 0.5, f"{name}: {steps}"
        assert np.mean(np.round(steps) == 1) > 0.8, f"{name}: too many skipped grid steps {steps}"
        for path in paths:
            poses = [nanoseconds(p.header.stamp) - nanoseconds(path.header.stamp) for p in path.poses]
            assert path.header.frame_id == frame and len(poses) in (HORIZON, 4)
            assert poses == [DT_NS * k for k in range(1, len(poses) + 1)]      # future, spaced by dt exactly
        statuses = [m.status for m in trajectories]
        assert statuses[0] == 1 and statuses[-1] == 0           # warming up (CV), then tracking
        assert [m.model_id for m in trajectories][:2] == ["cv", "cv"] and trajectories[-1].model_id == "test-random"


def test_discovered_topic_is_a_track(scenario_run):
    assert scenario_run.trajectories["disc1"], "the regex-discovered /disc1/odom gave no predictions"


def test_runtime_horizon_change_is_validated_and_applied(scenario_run):
    sc = scenario_run
    assert not sc.rejected.successful and "exceeds the checkpoint's 10" in sc.rejected.reason
    assert sc.accepted.successful
    assert len(sc.trajectories["t1"][-1].positions) == 4 and len(sc.paths["t1"][-1].poses) == 4


def test_bad_input_resets_or_is_ignored_and_never_published(scenario_run):
    sc = scenario_run
    trajectories = sc.trajectories["bad"]
    assert trajectories
    for msg in trajectories:
        assert all(math.isfinite(v) for p in msg.positions for v in (p.x, p.y, p.z))
        assert max(abs(p.x) for p in msg.positions) < 80          # nothing extrapolated across the teleport
    _, values = sc.final_diagnostics["predictor_node: bad"]
    for key in ("resets.gap", "resets.teleport", "resets.time_backwards", "ignored.non_finite",
                "ignored.duplicate", "ignored.out_of_order", "ignored.zero_stamp"):
        assert int(values.get(key, 0)) >= 1, (key, values)
    statuses = [m.status for m in trajectories]
    restarts = sum(1 for a, b in zip(statuses, statuses[1:]) if a == 0 and b == 1)
    assert restarts >= 3, statuses                            # tracking -> warming up after each reset


def test_silent_track_times_out_markers_deleted_and_diagnostics_report_it(scenario_run):
    sc = scenario_run
    from visualization_msgs.msg import Marker
    markers = [m for array in sc.markers for m in array.markers]
    t1 = [m for m in markers if m.ns == "t1" and m.action == Marker.ADD]
    assert {Marker.LINE_STRIP, Marker.SPHERE} <= {m.type for m in t1}
    assert any(m.ns == "t2" and m.action == Marker.DELETE for m in markers)
    diagnostics = sc.final_diagnostics
    assert diagnostics["predictor_node: t2"][0].startswith("no track")
    assert diagnostics["predictor_node: t1"][0] == "tracking"
    node = diagnostics["predictor_node"][1]
    assert int(node["dropped.timeout"]) >= 1 and float(node["latency_p99_ms"]) > 0
    last_t2 = stamp(sc.trajectories["t2"][-1].header.stamp)
    assert last_t2 < stamp(sc.trajectories["t1"][-1].header.stamp) - 1.5


def test_noisy_positions_are_reported_with_a_pointer_to_the_twist_source(scenario_run):
    diagnostics = scenario_run.final_diagnostics
    message, values = diagnostics["predictor_node: noisy"]                # a model that reads the noise level
    assert "noise ~" in message and "read by the model" in message and "velocity_source twist" in message, message
    assert 10 < float(values["position_jitter_mm"]) < 40          # 2 cm white noise, estimated
    message, values = diagnostics["predictor_node: t1"]
    assert message == "tracking" and float(values["position_jitter_mm"]) < 1
    assert 0.0 <= float(values["guard_weight"]) <= 1.0                 # the guard is on by default


def test_twist_source_predicts_from_the_rotated_body_velocity(checkpoint, tmp_path):
    """velocity_source twist: a vehicle holding its position while its twist says 1 m/s forward, yawed
    90 degrees, is predicted to move +y at 1 m/s (warm-up constant velocity from the twist); a message
    whose orientation is no rotation is ignored, not used."""
    import rclpy
    node = start(tmp_path, "predictor_node", "-p", f"checkpoint:={checkpoint}", "-p", "odom_topics:=['/tw/odom']",
                 "-p", "velocity_source:=twist", "-p", "online_calibration:=0.0", "-p", "diagnostics_period:=0.2")
    context = rclpy.Context()
    rclpy.init(context=context)
    yaw90 = (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4))
    try:
        sc = Scenario(context, ["tw"])
        assert sc.spin_until(lambda: sc.pubs["tw"].get_subscription_count() > 0, 60), "no subscription"
        start_wall, invalid_sent = time.time(), False
        for k in range(int(1.5 * RATE)):
            # The invalid sample goes out once the node has answered: the publisher seeing the subscription
            # does not mean the node's reader has matched the writer yet (Fast DDS 3 drops the first
            # samples then; a Kilted CI failure), so a fixed k could be lost before it is read.
            invalid = not invalid_sent and bool(sc.trajectories["tw"])
            invalid_sent |= invalid
            orientation = (0.0, 0.0, 0.0, 0.0) if invalid else yaw90
            sc.publish("tw", start_wall + k / RATE, (1.0, 2.0, 3.0), orientation=orientation, twist=(1.0, 0.0, 0.0))
            sc.spin(max(0.0, start_wall + (k + 1) / RATE - time.time()))
        assert invalid_sent, "no prediction during 1.5 s of input"

        def reported():                      # the node's diagnostics (every 0.2 s) counted the ignored sample
            return [kv for d in sc.diagnostics for s in d.status for kv in s.values if "invalid_orientation" in kv.key]
        sc.spin_until(lambda: bool(reported()), 15)      # a loaded machine may delay the next report
        sc.spin(0.3)
    finally:
        code, output = stop(node)
        rclpy.try_shutdown(context=context)
    assert code == 0 and "Traceback" not in output, output
    from uav_traj_predictor.msg import PredictedTrajectory
    warm = [m for m in sc.trajectories["tw"] if m.status == PredictedTrajectory.STATUS_WARMING_UP]
    assert len(warm) >= 3, f"{len(sc.trajectories['tw'])} predictions, {len(warm)} warming up"
    for message in warm:
        got = np.array([(p.x, p.y, p.z) for p in message.positions])
        expected = np.array([1.0, 2.0, 3.0]) + np.outer(np.arange(1, HORIZON + 1) * DT, [0.0, 1.0, 0.0])
        np.testing.assert_allclose(got, expected, atol=1e-6)
    ignored = reported()
    assert ignored and max(int(kv.value) for kv in ignored) == 1
