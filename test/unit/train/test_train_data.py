"""Training data: kinematic mixture, split by flight, augmented chunks, targets."""
import numpy as np
import pytest
import torch

from uav_traj_predictor.model.network import residual_targets
from uav_traj_predictor.train.datasets import Augment, FlightSet, TrainTrack, sample_chunks, split_flights
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
    (hover_hops: hops from a hover make it mostly horizontal)."""
    def cv_error_ratio(flights):       # vertical / horizontal 1 s constant-velocity error below 2 m/s
        rows = cv_error_by_speed(flights)
        share, xy, z = (np.array([row[i] for row in rows]) for i in (2, 3, 4))
        return float(np.sqrt((share * z ** 2).sum() / (share * xy ** 2).sum()))

    explore = kinematic_flights(20, 60.0, seed=5, families=["explore"], noise=(1e-4, 1e-3), glitches=0.0)
    speed = np.concatenate([np.linalg.norm(np.diff(f, axis=0), axis=1) / 0.1 for f in explore])
    assert 0.3 < speed.mean() < 0.9 and np.percentile(speed, 95) < 2.0 and speed.max() < 4.0
    assert np.percentile(speed, 10) > 0.05                       # moving, not hovering between dashes
    assert all(np.ptp(f[:, 2]) < 4.0 for f in explore)          # floor to ceiling of a room or hall
    hover_hops = kinematic_flights(20, 60.0, seed=5, families=["hover_hops"], noise=(1e-4, 1e-3), glitches=0.0)
    assert 0.7 < cv_error_ratio(explore) < 1.3
    assert cv_error_ratio(hover_hops) < 0.6


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


def test_measured_tracks_pair_the_sensor_view_with_the_exact_positions():
    from uav_traj_predictor.data.perturb import Perturbation
    from uav_traj_predictor.train.datasets import measured_tracks
    t = np.arange(3000) * 0.01                                    # 30 s at 100 Hz, exact
    p = np.column_stack([np.cos(0.5 * t), np.sin(0.5 * t), 0.1 * t])
    rng = np.random.default_rng(0)
    (track,) = measured_tracks(t, p, Perturbation(rate=20.0, noise=0.01), rng, 10.0, "total_station")
    assert track.measured.shape == track.truth.shape and track.interval.shape == (len(track) - 1, 3)
    error = track.measured - track.truth                        # the sensor's noise, on the same stamps
    assert np.std(error) == pytest.approx(0.01, rel=0.1)
    assert np.median(track.noise[50:]) == pytest.approx(0.01, rel=0.15)   # the online estimate sees it
    (exact,) = measured_tracks(t, p, Perturbation(), rng, 10.0)
    np.testing.assert_array_equal(exact.measured, exact.truth)
    gaps = measured_tracks(t, p, Perturbation(gaps=6.0, gap_len=2.0), np.random.default_rng(1), 10.0)
    assert len(gaps) > 1                                          # outages split the flight into tracks


def test_training_sets_are_reproducible_and_split_by_source_flight():
    from uav_traj_predictor.train.datasets import kinematic, mixture
    a = kinematic(6, 20.0, seed=3, rate=10.0, sensors="mixture", copies=2)
    b = kinematic(6, 20.0, seed=3, rate=10.0, sensors="mixture", copies=2)
    assert len(a.flights) == len(b.flights) and all(np.array_equal(x.measured, y.measured)
                                                    for x, y in zip(a.flights, b.flights))
    assert sum(a.description["sensor_draws"].values()) == 12 and set(a.groups) == set(range(6))
    both = mixture({"sources": [{"source": "kinematic", "flights": 4, "duration_s": 20.0, "sensors": ["mocap", "gnss"]},
                                {"source": "kinematic", "flights": 3, "duration_s": 20.0, "sensors": "none"}]}, 0, 10.0)
    assert set(both.groups) == set(range(7))
    rest, held = split_flights(both, 0.3, seed=0)
    assert not set(rest.groups) & set(held.groups)                  # copies of one flight stay together


def test_augmentation_moves_measured_truth_and_interval_velocities_together():
    track = TrainTrack(np.cumsum(np.ones((200, 3)) * 0.1, axis=0), np.cumsum(np.ones((200, 3)) * 0.1, axis=0) + 0.01,
                       np.full(200, 0.002), "test", np.ones((199, 3)))
    chunks = sample_chunks([track], 16, 50, np.random.default_rng(2),
                           Augment(yaw=True, mirror=True, scale=(0.5, 2.0), z_scale=(0.5, 2.0)))
    offset = chunks.truth - chunks.measured                         # the same rigid transform for both
    np.testing.assert_allclose(torch.linalg.norm(offset[:, :, :2], dim=-1)[:, 0] /
                               torch.linalg.norm(chunks.measured[:, 1, :2] - chunks.measured[:, 0, :2], dim=-1),
                               0.01 * np.sqrt(2) / (0.1 * np.sqrt(2)), rtol=1e-4)
    velocity = (chunks.measured[:, 1:] - chunks.measured[:, :-1]) / 0.1
    torch.testing.assert_close(chunks.interval, velocity, rtol=1e-4, atol=1e-4)   # u = v here, still after it
    scale = chunks.noise[:, 0] / 0.002
    assert scale.min() < 0.8 and scale.max() > 1.2                  # the noise level follows the scale


def test_the_attitude_input_of_chunks_is_the_flown_acceleration_and_follows_the_augmentation():
    """sample_chunks with dt: the attitude input (B, T - 1, 3) of a track without orientations is its exact
    acceleration through the error model, of a recorded one its own values turned with the positions; a share of
    chunks has none (zeros); without dt the chunks are the old ones (the same random stream)."""
    from uav_traj_predictor.train.datasets import ATTITUDE_SHARE
    t = np.arange(400) * 0.1
    exact = np.column_stack([3 * np.cos(0.5 * t), 3 * np.sin(0.5 * t), 0.1 * t])
    flown = np.column_stack([-0.75 * np.cos(0.5 * t), -0.75 * np.sin(0.5 * t)])[1:]   # the second derivative
    plain = TrainTrack(exact, exact, np.zeros(400))
    recorded = TrainTrack(exact, exact, np.zeros(400), attitude=np.column_stack([flown, np.ones(399)]))
    augment = Augment(yaw=True, mirror=True, scale=(0.5, 2.0))
    old = sample_chunks([plain], 64, 60, np.random.default_rng(5), augment)
    for track in (plain, recorded):
        chunks = sample_chunks([track], 64, 60, np.random.default_rng(5), augment, dt=0.1)
        torch.testing.assert_close(chunks.measured, old.measured)
        assert old.attitude is None and chunks.attitude.shape == (64, 59, 3)
        on = chunks.attitude[:, 0, 2] == 1
        assert set(chunks.attitude[:, :, 2].unique().tolist()) == {0.0, 1.0}
        assert abs(on.float().mean().item() - ATTITUDE_SHARE) < 0.15
        assert not chunks.attitude[~on].any()
        truth = chunks.truth[on].double()
        acc = (truth[:, 2:, :2] - 2 * truth[:, 1:-1, :2] + truth[:, :-2, :2]) / 0.01
        error = (chunks.attitude[on][:, :-1, :2].double() - acc).pow(2).mean().sqrt() / acc.pow(2).mean().sqrt()
        if track is recorded:
            assert error < 0.01                     # the recorded values, turned, mirrored and scaled as the path
        else:
            assert 0.05 < error < 1.5               # the flown acceleration through the error model


def test_student_t_likelihood_trains_the_log_std_less_toward_outliers():
    """optim.nll student_t: the log-std term is the Student-t NLL (dof 4) of the detached mean; on errors with a
    few outliers its gradient pulls the log-std up less than the Gaussian's, and the mean term is the same."""
    from uav_traj_predictor.model import Architecture, VelocityGRU
    from uav_traj_predictor.train.trainer import chunk_loss
    torch.manual_seed(0)
    model = VelocityGRU(Architecture(hidden=8, head_hidden=8, horizon_steps=5, input_features=3))
    t = torch.arange(60, dtype=torch.float32)[:, None] * 0.1
    chunk = torch.stack([torch.cat([t, torch.sin(t), 0.1 * t], 1), torch.cat([t ** 1.5, t, 0 * t], 1)])
    chunk[1, 40] += 3.0                                                  # an outlier in the measured future
    losses, grads = {}, {}
    for kind in ("gaussian", "student_t"):
        model.zero_grad()
        loss, ade = chunk_loss(model, chunk, 0.1, 5, 1.0, 0.0, kind, 4.0)
        loss.backward()
        losses[kind], grads[kind] = (loss.item(), ade.item()), model.head[2].bias.grad[-15:].sum().item()
    assert losses["gaussian"][1] == losses["student_t"][1]                # the same mean fit
    assert losses["gaussian"][0] != losses["student_t"][0]
    assert grads["student_t"] > grads["gaussian"]                        # less push toward a wider std


