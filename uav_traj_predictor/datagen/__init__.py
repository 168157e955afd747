"""datagen room: the trajectory commander (plain-Python state machine), its vehicle backends (embedded
simulator, PX4 through MAVSDK), ground-truth recording and the PX4/Gazebo preflight. See docs/datagen.md.

    from uav_traj_predictor.datagen import load_config, make_backend, run_datagen
    config = load_config("config/datagen.yaml", trajectories=5)
    output = run_datagen(config, make_backend("sim", config), "out")   # output.result, output.card
"""
from .backend import BackendError, VehicleBackend, VehicleState
from .commander import Commander, RunResult, State, TrajectoryRecord
from .config import ConfigError, DatagenConfig, load_config
from .plan import PlannedTrajectory, plan_trajectories
from .recorder import MARKER_TOPIC, ODOMETRY_TOPIC, DatasetRecorder
from .run import DatagenOutput, format_summary, make_backend, run_datagen

__all__ = [
    "BackendError", "Commander", "ConfigError", "DatagenConfig", "DatagenOutput", "DatasetRecorder",
    "MARKER_TOPIC", "ODOMETRY_TOPIC", "PlannedTrajectory", "RunResult", "State", "TrajectoryRecord",
    "VehicleBackend", "VehicleState", "format_summary", "load_config", "make_backend", "plan_trajectories",
    "run_datagen",
]
