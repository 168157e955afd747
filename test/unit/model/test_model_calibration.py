"""model.calibration: online per-track std calibration from matured predictions only."""
import numpy as np
import pytest

from uav_traj_predictor.model.calibration import COVERAGE_1SIGMA, OnlineCalibration, calibrate_segment

H = 10


def synthetic_segment(steps=3000, true_sigma=(0.2, 0.2, 0.05), model_sigma=0.1, seed=0):
    """A random walk; 'predictions' = the truth plus N(0, true_sigma * sqrt(j)) errors, claimed std
    model_sigma * sqrt(j) (x/y under-, z over-confident)."""
    rng = np.random.default_rng(seed)
    positions = np.cumsum(rng.normal(0, 0.1, (steps, 3)), axis=0)
    grow = np.sqrt(np.arange(1, H + 1))[None, :, None]
    truth = np.full((steps, H, 3), np.nan)
    for j in range(1, H + 1):
        truth[:-j, j - 1] = positions[j:]
    predicted = truth + rng.normal(size=truth.shape) * np.asarray(true_sigma) * grow
    std = np.broadcast_to(model_sigma * grow, truth.shape).copy()
    std[:20] = np.nan                                              # no model prediction while warming up
    return positions, predicted, std, truth


def test_scale_converges_to_the_true_error_level_per_axis():
    positions, predicted, std, truth = synthetic_segment()
    scaled = calibrate_segment(positions, predicted, std, H)
    late = slice(1000, -H)
    covered = np.abs(truth[late] - predicted[late]) <= scaled[late]
    np.testing.assert_allclose(covered.mean(axis=(0, 1)), COVERAGE_1SIGMA, atol=0.04)
    raw = (np.abs(truth[late] - predicted[late]) <= std[late]).mean(axis=(0, 1))
    assert raw[0] < 0.45 and raw[2] > 0.9                          # badly calibrated before
    np.testing.assert_allclose((scaled[late] / std[late]).mean(axis=(0, 1)), [2.0, 2.0, 0.5], rtol=0.15)


def test_uses_no_future_position():
    positions, predicted, std, _ = synthetic_segment(steps=400)
    scaled = calibrate_segment(positions, predicted, std, H)
    changed = positions.copy()
    changed[250:] += 5.0                                           # the future after row 249 changes
    again = calibrate_segment(changed, predicted, std, H)
    np.testing.assert_array_equal(again[:250], scaled[:250])
    assert not np.allclose(again[260:], scaled[260:])


def test_streaming_tracks_match_the_offline_twin_and_reset_forgets():
    segments = [synthetic_segment(steps=300, seed=s) for s in range(3)]
    calibration = OnlineCalibration(capacity=2, horizon=H)
    calibration.grow(3)                                            # slots keep their state when growing
    tracks = np.arange(3)
    streamed = [seg[2].copy() for seg in segments]
    for k in range(300):
        calibration.observe(tracks, np.full(3, k), np.array([seg[0][k] for seg in segments]))
        calibration.observe(tracks, np.full(3, k), np.array([seg[0][k] + 9 for seg in segments]))  # repeat: ignored
        ready = np.array([np.isfinite(seg[2][k]).all() for seg in segments])
        if ready.any():
            rows = tracks[ready]
            calibration.record(rows, np.full(len(rows), k), np.array([segments[i][1][k] for i in rows]),
                               np.array([segments[i][2][k] for i in rows]))
            for i, factor in zip(rows, calibration.scale(rows)):
                streamed[i][k] = segments[i][2][k] * factor
    for seg, result in zip(segments, streamed):
        np.testing.assert_allclose(result, calibrate_segment(seg[0], seg[1], seg[2], H), rtol=1e-12)
    assert not np.allclose(calibration.scale(tracks), 1.0)
    calibration.reset(tracks[:1])
    np.testing.assert_array_equal(calibration.scale(tracks[:1]), 1.0)


def test_rate_zero_is_the_identity_and_bad_rates_are_refused():
    positions, predicted, std, _ = synthetic_segment(steps=100)
    np.testing.assert_array_equal(calibrate_segment(positions, predicted, std, H, rate=0.0), std)
    for rate in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError):
            OnlineCalibration(1, H, rate)


def test_nothing_is_scored_before_a_prediction_was_recorded():
    calibration = OnlineCalibration(capacity=1, horizon=H)
    track = np.zeros(1, np.int64)
    for k in range(30):                                             # e.g. a warm-up: observed, never recorded
        calibration.observe(track, np.array([k]), np.zeros((1, 3)))
    np.testing.assert_array_equal(calibration.scale(track), 1.0)
