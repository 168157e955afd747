"""bench/finetune_lofo.py's `--slow K` replay is evaluate's `speed=1/K` perturbation (data/perturb.py): the held-out
flight flown K times slower along the same path; its figures equal those of the same replay written as a file, a
checkpoint trained on the recorded flight is still named in-sample on the replay, and the rows carry the factor."""
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import load_bench
from uav_traj_predictor.data.flight import fingerprint
from uav_traj_predictor.data.perturb import Perturbation
from uav_traj_predictor.data.readers import read_flight
from uav_traj_predictor.evaluate.baselines import make_baseline
from uav_traj_predictor.evaluate.runner import evaluate_flights
from uav_traj_predictor.sim.generate import write_tum

lofo = load_bench("finetune_lofo")


def test_the_replay_spec_puts_the_speed_before_the_sensor():
    assert lofo.replay_spec("", 1.0) == "" and lofo.replay_spec("rate=20", 1.0) == "rate=20"
    assert Perturbation.parse(lofo.replay_spec("", 0.5)) == Perturbation(speed=2.0)
    spec = Perturbation.parse(lofo.replay_spec("rate=20,noise=0.01", 1.5))
    assert spec.speed == pytest.approx(1 / 1.5) and (spec.rate, spec.noise) == (20.0, 0.01)


def test_a_speed_replay_scores_as_the_replayed_file_and_stays_in_sample(flights_dir, tmp_path):
    recorded_file = flights_dir / "uzh_fpv" / "outdoor_forward_1_snapdragon_with_gt.txt"
    recorded = read_flight(recorded_file)
    written = tmp_path / "uzh_fpv" / recorded_file.name            # the same flight written twice as fast
    written.parent.mkdir()
    write_tum(written, recorded.t * 0.5, recorded.p, recorded.q)

    class Trained:                                                 # CV behind a checkpoint that saw the flight
        cv = make_baseline("cv")
        predictor = SimpleNamespace(meta={"training": {"data": {"fingerprints": [fingerprint(recorded)]}}})

        def predict_segment(self, segment):
            return self.cv.predict_segment(segment)

    replay = evaluate_flights([recorded_file], {"model": Trained()}, perturbation=Perturbation(speed=2.0))
    as_file = evaluate_flights([written], {"model": make_baseline("cv")})
    as_recorded = evaluate_flights([recorded_file], {"model": make_baseline("cv")})
    assert replay["pooled"]["model"]["windows"] == as_file["pooled"]["model"]["windows"]
    assert replay["pooled"]["model"]["ade"] == pytest.approx(as_file["pooled"]["model"]["ade"], rel=1e-4)
    assert replay["pooled"]["model"]["ade"] > 1.5 * as_recorded["pooled"]["model"]["ade"]   # faster: harder
    assert replay["in_sample"] == {"model": [recorded.name]}
    assert replay["perturbation"]["label"] == "speed=2"


def test_replayed_rows_are_labelled_with_their_factor():
    assert lofo.measurement_label("", 1.0) == "clean"
    assert lofo.measurement_label("rate=20", 0.5) == "rate=20 slowed 0.5x"
    assert np.isclose(1 / Perturbation.parse(lofo.replay_spec("", 0.5)).speed, 0.5)
