"""The simulation-only checkpoint on the real flights (../shared/flights, held out: it never saw them),
evaluation protocol: it must beat constant velocity and meet the product's ADE targets in every folder, the
pooled ADE and the 1-sigma coverage promise. The shipped default is that checkpoint fine-tuned on these very
flights (config/train_finetune_mixed.yaml), so on them it is scored leave-one-flight-out only: the last test
here fine-tunes without one flight and scores that flight."""

import numpy as np
import pytest

from helpers import REPO
from uav_traj_predictor.data import load_segments, window_indices
from uav_traj_predictor.model import StreamingPredictor

# The committed simulation-only checkpoint (models/sim_only.pt); the installed share/ copy is refreshed only by
# `make develop`, so it can lag behind the source tree.
SOURCE_CHECKPOINT = REPO / "models" / "sim_only.pt"

HISTORY, HORIZON = 20, 10
POOLED_ADE_MAX = 0.19          # metres, 8255 windows (docs/model.md)
ADE_MAX = {"euroc": 0.095, "uzh_fpv": 0.246, "blackbird": 0.514}   # 0.9 x the best anchor per folder
# Promise: 1-sigma coverage 68 +- 7 % in every folder (std calibrated on simulated flights only).
COVERAGE = {"euroc": (0.61, 0.75), "uzh_fpv": (0.61, 0.75), "blackbird": (0.61, 0.75)}


def folder_errors(predictor, folder):
    model_err, cv_err, z = [], [], []
    for segment in load_segments([folder]):
        positions = segment.positions
        rows = window_indices(len(positions), HISTORY, HORIZON)
        if not len(rows):
            continue
        result = predictor.predict_segment(segment)
        truth = np.stack([positions[k + 1:k + 1 + HORIZON] for k in rows])
        steps = np.arange(1, HORIZON + 1)[:, None] * segment.dt
        cv = positions[rows, None] + (positions[rows] - positions[rows - 1])[:, None] / segment.dt * steps
        model_err.append(np.linalg.norm(result.positions[rows] - truth, axis=-1).mean(axis=1))
        cv_err.append(np.linalg.norm(cv - truth, axis=-1).mean(axis=1))
        z.append(np.abs(result.positions[rows] - truth) / result.std[rows])
    return np.concatenate(model_err), np.concatenate(cv_err), np.concatenate(z)


def test_shipped_model_on_real_flights(flights_dir):
    predictor = StreamingPredictor(str(SOURCE_CHECKPOINT) if SOURCE_CHECKPOINT.is_file() else None)
    scores = {folder: folder_errors(predictor, flights_dir / folder) for folder in ("euroc", "uzh_fpv", "blackbird")}
    for folder, (model_err, cv_err, z) in scores.items():
        assert model_err.mean() < cv_err.mean(), f"{folder}: ADE {model_err.mean():.3f} vs CV {cv_err.mean():.3f}"
        assert model_err.mean() <= ADE_MAX[folder], f"{folder}: ADE {model_err.mean():.4f}"
        low, high = COVERAGE[folder]
        coverage = (z <= 1).mean()
        assert low <= coverage <= high, f"{folder}: 1-sigma coverage {coverage:.3f}"
        assert (z <= 2).mean() >= 0.90, f"{folder}: 2-sigma coverage {(z <= 2).mean():.3f}"
    pooled = np.concatenate([model_err for model_err, _, _ in scores.values()])
    assert len(pooled) == 8255
    assert pooled.mean() <= POOLED_ADE_MAX, f"pooled ADE {pooled.mean():.4f}"


def test_every_step_is_calibrated_by_the_per_lead_calibration(flights_dir):
    """Held out, clean: with the guard's per-lead, per-axis calibration (the default) every one of EuRoC's 10
    steps holds 1 sigma 68 +- 7 % and 2 sigma >= 90 %, and every UZH-FPV step 2 sigma >= 90 %; the simulation
    calibration alone leaves UZH-FPV's first steps' 2 sigma below 90 % (87 % at 0.1 s; e22: 85 %). With the previous
    simulation-only checkpoint it was EuRoC's first steps, which turned the calibration on for the 1 s default
    (docs/model.md)."""
    checkpoint = str(SOURCE_CHECKPOINT) if SOURCE_CHECKPOINT.is_file() else None
    by_step = {}
    for folder in ("euroc", "uzh_fpv"):
        for rate in (None, 0.0):
            _, _, z = folder_errors(StreamingPredictor(checkpoint, lead_calibration=rate), flights_dir / folder)
            by_step[folder, rate] = (z <= 1).mean(axis=(0, 2)), (z <= 2).mean(axis=(0, 2))
    one, two = by_step["euroc", None]
    assert ((one >= 0.61) & (one <= 0.75)).all() and (two >= 0.90).all(), (one, two)
    assert (by_step["uzh_fpv", None][1] >= 0.90).all(), by_step["uzh_fpv", None]
    assert (by_step["uzh_fpv", 0.0][1][:2] < 0.90).all(), by_step["uzh_fpv", 0.0][1]


