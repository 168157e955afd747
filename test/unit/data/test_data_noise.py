"""data.noise: the raw-position noise estimate (streaming PositionJitter and array noise_series, tested equal)."""
import math

import numpy as np
import pytest

from uav_traj_predictor.core import TrackBank
from uav_traj_predictor.data.noise import MIN_SAMPLES, NOISY_POSITIONS_M, PositionJitter
from uav_traj_predictor.model import StreamingPredictor


def feed(stamps, positions):
    jitter = PositionJitter()
    for t, p in zip(stamps, positions):
        jitter.add(float(t), p.tolist())
    return jitter


def manoeuvre(t):
    """Curved, accelerating flight (jerk up to ~2 m/s^3)."""
    return np.column_stack([4 * np.cos(0.8 * t), 4 * np.sin(0.8 * t), 2 + 0.5 * np.sin(1.3 * t)])


@pytest.mark.parametrize("sigma", [0.002, 0.01, 0.03])
def test_white_noise_is_estimated_within_fifteen_percent(sigma):
    rng = np.random.default_rng(0)
    t = np.arange(3000) / 50.0 + rng.uniform(0, 0.004, 3000)      # 50 Hz with stamp jitter
    jitter = feed(t, manoeuvre(t) + rng.normal(0, sigma, (len(t), 3)))
    assert jitter.sigma == pytest.approx(sigma, rel=0.15)


def test_smooth_motion_with_irregular_stamps_reads_as_no_noise():
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.02, 0.08, 2000))                  # 12-50 Hz, irregular
    assert feed(t, manoeuvre(t)).sigma < 0.1 * NOISY_POSITIONS_M
    assert feed(t[:MIN_SAMPLES + 2], manoeuvre(t[:MIN_SAMPLES + 2])).sigma is None   # too few samples yet


def test_outliers_and_restarts_do_not_run_away():
    rng = np.random.default_rng(2)
    t = np.arange(2000) / 100.0
    p = manoeuvre(t) + rng.normal(0, 0.001, (len(t), 3))
    p[::97] += 5.0                                                  # isolated 5 m glitches
    jitter = PositionJitter()
    for k, (stamp, position) in enumerate(zip(t, p)):
        if k % 500 == 0:
            jitter.restart()
        jitter.add(float(stamp), position.tolist())
        jitter.add(float(stamp), position.tolist())                # a repeated stamp is skipped
    assert jitter.sigma < NOISY_POSITIONS_M


def test_track_bank_estimates_per_track(random_checkpoint):
    rng = np.random.default_rng(3)
    bank = TrackBank(StreamingPredictor(random_checkpoint))
    t = np.arange(400) / 50.0
    clean, noisy = manoeuvre(t), manoeuvre(t) + rng.normal(0, 0.02, (len(t), 3))
    for k, stamp in enumerate(t):
        bank.push("clean", stamp, clean[k])
        bank.push("noisy", stamp, noisy[k])
        bank.push("noisy", stamp, [math.nan] * 3)                  # ignored samples do not count
        bank.tick()
    assert bank.tracks["clean"].jitter.sigma < 0.1 * NOISY_POSITIONS_M
    assert bank.tracks["noisy"].jitter.sigma > NOISY_POSITIONS_M


def test_bursts_of_close_stamps_do_not_inflate_the_estimate():
    rng = np.random.default_rng(4)
    base = np.arange(3000) / 50.0
    t = np.sort(np.concatenate([base, base[::10] + 1e-6]))         # every 10th sample twice, 1 us apart
    p = manoeuvre(t) + rng.normal(0, 0.001, (len(t), 3))
    assert feed(t, p).sigma == pytest.approx(0.001, rel=0.2)
    only_pairs = np.sort(np.concatenate([base, base + 1e-6]))       # no evenly spaced window at all
    assert feed(only_pairs, manoeuvre(only_pairs)).sigma is None   # no estimate rather than a wrong one
