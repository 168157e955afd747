"""The distributions across processes (the settings themselves: test/unit/package/test_package_distros.py).

- rclpy names: predictor_node starts and predicts with only the names Humble's rclpy has (the Iron+
  module hidden).
- Loopback DDS on the wire: nothing leaves the machine with this session's settings or with a
  Humble-style environment.
"""
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from uav_traj_predictor import harness, rosenv


HUMBLE_NAMES = textwrap.dedent("""
    import sys, time, warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    # What Humble's rclpy has: rclpy.qos_event (on Jazzy a shim over rclpy.event_handler, so it is
    # imported before that is hidden), rclpy.node, ... From here on `rclpy.event_handler` (Iron+) is gone.
    import rclpy, rclpy.node, rclpy.qos_event
    from rclpy.executors import SingleThreadedExecutor
    sys.modules["rclpy.event_handler"] = None
    try:
        import rclpy.event_handler  # noqa: F401
        raise SystemExit("rclpy.event_handler is still importable: the test would prove nothing")
    except ModuleNotFoundError:
        pass
    from nav_msgs.msg import Odometry, Path
    from uav_traj_predictor.nodes import compat, predictor_node
    assert compat.EVENT_CALLBACKS_MODULE == "rclpy.qos_event", compat.EVENT_CALLBACKS_MODULE
    rclpy.init(args=["--ros-args", "-p", "checkpoint:=%(checkpoint)s", "-p", "odom_topics:=['/humble1/odom']"])
    node = predictor_node.PredictorNode()
    # use_default_callbacks=False was honoured: no QoS-event waitables on the track's endpoints
    endpoints = [e for e in list(node.publishers) + list(node.subscriptions) if "humble1" in e.topic_name]
    assert len(endpoints) == 3 and all(not e.event_handlers for e in endpoints), endpoints
    peer = rclpy.create_node("humble_peer")
    paths = []
    peer.create_subscription(Path, "/humble1/predicted_path", paths.append, 10)
    pub = peer.create_publisher(Odometry, "/humble1/odom", 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(peer)
    start, k = time.monotonic(), 0
    while not paths and time.monotonic() - start < 30:
        msg = Odometry()
        msg.header.frame_id = "map"
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(1e9 * (100 + 0.05 * k)), 10**9)
        msg.pose.pose.position.x, msg.pose.pose.orientation.w = 0.1 * k, 1.0
        pub.publish(msg)
        k += 1
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)
    assert paths and len(paths[0].poses) > 0, "no prediction within 30 s"
    executor.shutdown()
    node.destroy_node()
    peer.destroy_node()
    rclpy.try_shutdown()
    print("HUMBLE-NAMES OK", len(paths[0].poses), "poses after", k, "odometry messages")
""")


@pytest.mark.ros
def test_predictor_node_starts_and_predicts_with_only_humble_rclpy_names(ros_env, random_checkpoint, tmp_path):
    script = HUMBLE_NAMES % {"checkpoint": random_checkpoint}
    out = subprocess.run([sys.executable, "-c", script], env=ros_env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "HUMBLE-NAMES OK" in out.stdout, out.stdout + out.stderr


# ---- loopback on the wire --------------------------------------------------------------------------------
ETH_P_ALL = 0x0003
NODE = "import rclpy, time; rclpy.init(); n = rclpy.create_node('wire_probe'); time.sleep(60)"


def _rtps_packets(seconds, command, env):
    """Run `command` while counting the RTPS packets of its domain (UDP ports 7400 + 250 * domain ...
    + 249) per interface: (packets on lo, outgoing elsewhere by interface, the child's output)."""
    first_port = 7400 + 250 * int(env["ROS_DOMAIN_ID"])
    sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
    sniffer.settimeout(0.1)
    loopback, outgoing = 0, {}
    child = harness.start(command, env)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, (ifname, _proto, pkttype, *_rest) = sniffer.recvfrom(65535)
            except socket.timeout:
                continue
            port, payload = _udp_datagram(data)
            if payload is None or not payload.startswith(b"RTPS") or not first_port <= port < first_port + 250:
                continue
            if ifname == "lo":
                loopback += 1
            elif pkttype == socket.PACKET_OUTGOING:
                outgoing[ifname] = outgoing.get(ifname, 0) + 1
    finally:
        harness.stop(child, signal.SIGINT, timeout=20)     # a clean stop: Fast DDS removes its shared memory
        sniffer.close()
    return loopback, outgoing, child.output()


def _udp_datagram(frame):
    """(destination port, payload) of a UDP datagram in an Ethernet frame (lo has the same header) over
    IPv4 or IPv6; (None, None) for anything else."""
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800 and frame[23] == 17:
        udp = 14 + (frame[14] & 0x0F) * 4
    elif ethertype == 0x86DD and frame[20] == 17:
        udp = 14 + 40
    else:
        return None, None
    return struct.unpack_from("!H", frame, udp + 2)[0], frame[udp + 8:]


def _can_sniff():
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL)).close()
    except (PermissionError, AttributeError, OSError) as error:
        return f"needs a raw packet socket (root / CAP_NET_RAW): {error}"
    if not [name for _, name in socket.if_nameindex() if name != "lo"]:
        return "no network interface besides lo: nothing could leak"
    return None


@pytest.mark.ros
@pytest.mark.parametrize("style", ["this session", "humble-style"])
def test_no_rtps_packet_leaves_the_machine(ros_env, style):
    """Our settings on the wire: a participant lives for a few seconds; its RTPS traffic is seen on lo
    (the sniffer works and the node is alive) and none goes out of any other interface. "humble-style"
    is the environment made for Humble (ROS_LOCALHOST_ONLY=1 as well), as the local rcl reads it."""
    reason = _can_sniff()
    if reason:
        pytest.skip(reason)
    env = ros_env if style == "this session" else rosenv.loopback_env(ros_env, distro="humble")
    rosenv.check_loopback_dds(env)
    loopback, outgoing, stderr = _rtps_packets(3.0, [sys.executable, "-c", NODE], env)
    assert loopback > 0, f"no RTPS packet seen on lo (sniffer or node broken): {stderr}"
    assert outgoing == {}, f"RTPS packets left the machine: {outgoing}"
    if style == "this session":   # Jazzy: no ROS_LOCALHOST_ONLY, so no deprecation warnings
        assert "ROS_LOCALHOST_ONLY" not in stderr, stderr
    elif rosenv.installed_rclpy_distro() == "jazzy":   # Humble's variable did take effect in this rcl
        assert "'localhost_only' is enabled" in stderr, stderr
