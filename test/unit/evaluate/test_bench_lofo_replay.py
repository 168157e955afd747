"""bench/finetune_lofo.py's `--slow K` replay: the held-out flight written K times slower (the same path), and the
recorded file itself at K = 1; the rows are labelled with the factor."""
import numpy as np

from helpers import load_bench
from uav_traj_predictor.data.readers import read_flight

lofo = load_bench("finetune_lofo")


def test_a_replay_is_the_same_path_on_scaled_stamps(flights_dir, tmp_path):
    recorded_file = flights_dir / "uzh_fpv" / "outdoor_forward_1_snapdragon_with_gt.txt"
    recorded = read_flight(recorded_file)
    assert lofo.replayed(recorded_file, 1.0, tmp_path) == recorded_file
    faster = read_flight(lofo.replayed(recorded_file, 0.5, tmp_path))
    assert len(faster) == len(recorded)
    np.testing.assert_allclose(faster.t, 0.5 * recorded.t, atol=2e-6)
    np.testing.assert_allclose(faster.p, recorded.p, atol=1e-6)
    np.testing.assert_allclose(faster.q, recorded.q, atol=1e-7)


def test_replayed_rows_are_labelled_with_their_factor():
    assert lofo.measurement_label("", 1.0) == "clean"
    assert lofo.measurement_label("rate=20", 0.5) == "rate=20 slowed 0.5x"
