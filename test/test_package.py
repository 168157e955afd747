"""The package foundation: metadata, install layout, interfaces, DDS safety, colcon build."""
import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from uav_traj_predictor import harness, rosenv
from uav_traj_predictor.resources import share_dir

REPO = Path(__file__).resolve().parents[1]


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
    assert (share / "msg" / "PredictedTrajectory.msg").is_file()
    assert (Path(sys.prefix) / "share/ament_index/resource_index/packages/uav_traj_predictor").is_file()


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


LOOKUP = textwrap.dedent("""
    # What launch_ros's ExecutableInPackage does for Node(package=..., executable=...) (and `ros2 run`):
    # get_package_prefix, then <prefix>/lib/<package>/<executable>, found with shutil.which on that folder.
    import json, os, shutil, sys
    from ament_index_python.packages import get_package_prefix
    prefix = get_package_prefix("uav_traj_predictor")
    libexec = os.path.join(prefix, "lib", "uav_traj_predictor")
    found = {name: shutil.which(name, path=libexec) for name in sys.argv[1:]}
    print(json.dumps({"prefix": prefix, "libexec_exists": os.path.isdir(libexec), "found": found}))
""")


def launch_lookup_problems(env, expected_prefix):
    """Problems of the launch_ros lookup of every console script under `env`; each found executable must also
    be executable and answer --help (exit 0, a usage line) without starting ROS."""
    import json
    names = console_script_names()
    run = subprocess.run([sys.executable, "-c", LOOKUP, *names], env=env, cwd="/", capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    problems = []
    if Path(result["prefix"]).resolve() != Path(expected_prefix).resolve():
        problems.append(f"package prefix {result['prefix']}, expected {expected_prefix}")
    if not result["libexec_exists"]:
        problems.append(f"no libexec directory {result['prefix']}/lib/uav_traj_predictor")
    for name, path in result["found"].items():
        if path is None:
            problems.append(f"{name}: not found in lib/uav_traj_predictor")
            continue
        if not os.access(path, os.X_OK):
            problems.append(f"{path}: not executable")
        helped = subprocess.run([path, "--help"], env=env, cwd="/", capture_output=True, text=True, timeout=120)
        if helped.returncode != 0 or "usage" not in helped.stdout.lower():
            problems.append(f"{path} --help: exit {helped.returncode}, {(helped.stdout + helped.stderr)[-400:]}")
    return problems


def console_script_names():
    lines = (REPO / "resource" / "entry_points.txt").read_text().splitlines()
    return [line.split("=")[0].strip() for line in lines if "=" in line]


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
