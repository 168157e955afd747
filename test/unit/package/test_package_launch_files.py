"""Launch files, read statically (ROS 2 `launch` has no wheel here): no array parameter is a list holding a
substitution (launch_ros turns such a list into ONE concatenated string, so `odom_topics: [LaunchConfiguration
('odom_topic')]` reached predictor_node as the STRING '/odom'), and every process the package's launch
files start fails the launch when it fails (uav_traj_predictor.launching)."""
import ast

import pytest

from helpers import REPO
from uav_traj_predictor.launching import LaunchedProcessFailed, exit_failure

LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
NOT_WATCHED = {"rviz2"}          # optional viewer: its exit does not fail a launch


def _callee(call: ast.Call) -> str:
    return getattr(call.func, "id", getattr(call.func, "attr", ""))


def _performed_names(function: ast.FunctionDef) -> set[str]:
    """Names assigned from `<substitution>.perform(context)` in a function: plain strings at launch time."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _callee(node.value) == "perform":
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _is_plain(item: ast.AST, performed: set[str]) -> bool:
    """An array element launch_ros keeps as its own element: a literal, a nested list (launch_ros's form for a
    list of substitution strings), or a value already evaluated with .perform(context)."""
    if isinstance(item, ast.Constant) or isinstance(item, (ast.List, ast.Tuple)):
        return True
    if isinstance(item, ast.Name) and item.id in performed:
        return True
    return isinstance(item, ast.Call) and _callee(item) == "perform"


def substitution_lists(source: str, filename: str = "<launch>") -> list[str]:
    """`file:line: parameter 'name'` for every Node parameter whose value is a list with a substitution in it."""
    tree = ast.parse(source, filename=filename)
    scopes = [(f, _performed_names(f)) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)] + [(tree, set())]
    found, seen = [], set()
    for scope, performed in scopes:
        for call in ast.walk(scope):
            if not (isinstance(call, ast.Call) and _callee(call) == "Node") or id(call) in seen:
                continue
            seen.add(id(call))
            parameters = next((k.value for k in call.keywords if k.arg == "parameters"), None)
            for entry in getattr(parameters, "elts", []):
                if not isinstance(entry, ast.Dict):
                    continue
                for key, value in zip(entry.keys, entry.values):
                    if isinstance(value, (ast.List, ast.Tuple)) and not all(_is_plain(v, performed)
                                                                              for v in value.elts):
                        name = key.value if isinstance(key, ast.Constant) else ast.unparse(key)
                        found.append(f"{filename}:{value.lineno}: parameter {name!r} is a list holding a substitution "
                                     "(one concatenated string to launch_ros)")
    return found


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_no_array_parameter_is_a_list_of_substitutions(path):
    assert substitution_lists(path.read_text(), path.name) == []


def test_the_check_catches_the_pattern_that_broke_bag_eval():
    broken = '''
config = {"odom_topic": LaunchConfiguration("odom_topic")}
a = Node(package="p", executable="e", parameters=[{"odom_topics": [config["odom_topic"]], "ok": ["/a", "/b"]}])
def later(context):
    topic = LaunchConfiguration("odom_topic").perform(context)
    return [Node(package="p", executable="e", parameters=[{"odom_topics": [topic],
                                                            "mixed": ["/x", LaunchConfiguration("y")],
                                                            "nested": [[LaunchConfiguration("z")]]}])]
'''
    found = substitution_lists(broken, "broken.launch.py")
    assert len(found) == 2, found
    assert any("broken.launch.py:3: parameter 'odom_topics'" in line for line in found[:2])
    assert any("parameter 'mixed'" in line for line in found)


def _started_processes(tree):
    """{variable: label} of every Node(...) / ExecuteProcess(...) assigned to a name."""
    started = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and _callee(node.value) in ("Node", "ExecuteProcess")):
            executable = next((k.value for k in node.value.keywords if k.arg == "executable"), None)
            label = executable.value if isinstance(executable, ast.Constant) else _callee(node.value)
            started.update({t.id: label for t in node.targets if isinstance(t, ast.Name)})
    return started


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_started_process_fails_the_launch_when_it_fails(path):
    tree = ast.parse(path.read_text(), filename=path.name)
    watched = {call.args[0].id for call in ast.walk(tree) if isinstance(call, ast.Call)
               and _callee(call) == "fail_on_error" and call.args and isinstance(call.args[0], ast.Name)}
    started = _started_processes(tree)
    assert started, f"{path.name} starts nothing"
    missing = sorted(name for name, label in started.items() if label not in NOT_WATCHED and name not in watched)
    assert not missing, f"{path.name}: no fail_on_error for {missing}"


def test_exit_failure_reasons():
    assert exit_failure("predictor_node", 0, False) is None
    assert exit_failure("predictor_node", None, False) is None
    assert exit_failure("predictor_node", 2, True) is None             # stopped by the launch's own shutdown
    assert exit_failure("predictor_node", 2, False) == \
        "predictor_node exited with status 2: stopping the launch (exit 1)"
    assert exit_failure("bag play", -9, False) == "bag play was killed by signal 9: stopping the launch (exit 1)"
    assert issubclass(LaunchedProcessFailed, RuntimeError)
