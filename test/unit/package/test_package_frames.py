"""uav_traj_predictor.frames: the one frame library (NED/ENU, FRD/FLU, body <-> world), the hand-written
hot-path rotation tested against scipy."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor import frames


def random_attitudes(n, seed=0):
    return Rotation.random(n, random_state=seed).as_quat()


def test_ned_enu_swap_is_a_rotation_and_its_own_inverse():
    assert np.linalg.det(frames.NED_TO_ENU) == pytest.approx(1.0)
    north_east_down = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(frames.ned_to_enu(north_east_down), [2.0, 1.0, -3.0])
    many = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_array_equal(frames.enu_to_ned(frames.ned_to_enu(many)), many)


def test_px4_attitude_becomes_the_ros_attitude_of_the_same_vehicle():
    """A PX4 attitude (FRD in NED) and its ROS conversion (FLU in ENU) point the vehicle's nose, left side
    and top the same way in space."""
    q_ned_frd = Rotation.random(30, random_state=2)
    q_enu_flu = frames.px4_to_ros_attitude(q_ned_frd.as_quat(scalar_first=True))
    for body_flu in ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]):
        body_frd = frames.FRD_TO_FLU @ body_flu
        world_from_px4 = frames.ned_to_enu(q_ned_frd.apply(body_frd))
        np.testing.assert_allclose(frames.body_to_world(body_flu, q_enu_flu), world_from_px4, atol=1e-12)
    level_north = frames.px4_to_ros_attitude([1.0, 0.0, 0.0, 0.0])          # PX4 identity: level, facing north
    assert frames.yaw_of(level_north) == pytest.approx(math.pi / 2)          # ENU: north is +90 deg
    np.testing.assert_allclose(np.abs(level_north), [0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)])


def test_headings():
    assert frames.enu_yaw_to_ned_deg(math.pi / 2) == pytest.approx(0.0)     # north
    assert frames.enu_yaw_to_ned_deg(0.0) == pytest.approx(90.0)            # east
    assert frames.enu_yaw_to_ned_deg(math.pi) == pytest.approx(-90.0)       # west
    for yaw in np.linspace(-3.1, 3.1, 13):
        assert frames.yaw_of(Rotation.from_euler("z", yaw).as_quat()) == pytest.approx(yaw)


def test_body_and_world_rotations_are_inverse_and_match_scipy():
    q = random_attitudes(50)
    v = np.random.default_rng(3).normal(size=(50, 3))
    world = frames.body_to_world(v, q)
    np.testing.assert_allclose(world, Rotation.from_quat(q).apply(v), atol=1e-12)
    np.testing.assert_allclose(frames.world_to_body(world, q), v, atol=1e-12)
    one = frames.world_to_body(v[0], q[0])
    assert one.shape == (3,)
    np.testing.assert_allclose(one, Rotation.from_quat(q[0]).inv().apply(v[0]), atol=1e-12)


def test_hand_written_rotation_equals_scipy():
    q = random_attitudes(500, seed=4)
    v = np.random.default_rng(5).normal(size=(500, 3)) * 10.0
    expected = Rotation.from_quat(q).apply(v)
    got = np.array([frames.rotate(tuple(qi), tuple(vi)) for qi, vi in zip(q.tolist(), v.tolist())])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    conjugate = q * [-1.0, -1.0, -1.0, 1.0]                                  # the inverse rotation
    back = np.array([frames.rotate(tuple(qi), tuple(vi)) for qi, vi in zip(conjugate.tolist(), got.tolist())])
    np.testing.assert_allclose(back, v, atol=1e-11)


def test_valid_quaternions():
    q = np.array([[0, 0, 0, 1.0], [0, 0, 0, 0.0], [0, 0, 0, 1.05], [np.nan, 0, 0, 1.0], [0, 0, 0, 2.0]])
    np.testing.assert_array_equal(frames.valid_quaternions(q), [True, False, True, False, False])
