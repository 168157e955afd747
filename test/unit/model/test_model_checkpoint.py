"""Checkpoint format: round trip with metadata, and clear refusals of bad files."""
import pytest
import torch

from helpers.checkpoints import random_checkpoint, random_model
from uav_traj_predictor.model import (Architecture, CheckpointError, VelocityGRU, default_checkpoint_path,
                                      load_checkpoint, save_checkpoint)


class Opaque:
    """A pickled user object a checkpoint must never carry."""


def make_checkpoint(path, hidden=8, layers=1):
    """(path, model): a random checkpoint with non-trivial normalisation and calibration buffers."""
    model = random_model(hidden=hidden, layers=layers, head_hidden=8, features=6, scales=True)
    return random_checkpoint(path, model, min_history=20, cv_std=[0.01] * 10, model_id="test"), model


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    path, model = make_checkpoint(tmp_path / "m.pt", hidden=12, layers=2)
    loaded, meta = load_checkpoint(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert meta["architecture"]["hidden"] == 12 and meta["architecture"]["layers"] == 2
    assert meta["normalisation"]["velocity_scale"] == [2.0, 2.0, 0.5]
    assert meta["horizon_steps"] == 10 and not loaded.training


def test_saved_file_is_plain_data(tmp_path):
    path, _ = make_checkpoint(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "format_version", "state_dict", "meta"}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickled_object", "wrong_keys", "wrong_shape",
                                    "missing_meta", "bad_rate", "foreign_dict", "missing_file"])
def test_bad_files_are_refused_with_file_name(tmp_path, damage):
    path, _ = make_checkpoint(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    bad = tmp_path / f"{damage}.pt"
    if damage == "truncated":
        bad.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"not a checkpoint at all")
    elif damage == "pickled_object":
        payload["meta"]["evil"] = Opaque()  # an arbitrary object: refused by weights_only loading
        torch.save(payload, bad)
    elif damage == "wrong_keys":
        payload["state_dict"]["extra.weight"] = torch.zeros(2)
        torch.save(payload, bad)
    elif damage == "wrong_shape":
        payload["state_dict"]["gru.weight_hh_l0"] = torch.zeros(3, 3)
        torch.save(payload, bad)
    elif damage == "missing_meta":
        del payload["meta"]["cv_std"]
        torch.save(payload, bad)
    elif damage == "bad_rate":
        payload["meta"]["dt"] = 0.05
        torch.save(payload, bad)
    elif damage == "foreign_dict":
        torch.save({"encoder.weight": torch.zeros(2)}, bad)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad)
    assert str(bad) in str(info.value)


def test_save_refuses_missing_metadata(tmp_path):
    model = VelocityGRU(Architecture(hidden=4, head_hidden=4))
    with pytest.raises(CheckpointError, match="metadata"):
        save_checkpoint(tmp_path / "m.pt", model, {"model_id": "x"})


def test_default_checkpoint_is_shipped_small_and_loads():
    path = default_checkpoint_path()
    assert path.is_file(), f"no shipped checkpoint at {path}"
    assert path.stat().st_size < 5 * 1024 * 1024
    model, meta = load_checkpoint(None)
    assert meta["rate"] == 10.0 and meta["horizon_steps"] == model.arch.horizon_steps
    assert meta["training"]["data"] and meta["metrics"] and meta["model_id"].startswith("vgru-")
