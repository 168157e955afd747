"""Reference families and path building blocks: finite, reproducible, within their caps."""
import numpy as np
import pytest

from uav_traj_predictor.sim import FAMILIES, ReferenceGenerator
from uav_traj_predictor.sim import paths

DT = 0.01


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_draws_finite_reference_from_rest(family):
    ref = ReferenceGenerator(seed=5).draw(family, 30.0, DT)
    assert ref.p.shape == (3001, 3) and ref.yaw.shape == (3001,)
    for arr in (ref.p, ref.v, ref.a, ref.yaw):
        assert np.all(np.isfinite(arr))
    assert np.linalg.norm(ref.v[0]) < 0.2                     # starts from a hover
    assert ref.p[:, 2].min() > 0.0                            # above ground
    speed = np.linalg.norm(ref.v, axis=1)
    assert speed.max() > 0.2                                  # it does move
    assert speed.max() < 25.0


def test_references_are_reproducible_and_seed_dependent():
    a = ReferenceGenerator(seed=1).draw("racing", 20.0, DT)
    b = ReferenceGenerator(seed=1).draw("racing", 20.0, DT)
    c = ReferenceGenerator(seed=2).draw("racing", 20.0, DT)
    np.testing.assert_array_equal(a.p, b.p)
    np.testing.assert_array_equal(a.yaw, b.yaw)
    assert np.abs(a.p - c.p).max() > 0.1


def test_vector_family_caps_speed_and_accel_like_px4():
    for seed in range(4):
        ref = ReferenceGenerator(seed=seed).draw("vector", 60.0, DT)
        speed = np.linalg.norm(ref.v, axis=1)
        accel = np.linalg.norm(ref.a, axis=1)
        assert speed.max() <= ref.info["v_cap"] * 1.05
        assert accel.max() <= ref.info["a_cap"] * 1.2 + 0.5      # minimum-jerk repositioning adds <= 3 m/s^2
        for shape in ref.info["shapes"]:
            assert 1 <= shape["radius"] <= 15 and 0.5 <= shape["omega"] <= 3
            assert shape["omega_flown"] <= shape["omega"]


def test_racing_reaches_racing_speeds_within_limits():
    peaks = []
    for seed in range(6):
        ref = ReferenceGenerator(seed=seed).draw("racing", 40.0, DT)
        speed = np.linalg.norm(ref.v, axis=1)
        assert speed.max() <= ref.info["v_max"] * 1.1 + 0.5
        peaks.append(speed.max())
    assert max(peaks) > 8.0


def test_hover_dash_is_slow_indoor_flight():
    ref = ReferenceGenerator(seed=0).draw("hover_dash", 60.0, DT)
    speed = np.linalg.norm(ref.v, axis=1)
    assert np.median(speed) < 1.0 and speed.max() < 3.5
    assert 0.0 < ref.p[:, 2].min() and ref.p[:, 2].max() < 3.5


def test_sample_interpolates_and_holds_ends():
    ref = ReferenceGenerator(seed=0).draw("clover", 5.0, DT)
    p, v, a, yaw = ref.sample(1.005)
    np.testing.assert_allclose(p, 0.5 * (ref.p[100] + ref.p[101]))
    np.testing.assert_allclose(ref.sample(-3.0)[0], ref.p[0])
    np.testing.assert_allclose(ref.sample(99.0)[0], ref.p[-1])


def test_unknown_family_and_bad_duration_raise():
    gen = ReferenceGenerator(seed=0)
    with pytest.raises(ValueError, match="unknown reference family 'loop'"):
        gen.draw("loop", 10.0)
    with pytest.raises(ValueError, match="positive"):
        gen.draw("vector", 0.0)


def test_min_jerk_meets_boundary_conditions():
    seg = paths.min_jerk([0, 0, 0], [1, 2, 3], 2.0, DT, v0=[1, 0, 0], v1=[0, 0, -1])
    full = np.vstack([[0, 0, 0], seg])
    v = np.gradient(full, DT, axis=0)
    np.testing.assert_allclose(full[-1], [1, 2, 3], atol=1e-9)
    np.testing.assert_allclose(v[1], [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(v[-2], [0, 0, -1], atol=0.02)


def test_speed_profile_respects_lateral_and_longitudinal_limits():
    theta = np.linspace(0, 4 * np.pi, 4000)
    circle = np.column_stack([2 * np.cos(theta), 2 * np.sin(theta), np.zeros_like(theta)])
    s, pts = paths.resample_path(circle)
    speed = paths.speed_profile(s, pts, v_max=10.0, a_lat=2.0, a_lon=1.0)
    assert speed[0] == 0.0 and speed[-1] == 0.0
    assert speed.max() == pytest.approx(2.0, rel=0.03)        # sqrt(a_lat * r)
    assert np.all(np.abs(np.diff(speed ** 2) / np.diff(s)) <= 2 * 1.0 + 1e-6)
