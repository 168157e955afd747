"""launch/bag_eval.launch.py: bag play + predictor_node + bag record."""
import ast

import pytest

from helpers import REPO

LAUNCH_FILE = REPO / "launch" / "bag_eval.launch.py"


def test_launch_file_parses_and_wires_play_node_record():
    tree = ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert {"play", "record", "predictor_node", "uav_traj_predictor.cli", "--wait-for-subscribers"} <= strings


@pytest.mark.launch
def test_launch_description_builds(launch_description):
    description = launch_description(LAUNCH_FILE)
    names = [type(entity).__name__ for entity in description.entities]
    assert names.count("DeclareLaunchArgument") == 6
    assert {"OpaqueFunction", "ExecuteProcess", "RegisterEventHandler"} <= set(names)   # the node: in OpaqueFunction
