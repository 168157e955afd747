"""The published anchors on ../shared/flights (docs/evaluation.md): window counts and ADE of the
baselines and of one VECTOR checkpoint, reproduced within 0.003 m."""
import pytest

from uav_traj_predictor.evaluate import Protocol, build_methods, evaluate_flights

WINDOWS = {"euroc": 5573, "uzh_fpv": 1262, "blackbird": 1420}
ADE = {  # folder -> method -> ADE (m); cv/ca/kf from the table, VECTOR as measured (mixed 64x2 max)
    "euroc": {"cv": 0.110, "ca": 0.128, "kf": 0.138, "vector": 0.106},
    "uzh_fpv": {"cv": 0.626, "ca": 0.289, "kf": 0.315, "vector": 0.273},
    "blackbird": {"cv": 1.033, "ca": 0.801, "kf": 0.884, "vector": 0.590},
}
VECTOR = "vector:mixed_dataset__mix_vel_max_norm_64_2_0p5"


@pytest.fixture(scope="module")
def report(flights_dir, vector_dir):
    flights, vector = flights_dir, vector_dir
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)           # one thread is fastest on a shared 2-core machine
    try:
        methods = build_methods(["cv", "ca", "kf", VECTOR], Protocol(), vector_dir=vector)
        return evaluate_flights(flights, methods)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("folder", sorted(WINDOWS))
def test_anchor_windows_and_ade(report, folder):
    group = report["groups"][folder]
    for name, expected in ADE[folder].items():
        method = VECTOR if name == "vector" else name
        assert group[method]["windows"] == WINDOWS[folder]
        assert group[method]["ade"] == pytest.approx(expected, abs=0.003), (folder, method)


def test_anchor_pooled(report):
    assert report["pooled"]["cv"]["windows"] == 8255
    assert report["pooled"]["cv"]["ade"] == pytest.approx(0.348, abs=0.003)
    assert report["pooled"]["ca"]["ade"] == pytest.approx(0.268, abs=0.003)
    assert report["pooled"][VECTOR]["ade"] == pytest.approx(0.215, abs=0.003)
