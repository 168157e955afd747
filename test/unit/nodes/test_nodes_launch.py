"""Launch files and node configs: every executable of ours is an installed console script, configs parse
and name only declared parameters; with ROS 2 `launch` installed, the descriptions also build."""
import ast
import importlib
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO

LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
PACKAGE = "uav_traj_predictor"


def node_calls(path):
    """(package, executable) of every Node(...) call in a launch file, read with ast (no launch import)."""
    calls = []
    for call in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", None)) == "Node":
            keywords = {k.arg: k.value for k in call.keywords}
            assert isinstance(keywords.get("executable"), ast.Constant), f"{path.name}: executable must be a literal"
            calls.append((keywords["package"].value, keywords["executable"].value))
    return calls


def console_scripts():
    lines = (REPO / "resource" / "entry_points.txt").read_text().splitlines()
    return {line.split("=")[0].strip() for line in lines if "=" in line}


def test_launch_files_start_only_installed_console_scripts():
    assert {p.name for p in LAUNCH_FILES} >= {"predictor.launch.py", "sim_demo.launch.py"}
    ours = set()
    for path in LAUNCH_FILES:
        calls = node_calls(path)
        assert calls, f"{path.name} starts no Node"
        ours |= {executable for package, executable in calls if package == PACKAGE}
    assert {"predictor_node", "sim_node"} <= ours
    assert ours <= console_scripts(), f"not console scripts: {ours - console_scripts()}"
    for name in ours:
        assert (Path(sys.executable).parent / name).is_file(), f"{name} is not installed in the venv"


@pytest.mark.parametrize("config, module, cls", [("predictor.yaml", "predictor_node", "PredictorParameters"),
                                                  ("sim.yaml", "sim_node", "SimParameters")])
def test_node_configs_name_only_declared_parameters_with_matching_types(config, module, cls):
    pytest.importorskip("rclpy")
    from uav_traj_predictor.config import rule_of
    parameters_class = getattr(importlib.import_module(f"{PACKAGE}.nodes.{module}"), cls)
    declared = {item.name: item for item, _ in parameters_class.settings()}
    parameters = yaml.safe_load((REPO / "config" / config).read_text())[module]["ros__parameters"]
    for name, value in parameters.items():
        assert name in declared, f"config/{config}: unknown parameter {name}"
        default = declared[name].default
        if isinstance(default, (bool, int, float, str)):
            assert type(value) is type(default), f"config/{config}: {name} is {type(value).__name__}"
        if rule_of(declared[name]).choices:
            assert value in rule_of(declared[name]).choices
    defaults = {name: item.default for name, item in declared.items()}
    parameters_class(**{**defaults, **parameters, **({"odom_topics": ("/x",)} if module == "predictor_node" else {})})


def test_rviz_config_shows_the_predictor_outputs():
    rviz = yaml.safe_load((REPO / "config" / "uav_traj_predictor.rviz").read_text())
    manager = rviz["Visualization Manager"]
    topics = {d["Topic"]["Value"] for d in manager["Displays"] if "Topic" in d}
    assert "/predicted_markers" in topics and "/uav1/predicted_path" in topics and "/uav1/odom" in topics
    assert manager["Global Options"]["Fixed Frame"] == "map"


@pytest.mark.launch
@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_descriptions_build(path, launch_description):
    from launch import LaunchDescription
    assert isinstance(launch_description(path), LaunchDescription)
