"""The datagen_commander node over loopback DDS (embedded-sim backend): it flies, exits 0 and publishes its
marks (`uav-traj datagen run|check`: test/unit/datagen/test_datagen_cli.py)."""
import signal
import time

import pytest

from uav_traj_predictor import harness


@pytest.mark.ros
def test_datagen_commander_node_publishes_marks(tmp_path, datagen_short_config, ros_env, console_script):
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from std_msgs.msg import String

    rclpy.init()
    node = rclpy.create_node("datagen_marks_listener")
    marks = []
    node.create_subscription(String, "/datagen/markers", lambda m: marks.append(m.data),
                             QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    process = harness.start([console_script("datagen_commander"), "--ros-args", "-p", "backend:=sim",
                             "-p", f"config:={datagen_short_config}", "-p", f"out_dir:={tmp_path / 'node'}",
                             "-p", "wait_for_subscribers:=1", "-p", "wait_timeout:=20.0"],
                            ros_env, log=tmp_path / "datagen_commander.log")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.05)
        for _ in range(10):                    # messages still in flight when it exited
            rclpy.spin_once(node, timeout_sec=0.05)
        process.wait(timeout=10)
        output = process.output()
    finally:
        harness.stop(process, signal.SIGKILL)  # only if it still runs
        node.destroy_node()
        rclpy.shutdown()
    assert process.returncode == 0, output
    assert "final state DONE; 1 flown" in output
    assert (tmp_path / "node" / "card.yaml").is_file()
    assert marks == ["start 0 hover_dash", "end 0"], (marks, output)
