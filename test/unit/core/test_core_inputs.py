"""core.TrackBank with inputs from sensors and trackers: a supplied measurement-noise level (from a
covariance) used in place of the online estimate, the tick's predictions as one batch of arrays, and the
stable shard hash of track ids."""
import math

import numpy as np
import pytest

from uav_traj_predictor.core import TrackBank, shard_of
from uav_traj_predictor.data import PreprocessConfig
from uav_traj_predictor.data.noise import PRIOR_M, covariance_level, covariance_levels
from uav_traj_predictor.model import StreamingPredictor

DT = 0.1


def make_bank(checkpoint):
    return TrackBank(StreamingPredictor(checkpoint), PreprocessConfig(rate=1 / DT, max_gap=0.2))


def noisy_flight(seed=0, n=150, rate=20.0, sigma=0.03):
    rng = np.random.default_rng(seed)
    t = 50.0 + np.arange(n) / rate
    p = np.column_stack([3 * np.cos(0.4 * t), 3 * np.sin(0.4 * t), 2 + 0.2 * t]) + rng.normal(0, sigma, (n, 3))
    return t, p


def stream(bank, t, p, noise=None, track="target"):
    """Push every sample (noise: one value per sample, or None), tick after each; the predictions and the
    noise values of the grid samples handed to the predictor."""
    predictions, carried = [], []
    for i in range(len(t)):
        bank.push(track, t[i], p[i], now=t[i], noise=None if noise is None else noise[i])
        carried += [sample[3] for sample in bank.tracks[track].queued_velocities]
        predictions += bank.tick().predictions
    return predictions, carried


def test_covariance_level_is_the_rms_axis_std_and_says_when_it_is_unknown_or_invalid():
    assert covariance_level(0.01, 0.04, 0.0009) == pytest.approx(math.sqrt((0.01 + 0.04 + 0.0009) / 3))
    assert covariance_level(0.0, 0.0, 0.0) == 0.0                      # ROS: all zeros = unknown
    for bad in ((-1.0, 0.01, 0.01), (math.nan, 0.01, 0.01), (math.inf, 0.0, 0.0)):
        assert math.isnan(covariance_level(*bad))
    rows = np.array([[0.01, 0.04, 0.0009], [0, 0, 0], [-1, 0.01, 0.01], [np.nan, 0, 0], [np.inf, 1, 1],
                     [1e-6, 2e-6, 3e-6]])
    levels = covariance_levels(rows)
    for row, level in zip(rows.tolist(), levels.tolist()):
        expected = covariance_level(*row)
        assert (math.isnan(level) and math.isnan(expected)) or level == expected


def test_a_supplied_noise_level_replaces_the_estimate_the_model_and_the_guard_read(random_checkpoint):
    t, p = noisy_flight()
    estimated, estimated_levels = stream(make_bank(random_checkpoint), t, p)
    assert estimated_levels and all(level != 0.02 for level in estimated_levels)
    supplied, supplied_levels = stream(make_bank(random_checkpoint), t, p, noise=[0.02] * len(t))
    assert supplied_levels == [0.02] * len(estimated_levels)
    assert len(supplied) == len(estimated)
    # the level is an input of the network and the guard's IMM: the predictions change with it
    assert max(np.abs(a.positions - b.positions).max() for a, b in zip(supplied, estimated)) > 1e-4

    # supplying, sample by sample, exactly the level the estimate had: the same predictions, bit for bit
    reference, bank = make_bank(random_checkpoint), make_bank(random_checkpoint)
    same, other = [], []
    for i in range(len(t)):
        reference.push("target", t[i], p[i], now=t[i])
        bank.push("target", t[i], p[i], now=t[i], noise=reference.tracks["target"].noise_level)
        other += reference.tick().predictions
        same += bank.tick().predictions
    assert len(same) == len(other) > 50
    for a, b in zip(same, other):
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.position_std, b.position_std)


def test_the_supplied_level_holds_until_the_stream_breaks_and_bad_values_are_not_levels(random_checkpoint):
    bank = make_bank(random_checkpoint)
    t, p = noisy_flight(n=40)
    for i in range(20):
        bank.push("a", t[i], p[i], noise=0.05 if i == 3 else None)      # one covariance, then none
    track = bank.tracks["a"]
    assert track.supplied_noise == 0.05 and track.noise_level == 0.05
    for bad in (math.nan, math.inf, -0.1, 0.0):
        bank.push("a", t[20] + 0.01 * (1 + [math.nan, math.inf, -0.1, 0.0].index(bad)), p[20], noise=bad)
        assert track.noise_level == 0.05                                   # unchanged: not a level
    bank.push("a", t[20] + 1.0, p[20])                                     # a gap: a new segment
    assert bank.tracks["a"].supplied_noise is None
    assert bank.tracks["a"].noise_level == PRIOR_M                        # the fresh estimate's prior


def test_the_tick_batch_holds_the_predictions_as_arrays(random_checkpoint):
    bank = make_bank(random_checkpoint)
    for k in range(12):
        for i in range(5):
            bank.push(f"t{i}", 10 + k * DT, (i + 0.3 * k, 0.1 * k * i, 2.0))
        result = bank.tick()
    batch = result.batch
    assert batch.track_ids == [prediction.track_id for prediction in result.predictions] and len(batch) == 5
    for i, prediction in enumerate(result.predictions):
        assert np.array_equal(batch.positions[i], prediction.positions)
        assert np.array_equal(batch.velocities[i], prediction.velocities)
        assert np.array_equal(batch.position_std[i], prediction.position_std)
        assert batch.t0[i] == prediction.t0 and batch.statuses[i] == prediction.status
    assert batch.positions.shape == (5, bank.horizon_steps, 3) and batch.model_id == result.predictions[0].model_id
    assert bank.tick().batch is None                                       # nothing due


def test_shard_of_is_stable_and_spreads_ids():
    # CRC-32 of the UTF-8 id (the standard check value of "123456789"), the same in every process and host
    assert shard_of("123456789", 2 ** 32) == 0xCBF43926
    assert shard_of("123456789", 2) == 0 and shard_of("123456789", 7) == 0xCBF43926 % 7
    assert shard_of("t1", 1) == 0 and shard_of("ünïcode", 7) == shard_of("ünïcode", 7)
    for pattern in ("t{}", "{}", "uav{}"):
        counts = np.bincount([shard_of(pattern.format(i), 2) for i in range(1000)], minlength=2)
        assert counts.min() >= 450, (pattern, counts)
        counts = np.bincount([shard_of(pattern.format(i), 4) for i in range(1000)], minlength=4)
        assert counts.min() >= 200, (pattern, counts)
