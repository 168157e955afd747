"""What the tests share, in one importable place (test modules never import each other): paths of the
checkout, bench/ scripts as modules, a short datagen config; random checkpoints (`helpers.checkpoints`),
seeded GRU cases (`helpers.kernels`), the guard's C twin against its reference (`helpers.guard`),
reference ROS messages built the slow way (`helpers.messages`, needs rclpy), the `ros2 launch` executable
lookup (`helpers.install`), hostile files (`helpers.untrusted`). conftest.py builds its fixtures on these.
Importable as `helpers` because pytest puts test/ (the folder of the root conftest.py) on sys.path.

Layout: test/unit/<room>/test_<room>_*.py run in one process (rclpy message types allowed, no DDS
participant); test/integration/ starts node processes (through uav_traj_predictor.harness) or rclpy
nodes. Test file names are unique across both (pytest imports them by name)."""
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
SHARED = REPO.parent / "shared"
# a one-trajectory datagen config that flies in a few seconds (embedded simulator)
SHORT_DATAGEN = dict(trajectories=1, families=["hover_dash"], duration_s=[3.0, 3.0], hover_s=0.3, takeoff_altitude=1.5)


def load_bench(name: str):
    """bench/<name>.py as module bench_<name>, loaded once per process (bench/ is not a package)."""
    if f"bench_{name}" not in sys.modules:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        sys.modules[f"bench_{name}"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[f"bench_{name}"]
