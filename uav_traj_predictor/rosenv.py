"""DDS safety for everything this project starts itself (tests, CI, demo, benchmarks).

Nodes run by users keep the user's own ROS environment. Our own harnesses keep DDS on loopback, on
every distribution: a random `ROS_DOMAIN_ID` in 1..100 per session, no inherited
`RMW_IMPLEMENTATION` (the pip wheels ship only Fast DDS; a foreign RMW makes rclpy.init exit the
process) or `ROS_STATIC_PEERS`, and the discovery setting that the running distribution's rcl reads:

- Humble (and older): only `ROS_LOCALHOST_ONLY=1` (rcl `localhost.c`; `ROS_AUTOMATIC_DISCOVERY_RANGE`
  does not exist before Iron). Read from the Humble sources; not run here.
- Iron, Jazzy: `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`. They still honour `ROS_LOCALHOST_ONLY=1`
  (it then overrides the range), logging two deprecation warnings at every rclpy.init (tried here on
  Jazzy: with either or both set, no RTPS packet leaves the machine), so it is left out there.
- Kilted and newer: only `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`; `ROS_LOCALHOST_ONLY` is ignored.

The distribution is the one of the rclpy this interpreter would import (its installed version, read
without importing it) and `ROS_DISTRO` when set; when they disagree both are served, and when neither
is known both variables are set and required. No rclpy import here.
"""
import functools
import importlib.metadata
import os
import random
import sys

UNSAFE_VARIABLES = ("RMW_IMPLEMENTATION", "ROS_STATIC_PEERS")
# Set by the ros wheels' bootstrapper for this interpreter; a child process must redo it itself.
BOOTSTRAP_VARIABLES = ("_ROS_WHEELS_BOOTSTRAP_COMPLETE",)
RANGE, LOCALHOST_ONLY = "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY"
# Which discovery variable each distribution's rcl reads.
LOCALHOST_ONLY_DISTROS = ("foxy", "galactic", "humble")      # ROS_LOCALHOST_ONLY only
BOTH_DISTROS = ("iron", "jazzy")                              # both (ROS_LOCALHOST_ONLY deprecated)
RANGE_DISTROS = ("kilted", "lyrical", "rolling")              # ROS_AUTOMATIC_DISCOVERY_RANGE only
# rclpy's major version per distribution (package.xml of each branch): Humble 3.3, Iron 4.1, Jazzy 7.1,
# Kilted 9.1; Rolling is above.
_RCLPY_MAJOR = ((4, "humble"), (5, "iron"), (8, "jazzy"), (10, "kilted"))


class UnsafeDDSEnvironment(RuntimeError):
    """Raised when a process of ours would start rclpy with DDS able to leave the machine."""


def distro_of_rclpy_version(version: str) -> str:
    """The distribution an rclpy version belongs to ("3.3.16" -> "humble"); "rolling" above Kilted."""
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise ValueError(f"not an rclpy version: {version!r}") from None
    return next((name for bound, name in _RCLPY_MAJOR if major < bound), "rolling")


@functools.lru_cache(maxsize=None)
def installed_rclpy_distro() -> str:
    """Distribution of the rclpy this interpreter would import ("" when there is none)."""
    try:
        return distro_of_rclpy_version(importlib.metadata.version("rclpy"))
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return ""


def ros_distros(env=None, distro=None) -> set:
    """The distributions whose rules apply: `distro` if given, else the installed rclpy's and
    `ROS_DISTRO` from `env` (default os.environ). Empty when neither is known."""
    if distro is not None:
        return {distro.lower()}
    env = os.environ if env is None else env
    return {name.lower() for name in (installed_rclpy_distro(), env.get("ROS_DISTRO", "")) if name}


def _needs(distros: set) -> tuple:
    """(needs ROS_LOCALHOST_ONLY=1, needs ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) for these distributions.
    An unknown distribution needs both."""
    known = LOCALHOST_ONLY_DISTROS + BOTH_DISTROS + RANGE_DISTROS
    unknown = not distros or any(name not in known for name in distros)
    return (unknown or any(name in LOCALHOST_ONLY_DISTROS for name in distros),
            unknown or any(name in BOTH_DISTROS + RANGE_DISTROS for name in distros))


def loopback_env(base=None, domain_id=None, distro=None) -> dict:
    """A copy of `base` (default: os.environ) with DDS confined to this machine on the distribution(s)
    of `ros_distros` (or `distro`, e.g. "humble")."""
    env = dict(os.environ if base is None else base)
    for name in UNSAFE_VARIABLES + BOOTSTRAP_VARIABLES:
        env.pop(name, None)
    needs_localhost_only, _ = _needs(ros_distros(env, distro))
    env[RANGE] = "LOCALHOST"    # harmless where it is not read; the one Iron and newer read
    if needs_localhost_only:
        env[LOCALHOST_ONLY] = "1"
    else:
        env.pop(LOCALHOST_ONLY, None)
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
    for name in UNSAFE_VARIABLES + (LOCALHOST_ONLY,):
        os.environ.pop(name, None)
    os.environ.update({k: env[k] for k in (RANGE, LOCALHOST_ONLY, "ROS_DOMAIN_ID", "AMENT_PREFIX_PATH") if k in env})
    return int(env["ROS_DOMAIN_ID"])


def check_loopback_dds(env=None, distro=None) -> None:
    """Raise UnsafeDDSEnvironment unless `env` (default os.environ) keeps DDS on loopback on the
    distribution(s) of `ros_distros` (or `distro`): the variable that distribution reads must be set."""
    env = os.environ if env is None else env
    distros = ros_distros(env, distro)
    needs_localhost_only, needs_range = _needs(distros)
    which = "/".join(sorted(distros)) or "an unknown distribution"
    problems = []
    if needs_range and env.get(RANGE) != "LOCALHOST":
        problems.append(f"{RANGE} is not LOCALHOST (read by {which})")
    if needs_localhost_only and env.get(LOCALHOST_ONLY) != "1":
        problems.append(f"{LOCALHOST_ONLY} is not 1 (the only discovery setting {which} reads)"
                        if not needs_range else f"{LOCALHOST_ONLY} is not 1 (needed for {which})")
    elif env.get(LOCALHOST_ONLY, "1") != "1":
        problems.append(f"{LOCALHOST_ONLY}={env[LOCALHOST_ONLY]!r} asks for network discovery")
    domain = env.get("ROS_DOMAIN_ID", "")
    if not (domain.isdigit() and 1 <= int(domain) <= 100):
        problems.append(f"ROS_DOMAIN_ID={domain!r} is not in 1..100")
    problems += [f"{name} is set" for name in UNSAFE_VARIABLES if name in env]
    if problems:
        raise UnsafeDDSEnvironment("refusing to start rclpy: " + "; ".join(problems))
