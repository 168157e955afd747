"""Batch generator: reproducibility, per-family finiteness and limits, noise models, argument errors."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor.data import Flight
from uav_traj_predictor.sim import FAMILIES, VEHICLE_PROFILES, generate_flights, simulate_flights


def test_same_seed_same_flights_and_independent_of_batch():
    a = generate_flights(3, 4.0, seed=7, noise="vio", rate=30.0)
    b = generate_flights(3, 4.0, seed=7, noise="vio", rate=30.0)
    for fa, fb in zip(a, b):
        assert fa.name == fb.name
        for key in ("t", "p", "v", "q"):
            np.testing.assert_array_equal(getattr(fa, key), getattr(fb, key))
    more = generate_flights(5, 4.0, seed=7, noise="vio", rate=30.0)   # flight i depends on (seed, i) only
    np.testing.assert_array_equal(more[2].p, a[2].p)
    other = generate_flights(3, 4.0, seed=8, noise="vio", rate=30.0)
    assert not np.array_equal(other[0].p, a[0].p)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_flies_finite_within_vehicle_limits(family):
    sims = simulate_flights(3, 20.0, seed=1, families=[family], noise="none", rate=100.0)
    profile = VEHICLE_PROFILES[FAMILIES[family].vehicle]
    for sim in sims:
        f = sim.flight
        assert isinstance(f, Flight) and sim.family == family
        assert f.t.shape == (2001,) and f.p.shape == (2001, 3) and f.v.shape == (2001, 3) and f.q.shape == (2001, 4)
        assert all(np.all(np.isfinite(x)) for x in (f.t, f.p, f.v, f.q))
        np.testing.assert_allclose(np.linalg.norm(f.q, axis=1), 1.0, atol=1e-9)
        tilt = np.degrees(np.arccos(np.clip(Rotation.from_quat(f.q).apply([0, 0, 1])[:, 2], -1, 1)))
        assert tilt.max() <= profile["tilt_max_deg"][1] + 1e-6
        horizontal = np.linalg.norm(f.v[:, :2], axis=1)
        assert horizontal.max() <= profile["vel_max_xy"][1] * 1.1 + 2.0   # limit + overshoot + wind drift
        accel = np.linalg.norm(np.diff(f.v, axis=0) / 0.01, axis=1)
        thrust_to_weight = profile["thrust_to_weight"][1]
        assert accel.max() <= 9.81 * (thrust_to_weight + 1) + 5.0          # thrust + gravity + drag bound
        if sim.info["reference"].get("feedforward") != "position":   # position-only setpoints lag by v / kp
            assert sim.info["max_tracking_error"] < 8.0   # saturated in strong wind: bounded lag
        # velocities are the simulated ones: consistent with the positions
        np.testing.assert_allclose(np.diff(f.p, axis=0) / 0.01, f.v[1:], atol=1e-9)


def test_noise_models_change_samples_as_documented():
    exact = generate_flights(1, 30.0, seed=3, families=["waypoints"], noise="none", rate=20.0)[0]
    mocap = generate_flights(1, 30.0, seed=3, families=["waypoints"], noise="mocap", rate=20.0)[0]
    gnss = generate_flights(1, 30.0, seed=3, families=["waypoints"], noise="gnss", rate=20.0)[0]
    assert len(exact.t) == len(mocap.t) == 601
    mocap_err = np.abs(mocap.p - exact.p).max()
    assert 0 < mocap_err < 0.01
    assert np.all(np.diff(gnss.t) > 0)                     # jitter never reorders stamps
    assert len(gnss.t) <= len(exact.t)                       # dropouts remove samples
    assert np.abs(gnss.p[:10] - exact.p[:10]).max() > 1e-3    # cm-level noise and bias


def test_low_rate_runs_physics_at_100hz():
    f = generate_flights(1, 10.0, seed=0, families=["vector"], noise="none", rate=10.0)[0]
    np.testing.assert_allclose(np.diff(f.t), 0.1)
    assert len(f.t) == 101


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_flights=0), "n_flights"), (dict(duration_s=-1.0), "duration_s"), (dict(rate=0.0), "rate"),
    (dict(families=["nope"]), "unknown reference family 'nope'"), (dict(noise="lidar"), "unknown noise model"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    args = dict(n_flights=1, duration_s=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        generate_flights(**args)
