"""`uav-traj train`: tiny runs end to end (single process, fine-tune, 2-process DDP on gloo)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import REPO
from uav_traj_predictor.model import StreamingPredictor, load_checkpoint
from uav_traj_predictor.train.cli import main
from uav_traj_predictor.train.datasets import from_files

TINY = REPO / "config" / "train_tiny.yaml"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    assert main(["--config", str(TINY), "--out", str(out), "--quiet"]) == 0
    return out / "model.pt"


def test_tiny_training_writes_a_complete_checkpoint(tiny_run):
    model, meta = load_checkpoint(tiny_run)
    assert meta["training"]["config"]["model"]["hidden"] == 16
    assert meta["training"]["data"]["parts"][0]["source"] == "kinematic"
    assert "uav-traj train --config" in meta["training"]["command"]
    assert meta["metrics"]["validation"]["windows"] > 0
    assert 0.5 < meta["metrics"]["calibration"]["coverage_1sigma"] < 0.85
    assert len(meta["cv_std"]) == 10 and all(s > 0 for s in meta["cv_std"])
    assert (model.std_calibration > 0).all() and model.velocity_scale[0] == model.velocity_scale[1]
    assert StreamingPredictor(tiny_run).model_id == meta["model_id"]


def test_training_is_deterministic_and_fine_tunes(tiny_run, tmp_path):
    assert main(["--config", str(TINY), "--out", str(tmp_path), "--quiet"]) == 0
    first, _ = load_checkpoint(tiny_run)
    again, _ = load_checkpoint(tmp_path / "model.pt")
    for key, value in first.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    assert main(["--config", str(TINY), "--out", str(tmp_path), "--name", "tuned", "--init", str(tiny_run),
                 "--epochs", "1", "--seed", "3", "--quiet"]) == 0
    tuned, meta = load_checkpoint(tmp_path / "tuned.pt")
    assert meta["training"]["init"] == str(tiny_run) and meta["seed"] == 3
    assert torch.equal(tuned.velocity_scale, first.velocity_scale)          # kept from the initial model
    history = meta["metrics"]["history"]
    assert history[0]["epoch"] == 0                                         # the initial model's score
    assert meta["metrics"]["validation"]["ade"] <= history[0]["val_ade"] + 1e-6   # never worse on validation


def test_refuses_sealed_data(tmp_path):
    sealed = tmp_path / "sealed"
    sealed.mkdir()
    with pytest.raises(ValueError, match="sealed"):
        from_files([sealed], 10.0)


def test_recorded_flights_seen_through_random_sensors(tmp_path):
    """`data.files.sensors` (config/train_finetune_robust.yaml): each recorded flight through `copies` random
    measurement models, the recorded positions being the truth; reproducible by seed; "none" keeps them as
    recorded (measured == truth, the previous fine-tune)."""
    from helpers.untrusted import write_tum
    flight = write_tum(tmp_path / "flight.txt", seconds=40.0, rate=100.0)
    plain = from_files([flight], 10.0)
    assert all(np.array_equal(track.measured, track.truth) for track in plain.flights)
    seen = from_files([flight], 10.0, sensors="total_station", copies=3, seed=5)
    assert seen.description["sensor_draws"] == {"total_station": 3} and set(seen.groups) == {0}
    offsets = np.concatenate([np.linalg.norm(track.measured - track.truth, axis=1) for track in seen.flights])
    assert 0.0 < np.median(offsets) < 0.2                     # centimetres of total-station noise, not a shift
    truth = np.concatenate([track.truth for track in seen.flights])
    np.testing.assert_allclose(np.hypot(truth[:, 0], truth[:, 1]), 1.0, atol=1e-4)   # the recorded circle itself
    again = from_files([flight], 10.0, sensors="total_station", copies=3, seed=5)
    assert all(np.array_equal(a.measured, b.measured) for a, b in zip(seen.flights, again.flights))
    with pytest.raises(ValueError, match="unknown sensor"):
        from_files([flight], 10.0, sensors="sonar")


def test_recorded_flights_beside_the_configs_simulated_sources(tmp_path):
    """`data.files.sources_scale`: that share of the config's simulated sources joins the recorded flights; the
    validation flights are recorded ones (what is tuned for), the calibration flights simulated ones, training
    the rest of both, no flight on two sides."""
    import yaml
    from helpers.untrusted import write_tum
    from uav_traj_predictor.train.cli import build_sets
    cfg = yaml.safe_load(TINY.read_text())
    flights = [write_tum(tmp_path / f"flight{i}.txt", seconds=30.0) for i in range(3)]
    cfg["data"]["files"] = {"sources_scale": 0.5}
    train, val, calib, description = build_sets(cfg, flights)
    recorded, simulated = description["parts"][1], description["parts"][0]
    assert recorded["flights"] == 3 and simulated["parts"][0]["flights"] == 5      # 10 kinematic flights x 0.5
    assert {track.sensor for track in val.flights} == {"recorded"} and len(set(val.groups)) == 1   # of the 3
    assert "recorded" not in {track.sensor for track in calib.flights} and len(set(calib.groups)) == 1   # of the 5
    assert len(set(train.groups)) == 4 + 2 and "recorded" in {track.sensor for track in train.flights}
    cfg["data"]["files"] = {}
    assert build_sets(cfg, flights)[3]["source"] == "files"                     # the recorded flights alone


def test_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 0\n")
    with pytest.raises(SystemExit, match="lacks"):
        main(["--config", str(bad)])


def test_ddp_two_cpu_processes_on_gloo(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "uav_traj_predictor.train.cli",
               "--config", str(TINY), "--out", str(tmp_path), "--quiet"]
    # run outside the repo root: there `-m` would import the source tree, which lacks the installed kernels
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    model, meta = load_checkpoint(tmp_path / "model.pt")
    assert meta["training"]["world_size"] == 2
