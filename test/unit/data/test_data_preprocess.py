"""preprocess: cleaning, gap splits, the grid, interpolation, causal smoothing, the protocol anchor."""
import numpy as np
import pytest
from scipy.signal import savgol_coeffs

from uav_traj_predictor.data import PreprocessConfig, Segment, preprocess, read_flights, window_indices
from uav_traj_predictor.data.preprocess import causal_smooth, grid_count


def line(t, velocity=(1.0, -2.0, 0.5), origin=(3.0, 4.0, 5.0)):
    return np.asarray(origin) + np.outer(t, velocity)


def test_grid_starts_at_first_stamp_and_interpolates_linearly():
    t = np.arange(0, 1.0001, 0.013) + 100.0
    (segment,) = preprocess(t, line(t))
    assert segment.t0 == t[0] and segment.dt == pytest.approx(0.1)
    assert len(segment) == 10  # 100.0 .. 100.9 <= last stamp 100.996
    np.testing.assert_allclose(segment.times, t[0] + np.arange(10) * 0.1)
    np.testing.assert_allclose(segment.positions, line(segment.times), atol=1e-9)
    np.testing.assert_allclose(segment.velocities, np.tile([1.0, -2.0, 0.5], (9, 1)), atol=1e-8)


def test_grid_includes_a_point_exactly_on_the_last_stamp():
    t = np.array([0.0, 0.05, 0.1, 0.2])
    (segment,) = preprocess(t, line(t))
    assert len(segment) == 3 and grid_count(0.0, 0.2, 0.1) == 3


def test_unsorted_nonfinite_and_duplicates_are_cleaned():
    t = np.linspace(0, 2, 41)
    p = line(t)
    order = np.random.default_rng(0).permutation(len(t))
    # shuffled good rows, then a duplicate of 0.5 s (later in file order: dropped) and non-finite rows
    bad_t = np.concatenate([t[order], [0.5, np.nan, 1.0]])
    bad_p = np.concatenate([p[order], [[99, 99, 99], [0, 0, 0], [np.inf, 0, 0]]])
    (segment,) = preprocess(bad_t, bad_p)
    (clean,) = preprocess(t, p)
    np.testing.assert_allclose(segment.positions, clean.positions, atol=1e-12)


def test_duplicate_stamp_keeps_the_first_in_file_order():
    t = np.array([0.0, 0.1, 0.1, 0.2])
    p = np.array([[0, 0, 0], [1, 1, 1], [5, 5, 5], [2, 2, 2]], float)
    (segment,) = preprocess(t, p)
    np.testing.assert_allclose(segment.positions[1], [1, 1, 1])


def test_gaps_split_segments_and_short_pieces_are_dropped():
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(1.5, 1.55, 0.01), np.arange(3, 4, 0.01)])
    segments = preprocess(t, line(t))
    assert [s.t0 for s in segments] == [0.0, 3.0]  # the 0.04 s piece spans one grid stamp only
    assert all(np.diff(s.times).max() < 0.1 + 1e-9 for s in segments)


def test_gap_equal_to_max_gap_does_not_split():
    t = np.array([0.0, 0.1, 0.3, 0.4])
    assert len(preprocess(t, line(t), PreprocessConfig(max_gap=0.2 + 1e-12))) == 1
    fast = np.array([0.0, 0.02, 0.04, 0.24, 0.26, 0.28])       # 50 Hz: the limit is max_gap itself
    split = preprocess(fast, line(fast), PreprocessConfig(max_gap=0.15, rate=50.0))
    assert [(s.t0, len(s)) for s in split] == [(0.0, 3), (0.24, 3)]
    # a stream whose own interval is 0.1 s: a 0.2 s step is a dropout, not a gap (data.preprocess.gap_limits)
    assert len(preprocess(t, line(t), PreprocessConfig(max_gap=0.15))) == 1


def test_empty_and_degenerate_inputs_give_no_segments():
    assert preprocess(np.zeros(0), np.zeros((0, 3))) == []
    assert preprocess([1.0], [[0, 0, 0]]) == []
    assert preprocess([np.nan, np.nan], np.zeros((2, 3))) == []


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="expects t"):
        preprocess(np.zeros(3), np.zeros((4, 3)))


def test_config_is_validated():
    with pytest.raises(ValueError, match="rate"):
        PreprocessConfig(rate=0)
    with pytest.raises(ValueError, match="smoothing"):
        PreprocessConfig(smoothing="kalman")
    with pytest.raises(ValueError, match="savgol_order"):
        PreprocessConfig(smoothing="savgol", savgol_window=3, savgol_order=3)


def test_causal_savgol_matches_scipy_and_uses_only_the_past():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3))
    smoothed = causal_smooth(x, 7, 2)
    coeffs = savgol_coeffs(7, 2, pos=6, use="dot")
    np.testing.assert_allclose(smoothed[10], coeffs @ x[4:11])
    np.testing.assert_allclose(smoothed[:3], x[:3])  # fits through <= order + 1 points interpolate
    changed = x.copy()
    changed[20:] += 5.0
    np.testing.assert_array_equal(causal_smooth(changed, 7, 2)[:20], smoothed[:20])


