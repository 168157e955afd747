"""datagen_commander: the trajectory commander as a ROS 2 node (thin adapter over `datagen`).

It runs `datagen.run_datagen` in a worker thread with the PX4 (MAVSDK offboard) or embedded-sim backend,
writes the same output as `uav-traj datagen run` (bag, TUM files, card.yaml in `out_dir`), and publishes
what the commander sees so that a ROS recorder (`uav-traj bag record ...`, see
launch/px4_gazebo_datagen.launch.py) captures the trajectory boundaries next to Gazebo's odometry:

    /datagen/markers   std_msgs/String, transient local, depth 100: "start <id> <family>", "end <id>",
                       "abort <id> <reason>"
    /datagen/odometry  nav_msgs/Odometry: the vehicle state the commander tracks (PX4's estimate over
                       MAVSDK, or the simulator's truth), ENU world frame, twist in base_link

Stamps are the backend clock: wall time for PX4, simulated time from 0 for the sim backend (which runs
faster than real time; for the sim the CLI is the simpler path). The node exits when the run ends
(`shutdown_when_done`), with status 0 if every trajectory was flown. With `wait_for_subscribers`, it
waits (bounded by `wait_timeout`) for the recorder to subscribe to the marks before flying.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

import rclpy
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from std_msgs.msg import String

from ..config import ConfigError, setting
from ..frames import world_to_body
from .params import NODE_OPTIONS, NodeParameters, declare
from .lifecycle import help_requested, init_ros, print_help, shutdown_node

@dataclass(frozen=True)
class DatagenParameters(NodeParameters):
    """datagen_commander's parameters (docs/datagen.md)."""
    backend: str = setting("px4", "Vehicle backend.", choices=("px4", "sim"))
    config: str = setting("", "datagen YAML (config/datagen.yaml); empty = built-in defaults.")
    out_dir: str = setting("", "Output directory (bag, trajectories, card.yaml); empty = out_dir of the config.")
    trajectories: int = setting(0, "Number of trajectories; 0 = from the config.", low=0, high=100000)
    seed: int = setting(-1, "Seed of the references; -1 = from the config.", low=-1, high=2**31 - 1)
    url: str = setting("", "MAVSDK connection URL for backend px4; empty = px4.url of the config.")
    marker_topic: str = setting("/datagen/markers", "Trajectory boundary marks (std_msgs/String).")
    odometry_topic: str = setting("/datagen/odometry", "Commander's vehicle state (nav_msgs/Odometry); empty = off.")
    frame_id: str = setting("world", "World frame of the published odometry.")
    shutdown_when_done: bool = setting(True, "Exit when the run ends.")
    wait_for_subscribers: int = setting(0, "Start flying once the marker topic has this many subscribers "
                                        "(e.g. the recorder).", low=0, high=100)
    wait_timeout: float = setting(30.0, "Give up waiting for subscribers after this many seconds (then fly anyway).",
                                  low=0.0, high=3600.0)


class DatagenNode(Node):
    """Worker thread: run_datagen(...) with this node as a listener that publishes marks and odometry."""

    def __init__(self, **node_options):
        super().__init__("datagen_commander", **{**NODE_OPTIONS, **node_options})
        from ..datagen.config import load_config
        from ..datagen.run import make_backend
        self.params = params = declare(self, DatagenParameters)
        try:
            self.datagen_config = load_config(params.config or None, trajectories=params.trajectories or None,
                                              seed=None if params.seed < 0 else params.seed)
            if params.url:
                self.datagen_config = self.datagen_config.replace(px4=dict(self.datagen_config.px4, url=params.url))
            self.backend = make_backend(params.backend, self.datagen_config)
        except ConfigError:
            raise
        except ValueError as err:          # a backend refusing its options
            raise ConfigError(str(err)) from None
        markers_qos = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.marker_pub = self.create_publisher(String, params.marker_topic, markers_qos)
        self.odom_pub = (self.create_publisher(Odometry, params.odometry_topic, 10)
                         if params.odometry_topic else None)
        self.output = None
        self.failure: BaseException | None = None
        self.worker = threading.Thread(target=self._work, name="datagen", daemon=True)

    def start(self) -> None:
        """Wait (spinning, bounded) for `wait_for_subscribers` marker subscribers, then start the run."""
        wanted, deadline = self.params.wait_for_subscribers, time.monotonic() + self.params.wait_timeout
        while rclpy.ok() and self.marker_pub.get_subscription_count() < wanted and time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.05)
        if self.marker_pub.get_subscription_count() < wanted:
            self.get_logger().warning(f"{self.params.marker_topic}: fewer than {wanted} subscribers after "
                                      f"{self.params.wait_timeout} s; flying anyway")
        self.worker.start()

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until subscribers acknowledged every mark (reliable QoS), bounded."""
        self.marker_pub.wait_for_all_acked(Duration(seconds=timeout))

    def _work(self) -> None:
        from ..datagen.run import format_summary, run_datagen
        try:
            self.output = run_datagen(self.datagen_config, self.backend, self.params.out_dir or None,
                                      backend_name=self.params.backend, listeners=[self])
            self.get_logger().info("datagen finished:\n" + format_summary(self.output))
        except BaseException as err:       # reported by main(); the node must not hang on a dead worker
            self.failure = err

    # ----------------------------------------------------------------------------------- listener API
    def mark(self, t: float, text: str) -> None:
        self.marker_pub.publish(String(data=text))
        self.get_logger().info(f"mark: {text}")

    def odometry(self, state) -> None:
        if self.odom_pub is None:
            return
        msg = Odometry()
        sec, nanosec = divmod(int(round(state.t * 1e9)), 1_000_000_000)
        msg.header.stamp = Time(sec=sec, nanosec=nanosec)
        msg.header.frame_id, msg.child_frame_id = self.params.frame_id, "base_link"
        position, orientation = msg.pose.pose.position, msg.pose.pose.orientation
        position.x, position.y, position.z = map(float, state.p)
        orientation.x, orientation.y, orientation.z, orientation.w = map(float, state.q)
        linear = msg.twist.twist.linear
        linear.x, linear.y, linear.z = map(float, world_to_body(state.v, state.q))
        self.odom_pub.publish(msg)

    def trajectory(self, record) -> None:
        stats = record.stats
        self.get_logger().info(f"trajectory {record.index} {record.family}: rmse {stats['rmse_m']} m, "
                               f"max {stats['max_m']} m")

    @property
    def succeeded(self) -> bool:
        result = self.output.result if self.output else None
        return bool(result and result.final_state.value == "DONE" and not result.skipped)


def main(args=None) -> int:
    """Console script `datagen_commander` (accepts --ros-args -p name:=value / --params-file, --help)."""
    if help_requested(args):
        print_help("datagen_commander", DatagenParameters)
        return 0
    if not init_ros("datagen_commander", args):
        return 2
    node, spun = None, False
    try:
        node = DatagenNode()
        node.start()
        spun = True                                      # spin_once below creates rclpy's global executor
        while rclpy.ok() and (node.worker.is_alive() or not node.params.shutdown_when_done):
            rclpy.spin_once(node, timeout_sec=0.1)
        node.flush()
        if node.failure is not None:
            raise node.failure
        return 0 if node.succeeded else 1
    except ConfigError as error:
        print(f"datagen_commander: configuration error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 130
    except Exception:
        if rclpy.ok() or spun:
            raise
        return 130                                       # SIGINT/SIGTERM while starting: the context is gone
    finally:
        shutdown_node(node, spun=spun)


if __name__ == "__main__":
    sys.exit(main())
