"""The `uav-traj train` YAML config as validated settings (uav_traj_predictor/config.py): types, ranges and
unknown keys, one clear error each.

`validate(cfg)` raises `ConfigError("<key>: <problem>")` (the key dotted, e.g. `optim.lr`) and returns the
mapping unchanged (the trainer reads it as a dict); `parse(cfg)` returns the `TrainConfig`. The CLI adds the
file name. Source entries (`data.sources[i]`) are checked for shape and the common fields; the
source-specific extras (families, noise, ...) are read by `datasets`. Optional keys left out are None
here: the trainer's own defaults apply.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, Settings, from_mapping, setting

__all__ = ["ConfigError", "TrainConfig", "parse", "validate"]


@dataclass(frozen=True)
class ModelConfig(Settings):
    input_features: int | None = setting(None, "network input features", low=1)
    hidden: int | None = setting(None, "GRU width", low=1)
    layers: int | None = setting(None, "GRU layers", low=1)
    head_hidden: int | None = setting(None, "head width", low=1)
    head: str | None = setting(None, "head kind")


@dataclass(frozen=True)
class AugmentConfig(Settings):
    yaw: bool | None = setting(None, "random yaw rotation")
    mirror: bool | None = setting(None, "random mirroring")
    scale: tuple[float, float] | None = setting(None, "speed scale range [low, high]", low=0.0)
    z_scale: tuple[float, float] | None = setting(None, "vertical scale range", low=0.0)
    noise: tuple[float, float] | None = setting(None, "position noise range (m)", low=0.0)


@dataclass(frozen=True)
class OptimConfig(Settings):
    epochs: int = setting(description="epochs", low=1)
    steps_per_epoch: int = setting(description="optimiser steps per epoch", low=1)
    batch_size: int = setting(description="chunks per step (all ranks)", low=1)
    chunk_steps: int = setting(description="grid steps per training chunk", low=1)
    lr: float = setting(description="peak learning rate", positive=True)
    grad_clip: float = setting(description="gradient norm clip", positive=True)
    loss_from: int = setting(description="first chunk step in the loss", low=0)
    nll_weight: float = setting(description="weight of the Gaussian NLL term", low=0.0)
    patience: int = setting(description="epochs without improvement before stopping", low=1)
    weight_decay: float | None = setting(None, "Adam weight decay", low=0.0)
    relative_floor: float | None = setting(None, "floor of the relative error term", low=0.0)
    nll: str | None = setting(None, "likelihood of the log-std term (default gaussian)",
                              choices=("gaussian", "student_t"))
    student_dof: float | None = setting(None, "degrees of freedom of the student_t likelihood (default 4)",
                                        positive=True)


@dataclass(frozen=True)
class SourceConfig(Settings):
    EXTRA_KEYS = True           # source-specific extras (families, noise, ...) are read by train/datasets
    source: str = setting(description="flight source", choices=("sim", "kinematic"))
    flights: int = setting(description="number of flights", low=1)
    duration_s: float = setting(description="seconds per flight", positive=True)
    orientations: bool | None = setting(None, "sim sources: the attitude input from the simulator's own orientations "
                                        "(default false: synthesised from the exact positions, train/datasets.py)")


@dataclass(frozen=True)
class FilesConfig(Settings):
    sensors: str | None = setting(None, "measurement models recorded flights are seen through (--data): 'none' "
                                  "(as recorded, the default), 'mixture' or one sensor of sim/noise.py")
    copies: int | None = setting(None, "random measurement models per recorded flight", low=1)
    sources_scale: float | None = setting(None, "also train on data.sources with this share of their flights "
                                          "(0 or absent: the recorded flights alone)", low=0.0)


@dataclass(frozen=True)
class DataConfig(Settings):
    sources: list[SourceConfig] = setting(description="flight sources of the training mixture")
    files: FilesConfig | None = setting(None, "how --data flights are seen")
    val_fraction: float | None = setting(None, "validation share of the flights", low=0.0, high=1.0)
    calib_fraction: float | None = setting(None, "calibration share of the flights", low=0.0, high=1.0)


@dataclass(frozen=True)
class TrainConfig(Settings):
    seed: int = setting(description="random seed", low=0)
    rate: float = setting(description="grid rate (Hz)", positive=True)
    horizon_steps: int = setting(description="predicted steps", low=1)
    min_history: int = setting(description="velocities before the model predicts", low=0)
    model: ModelConfig = setting(description="network")
    data: DataConfig = setting(description="training data")
    optim: OptimConfig = setting(description="optimiser")
    augment: AugmentConfig | None = setting(None, "augmentation")
    threads: int | None = setting(None, "torch CPU threads", low=1)


def parse(cfg: dict) -> TrainConfig:
    """The validated TrainConfig of a train config mapping (ConfigError naming the dotted key)."""
    return from_mapping(TrainConfig, cfg)


def validate(cfg: dict) -> dict:
    """Check a train config (a mapping with the required sections); raise ConfigError naming the key.
    Returns `cfg` itself, unchanged."""
    parse(cfg)
    return cfg