def test_the_racing_flights_orientations_carry_the_model_well_ahead_of_their_positions_alone(flights_dir):
    """Held out, UZH-FPV racing as recorded: the attitude input is in use in most windows and the model with the
    flights' orientations is well ahead of the same model on their positions alone (e27: 0.185 against 0.236 m,
    0.78x; e26, whose simulated flights' attitude came from an error model, was 0.90x: docs/model.md, "The
    simulator's own tilts in training")."""
    from uav_traj_predictor.data.perturb import Perturbation
    from uav_traj_predictor.evaluate.methods import build_methods
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    methods = build_methods(["model"], checkpoint=str(SOURCE_CHECKPOINT) if SOURCE_CHECKPOINT.is_file() else None)
    flights = sorted((flights_dir / "uzh_fpv").glob("*.txt"))
    with_attitude = evaluate_flights(flights, methods, seed=0)
    positions_only = evaluate_flights(flights, methods, perturbation=Perturbation.parse("positions_only=1"), seed=0)
    assert with_attitude["attitude_in_use"]["uzh_fpv"] >= 0.8, with_attitude["attitude_in_use"]
    assert not positions_only.get("attitude_in_use", {}).get("uzh_fpv"), positions_only.get("attitude_in_use")
    ade, alone = with_attitude["pooled"]["model"]["ade"], positions_only["pooled"]["model"]["ade"]
    assert ade <= 0.85 * alone, (ade, alone)
    assert 0.61 <= with_attitude["pooled"]["model"]["coverage_1sigma"] <= 0.75


NOISY = ("euroc/V1_01_easy_original.txt", "uzh_fpv/outdoor_forward_1_snapdragon_with_gt.txt")


def test_shipped_model_beats_the_classical_filters_under_centimetre_noise(flights_dir):
    """Two real flights seen through a 20 Hz sensor with 1 cm white noise (seeded): the model must stay
    well ahead of constant velocity and of the adaptive classical filters, and keep its std calibrated."""
    from uav_traj_predictor.data.perturb import Perturbation
    from uav_traj_predictor.evaluate.methods import build_methods
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    methods = build_methods(["model", "cv", "akf", "imm"],
                            checkpoint=str(SOURCE_CHECKPOINT) if SOURCE_CHECKPOINT.is_file() else None)
    report = evaluate_flights([flights_dir / name for name in NOISY], methods,
                              perturbation=Perturbation.parse("rate=20,noise=0.01"), seed=0)
    for key, entries in report["files"].items():
        model = entries["model"]["ade"]
        assert model <= 0.9 * entries["cv"]["ade"], f"{key}: model {model:.3f} vs CV {entries['cv']['ade']:.3f}"
        assert model <= min(entries["akf"]["ade"], entries["imm"]["ade"]), f"{key}: behind a Kalman filter"
        assert 0.61 <= entries["model"]["coverage_1sigma"] <= 0.75 and entries["model"]["coverage_2sigma"] >= 0.9



def test_the_guard_keeps_the_model_with_the_classical_filter_beyond_its_training_noise(flights_dir):
    """10 cm of white noise at 20 Hz on two slow real flights is beyond the noise the network was trained
    on (there a tuned IMM is 2x better than the network alone): with the guard (the default) the product
    stays within 5 % of the IMM and far ahead of the network alone."""
    from uav_traj_predictor.data.perturb import Perturbation
    from uav_traj_predictor.evaluate.methods import ModelMethod, build_methods
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    checkpoint = str(SOURCE_CHECKPOINT) if SOURCE_CHECKPOINT.is_file() else None
    methods = build_methods(["model", "imm"], checkpoint=checkpoint)
    methods["network"] = ModelMethod(checkpoint, guard=0.0)
    report = evaluate_flights([flights_dir / "euroc" / name for name in ("V1_01_easy_original.txt", "MH_01_easy.txt")],
                              methods, perturbation=Perturbation.parse("rate=20,noise=0.1"), seed=0)
    pooled = report["pooled"]
    model, imm, network = (pooled[name]["ade"] for name in ("model", "imm", "network"))
    print(f"ADE model {model:.3f}, IMM {imm:.3f}, network alone {network:.3f}")
    assert model <= 1.05 * imm and model <= 0.7 * network, (model, imm, network)
    assert 0.61 <= pooled["model"]["coverage_1sigma"] <= 0.80


@pytest.mark.slow
def test_the_shipped_recipe_on_a_flight_it_did_not_see(flights_dir, tmp_path):
    """The shipped default's recipe (config/train_finetune_mixed.yaml on the simulation-only checkpoint), one
    leave-one-flight-out fold: fine-tuned on the other nine flights, scored on EuRoC V1_01 seen through a 20 Hz
    sensor with 1 cm noise. It must stay well ahead of CV and of the adaptive classical filters, keep its std
    calibrated, and not fall behind the simulation-only checkpoint (bench/finetune_lofo.py runs every fold)."""
    from uav_traj_predictor.data.perturb import Perturbation
    from uav_traj_predictor.evaluate.methods import ModelMethod, build_methods
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    from uav_traj_predictor.train.cli import main as train
    held_out = flights_dir / "euroc" / "V1_01_easy_original.txt"
    others = sorted(str(path) for path in flights_dir.rglob("*.txt") if path != held_out)
    assert len(others) == 9
    assert train(["--config", str(REPO / "config" / "train_finetune_mixed.yaml"), "--init", str(SOURCE_CHECKPOINT),
                  "--data", *others, "--out", str(tmp_path), "--name", "fold", "--quiet"]) == 0
    methods = build_methods(["model", "cv", "akf", "imm"], checkpoint=str(tmp_path / "fold.pt"))
    methods["sim_only"] = ModelMethod(str(SOURCE_CHECKPOINT))
    report = evaluate_flights([held_out], methods, perturbation=Perturbation.parse("rate=20,noise=0.01"), seed=0)
    scores = report["pooled"]
    model = scores["model"]["ade"]
    print({name: round(entry["ade"], 4) for name, entry in scores.items()})
    assert model <= 0.9 * scores["cv"]["ade"] and model <= min(scores["akf"]["ade"], scores["imm"]["ade"])
    assert model <= 1.02 * scores["sim_only"]["ade"]
    assert 0.61 <= scores["model"]["coverage_1sigma"] <= 0.75 and scores["model"]["coverage_2sigma"] >= 0.9
