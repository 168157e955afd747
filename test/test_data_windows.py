"""Training windows (protocol indices, vectorised) and splits by flight."""
import numpy as np
import pytest

from uav_traj_predictor.data import Segment, load_segments, make_windows, split_by_flight


def segment(m, seed=0, name="f", dt=0.1):
    positions = np.cumsum(np.random.default_rng(seed).normal(size=(m, 3)), axis=0)
    return Segment(t0=0.0, dt=dt, positions=positions, name=name)


def test_windows_follow_the_protocol_indices():
    segments = [segment(40, 0), segment(25, 1), segment(30, 2)]  # 25 < 20 + 10 + 1: no window
    windows = make_windows(segments, history=20, horizon=10)
    assert len(windows) == (40 - 30) + 0 + (30 - 30)
    assert windows.segment.tolist() == [0] * 10 and windows.index.tolist() == list(range(20, 30))
    for row in (0, 9):
        s, k = segments[windows.segment[row]], windows.index[row]
        np.testing.assert_allclose(windows.inputs[row], s.velocities[k - 20:k])
        np.testing.assert_allclose(windows.targets[row], s.velocities[k:k + 10])
        np.testing.assert_allclose(windows.last_positions[row], s.positions[k])
        np.testing.assert_allclose(windows.future_positions[row], s.positions[k + 1:k + 11])
    integrated = windows.last_positions[:, None] + windows.dt * np.cumsum(windows.targets, axis=1)
    np.testing.assert_allclose(integrated, windows.future_positions, atol=1e-9)


def test_stride_and_torch():
    windows = make_windows([segment(100)], history=5, horizon=3, stride=4)
    assert windows.index.tolist() == list(range(5, 100 - 3, 4))
    inputs, targets = windows.to_torch()
    assert tuple(inputs.shape) == (len(windows), 5, 3) and tuple(targets.shape) == (len(windows), 3, 3)
    assert str(inputs.dtype) == "torch.float32"


def test_no_windows_and_bad_arguments():
    empty = make_windows([segment(5)], history=20, horizon=10)
    assert len(empty) == 0 and empty.inputs.shape == (0, 20, 3)
    with pytest.raises(ValueError, match="history"):
        make_windows([segment(50)], history=0)
    with pytest.raises(ValueError, match="grid steps"):
        make_windows([segment(50, dt=0.1), segment(50, dt=0.05)])


def test_split_by_flight_keeps_flights_whole_and_is_reproducible():
    segments = [segment(30, i, name=f"flight{i // 3}") for i in range(30)]  # 10 flights, 3 segments each
    train, val, test = split_by_flight(segments, (0.8, 0.1, 0.1), seed=3)
    names = [{s.name for s in group} for group in (train, val, test)]
    assert [len(n) for n in names] == [8, 1, 1]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert len(train) + len(val) + len(test) == 30
    assert split_by_flight(segments, (0.8, 0.1, 0.1), seed=3) == [train, val, test]
    assert split_by_flight(segments, (0.8, 0.1, 0.1), seed=4) != [train, val, test]


def test_split_gives_every_nonzero_fraction_a_flight():
    assert [len(g) for g in split_by_flight(["a", "b", "c"], (0.9, 0.05, 0.05))] == [1, 1, 1]
    with pytest.raises(ValueError, match="fractions"):
        split_by_flight(["a"], (-1, 2))


def test_windows_on_real_flights_match_the_protocol_count(flights_dir):
    windows = make_windows(load_segments(flights_dir))
    assert len(windows) == 8255
    assert np.isfinite(windows.inputs).all() and np.isfinite(windows.targets).all()
