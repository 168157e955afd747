"""In-sample figures are flagged: a checkpoint records the fingerprints of the recorded flights it was trained on
(train/datasets.from_files), and evaluation names the flights it scores that a method's checkpoint saw."""
from types import SimpleNamespace

from helpers.untrusted import write_tum
from uav_traj_predictor.data import read_flight
from uav_traj_predictor.data.flight import fingerprint
from uav_traj_predictor.evaluate.baselines import make_baseline
from uav_traj_predictor.evaluate.runner import evaluate_flights, in_sample_warnings, trained_fingerprints
from uav_traj_predictor.train.datasets import from_files


class Trained:
    """The CV baseline dressed as a checkpoint-backed method whose metadata lists `data` as training data."""

    def __init__(self, data: dict):
        self.cv = make_baseline("cv")
        self.predictor = SimpleNamespace(meta={"training": {"data": {"parts": [{"source": "sim"}, data]}}})

    def predict_segment(self, segment):
        return self.cv.predict_segment(segment)


def test_training_records_what_evaluation_recognises(tmp_path):
    seen, unseen = write_tum(tmp_path / "seen.txt", seconds=20.0), write_tum(tmp_path / "unseen.txt", seconds=21.0)
    data = from_files([seen], 10.0, sensors="mocap", copies=1).description
    plain = from_files([seen], 10.0).description
    assert data["fingerprints"] == [fingerprint(read_flight(seen))] == plain["fingerprints"]
    method = Trained(data)
    assert trained_fingerprints(method) == set(data["fingerprints"])
    assert trained_fingerprints(make_baseline("cv")) == set()
    report = evaluate_flights([seen, unseen], {"model": method, "cv": make_baseline("cv")})
    assert report["in_sample"] == {"model": ["seen"]}
    (line,) = in_sample_warnings(report)
    assert line.startswith("model: trained on 1 of these flights (seen)") and "leave-one-flight-out" in line
    assert evaluate_flights([unseen], {"model": method})["in_sample"] == {}
