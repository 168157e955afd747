"""sim_node over loopback DDS: odometry as real odometry publishes it, /clock, and the predictor on sim time."""
import math
import signal
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor import harness

pytestmark = pytest.mark.ros


def test_sim_odometry_and_clock_drive_a_sim_time_predictor(console_script, ros_env, tmp_path, random_checkpoint):
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock

    from uav_traj_predictor.msg import PredictedTrajectory
    children = [
        harness.start([console_script("sim_node"), "--ros-args", "-p", "num_vehicles:=2", "-p", "rate:=50.0",
                       "-p", "publish_clock:=true", "-p", "frame_id:=odom", "-p", "seed:=3"],
                      ros_env, log=tmp_path / "sim_node.log", cwd=tmp_path),
        harness.start([console_script("predictor_node"), "--ros-args", "-p", "use_sim_time:=true",
                       "-p", "odom_topic_regex:=/uav[0-9]+/odom", "-p", "discovery_period:=0.3",
                       "-p", f"checkpoint:={random_checkpoint}"],
                      ros_env, log=tmp_path / "predictor_node.log", cwd=tmp_path),
    ]
    context = rclpy.Context()
    rclpy.init(context=context)
    odometry, clock, predictions = {1: [], 2: []}, [], []
    try:
        node = rclpy.create_node("sim_check", context=context)
        # best effort as the publisher, but a deep history: a test process descheduled for a moment must not
        # lose samples to a keep-last-5 queue (the sensor-data profile's depth)
        deep_sensor_qos = QoSProfile(depth=1000, reliability=qos_profile_sensor_data.reliability,
                                     durability=qos_profile_sensor_data.durability)
        for i in (1, 2):
            node.create_subscription(Odometry, f"/uav{i}/odom", odometry[i].append, deep_sensor_qos)
        node.create_subscription(Clock, "/clock", clock.append, 100)
        node.create_subscription(PredictedTrajectory, "/uav2/predicted_trajectory", predictions.append, 100)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (len(predictions) < 10 or len(odometry[1]) < 100):
            executor.spin_once(timeout_sec=0.05)
            harness.check_running(children)
    finally:
        codes = harness.stop_all(children, signal.SIGTERM, timeout=30)
        rclpy.try_shutdown(context=context)
    outputs = {child.name: child.output() for child in children}
    assert codes == [0, 0] and "Traceback" not in "".join(outputs.values()), outputs
    assert len(predictions) >= 10, outputs

    messages = odometry[1]
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in messages])
    clock_stamps = np.array([c.clock.sec + c.clock.nanosec * 1e-9 for c in clock])
    assert stamps.max() < 600 and np.all(np.diff(clock_stamps) > 0)      # simulated time from 0, monotonic
    periods = np.diff(stamps) / 0.02                                      # whole periods between received
    assert np.allclose(periods, np.round(periods), atol=1e-4) and periods.min() >= 1 - 1e-4   # samples, and
    assert np.mean(np.round(periods) == 1) > 0.95                         # (best effort) almost all consecutive
    assert {m.header.frame_id for m in messages} == {"odom"} and {m.child_frame_id for m in messages} == {"base_link"}
    positions = np.array([[m.pose.pose.position.x, m.pose.pose.position.y, m.pose.pose.position.z] for m in messages])
    quats = np.array([[m.pose.pose.orientation.x, m.pose.pose.orientation.y, m.pose.pose.orientation.z,
                       m.pose.pose.orientation.w] for m in messages])
    body = np.array([[m.twist.twist.linear.x, m.twist.twist.linear.y, m.twist.twist.linear.z] for m in messages])
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-9)
    world = Rotation.from_quat(quats).apply(body)                        # twist is in base_link: rotate back
    finite_difference = np.gradient(positions, stamps, axis=0)
    assert np.median(np.linalg.norm(world - finite_difference, axis=1)) < 0.05 + 0.02 * np.abs(world).max()
    second = np.array([[m.pose.pose.position.x for m in odometry[2]]])
    assert abs(np.median(second) - np.median(positions[:, 0])) > 5        # vehicles are spaced apart

    t0 = np.array([p.header.stamp.sec + p.header.stamp.nanosec * 1e-9 for p in predictions])
    assert t0.max() < 600, "use_sim_time: predictions are stamped in simulated time"
    assert {p.header.frame_id for p in predictions} == {"odom"} and math.isfinite(predictions[-1].positions[-1].x)