def test_simulated_flights_can_give_their_own_orientations_as_the_attitude_input():
    """A sim source with `orientations: true`: each track's attitude input comes from the simulator's own
    orientations through the product's estimate and check (data/attitude.py), so it is off at first and on
    later, and where on it follows the flown horizontal acceleration (correlated as on the recorded racing
    flights); without the key the tracks carry none (sample_chunks synthesises it), the set otherwise the same."""
    from uav_traj_predictor.train.datasets import mixture
    spec = {"source": "sim", "flights": 3, "duration_s": 40.0, "sim_rate": 100.0, "sensors": "mocap",
            "families": ["racing"]}
    plain = mixture({"sources": [spec]}, 4, 10.0)
    tilted = mixture({"sources": [{**spec, "orientations": True}]}, 4, 10.0)
    assert all(track.attitude is None for track in plain.flights)
    assert tilted.description["parts"][0]["orientations"] is True
    assert len(plain.flights) == len(tilted.flights)
    for a, b in zip(plain.flights, tilted.flights):
        np.testing.assert_array_equal(a.measured, b.measured)      # the same flights, the same sensor draws
    on_share = []
    for track in tilted.flights:
        attitude = track.attitude
        assert attitude.shape == (len(track) - 1, 3) and np.isfinite(attitude).all()
        assert not attitude[:20, 2].any()                            # the estimate settles first
        on = attitude[:, 2] == 1
        on_share.append(on.mean())
        truth = track.truth
        flown = (truth[2:, :2] - 2 * truth[1:-1, :2] + truth[:-2, :2]) / 0.01   # grid sample k + 1 of row k
        rows = np.flatnonzero(on[:-1])
        assert np.corrcoef(attitude[rows, :2].ravel(), flown[rows].ravel())[0, 1] > 0.8   # real racing: 0.88-0.96
    assert max(on_share) > 0.5
    with pytest.raises(ValueError, match=r"data.sources\[0\]: orientations: only a 'sim' source"):
        mixture({"sources": [{"source": "kinematic", "flights": 1, "duration_s": 20.0, "orientations": True}]}, 0, 10.0)
