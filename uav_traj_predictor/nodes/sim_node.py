"""sim_node: N simulated quadrotors flying random references, published as nav_msgs/Odometry.

The embedded `sim.QuadrotorSim` (PX4-like cascaded controller) is stepped in real time by a wall timer
at `rate` Hz; every vehicle follows a random reference from `sim.ReferenceGenerator` (a new one is drawn
when it ends), offset by `spacing` metres along x so the vehicles do not overlap. Odometry as real
odometry publishes it (REP-105): pose in the world frame `frame_id` ("map" or "odom"), twist in the
body frame `child_frame_id` ("base_link"), optional Gaussian position noise. With `publish_clock`, the
node publishes /clock (rosgraph_msgs/Clock) and stamps with that simulated time (for use_sim_time).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock

from ..config import setting
from ..frames import world_to_body
from . import messages
from .params import NODE_OPTIONS, NodeParameters, declare
from .lifecycle import spin_node

def _families_problem(names) -> str | None:
    from ..sim.references import check_families
    try:
        check_families(list(names) or None)
    except ValueError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class SimParameters(NodeParameters):
    """sim_node's parameters (docs/nodes.md)."""
    num_vehicles: int = setting(3, "Number of simulated vehicles.", low=1, high=1000)
    topic_pattern: str = setting("/uav{i}/odom", "Odometry topic of vehicle i (1-based); must contain {i}.",
                                 check=lambda text: None if "{i}" in text else f"must contain '{{i}}', got {text!r}")
    rate: float = setting(50.0, "Simulation and publishing rate (Hz).", low=1.0, high=1000.0)
    position_noise: float = setting(0.0, "Standard deviation of the Gaussian position noise (m).", low=0.0, high=10.0)
    frame_id: str = setting("map", "World frame of the pose (REP-105).", choices=("map", "odom", "world"))
    child_frame_id: str = setting("base_link", "Body frame of the twist (REP-105).")
    publish_clock: bool = setting(False, "Publish /clock and stamp with simulated time (for use_sim_time).")
    seed: int = setting(0, "Random seed of the references, vehicles and noise.", low=0, high=2**31 - 1)
    families: tuple[str, ...] = setting((), "Reference families to draw from; empty = all.", check=_families_problem)
    reference_duration: float = setting(120.0, "Length of each random reference (s); a new one follows.",
                                        low=5.0, high=3600.0)
    spacing: float = setting(30.0, "Offset between vehicles along x (m).", low=0.0, high=10000.0)


class SimNode(Node):
    """Timer -> QuadrotorSim.step -> one Odometry per vehicle (+ /clock)."""

    def __init__(self, **node_options):
        super().__init__("sim_node", **{**NODE_OPTIONS, **node_options})
        from ..sim.references import ReferenceGenerator, check_families
        from ..sim.vehicle import QuadrotorSim
        self.config = config = declare(self, SimParameters)
        self.families = check_families(list(config.families) or None)
        n, self.dt = config.num_vehicles, 1.0 / config.rate
        self.rng = np.random.default_rng(config.seed)
        self.references = ReferenceGenerator(self.rng)
        self.sim = QuadrotorSim(n_vehicles=n, seed=config.seed)
        self.offsets = np.column_stack([config.spacing * np.arange(n), np.zeros(n), np.zeros(n)])
        self.plans = [self._new_reference() for _ in range(n)]
        self.started = np.zeros(n)                   # sim time at which each reference started
        self.sim.reset(np.arange(n), position=np.array([plan.p[0] for plan in self.plans]) + self.offsets)
        self.sim_time = 0.0
        self.last_wall = None
        self.publishers_ = [self.create_publisher(Odometry, config.topic_pattern.format(i=i + 1),
                                                  qos_profile_sensor_data) for i in range(n)]
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if config.publish_clock else None
        self.create_timer(self.dt, self._step)
        self.get_logger().info(f"{n} vehicles at {config.rate:g} Hz on {config.topic_pattern} "
                               f"(frame {config.frame_id}, families {', '.join(self.families)})")

    def _new_reference(self):
        return self.references.draw_random(self.config.reference_duration, dt=0.02, families=self.families)

    def _setpoints(self):
        n = self.sim.n
        position, velocity, accel, yaw = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3)), np.zeros(n)
        for i, plan in enumerate(self.plans):
            elapsed = self.sim_time - self.started[i]
            if elapsed > plan.duration:                 # fly on to a new reference from where it ended
                shift = plan.p[-1]
                self.plans[i] = plan = self._new_reference()
                self.offsets[i] += shift - plan.p[0]
                self.started[i], elapsed = self.sim_time, 0.0
            p, v, a, psi = plan.sample(elapsed)
            position[i], velocity[i], accel[i], yaw[i] = p + self.offsets[i], v, a, psi
        return position, velocity, accel, yaw

    def _step(self) -> None:
        """Advance by the wall time since the last step (so motion matches the stamps), or by exactly one
        period in /clock mode, then publish every vehicle's odometry."""
        now = self.get_clock().now()
        step = self.dt
        if self.clock_pub is None and self.last_wall is not None:
            step = min(max((now - self.last_wall).nanoseconds * 1e-9, 1e-4), 5 * self.dt)
        self.last_wall = now
        self.sim.set_setpoints(*self._setpoints())
        self.sim.step(step)
        self.sim_time += step
        if self.clock_pub is not None:
            stamp = messages.to_time(self.sim_time)
            self.clock_pub.publish(Clock(clock=stamp))
        else:
            stamp = now.to_msg()
        positions, velocities, quaternions = self.sim.state()
        noise = self.config.position_noise
        if noise > 0:
            positions = positions + self.rng.normal(0.0, noise, positions.shape)
        body_velocities = world_to_body(velocities, quaternions)
        for i, publisher in enumerate(self.publishers_):
            publisher.publish(self._odometry(stamp, positions[i], quaternions[i], body_velocities[i], noise))

    def _odometry(self, stamp, position, quaternion, body_velocity, noise) -> Odometry:
        msg = Odometry()
        msg.header.stamp = stamp
        msg.header.frame_id = self.config.frame_id
        msg.child_frame_id = self.config.child_frame_id
        pose = msg.pose.pose
        pose.position.x, pose.position.y, pose.position.z = position.tolist()
        o = pose.orientation
        o.x, o.y, o.z, o.w = quaternion.tolist()
        msg.twist.twist.linear.x, msg.twist.twist.linear.y, msg.twist.twist.linear.z = body_velocity.tolist()
        variance = max(noise, 1e-3) ** 2
        msg.pose.covariance[0] = msg.pose.covariance[7] = msg.pose.covariance[14] = variance
        return msg


def main(args=None) -> int:
    """Console script `sim_node` (accepts --ros-args -p name:=value / --params-file)."""
    return spin_node("sim_node", SimNode, args, SimParameters)


if __name__ == "__main__":
    sys.exit(main())
