"""`DatagenConfig`: what config/datagen.yaml holds, as validated settings (uav_traj_predictor/config.py):
defaults, and checks that name the bad key (and the file)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ..bags.writer import STORAGES, VERSIONS, BagFormat
from ..config import ConfigError, Settings, from_mapping, setting
from ..sim.references import check_families

__all__ = ["BETWEEN_MODES", "ConfigError", "DatagenConfig", "load_config"]

BETWEEN_MODES = ("hover", "land")
RETRIES = dict(connect=3, arm=3, takeoff=2, land=3, trajectory=2)
TIMEOUTS = dict(connect=30.0, arm=10.0, takeoff=40.0, land=60.0, disarm=10.0)


def _families(value) -> str | None:
    try:
        check_families(value)
    except ValueError as err:
        return str(err)
    return None


def _entries(defaults: dict):
    def check(value) -> str | None:
        unknown = set(value) - set(defaults)
        if unknown:
            return f"unknown entries {sorted(unknown)}; known: {sorted(defaults)}"
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 for v in value.values()):
            return f"values must be numbers >= 0, got {dict(value)}"
        return None
    return check


@dataclass(frozen=True)
class DatagenConfig(Settings):
    """Data generation settings (see config/datagen.yaml for the documented file)."""
    seed: int = setting(0, "seed of the references", low=0)
    out_dir: str = setting("datagen_out", "bag/, trajectories/, card.yaml")
    trajectories: int = setting(10, "references to fly", low=1)
    families: tuple[str, ...] = setting(("vector", "waypoints", "clover", "hover_dash", "racing"),
                                        "families drawn uniformly", check=_families)
    duration_s: tuple[float, float] = setting((20.0, 40.0), "reference duration drawn uniformly in [min, max]",
                                              positive=True)
    max_speed: float = setting(8.0, "m/s: faster references are retimed (slowed down) to this peak", positive=True)
    min_altitude: float = setting(1.5, "m: references are raised to stay above this")
    recenter: bool = setting(True, "move each reference horizontally so it starts above the home point")
    takeoff_altitude: float = setting(3.0, "m", positive=True)
    setpoint_rate: float = setting(50.0, "Hz, position + velocity setpoints (>= 20 for PX4 offboard)",
                                   low=20.0, high=500.0)
    between: str = setting("hover", "between trajectories", choices=BETWEEN_MODES)
    hover_s: float = setting(2.0, "hover before / after each trajectory, s", low=0.0)
    transit_speed: float = setting(2.0, "m/s, move to a reference's start", positive=True)
    abort_error: float = setting(15.0, "m: tracking error above this aborts the trajectory (then retried)",
                                 positive=True)
    retries: dict = setting(RETRIES, "attempts after a failure, per step", check=_entries(RETRIES))
    timeouts: dict = setting(TIMEOUTS, "seconds, per step", check=_entries(TIMEOUTS))
    vehicle: dict = setting(dict(profile="default", wind=False), "embedded simulator vehicle")
    px4: dict = setting(dict(url="udpin://0.0.0.0:14540"), "MAVSDK backend options")
    bag_version: int = setting(9, "rosbag2 metadata version of bag/ (8 for Humble, docs/bags.md)", choices=VERSIONS)
    bag_storage: str = setting("mcap", "storage of bag/", choices=tuple(STORAGES))

    def check(self) -> None:
        # normalised forms: families as given (a list), retries / timeouts completed with the defaults
        object.__setattr__(self, "families", tuple(check_families(list(self.families))))
        object.__setattr__(self, "duration_s", tuple(float(x) for x in self.duration_s))
        object.__setattr__(self, "retries", dict(RETRIES, **self.retries))
        object.__setattr__(self, "timeouts", dict(TIMEOUTS, **self.timeouts))

    @property
    def bag_format(self) -> BagFormat:
        return BagFormat(self.bag_version, self.bag_storage)

    def to_dict(self) -> dict:
        """Plain-type dictionary (for the dataset card)."""
        out = asdict(self)
        out["families"], out["duration_s"] = list(self.families), list(self.duration_s)
        return out


def load_config(path=None, **overrides) -> DatagenConfig:
    """Read a datagen YAML file (None: defaults), apply non-None `overrides`, validate."""
    values: dict = {}
    where = str(path) if path is not None else "config"
    if path is not None:
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise ConfigError(f"{path}: cannot read ({err.strerror})") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return from_mapping(DatagenConfig, values)
    except ConfigError as err:
        raise err.within(f"{where}: ") from None
