"""Training data: kinematic mixture, split by flight, augmented chunks, targets."""
import numpy as np
import pytest
import torch

from uav_traj_predictor.model.network import residual_targets
from uav_traj_predictor.train.datasets import Augment, FlightSet, sample_chunks, split_flights
from uav_traj_predictor.sim.kinematic import KINEMATIC_FAMILIES, cv_error_by_speed, kinematic_flights


def test_kinematic_flights_reproducible_finite_and_plausible():
    flights = kinematic_flights(10, 20.0, seed=3)
    again = kinematic_flights(10, 20.0, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(flights, again))
    assert not np.array_equal(flights[0], kinematic_flights(10, 20.0, seed=4)[0])
    for flight in flights:
        assert flight.shape in ((200, 3), (201, 3)) and np.isfinite(flight).all()
        speed = np.linalg.norm(np.diff(flight, axis=0), axis=1) / 0.1
        assert speed.max() < 40.0
    with pytest.raises(ValueError, match="unknown kinematic families"):
        kinematic_flights(1, 5.0, families=["teleport"])
    assert len(KINEMATIC_FAMILIES) == 6


def test_explore_family_is_slow_continuous_3d_and_bounded():
    """`explore` (EuRoC-like indoor exploration): slow, never parked, altitude excursions bounded to a
    room, and the 1 s constant-velocity error about as large vertically as horizontally per axis
    (hover_dash: dashes from a hover make it mostly horizontal)."""
    def cv_error_ratio(flights):       # vertical / horizontal 1 s constant-velocity error below 2 m/s
        rows = cv_error_by_speed(flights)
        share, xy, z = (np.array([row[i] for row in rows]) for i in (2, 3, 4))
        return float(np.sqrt((share * z ** 2).sum() / (share * xy ** 2).sum()))

    explore = kinematic_flights(20, 60.0, seed=5, families=["explore"], noise=(1e-4, 1e-3), glitches=0.0)
    speed = np.concatenate([np.linalg.norm(np.diff(f, axis=0), axis=1) / 0.1 for f in explore])
    assert 0.3 < speed.mean() < 0.9 and np.percentile(speed, 95) < 2.0 and speed.max() < 4.0
    assert np.percentile(speed, 10) > 0.05                       # moving, not hovering between dashes
    assert all(np.ptp(f[:, 2]) < 4.0 for f in explore)          # floor to ceiling of a room or hall
    hover_dash = kinematic_flights(20, 60.0, seed=5, families=["hover_dash"], noise=(1e-4, 1e-3), glitches=0.0)
    assert 0.7 < cv_error_ratio(explore) < 1.3
    assert cv_error_ratio(hover_dash) < 0.6


def test_split_by_flight_is_disjoint_and_complete():
    flights = FlightSet([np.full((5, 3), float(i)) for i in range(20)])
    rest, held = split_flights(flights, 0.25, seed=0)
    ids = lambda s: {int(f.measured[0, 0]) for f in s.flights}  # noqa: E731
    assert len(held.flights) == 5 and not ids(rest) & ids(held) and ids(rest) | ids(held) == set(range(20))


def test_chunks_rotate_about_z_only_and_start_at_origin():
    rng = np.random.default_rng(0)
    flight = np.cumsum(rng.normal(size=(300, 3)), axis=0)
    plain = sample_chunks([flight], 8, 50, np.random.default_rng(1), None).measured
    turned = sample_chunks([flight], 8, 50, np.random.default_rng(1),
                           Augment(yaw=True, mirror=True, scale=(1.0, 1.0), noise=(0.0, 0.0))).measured
    assert plain.shape == (8, 50, 3) and torch.all(plain[:, 0] == 0)
    torch.testing.assert_close(plain[..., 2], turned[..., 2])
    torch.testing.assert_close(plain[..., :2].norm(dim=-1), turned[..., :2].norm(dim=-1))
    with pytest.raises(ValueError, match="grid samples"):
        sample_chunks([flight[:10]], 1, 50, rng, None)


def test_residual_targets_are_zero_for_constant_velocity():
    t = torch.arange(40, dtype=torch.float64)[:, None] * 0.1
    line = (t * torch.tensor([1.0, -2.0, 0.5]))[None]
    velocities, residual = residual_targets(line, 10, 0.1)
    torch.testing.assert_close(velocities, torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64).expand(1, 39, 3))
    assert residual.shape == (1, 29, 10, 3) and residual.abs().max() < 1e-12
    parabola = (0.5 * t ** 2 * torch.tensor([1.0, 0.0, 0.0]))[None]   # a = 1 m/s^2 along x
    _, residual = residual_targets(parabola, 10, 0.1)
    j = torch.arange(1, 11, dtype=torch.float64) * 0.1
    torch.testing.assert_close(residual[0, 5, :, 0], 0.5 * j ** 2 + 0.05 * j)  # v_k lags by dt/2
