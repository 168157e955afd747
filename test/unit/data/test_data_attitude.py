"""data/attitude.py: the thrust axis is found through any body mount, the implied acceleration is the flown one,
the consistency check turns the input off for orientations that do not describe the motion, and the offline
segment pass is the streaming step."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor.data.attitude import (ThrustAxis, grid_orientations, orientation_at, segment_attitude,
                                              unit_quaternion)
from uav_traj_predictor.data.preprocess import PreprocessConfig, preprocess

from helpers.attitude import weaving

G = 9.81
DT = 0.1


def grid_attitude(p, q, noise=0.0, seed=0):
    """`segment_attitude` of grid positions (N, 3) with orientations at the grid stamps."""
    p = p + noise * np.random.default_rng(seed).standard_normal(p.shape)
    return segment_attitude(np.diff(p, axis=0) / DT, [unit_quaternion(row) for row in q], DT)


@pytest.mark.parametrize("mount", [(0, 0, 0), (180, 0, 0), (0, 90, 90)])
def test_the_thrust_axis_is_found_through_any_mount_and_the_implied_acceleration_is_the_flown_one(mount):
    _, p, q, a = weaving(Rotation.from_euler("xyz", mount, degrees=True))
    out = grid_attitude(p, q)                        # row r: grid sample r + 1
    late = slice(50, None)
    error = np.sqrt(np.mean((out[late, :2] - a[1:][late, :2]) ** 2))
    assert error < 0.05 * np.sqrt(np.mean(a[:, :2] ** 2))
    assert (out[60:, 2] == 1).all() and not out[:35, 2].any()      # on once settled and checked (~4 s)


def test_position_noise_keeps_it_on_and_identity_or_random_orientations_stay_off():
    _, p, q, _ = weaving(Rotation.identity())
    assert grid_attitude(p, q, noise=0.01)[60:, 2].mean() > 0.95
    identity = np.tile([0.0, 0.0, 0.0, 1.0], (len(p), 1))
    assert not grid_attitude(p, identity)[:, 2].any()
    assert not grid_attitude(p, Rotation.random(len(p), random_state=1).as_quat())[:, 2].any()
    # a heading only (a detector's yaw): no tilt, off
    yaw_only = Rotation.from_euler("z", np.linspace(0, 20, len(p))[:, None]).as_quat()
    assert not grid_attitude(p, yaw_only)[:, 2].any()


def test_the_estimate_survives_a_restart_and_a_missing_orientation_is_no_input():
    _, p, q, a = weaving(Rotation.from_euler("y", 90, degrees=True))
    velocities, rows = np.diff(p, axis=0) / DT, [unit_quaternion(row) for row in q]
    whole = segment_attitude(velocities, rows, DT)
    state = ThrustAxis()
    segment_attitude(velocities[:300], rows[:301], DT, state)
    second = segment_attitude(velocities[300:], rows[300:], DT, state)   # restarted: a new segment
    np.testing.assert_allclose(second[0, :2], whole[300, :2], atol=0.05 * G)   # the axis is kept, not relearned
    assert second[0, 2] == 1.0                                                # and its check
    rows[400] = None
    gap = segment_attitude(velocities, rows, DT)
    assert tuple(gap[399]) == (0.0, 0.0, 0.0)                                 # row 399: grid sample 400
    np.testing.assert_array_equal(gap[:399], whole[:399])


def test_quaternion_helpers():
    assert unit_quaternion((0, 0, 0, 2)) is None and unit_quaternion((np.nan, 0, 0, 1)) is None
    assert unit_quaternion(None) is None and unit_quaternion("abcd") is None
    assert unit_quaternion((10 ** 400, 0, 0, 1)) is None                    # float() overflows
    assert unit_quaternion((0, 0, 0, 1.05)) == pytest.approx((0, 0, 0, 1))
    a, b = Rotation.from_euler("z", 10, degrees=True).as_quat(), Rotation.from_euler("z", 30, degrees=True).as_quat()
    middle = orientation_at(0.5, 0.0, tuple(a), 1.0, tuple(-b))     # the shorter way whatever the sign
    assert Rotation.from_quat(middle).as_euler("xyz", degrees=True)[2] == pytest.approx(20.0, abs=1e-6)
    assert orientation_at(0.5, 0.0, None, 1.0, tuple(b)) is None
    assert orientation_at(1.0, 1.0, tuple(a), 1.0, tuple(b)) == tuple(b)


def test_preprocess_carries_the_orientations_through_cleaning_and_gaps():
    t, p, q, _ = weaving(Rotation.identity(), seconds=40.0, dt=0.02)
    keep = np.ones(len(t), bool)
    keep[1000:1030] = False                              # a 0.6 s gap: two segments
    t, p, q = t[keep], p[keep], q[keep]
    order = np.random.default_rng(0).permutation(len(t))  # any order; a NaN row and a repeated stamp
    t, p, q = t[order], p[order], q[order]
    p[5] = np.nan
    t = np.append(t, t[7])
    p, q = np.vstack([p, p[7] + 1.0]), np.vstack([q, q[7]])
    cfg = PreprocessConfig(rate=10.0)
    segments = preprocess(t, p, cfg, q=q)
    assert len(segments) == 2 and all(s.attitude.shape == (len(s) - 1, 3) for s in segments)
    first = segments[0]
    clean = np.argsort(t[np.isfinite(p).all(axis=1)][:-1])
    t_sorted, q_sorted = t[np.isfinite(p).all(axis=1)][:-1][clean], q[np.isfinite(p).all(axis=1)][:-1][clean]
    orientations = grid_orientations(t_sorted, q_sorted, first.times)
    np.testing.assert_array_equal(first.attitude, segment_attitude(first.velocities, orientations, cfg.dt))
    assert first.attitude[-50:, 2].all() and segments[1].attitude[0, 2] == 1.0   # carried across the gap
    assert preprocess(t, p, cfg)[0].attitude is None
