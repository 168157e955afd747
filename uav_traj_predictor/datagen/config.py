"""`DatagenConfig`: what config/datagen.yaml holds, with defaults and checks that name the bad key."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from uav_traj_predictor.sim.references import check_families

BETWEEN_MODES = ("hover", "land")


class ConfigError(ValueError):
    """A datagen config file or value is wrong; the message names the file and key."""


@dataclass
class DatagenConfig:
    """Data generation settings (see config/datagen.yaml for the documented file)."""
    seed: int = 0
    out_dir: str = "datagen_out"
    trajectories: int = 10
    families: list[str] = field(default_factory=lambda: ["vector", "waypoints", "clover", "hover_dash", "racing"])
    duration_s: tuple[float, float] = (20.0, 40.0)   # reference duration drawn uniformly in this range
    max_speed: float = 8.0            # m/s: faster references are retimed (slowed down) to this peak speed
    min_altitude: float = 1.5         # m: references are raised to stay above this
    recenter: bool = True             # move each reference horizontally so it starts above the home point
    takeoff_altitude: float = 3.0     # m
    setpoint_rate: float = 50.0       # Hz, position + velocity setpoints (>= 20 for PX4 offboard)
    between: str = "hover"            # "hover" or "land" between trajectories
    hover_s: float = 2.0              # hover before / after each trajectory, s
    transit_speed: float = 2.0        # m/s, move to a reference's start
    abort_error: float = 15.0         # m: tracking error above this aborts the trajectory (then retried)
    retries: dict[str, int] = field(default_factory=lambda: dict(connect=3, arm=3, takeoff=2, land=3,
                                                                   trajectory=2))
    timeouts: dict[str, float] = field(default_factory=lambda: dict(connect=30.0, arm=10.0, takeoff=40.0,
                                                                      land=60.0, disarm=10.0))
    vehicle: dict = field(default_factory=lambda: dict(profile="default", wind=False))   # embedded sim
    px4: dict = field(default_factory=lambda: dict(url="udpin://0.0.0.0:14540"))        # MAVSDK backend

    def validate(self) -> "DatagenConfig":
        """Check every value; ConfigError names the key. Returns self."""
        try:
            self.families = check_families(self.families)
        except ValueError as err:
            raise ConfigError(f"families: {err}") from None
        lo, hi = (float(x) for x in self.duration_s)
        self.duration_s = (lo, hi)
        checks = [
            ("trajectories", int(self.trajectories) == self.trajectories and self.trajectories >= 1, "an integer >= 1"),
            ("duration_s", 0 < lo <= hi, "[min, max] with 0 < min <= max"),
            ("max_speed", self.max_speed > 0, "positive"),
            ("takeoff_altitude", self.takeoff_altitude > 0, "positive"),
            ("setpoint_rate", 20.0 <= self.setpoint_rate <= 500.0, "within 20..500 Hz"),
            ("between", self.between in BETWEEN_MODES, f"one of {BETWEEN_MODES}"),
            ("hover_s", self.hover_s >= 0, ">= 0"),
            ("transit_speed", self.transit_speed > 0, "positive"),
            ("abort_error", self.abort_error > 0, "positive"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{key} must be {expected}, got {getattr(self, key)!r}")
        for key in ("retries", "timeouts"):
            defaults = getattr(DatagenConfig(), key)
            merged = dict(defaults, **getattr(self, key))
            unknown = set(merged) - set(defaults)
            if unknown:
                raise ConfigError(f"{key}: unknown entries {sorted(unknown)}; known: {sorted(defaults)}")
            if any(not value >= 0 for value in merged.values()):
                raise ConfigError(f"{key}: values must be >= 0, got {merged}")
            setattr(self, key, merged)
        self.trajectories = int(self.trajectories)
        return self

    def to_dict(self) -> dict:
        """Plain-type dictionary (for the dataset card)."""
        out = asdict(self)
        out["duration_s"] = list(self.duration_s)
        return out


def load_config(path=None, **overrides) -> DatagenConfig:
    """Read a datagen YAML file (None: defaults), apply non-None `overrides`, validate."""
    values: dict = {}
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
    known = {f.name for f in fields(DatagenConfig)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DatagenConfig(**values).validate()
    except (TypeError, ValueError) as err:   # wrong types, or a check in validate()
        raise ConfigError(f"{path or 'config'}: {err}") from None
