"""The package foundation: metadata, install layout, interfaces, DDS safety (a message across processes
and the colcon build: test/integration/test_package_processes.py)."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import REPO
from helpers.install import launch_lookup_problems
from uav_traj_predictor import rosenv
from uav_traj_predictor.resources import share_dir



def test_package_xml_is_valid_format3():
    from catkin_pkg.package import parse_package

    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    warnings = []
    package = parse_package(str(REPO / "package.xml"), warnings=warnings)
    package.validate(warnings=warnings)  # raises InvalidPackage on schema violations
    assert warnings == [], warnings
    assert package.name == "uav_traj_predictor"
    assert package.get_build_type() == "ament_cmake"
    declared = {d.name for d in package.exec_depends + package.build_depends + package.buildtool_depends}
    for needed in ("rclpy", "nav_msgs", "geometry_msgs", "std_msgs", "visualization_msgs", "diagnostic_msgs",
                   "builtin_interfaces", "rosidl_default_generators", "python3-numpy", "python3-scipy"):
        assert needed in declared, f"package.xml does not declare {needed}"
    assert "rosidl_interface_packages" in [g.name for g in package.member_of_groups]


def test_share_directory_resolves_through_ament_index():
    from ament_index_python.packages import get_package_share_directory

    share = Path(get_package_share_directory("uav_traj_predictor"))
    assert share == share_dir()
    assert (share / "package.xml").is_file()
    for name in ("PredictedTrajectory", "PredictedTrajectoryArray", "TargetArray"):
        assert (share / "msg" / f"{name}.msg").is_file()
    assert (Path(sys.prefix) / "share/ament_index/resource_index/packages/uav_traj_predictor").is_file()


def test_every_message_is_registered_in_cmake_and_generated():
    """CMakeLists.txt lists every msg/*.msg for rosidl_generate_interfaces (so make install and colcon build
    them), and each generated class imports."""
    import importlib
    import re

    listed = sorted(re.findall(r'"msg/(\w+)\.msg"', (REPO / "CMakeLists.txt").read_text()))
    assert listed == sorted(path.stem for path in (REPO / "msg").glob("*.msg"))
    module = importlib.import_module("uav_traj_predictor.msg")
    for name in listed:
        assert getattr(module, name)().get_fields_and_field_types()


def test_the_c_fast_path_is_built_and_used_by_default():
    """setup.py builds kernels/cstream.c (optional, so a missing compiler would only warn): this install
    has it, and the default predictor uses it."""
    from uav_traj_predictor.kernels import fused
    from uav_traj_predictor.model import StreamingPredictor
    assert fused.available(), "uav_traj_predictor.kernels._cstream was not built (see the pip install log)"
    assert StreamingPredictor().fused and not StreamingPredictor(backend="numpy").fused


def test_every_console_script_is_installed():
    lines = (REPO / "resource" / "entry_points.txt").read_text().splitlines()
    names = [line.split("=")[0].strip() for line in lines if "=" in line]
    assert "uav-traj" in names and "predictor_node" in names
    for name in names:
        assert (Path(sys.executable).parent / name).is_file(), f"{name} is not installed in the venv"


def test_launch_ros_finds_the_executables_of_the_pip_install(ros_env):
    """`ros2 launch` / `ros2 run` on a `make install` (pip) install: <prefix>/lib/uav_traj_predictor/ holds
    every console script (as a wrapper of <prefix>/bin/), executable, answering --help."""
    env = dict(ros_env, AMENT_PREFIX_PATH=sys.prefix)
    assert launch_lookup_problems(env, sys.prefix) == []


def test_cli_lists_subcommands_and_rejects_unknown(console_script):
    out = subprocess.run([console_script("uav-traj"), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "evaluate" in out.stdout
    bad = subprocess.run([console_script("uav-traj"), "fly-to-the-moon"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown subcommand" in bad.stderr


def test_this_test_process_keeps_dds_on_loopback():
    rosenv.check_loopback_dds()  # raises if the harness did not confine this process
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert 1 <= int(os.environ["ROS_DOMAIN_ID"]) <= 100
    assert "RMW_IMPLEMENTATION" not in os.environ
    # Humble's rcl reads only ROS_LOCALHOST_ONLY; Jazzy and Kilted read the range (Jazzy would warn twice)
    distros = rosenv.ros_distros()
    reads_range = distros and distros <= set(rosenv.BOTH_DISTROS + rosenv.RANGE_DISTROS)
    assert os.environ.get("ROS_LOCALHOST_ONLY") == (None if reads_range else "1")


@pytest.mark.parametrize("change", [
    {"ROS_AUTOMATIC_DISCOVERY_RANGE": None},
    {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"},
    {"ROS_DOMAIN_ID": None},
    {"ROS_DOMAIN_ID": "0"},
    {"ROS_DOMAIN_ID": "150"},
    {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"},
    {"ROS_STATIC_PEERS": "192.0.2.7"},
    {"ROS_LOCALHOST_ONLY": "0"},
])
def test_rclpy_init_is_refused_without_loopback_settings(monkeypatch, change):
    import rclpy

    for name, value in change.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(rosenv.UnsafeDDSEnvironment):
        rclpy.init()  # the conftest guard must stop this before any DDS participant exists
    assert not rclpy.ok()


def test_loopback_env_for_children_strips_unsafe_variables():
    env = rosenv.loopback_env({"RMW_IMPLEMENTATION": "x", "ROS_LOCALHOST_ONLY": "0", "ROS_DOMAIN_ID": "0",
                               "ROS_STATIC_PEERS": "192.0.2.7", "_ROS_WHEELS_BOOTSTRAP_COMPLETE": "1"})
    rosenv.check_loopback_dds(env)
    assert not {"_ROS_WHEELS_BOOTSTRAP_COMPLETE", "RMW_IMPLEMENTATION", "ROS_STATIC_PEERS"} & set(env)
    assert env.get("ROS_LOCALHOST_ONLY", "1") == "1"    # set (Humble, unknown) or left out, never "0"


def test_missing_shared_data_fails_under_ci_and_skips_otherwise(monkeypatch, tmp_path, require_shared):
    """conftest's require_shared: the real-flight tests fail, not skip, when CI=true and ../shared is missing."""
    missing = tmp_path / "no_shared" / "flights"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: real flights not found at .*no_shared"):
        require_shared(missing, "real flights")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="real flights not found"):
        require_shared(missing, "real flights")
    assert require_shared(tmp_path, "a folder") == tmp_path
