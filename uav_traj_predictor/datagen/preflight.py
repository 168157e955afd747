"""`uav-traj datagen check`: what the PX4/Gazebo path needs on this machine, and how to fix each gap.

Checks (all required for `ros2 launch uav_traj_predictor px4_gazebo_datagen.launch.py`):
PX4-Autopilot checkout (--px4-dir or $PX4_DIR), the Gazebo `gz` binary, ros_gz_bridge in the ament index,
the ROS 2 `launch` / `launch_ros` packages, and the `mavsdk` package (>= 4: native binding with its
bundled libcmavsdk, no mavsdk_server; a 3.x install is the gRPC API that needs mavsdk_server and is
not what the backend speaks).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PX4_CLONE = ("git clone --recursive https://github.com/PX4/PX4-Autopilot.git && "
             "bash PX4-Autopilot/Tools/setup/ubuntu.sh && export PX4_DIR=$PWD/PX4-Autopilot")
GZ_INSTALL = ("install Gazebo Harmonic: sudo apt-get install gz-harmonic (apt source packages.osrfoundation.org, "
              "see https://gazebosim.org/docs/harmonic/install_ubuntu)")
ROS_GZ_INSTALL = "sudo apt-get install ros-jazzy-ros-gz-bridge && source /opt/ros/jazzy/setup.bash"
LAUNCH_INSTALL = "sudo apt-get install ros-jazzy-launch-ros (a ROS 2 distribution; not installable from PyPI)"
MAVSDK_INSTALL = "pip install 'mavsdk>=4'"


@dataclass
class Check:
    """One preflight item: ok or not, what was found, and the command that fixes it."""
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_px4_dir(px4_dir=None) -> Check:
    """A PX4-Autopilot source tree (with the gz simulation tooling); notes whether SITL is built."""
    px4_dir = px4_dir or os.environ.get("PX4_DIR")
    if not px4_dir:
        return Check("PX4-Autopilot", False, "no checkout given (--px4-dir or PX4_DIR)", PX4_CLONE)
    root = Path(px4_dir).expanduser()
    if not (root / "Makefile").is_file() or not (root / "Tools" / "simulation" / "gz").is_dir():
        return Check("PX4-Autopilot", False, f"{root} is not a PX4-Autopilot checkout "
                     "(no Makefile or Tools/simulation/gz)", PX4_CLONE)
    binary = root / "build" / "px4_sitl_default" / "bin" / "px4"
    built = "SITL built" if binary.is_file() else "SITL not built yet (`make px4_sitl gz_x500` builds it)"
    return Check("PX4-Autopilot", True, f"{root} ({built})")


def check_gz() -> Check:
    """The Gazebo (gz sim) command line."""
    found = shutil.which("gz")
    return Check("gz (Gazebo)", bool(found), found or "`gz` not on PATH", "" if found else GZ_INSTALL)


def check_ros_gz_bridge() -> Check:
    """ros_gz_bridge registered in the ament index with its parameter_bridge executable."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return Check("ros_gz_bridge", False, "ament_index_python not importable (no ROS 2 environment)",
                     ROS_GZ_INSTALL)
    try:
        prefix = Path(get_package_prefix("ros_gz_bridge"))
    except (PackageNotFoundError, OSError):      # OSError: AMENT_PREFIX_PATH unset
        return Check("ros_gz_bridge", False, "not in the ament index (AMENT_PREFIX_PATH="
                     f"{os.environ.get('AMENT_PREFIX_PATH', '')!r})", ROS_GZ_INSTALL)
    bridge = prefix / "lib" / "ros_gz_bridge" / "parameter_bridge"
    if not bridge.exists():
        return Check("ros_gz_bridge", False, f"{prefix}: no lib/ros_gz_bridge/parameter_bridge", ROS_GZ_INSTALL)
    return Check("ros_gz_bridge", True, str(bridge))


def check_launch() -> Check:
    """The ROS 2 `launch` and `launch_ros` Python packages (PyPI's unrelated `launch` does not count)."""
    try:
        import launch
        import launch_ros  # noqa: F401
    except ImportError as err:
        return Check("ros2 launch", False, f"not importable ({err})", LAUNCH_INSTALL)
    if not hasattr(launch, "LaunchDescription"):
        return Check("ros2 launch", False, "`launch` is PyPI's unrelated package, not ROS 2 launch",
                     f"pip uninstall launch && {LAUNCH_INSTALL}")
    return Check("ros2 launch", True, str(Path(launch.__file__).parent))


def check_mavsdk() -> Check:
    """mavsdk >= 4 with its bundled native library (older versions need mavsdk_server: reported)."""
    if importlib.util.find_spec("mavsdk") is None:
        return Check("mavsdk", False, "Python package not installed", MAVSDK_INSTALL)
    version = metadata.version("mavsdk")
    package = Path(importlib.util.find_spec("mavsdk").origin).parent
    if int(version.split(".")[0]) < 4:
        server = package / "bin" / "mavsdk_server"
        server_note = f"mavsdk_server {'at ' + str(server) if server.exists() else 'missing'}"
        return Check("mavsdk", False, f"mavsdk {version} is the gRPC API ({server_note}); the backend "
                     "speaks the native API of mavsdk >= 4", MAVSDK_INSTALL)
    library = package / "lib" / "libcmavsdk.so"
    if not library.exists():
        return Check("mavsdk", False, f"mavsdk {version} without its native library {library}",
                     f"pip install --force-reinstall 'mavsdk=={version}'")
    return Check("mavsdk", True, f"mavsdk {version}, native library {library.name} bundled "
                 "(no mavsdk_server process needed)")


def run_checks(px4_dir=None) -> list[Check]:
    """Every check, in the order a user fixes them."""
    return [check_px4_dir(px4_dir), check_gz(), check_ros_gz_bridge(), check_launch(), check_mavsdk()]


def format_checks(checks: list[Check]) -> str:
    """A readable report: one line per item, the fix under each missing one."""
    lines = []
    for check in checks:
        lines.append(f"[{'ok' if check.ok else 'MISSING'}] {check.name}: {check.detail}")
        if not check.ok:
            lines.append(f"    fix: {check.fix}")
    missing = [c.name for c in checks if not c.ok]
    lines.append("PX4/Gazebo path ready" if not missing else f"missing for the PX4/Gazebo path: {', '.join(missing)}"
                 " (the embedded simulator path needs none of these: uav-traj datagen run --backend sim)")
    return "\n".join(lines)
