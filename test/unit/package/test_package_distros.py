"""The distributions the package runs on: Jazzy (here, `make test`), Kilted (here, `make test-kilted`) and
Humble (Jetson JetPack 6: Python 3.10, no Humble binaries here, so checked through what differs).

- rclpy names: the event callbacks come from the Iron+ module here (the nodes with only Humble's names:
  test/integration/test_package_distros_live.py).
- Loopback DDS: the variable each distribution's rcl reads is set and required (on the wire:
  test/integration/test_package_distros_live.py).
- Fast DDS shared memory: the file names of both namings (fastrtps_* of Fast DDS 2, fastdds_* of Fast
  DDS 3) are told apart (stale segments removed, live ones kept: test/integration/test_package_harness.py).
- Python 3.10: the package byte-compiles and its modules import under CPython 3.10.
"""
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import REPO
from uav_traj_predictor import harness, rosenv



# ---- loopback settings per distribution (no rclpy needed) ---------------------------------------------
@pytest.mark.parametrize("version, distro", [("3.3.16", "humble"), ("4.1.5", "iron"), ("7.1.6", "jazzy"),
                                             ("9.1.2", "kilted"), ("10.0.1", "rolling")])
def test_rclpy_version_names_its_distribution(version, distro):
    assert rosenv.distro_of_rclpy_version(version) == distro


def test_a_bad_rclpy_version_is_a_clear_error():
    with pytest.raises(ValueError, match="not an rclpy version"):
        rosenv.distro_of_rclpy_version("jazzy")


def test_humble_needs_ros_localhost_only_and_gets_it():
    """Humble's rcl reads only ROS_LOCALHOST_ONLY: the new variable alone is refused there."""
    only_range = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": "7"}
    with pytest.raises(rosenv.UnsafeDDSEnvironment, match="ROS_LOCALHOST_ONLY is not 1 .*humble"):
        rosenv.check_loopback_dds(only_range, distro="humble")
    with pytest.raises(rosenv.UnsafeDDSEnvironment, match="ROS_LOCALHOST_ONLY"):
        rosenv.check_loopback_dds({**only_range, "ROS_DISTRO": "humble"})   # named by the environment
    env = rosenv.loopback_env({"ROS_LOCALHOST_ONLY": "0", "ROS_DOMAIN_ID": "7"}, distro="humble")
    assert env["ROS_LOCALHOST_ONLY"] == "1" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    rosenv.check_loopback_dds(env, distro="humble")
    rosenv.check_loopback_dds({"ROS_LOCALHOST_ONLY": "1", "ROS_DOMAIN_ID": "7"}, distro="humble")


def test_ros_distro_humble_in_the_environment_adds_ros_localhost_only():
    env = rosenv.loopback_env({"ROS_DISTRO": "humble"})
    assert env["ROS_LOCALHOST_ONLY"] == "1"
    rosenv.check_loopback_dds(env)


@pytest.mark.parametrize("distro", ["iron", "jazzy", "kilted"])
def test_iron_and_newer_need_the_discovery_range(distro):
    with pytest.raises(rosenv.UnsafeDDSEnvironment, match="ROS_AUTOMATIC_DISCOVERY_RANGE is not LOCALHOST"):
        rosenv.check_loopback_dds({"ROS_LOCALHOST_ONLY": "1", "ROS_DOMAIN_ID": "7"}, distro=distro)
    env = rosenv.loopback_env({"ROS_LOCALHOST_ONLY": "1"}, distro=distro)
    # Jazzy would log two deprecation warnings per process for ROS_LOCALHOST_ONLY; Kilted ignores it.
    assert "ROS_LOCALHOST_ONLY" not in env and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    rosenv.check_loopback_dds(env, distro=distro)