def test_savgol_keeps_quadratics_exactly():
    t = np.arange(0, 3, 0.01)
    p = np.stack([t**2, -t, 0.5 * t**2 + t], axis=1)
    cfg = PreprocessConfig(smoothing="savgol", savgol_window=5, savgol_order=2)
    (segment,) = preprocess(t, p, cfg)
    (plain,) = preprocess(t, p)
    np.testing.assert_allclose(segment.positions, plain.positions, atol=2e-3)  # grid interp error only
    noisy = p + np.random.default_rng(2).normal(scale=0.01, size=p.shape)
    (smooth,) = preprocess(t, noisy, cfg)
    (raw,) = preprocess(t, noisy)
    assert np.std(np.diff(smooth.velocities, axis=0)) < np.std(np.diff(raw.velocities, axis=0))


def test_segment_properties():
    segment = Segment(t0=5.0, dt=0.1, positions=np.arange(12.0).reshape(4, 3))
    np.testing.assert_allclose(segment.times, [5.0, 5.1, 5.2, 5.3])
    np.testing.assert_allclose(segment.velocities, np.full((3, 3), 30.0))


# Anchor: the evaluation protocol on ../shared/flights (see docs/architecture.md, notes/vector-anchor.md)
EXPECTED = {"euroc": (5573, 0.110), "uzh_fpv": (1262, 0.626), "blackbird": (1420, 1.033)}


def protocol_cv(segments, history=20, horizon=10):
    """Windows and constant-velocity ADE: window at k if k >= history and k + horizon <= M - 1."""
    errors = []
    steps = np.arange(1, horizon + 1)[:, None]
    for segment in segments:
        positions, dt = segment.positions, segment.dt
        for k in window_indices(len(positions), history, horizon):
            velocity = (positions[k] - positions[k - 1]) / dt
            predicted = positions[k] + steps * dt * velocity
            errors.append(np.linalg.norm(predicted - positions[k + 1:k + horizon + 1], axis=1).mean())
    return len(errors), float(np.mean(errors))


def test_protocol_anchor_on_real_flights(flights_dir):
    pooled = 0
    for folder, (windows, ade) in EXPECTED.items():
        segments = [s for flight in read_flights(flights_dir / folder) for s in preprocess(flight.t, flight.p)]
        count, cv_ade = protocol_cv(segments)
        assert count == windows, folder
        assert cv_ade == pytest.approx(ade, abs=5e-4), folder
        pooled += count
    assert pooled == 8255


# ---- measured velocities (velocity_source "twist") ------------------------------------------------
def _smooth_flight(rate=200.0, seconds=20.0):
    t = np.arange(0, seconds, 1 / rate) + 0.0013
    p = np.column_stack([np.sin(t), np.cos(0.5 * t), 0.1 * t ** 2])
    v = np.column_stack([np.cos(t), -0.5 * np.sin(0.5 * t), 0.2 * t])
    return t, p, v


def test_twist_grid_velocities_agree_with_position_differences_on_consistent_data():
    t, p, v = _smooth_flight()
    (pose,) = preprocess(t, p, PreprocessConfig())
    (twist,) = preprocess(t, p, PreprocessConfig(velocity_source="twist"), v=v)
    np.testing.assert_array_equal(twist.positions, pose.positions)          # positions always from poses
    assert twist.velocities.shape == pose.velocities.shape
    np.testing.assert_allclose(twist.velocities, pose.velocities, atol=1e-5)


def test_interval_mean_is_exact_for_a_linear_velocity():
    from uav_traj_predictor.data.preprocess import mean_velocities
    t = np.sort(np.random.default_rng(3).uniform(0, 5, 200))
    v = np.column_stack([1 + 2 * t, -t, np.full_like(t, 0.5)])
    times = t[0] + np.arange(40) * 0.1
    expected = np.column_stack([1 + (times[1:] + times[:-1]), -(times[1:] + times[:-1]) / 2, np.full(39, 0.5)])
    np.testing.assert_allclose(mean_velocities(t, v, times), expected, atol=1e-12)


def test_twist_beats_differenced_noisy_positions():
    t, p, v = _smooth_flight(rate=50.0)
    noisy = p + np.random.default_rng(0).normal(0, 0.01, p.shape)          # 1 cm position noise
    truth = preprocess(t, p, PreprocessConfig())[0].velocities
    pose_error = np.abs(preprocess(t, noisy, PreprocessConfig())[0].velocities - truth).mean()
    twist_error = np.abs(preprocess(t, noisy, PreprocessConfig(velocity_source="twist"), v=v)[0].velocities
                         - truth).mean()
    assert twist_error < 0.01 * pose_error


def test_twist_needs_velocities_and_drops_rows_without_them():
    t, p, v = _smooth_flight(rate=20.0, seconds=3.0)
    with pytest.raises(ValueError, match="twist"):
        preprocess(t, p, PreprocessConfig(velocity_source="twist"))
    with pytest.raises(ValueError, match="velocity_source"):
        PreprocessConfig(velocity_source="imu")
    v[5] = np.nan
    (segment,) = preprocess(t, p, PreprocessConfig(velocity_source="twist"), v=v)
    assert np.isfinite(segment.velocities).all()
    (reference,) = preprocess(np.delete(t, 5), np.delete(p, 5, axis=0), PreprocessConfig())
    np.testing.assert_array_equal(segment.positions, reference.positions)
