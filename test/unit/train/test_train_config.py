"""Train config validation (train/config.py): shipped configs pass; wrong types, ranges, unknown keys fail
with the dotted key named."""

import pytest
import yaml

from helpers import REPO
from uav_traj_predictor.train.config import ConfigError, validate

CONFIG = REPO / "config"


@pytest.mark.parametrize("name", ["train_default.yaml", "train_finetune.yaml", "train_finetune_robust.yaml",
                                  "train_tiny.yaml", "train_horizon3s.yaml"])
def test_shipped_configs_are_valid(name):
    validate(yaml.safe_load((CONFIG / name).read_text()))


@pytest.mark.parametrize("section, key, value, needle", [
    (None, "rate", 0.0, "rate: must be > 0"),
    (None, "seed", True, "seed: must be an integer"),
    (None, "colour", "red", "colour: unknown key"),
    ("optim", "lr", "fast", "optim.lr: must be a finite number"),
    ("optim", "epochs", 0, "optim.epochs: must be >= 1"),
    ("optim", "momentum", 0.9, "optim.momentum: unknown key"),
    ("optim", "nll", "laplace", "optim.nll: must be one of"),
    ("optim", "student_dof", 0.0, "optim.student_dof: must be > 0"),
    ("model", "hidden", 1.5, "model.hidden: must be an integer"),
    ("augment", "scale", [2.0, 1.0], "augment.scale: low must not exceed high"),
    ("data", "val_fraction", 1.5, "data.val_fraction: must be <= 1.0"),
    ("data", "sources", [{"source": "sim", "flights": "many", "duration_s": 10}],
     "data.sources[0].flights: must be an integer"),
    ("data", "sources", [{"source": "sim", "flights": 2, "duration_s": 10, "orientations": "yes"}],
     "data.sources[0].orientations: must be true or false"),
])
def test_bad_values_name_the_key(section, key, value, needle):
    cfg = yaml.safe_load((CONFIG / "train_tiny.yaml").read_text())
    (cfg[section] if section else cfg)[key] = value
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        validate(cfg)


def test_missing_optim_key_is_named():
    cfg = yaml.safe_load((CONFIG / "train_tiny.yaml").read_text())
    del cfg["optim"]["lr"]
    with pytest.raises(ConfigError, match="optim.lr: missing"):
        validate(cfg)


@pytest.mark.parametrize("checkpoint, name", [("sim_only.pt", "train_default.yaml"),
                                              ("default.pt", "train_finetune_mixed.yaml"),
                                              ("horizon3s.pt", "train_horizon3s.yaml")])
def test_each_shipped_checkpoint_was_trained_by_its_shipped_config(checkpoint, name):
    """The README's reproduce commands name these configs: a config edited without retraining (run e22 changed
    train_default.yaml's epochs from 20 to 60) would make them produce another model than the one shipped."""
    from uav_traj_predictor.model import load_checkpoint

    meta = load_checkpoint(REPO / "models" / checkpoint)[1]
    assert meta["training"]["config"] == yaml.safe_load((CONFIG / name).read_text())