def test_an_unknown_distribution_needs_both_variables():
    with pytest.raises(rosenv.UnsafeDDSEnvironment, match="ROS_LOCALHOST_ONLY"):
        rosenv.check_loopback_dds({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": "7"},
                                  distro="lyrical-or-later")
    env = rosenv.loopback_env({}, distro="lyrical-or-later")
    assert env["ROS_LOCALHOST_ONLY"] == "1" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    rosenv.check_loopback_dds(env, distro="lyrical-or-later")


def test_ros_localhost_only_zero_is_refused_everywhere():
    for distro in ("humble", "jazzy", "kilted", None):
        env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_LOCALHOST_ONLY": "0", "ROS_DOMAIN_ID": "7"}
        with pytest.raises(rosenv.UnsafeDDSEnvironment, match="ROS_LOCALHOST_ONLY"):
            rosenv.check_loopback_dds(env, distro=distro)


@pytest.mark.ros
def test_this_interpreter_knows_its_distribution():
    import rclpy  # noqa: F401  (the installed one is the one detected)
    assert rosenv.installed_rclpy_distro() in ("jazzy", "kilted")
    assert rosenv.installed_rclpy_distro() in rosenv.ros_distros()


# ---- rclpy names: the nodes with only what Humble's rclpy has ------------------------------------------
@pytest.mark.ros
def test_event_callbacks_come_from_the_iron_module_here():
    import rclpy.event_handler

    from uav_traj_predictor.nodes import compat
    assert compat.EVENT_CALLBACKS_MODULE == "rclpy.event_handler"
    assert compat.SubscriptionEventCallbacks is rclpy.event_handler.SubscriptionEventCallbacks
    assert compat.PublisherEventCallbacks is rclpy.event_handler.PublisherEventCallbacks


# ---- Fast DDS shared memory: both namings, only dead owners ---------------------------------------------
@pytest.mark.ros
@pytest.mark.parametrize("name, segment, port", [
    ("fastrtps_0123456789abcdef_el", True, False), ("fastdds_0123456789abcdef_el", True, False),
    ("fastdds_0123456789abcdef", False, False), ("fastdds_0123456789abcde_el", False, False),
    ("fastdds_port7411", False, True), ("fastrtps_port7411_el", False, True), ("fast_datasharing_01_el", False, False),
])
def test_fast_dds_file_names_are_classified(name, segment, port):
    assert bool(harness.SEGMENT_LOCK.match(name)) is segment
    assert bool(harness.PORT_FILE.match(name)) is port


# ---- rosdep -------------------------------------------------------------------------------------------------
# The non-ROS keys package.xml may name: each one read in rosdistro's rosdep/python.yaml (python3-pytest is
# also the key `ros2 pkg create` writes). That file has no key for torch, triton, rosbags or pyulog
# (python3-pytorch-pip is retired), so those are installed with pip from requirements.txt (README).
ROSDEP_KEYS_SEEN = {"python3-numpy", "python3-scipy", "python3-yaml", "python3-tqdm", "python3-matplotlib",
                    "python3-hypothesis", "python3-pytest"}


def test_package_xml_names_only_rosdep_keys_that_exist():
    from catkin_pkg.package import parse_package
    package = parse_package(str(REPO / "package.xml"))
    depends = package.build_depends + package.buildtool_depends + package.exec_depends + package.test_depends
    system_keys = {d.name for d in depends if d.name.startswith("python3-") or d.name.endswith("-pip")}
    assert system_keys <= ROSDEP_KEYS_SEEN, f"keys no rosdep database was checked for: {system_keys - ROSDEP_KEYS_SEEN}"
    assert not {"python3-pytorch-pip", "python3-triton-pip", "python3-pyulog-pip", "python3-rosbags-pip"} & system_keys


# ---- Python 3.10 (Humble's, JetPack 6's) ------------------------------------------------------------------
def _python310():
    candidates = [shutil.which("python3.10"), "/usr/bin/python3.10",
                  *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.10.*/bin/python3.10"))]
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if out.stdout.strip() == "True":
            return candidate
    return None


def _requirement_pins(names, python_version="3.10"):
    """The pins requirements.txt gives `names` for this Python version (markers evaluated)."""
    from packaging.markers import Marker
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        requirement, _, marker = line.split("#")[0].partition(";")
        name = requirement.split("==")[0].strip()
        applies = not marker.strip() or Marker(marker).evaluate({"python_version": python_version})
        if name.lower() in names and applies:
            pins[name.lower()] = requirement.strip()
    return [pins[name] for name in names]


@pytest.mark.parametrize("python_version", ["3.10", "3.11", "3.12"])
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_requirements_pin_every_package_once_per_python_and_machine(python_version, machine):
    """requirements.txt: exactly one pin per package for each Python / machine (3.10: Humble, JetPack 6),
    no triton on aarch64 (none is built for Jetson). That the 3.10 pins resolve with pip on x86_64 and
    aarch64 is checked by tools/check_requirements_py310.sh (it downloads; not run by the suite)."""
    from packaging.requirements import Requirement
    target = {"python_version": python_version, "platform_machine": machine, "sys_platform": "linux"}
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            assert str(requirement.specifier).startswith("=="), f"not pinned: {line}"
            if requirement.marker is None or requirement.marker.evaluate(target):
                assert requirement.name not in pins, f"{requirement.name} pinned twice for {target}"
                pins[requirement.name] = str(requirement.specifier)
    assert ("triton" in pins) is (machine != "aarch64")
    assert {"torch", "numpy", "scipy", "matplotlib", "hypothesis", "rosbags", "pytest", "ruff"} <= set(pins)


@pytest.fixture(scope="session")
def python310(tmp_path_factory):
    found = _python310()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no CPython 3.10 on this CI machine: the Humble/JetPack 6 interpreter check cannot run")
        pytest.skip("no CPython 3.10 here (Humble / JetPack 6's Python): the 3.10 check needs one")
    return found


IMPORT_ALL = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    sys.path[:0] = [sys.argv[1]]     # the source tree laid out as installed (links), nothing built for 3.11
    missing_ok = set(sys.argv[2].split(","))
    imported, unavailable, failed = [], {}, {}
    import uav_traj_predictor
    names = [m.name for m in pkgutil.walk_packages(uav_traj_predictor.__path__, "uav_traj_predictor.",
                                                   onerror=lambda name: None)]
    for name in sorted(names):
        try:
            importlib.import_module(name)
            imported.append(name)
        except ModuleNotFoundError as error:
            top = (error.name or "").split(".")[0]
            built = ("uav_traj_predictor.msg", "uav_traj_predictor.kernels._cstream")   # by the interface/C build
            if top in missing_ok or (error.name or "").startswith(built):
                unavailable[name] = error.name
            else:
                failed[name] = repr(error)
        except Exception as error:
            failed[name] = repr(error)
    print(json.dumps({"imported": imported, "unavailable": unavailable, "failed": failed}))
""")
# Not installed in the 3.10 check venv: torch and the ROS side (what the brief of this check excludes),
# and optional libraries whose own 3.10 support pip resolution covers (tools/check_requirements_py310.sh).
NOT_IN_PY310_VENV = ("torch,triton,rclpy,builtin_interfaces,std_msgs,geometry_msgs,nav_msgs,"
                     "visualization_msgs,diagnostic_msgs,rosgraph_msgs,rcl_interfaces,ament_index_python,"
                     "matplotlib,mcap,pyulog,mavsdk,pymavlink,psutil,catkin_pkg,launch,launch_ros")


@pytest.mark.slow
def test_the_package_compiles_and_imports_under_python_3_10(python310, tmp_path_factory):
    """CPython 3.10 byte-compiles every Python file of the repository, and every module of the package
    that needs neither torch nor rclpy (nor the other libraries above) imports with the 3.10 pins of
    numpy, scipy, PyYAML, tqdm and rosbags: 3.11-only syntax or standard-library names would fail here."""
    compiled = tmp_path_factory.mktemp("pyc310")
    out = subprocess.run([python310, "-m", "compileall", "-q", "-f", "-d", "src",
                          *[str(REPO / d)
                            for d in ("uav_traj_predictor", "kernels", "bench", "launch", "tools", "test")],
                          "setup.py"], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPYCACHEPREFIX": str(compiled)})
    assert out.returncode == 0, out.stdout + out.stderr

    venv = REPO / "build" / "py310-check"
    pins = _requirement_pins(["numpy", "scipy", "pyyaml", "tqdm", "rosbags"])
    stamp = venv / "pins.txt"
    if not (stamp.is_file() and stamp.read_text() == "\n".join(pins)):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python310, "-m", "venv", str(venv)], check=True, timeout=120)
        install = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                  *pins], capture_output=True, text=True, timeout=600)
        assert install.returncode == 0, f"pip could not install {pins} for Python 3.10: {install.stderr[-2000:]}"
        stamp.write_text("\n".join(pins))
    tree = tmp_path_factory.mktemp("tree310")     # the installed layout: the package with kernels/ inside
    (tree / "uav_traj_predictor").mkdir()
    for entry in (REPO / "uav_traj_predictor").iterdir():
        if entry.name != "__pycache__":
            (tree / "uav_traj_predictor" / entry.name).symlink_to(entry)
    (tree / "uav_traj_predictor" / "kernels").symlink_to(REPO / "kernels")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    out = subprocess.run([str(venv / "bin/python"), "-c", IMPORT_ALL, str(tree), NOT_IN_PY310_VENV],
                         cwd=tmp_path_factory.mktemp("cwd310"), capture_output=True, text=True, timeout=300,
                         env={**env, "PYTHONPYCACHEPREFIX": str(compiled)})
    assert out.returncode == 0, out.stdout + out.stderr
    import json
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}, result["failed"]
    print(f"Python 3.10: {len(result['imported'])} modules imported, {len(result['unavailable'])} need a library "
          f"left out here: {sorted(set(result['unavailable'].values()))}")
    for needed in ("uav_traj_predictor.rosenv", "uav_traj_predictor.core.tracks", "uav_traj_predictor.data.preprocess",
                   "uav_traj_predictor.sim.vehicle", "uav_traj_predictor.evaluate.metrics"):
        assert needed in result["imported"], (needed, result["unavailable"].get(needed))
