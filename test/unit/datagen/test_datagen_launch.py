"""launch/px4_gazebo_datagen.launch.py: every executable it starts is installed by this package or listed
as external; the commander parameters it sets exist; with ROS 2 `launch` present, it builds."""
import ast

import pytest

from helpers import REPO

LAUNCH_FILE = REPO / "launch" / "px4_gazebo_datagen.launch.py"
PACKAGE = "uav_traj_predictor"


def package_executables() -> set[str]:
    """Console scripts declared in resource/entry_points.txt (`name = module:function`)."""
    lines = (REPO / "resource" / "entry_points.txt").read_text().splitlines()
    return {line.split("=")[0].strip() for line in lines if "=" in line and not line.strip().startswith("#")}


def keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def launched_executables(tree) -> list[tuple[str | None, str]]:
    """(package, executable) of every Node(...) and (None, cmd[0]) of every ExecuteProcess(cmd=[...])."""
    found = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
        if call.func.id == "Node":
            found.append((ast.literal_eval(keyword(call, "package")), ast.literal_eval(keyword(call, "executable"))))
        elif call.func.id == "ExecuteProcess":
            found.append((None, ast.literal_eval(keyword(call, "cmd").elts[0])))
    return found


def module_dict(tree, name: str) -> ast.Dict:
    return next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == name)


def test_every_executable_is_installed_or_declared_external():
    tree = ast.parse(LAUNCH_FILE.read_text())
    external = ast.literal_eval(module_dict(tree, "EXTERNAL_EXECUTABLES"))
    launched = launched_executables(tree)
    ours = package_executables()
    assert {"datagen_commander", "predictor_node", "uav-traj"} <= ours
    assert len(launched) == 5
    for package, executable in launched:
        if package == PACKAGE or (package is None and executable not in external):
            assert executable in ours, f"{executable} is not a console script of {PACKAGE} (entry_points.txt)"
        else:
            assert executable in external, f"{package}/{executable} is neither ours nor listed as external"
    assert ("ros_gz_bridge", "parameter_bridge") in launched
    assert (PACKAGE, "datagen_commander") in launched and (None, "uav-traj") in launched


@pytest.mark.ros
def test_commander_parameters_set_by_the_launch_exist():
    from uav_traj_predictor.nodes.datagen_node import DatagenParameters
    declared = {item.name for item, _ in DatagenParameters.settings()}
    tree = ast.parse(LAUNCH_FILE.read_text())
    commander = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"
                     and ast.literal_eval(keyword(n, "executable")) == "datagen_commander")
    names = {key.value for key in keyword(commander, "parameters").elts[0].keys}
    assert names <= declared, names - declared


@pytest.mark.launch
def test_launch_description_builds(launch_description):
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    description = launch_description(LAUNCH_FILE)
    assert isinstance(description, LaunchDescription)
    declared = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert {"px4_dir", "out_dir", "record", "predictor"} <= declared
