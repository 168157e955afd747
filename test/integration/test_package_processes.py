"""The package across processes: a PredictedTrajectory from one process to another over loopback DDS, and
the colcon build in a throw-away workspace (with the lookup `ros2 launch` makes in that install)."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import REPO
from helpers.install import launch_lookup_problems
from uav_traj_predictor import harness


PUBLISHER = textwrap.dedent("""
    import time, rclpy
    from builtin_interfaces.msg import Duration
    from geometry_msgs.msg import Point, Vector3
    from uav_traj_predictor.msg import PredictedTrajectory
    rclpy.init()
    node = rclpy.create_node("test_traj_pub")
    pub = node.create_publisher(PredictedTrajectory, "/test/predicted", 10)
    msg = PredictedTrajectory(track_id="uav7", model_id="test", status=PredictedTrajectory.STATUS_TRACKING)
    msg.header.frame_id = "map"
    msg.time_step = Duration(sec=0, nanosec=100_000_000)
    msg.positions = [Point(x=float(k), y=2.0 * k, z=1.0) for k in range(10)]
    msg.position_std = [Vector3(x=0.1 * k, y=0.1 * k, z=0.05 * k) for k in range(10)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    rclpy.shutdown()
""")
SUBSCRIBER = textwrap.dedent("""
    import sys, rclpy
    from uav_traj_predictor.msg import PredictedTrajectory
    rclpy.init()
    node = rclpy.create_node("test_traj_sub")
    got = []
    node.create_subscription(PredictedTrajectory, "/test/predicted", got.append, 10)
    import time
    deadline = time.monotonic() + 20
    while not got and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    m = got[0]
    print(m.track_id, m.header.frame_id, len(m.positions), m.positions[3].y, m.position_std[9].z, m.time_step.nanosec)
    rclpy.shutdown()
""")


@pytest.mark.ros
def test_predicted_trajectory_crosses_processes_over_loopback_dds(ros_env):
    pub = harness.start([sys.executable, "-c", PUBLISHER], ros_env, cwd="/")
    try:
        sub = subprocess.run([sys.executable, "-c", SUBSCRIBER], env=ros_env, cwd="/",
                             capture_output=True, text=True, timeout=60)
    finally:
        harness.stop(pub, signal.SIGTERM, timeout=30)
    assert sub.returncode == 0, sub.stderr
    assert sub.stdout.split() == ["uav7", "map", "10", "6.0", "0.45", "100000000"]


@pytest.mark.slow
def test_colcon_builds_the_package_in_a_throwaway_workspace(tmp_path):
    started = time.monotonic()
    result = subprocess.run(["bash", str(REPO / "tools" / "colcon_check.sh"), str(tmp_path / "ws")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "colcon install OK" in result.stdout
    print(f"colcon build + import check: {time.monotonic() - started:.1f} s")
    # the lookup `ros2 launch` makes in the colcon install (overlay first, as `source install/setup.bash` does)
    install = tmp_path / "ws" / "install"
    site = next((install / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, AMENT_PREFIX_PATH=f"{install}:{sys.prefix}", PATH=f"{Path(sys.executable).parent}:"
               f"{os.environ.get('PATH', '')}", PYTHONPATH=str(site), LD_LIBRARY_PATH=str(install / "lib"))
    for name in ("_ROS_WHEELS_BOOTSTRAP_COMPLETE",):
        env.pop(name, None)
    assert launch_lookup_problems(env, install) == []
