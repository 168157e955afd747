"""Test harness: DDS confined to loopback for every test process and child, and the markers.

Fixtures build on test/helpers (what the tests share; test modules never import each other).
Enforced in one place: this file sets the loopback environment before any test imports rclpy and
wraps rclpy.init so that a test process can never start rclpy without it. The environment is the one
the installed distribution's rcl reads (rosenv: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST on Jazzy and
Kilted, ROS_LOCALHOST_ONLY=1 as well on Humble or an unknown one).
"""
import os
import shutil
import sys
from pathlib import Path

import pytest

from helpers import SHARED, SHORT_DATAGEN, checkpoints
from uav_traj_predictor import rosenv

DOMAIN_ID = rosenv.use_loopback_dds()
FLIGHTS = SHARED / "flights"
VECTOR_ANCHORS = SHARED / "anchors" / "vector"
BIN = Path(sys.executable).parent


def _guard_rclpy_init():
    try:
        import rclpy
    except ImportError:
        return
    original = rclpy.init
    if getattr(original, "_loopback_guard", False):
        return

    def guarded_init(*args, **kwargs):
        rosenv.check_loopback_dds()
        return original(*args, **kwargs)

    guarded_init._loopback_guard = True
    rclpy.init = guarded_init


_guard_rclpy_init()


def _has_cuda():
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def _has_launch():
    try:
        import launch  # noqa: F401
        import launch_ros  # noqa: F401
        return hasattr(launch, "LaunchDescription")  # PyPI's unrelated `launch` 0.1.3 has none
    except ImportError:
        return False


def _has_rclpy():
    try:
        import rclpy  # noqa: F401
        return True
    except ImportError:
        return False


def pytest_collection_modifyitems(config, items):
    reasons = {
        "gpu": None if _has_cuda() else "needs a CUDA GPU; this machine has none (torch.cuda.is_available() is False)",
        "launch": None if _has_launch()
        else "needs the ROS 2 `launch`/`launch_ros` packages, not installable from PyPI here",
        "ros": None if _has_rclpy() else "needs rclpy (run `make install`)",
    }
    for item in items:
        for marker, reason in reasons.items():
            if reason and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def ros_env():
    """Environment for child processes that start rclpy: loopback DDS, this session's domain."""
    env = rosenv.loopback_env(domain_id=DOMAIN_ID)
    rosenv.check_loopback_dds(env)
    return env


@pytest.fixture
def console_script():
    """Path of one of the package's installed console scripts."""
    def find(name):
        path = BIN / name
        if not path.exists():
            found = shutil.which(name)
            assert found, f"console script {name} is not installed (run `make install`)"
            path = Path(found)
        return str(path)
    return find


def require_shared(path: Path, what: str) -> Path:
    """`path` of the shared data folder beside the checkout (../shared), which tests need for the real
    flights and anchors: skipped with the reason on a developer machine without it, a FAILURE under CI
    (CI=true), where a missing folder must not turn the accuracy checks into silent skips."""
    if not path.exists():
        message = f"{what} not found at {path} (the shared data folder beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(name="require_shared")
def require_shared_fixture():
    """`require_shared(path, what)` for a file inside the shared folder (see above)."""
    return require_shared


@pytest.fixture(scope="session")
def flights_dir():
    return require_shared(FLIGHTS, "real flights")


@pytest.fixture(scope="session")
def vector_dir():
    return require_shared(VECTOR_ANCHORS, "VECTOR checkpoints")


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory):
    """A small random-weight checkpoint (10 Hz, 10-step horizon, min_history 5): for tests of plumbing,
    not accuracy. Returns its path as a string."""
    return str(checkpoints.random_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt"))


@pytest.fixture
def datagen_short_config(tmp_path):
    """A datagen YAML (helpers.SHORT_DATAGEN: one short trajectory) in tmp_path; its path."""
    import yaml
    path = tmp_path / "datagen.yaml"
    path.write_text(yaml.safe_dump(SHORT_DATAGEN))
    return path


@pytest.fixture
def launch_description():
    """Loads a launch file (a path) and returns its generate_launch_description() (needs `launch`)."""
    import importlib.util

    def load(path):
        spec = importlib.util.spec_from_file_location(Path(path).name.replace(".", "_"), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.generate_launch_description()
    return load
