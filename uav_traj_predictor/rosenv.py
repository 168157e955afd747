"""DDS safety for everything this project starts itself (tests, CI, demo, benchmarks).

Nodes run by users keep the user's own ROS environment. Our own harnesses keep DDS on loopback:
`ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, a random `ROS_DOMAIN_ID` in 1..100 per session, and no
inherited `RMW_IMPLEMENTATION` / `ROS_LOCALHOST_ONLY` (the pip wheels ship only Fast DDS; a foreign
RMW makes rclpy.init exit the process). No rclpy import here.
"""
import os
import random
import sys

UNSAFE_VARIABLES = ("RMW_IMPLEMENTATION", "ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")
# Set by the ros wheels' bootstrapper for this interpreter; a child process must redo it itself.
BOOTSTRAP_VARIABLES = ("_ROS_WHEELS_BOOTSTRAP_COMPLETE",)


class UnsafeDDSEnvironment(RuntimeError):
    """Raised when a process of ours would start rclpy with DDS able to leave the machine."""


def loopback_env(base=None, domain_id=None) -> dict:
    """A copy of `base` (default: os.environ) with DDS confined to this machine."""
    env = dict(os.environ if base is None else base)
    for name in UNSAFE_VARIABLES + BOOTSTRAP_VARIABLES:
        env.pop(name, None)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if domain_id is None:
        current = env.get("ROS_DOMAIN_ID", "")
        domain_id = int(current) if current.isdigit() and 1 <= int(current) <= 100 else random.randint(1, 100)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    prefix_path = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    if sys.prefix not in prefix_path:
        env["AMENT_PREFIX_PATH"] = os.pathsep.join([sys.prefix] + prefix_path)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def use_loopback_dds(domain_id=None) -> int:
    """Confine this process (and the children it starts) to loopback DDS; returns the domain id."""
    env = loopback_env(domain_id=domain_id)
    for name in UNSAFE_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID", "AMENT_PREFIX_PATH")})
    return int(env["ROS_DOMAIN_ID"])


def check_loopback_dds(env=None) -> None:
    """Raise UnsafeDDSEnvironment unless `env` (default os.environ) keeps DDS on loopback."""
    env = os.environ if env is None else env
    problems = []
    if env.get("ROS_AUTOMATIC_DISCOVERY_RANGE") != "LOCALHOST":
        problems.append("ROS_AUTOMATIC_DISCOVERY_RANGE is not LOCALHOST")
    domain = env.get("ROS_DOMAIN_ID", "")
    if not (domain.isdigit() and 1 <= int(domain) <= 100):
        problems.append(f"ROS_DOMAIN_ID={domain!r} is not in 1..100")
    problems += [f"{name} is set" for name in UNSAFE_VARIABLES if name in env]
    if problems:
        raise UnsafeDDSEnvironment("refusing to start rclpy: " + "; ".join(problems))
