"""model.guard: the per-track blend toward the classical IMM, from matured predictions only; streaming ==
offline; the core's streaming IMM batched over tracks."""
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.checkpoints import random_checkpoint
from helpers.guard import apply_both, assert_same_state
from uav_traj_predictor.core import TrackBank
from uav_traj_predictor.core.imm import IMM_DEFAULTS, FilterConfig, IMMBank
from uav_traj_predictor.model import TRACKING, StreamingPredictor
from uav_traj_predictor.model.guard import CALIBRATION_FLOORS, CALIBRATION_RATE, Guard, guard_segment

H, DT = 10, 0.1


def slow_flight(steps=1500, seed=0):
    """A slow smooth 3-D path (~0.5 m/s), the truth."""
    t = np.arange(steps) * DT
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 3)
    return np.column_stack([2 * np.sin(0.25 * t + phase[0]), 2 * np.cos(0.2 * t + phase[1]),
                            1.5 + 0.3 * np.sin(0.3 * t + phase[2])])


def future(positions):
    out = np.full((len(positions), H, 3), np.nan)
    for j in range(1, H + 1):
        out[:-j, j - 1] = positions[j:]
    return out


def blend_of(model_error, noise, seed=0):
    """guard_segment over measured positions (truth + white noise) with a 'network' = the exact future
    plus `model_error` (per-lead white errors of that std); returns (measured, truth future, blended, raw)."""
    rng = np.random.default_rng(seed)
    truth = slow_flight(seed=seed)
    measured = truth + rng.normal(0, noise, truth.shape)
    exact = future(truth)
    predicted = exact + rng.normal(0, 1, exact.shape) * model_error
    predicted[:20] = np.nan                                   # warming up: no network prediction
    predicted[-H:] = exact[-H - 1]                            # rows without a full future: any finite value
    std = np.where(np.isfinite(predicted), 0.1, np.nan)
    blended, _ = guard_segment(measured, predicted, std, np.full(len(truth), noise), DT)
    return exact, blended, predicted


def ade(predicted, exact, rows):
    return np.linalg.norm(predicted[rows] - exact[rows], axis=-1).mean()


def test_a_precise_network_is_left_alone_and_a_bad_one_is_replaced_by_the_filter():
    rows = slice(300, -H)
    exact, blended, raw = blend_of(model_error=0.002, noise=0.01)       # network far better than any filter
    assert ade(blended, exact, rows) <= 1.02 * ade(raw, exact, rows)
    exact, blended, raw = blend_of(model_error=1.0, noise=0.01)         # network useless
    assert ade(blended, exact, rows) < 0.2 * ade(raw, exact, rows)


def test_the_weight_does_not_follow_the_measurement_noise():
    """Same network error, 2 mm and 5 cm of white measurement noise on the scoring positions: the blend
    weights (and so the result against the truth) barely move, since the noise cancels in the weight."""
    guards = []
    for noise in (0.002, 0.05):
        rng = np.random.default_rng(1)
        truth = slow_flight(seed=1)
        measured = truth + rng.normal(0, noise, truth.shape)
        exact = future(truth)
        classical = exact + rng.normal(0, 0.05, exact.shape)
        model = exact + rng.normal(0, 0.05, exact.shape)           # equally good: w near 1/2
        guard = Guard(1, H, DT, fused=False)              # the reference: its filter forecast replaced below
        weights = []
        for k in range(1, len(truth) - H):
            guard.partner.forecast = lambda indices, with_std=False, k=k: (classical[k:k + 1], None)
            positions, std = model[k:k + 1].copy(), np.full((1, H, 3), 0.1)
            guard.apply(np.zeros(1, np.int64), np.array([k]), measured[k:k + 1], np.array([noise]), positions, std,
                        np.array([True]))
            weights.append(guard.weight([0])[0])
        guards.append(np.mean(weights[500:]))
    assert 0.35 < guards[0] < 0.65 and abs(guards[0] - guards[1]) < 0.1


def test_uses_no_future_position():
    rng = np.random.default_rng(2)
    truth = slow_flight(steps=400)
    predicted = future(truth) + rng.normal(0, 0.3, (400, H, 3))
    predicted[:20], predicted[-H:] = np.nan, 0.0
    std = np.where(np.isfinite(predicted), 0.1, np.nan)
    noise = np.full(400, 0.01)
    first, _ = guard_segment(truth, predicted, std, noise, DT)
    changed = truth.copy()
    changed[250:] += 5.0
    again, _ = guard_segment(changed, predicted, std, noise, DT)
    np.testing.assert_array_equal(again[:250], first[:250])
    assert not np.allclose(again[260:-H], first[260:-H])


def test_rate_zero_is_the_identity_and_bad_settings_are_refused():
    truth = slow_flight(steps=100)
    predicted = future(truth)
    std = np.full_like(predicted, 0.1)
    out, spread = guard_segment(truth, predicted, std, np.zeros(100), DT, rate=0.0)
    np.testing.assert_array_equal(out, predicted)
    np.testing.assert_array_equal(spread, std)
    for rate in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError):
            Guard(1, H, DT, rate)
    with pytest.raises(ValueError):
        Guard(1, H, DT, 0.02, min_evidence=0)


def test_imm_bank_batched_equals_one_track_at_a_time_and_reset_forgets():
    rng = np.random.default_rng(3)
    paths = [slow_flight(steps=80, seed=s) + rng.normal(0, 0.01, (80, 3)) for s in range(3)]
    batched, singles = IMMBank(DT, H, 1, FilterConfig(**IMM_DEFAULTS)), []
    batched.grow(3)
    for path in paths:
        one = IMMBank(DT, H, 1, FilterConfig(**IMM_DEFAULTS))
        rows = []
        for k in range(80):
            one.update([0], [k], path[k:k + 1], [1e-4])
            rows.append(one.forecast([0])[0][0])
        singles.append(np.array(rows))
    tracks = np.arange(3)
    for k in range(80):
        batched.update(tracks, np.full(3, k), np.array([p[k] for p in paths]), np.full(3, 1e-4))
        batched.update(tracks, np.full(3, k), np.array([p[k] + 9 for p in paths]), np.full(3, 1e-4))  # ignored
        mean, _ = batched.forecast(tracks)
        for i in range(3):
            np.testing.assert_allclose(mean[i], singles[i][k], rtol=0, atol=1e-12)
    batched.reset([1])
    batched.update([1], [200], np.array([[5.0, 5.0, 5.0]]), [1e-4])     # re-initialised at the new position
    np.testing.assert_allclose(batched.forecast([1])[0][0], 5.0)


def test_imm_bank_skipped_grid_steps_are_one_longer_step():
    """A measurement 3 grid steps after the last is one step of 3 dt: for a Kalman filter on a noiseless
    constant-velocity path it still predicts the path."""
    bank = IMMBank(DT, H, 1, FilterConfig(modes=("ca",), q_jerk=1.0, sigma_floor=0.001))
    velocity = np.array([1.0, -0.5, 0.2])
    for k in list(range(0, 60)) + list(range(63, 120, 3)):
        bank.update([0], [k], (k * DT * velocity)[None], [1e-6])
    mean, std = bank.forecast([0])
    expected = (117 + np.arange(1, H + 1))[:, None] * DT * velocity
    np.testing.assert_allclose(mean[0], expected, atol=2e-3)
    assert np.isfinite(std).all()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("ckpt") / "g.pt", hidden=16, layers=1, head_hidden=8,
                             features=10, scales=True, min_history=10, cv_std=[0.01] * 10, model_id="guard")


def test_guard_streams_through_the_track_bank_like_its_segment_path(checkpoint):
    """predictor_node's path (TrackBank, one tick per raw sample, 20 Hz raw) and the offline segment pass
    give the same guarded predictions; the guard moved them (a random network is worse than the IMM)."""
    rng = np.random.default_rng(4)
    truth = slow_flight(steps=600, seed=4)
    stamps = np.arange(0, 60.0, 0.05)
    raw = np.column_stack([np.interp(stamps, np.arange(600) * DT, truth[:, a]) for a in range(3)])
    raw += rng.normal(0, 0.02, raw.shape)
    predictor = StreamingPredictor(checkpoint, guard=0.02, capacity=1)
    assert predictor.guard == 0.02
    bank = TrackBank(predictor, track_timeout=1e9)
    streamed = {}
    for t, p in zip(stamps, raw):
        bank.push("uav", t, p)
        for prediction in bank.tick().predictions:
            streamed[round(prediction.t0, 6)] = prediction
    from uav_traj_predictor.data.flight import Flight
    from uav_traj_predictor.data.preprocess import PreprocessConfig, segments_from_flight
    segment, = segments_from_flight(Flight("uav", "test", stamps, raw), PreprocessConfig(rate=10.0))
    offline = StreamingPredictor(checkpoint, guard=0.02).predict_segment(segment)
    plain = StreamingPredictor(checkpoint, guard=0.0).predict_segment(segment)
    compared = 0
    for k in range(len(segment)):
        prediction = streamed.get(round(segment.t0 + k * segment.dt, 6))
        if prediction is None or prediction.status != TRACKING:
            continue
        np.testing.assert_allclose(prediction.positions, offline.positions[k], atol=1e-5)
        np.testing.assert_allclose(prediction.position_std, offline.std[k], rtol=1e-4, atol=1e-6)
        compared += 1
    assert compared > 500
    late = slice(200, len(segment) - H)
    assert not np.allclose(offline.positions[late], plain.positions[late])
    assert predictor.guard_weight([0])[0] > 0.5
    bank.reset("uav", "manual")
    bank.tick()
    assert predictor.guard_weight([0])[0] == 0.0


def test_the_guard_inside_the_networks_c_call_equals_the_numpy_path(checkpoint):
    """With the C path the guard runs inside the network's call (Plan.advance with the GuardState); the
    numpy path (fused=False) runs the reference arithmetic. Three tracks, ticks that bring 0, 1 or 2 grid
    samples (2: the IMM skips a grid step, which the C call leaves to the numpy filter), a reset: the
    guarded predictions, statuses and weights agree (float32 network rounding), and both branches ran."""
    rng = np.random.default_rng(9)
    truths = [slow_flight(steps=500, seed=s) for s in range(3)]
    fused, reference = (StreamingPredictor(checkpoint, guard=0.02, capacity=2, fused=f) for f in (True, False))
    assert fused.fused and not reference.fused
    for predictor in (fused, reference):
        predictor.add_tracks(3)
    skipped = []
    original = fused._guard.step_partner
    fused._guard.step_partner = lambda *args: (skipped.append(len(args[0])), original(*args))
    grid = np.zeros(3, int)
    for tick in range(400):
        if tick == 250:
            for predictor in (fused, reference):
                predictor.reset([1])
        tracks = np.flatnonzero(rng.random(3) < 0.8)
        if not len(tracks):
            continue
        counts = rng.choice([0, 1, 1, 1, 1, 1, 2], size=len(tracks))
        lists, last = [], []
        for track, count in zip(tracks, counts):
            samples = []
            for _ in range(count):
                grid[track] += 1
                k = min(grid[track], 499)
                velocity = (truths[track][k] - truths[track][k - 1]) / DT + rng.normal(0, 0.05, 3)
                samples.append((*velocity, 0.01, *velocity))
            lists.append(samples)
            last.append(tuple(truths[track][min(grid[track], 499)] + rng.normal(0, 0.01, 3)))
        results = [predictor.advance(tracks, lists, last) for predictor in (fused, reference)]
        for got, want in zip(results[0][:3], results[1][:3]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
        assert list(results[0][3]) == list(results[1][3])
        np.testing.assert_allclose(fused.guard_weight(tracks), reference.guard_weight(tracks), atol=1e-4)
    assert sum(skipped) > 0                                   # the C call left skipped steps to numpy
    assert fused.guard_weight([0, 1, 2]).max() > 0            # and the blend was exercised


def test_guard_accepts_an_empty_batch_and_twist_samples(checkpoint):
    predictor = StreamingPredictor(checkpoint, guard=0.02)
    positions, velocities, std = predictor.predict(np.zeros(0, np.int64), np.zeros((0, 3)))
    assert positions.shape == velocities.shape == std.shape == (0, 10, 3)
    index = predictor.add_tracks(1)
    out = predictor.advance(index, [[(1.0, 0.0, 0.0)]], [(0.0, 0.0, 0.0)])        # 3-value samples: noise prior
    assert np.isfinite(out[0]).all()
    result = predictor.predict_segment(SimpleNamespace(positions=slow_flight(steps=50), dt=DT))
    assert np.isfinite(result.positions[10:]).all()


@pytest.mark.parametrize("calibration", [0.0, 0.02], ids=["no-lead-calibration", "lead-calibration"])
def test_the_c_twin_equals_the_numpy_reference(calibration):
    """kernels/cstream.c GuardState against Guard's numpy arithmetic: several tracks per call in any order,
    skipped grid steps (1 to 3), rows that are not the network's, resets, capacity growth, with and without the
    per-lead calibration; every output and every state array agree to ~1e-12."""
    fused = Guard(2, H, DT, calibration=calibration)
    reference = Guard(2, H, DT, fused=False, calibration=calibration)
    if not fused.fused:
        pytest.skip("C extension _cstream not built")
    rng = np.random.default_rng(6)
    capacity, grid = 2, np.zeros(5, np.int64)
    paths = [slow_flight(steps=700, seed=s) for s in range(5)]
    for call in range(600):
        if call == 50:
            for guard in (fused, reference):
                guard.grow(5)
            capacity = 5
        if call in (200, 420):
            for guard in (fused, reference):
                guard.reset([1])
        tracks = rng.choice(capacity, size=rng.integers(1, capacity + 1), replace=False)
        grid[tracks] += rng.choice([0, 1, 1, 1, 1, 2, 3], size=len(tracks))
        last = np.array([paths[t][min(grid[t], 699)] for t in tracks]) + rng.normal(0, 0.02, (len(tracks), 3))
        noise = rng.uniform(0, 0.03, len(tracks))
        network = rng.random(len(tracks)) < 0.9
        predicted = np.array([future(paths[t])[min(grid[t], 680)] for t in tracks])
        predicted += rng.normal(0, 0.05, predicted.shape)
        std = rng.uniform(0.01, 0.2, predicted.shape)
        apply_both(fused, reference, tracks, grid[tracks], last, noise, predicted, std, network)
    assert_same_state(fused, reference)
    assert fused.weight(np.arange(5)).max() > 0                      # the blend was exercised
    assert (np.abs(np.log(fused._scale)).max() > 0.1) == (calibration > 0)   # and the calibration, where on


def calibrate_lead_errors(draw, fused, steps=3900, ratio=None, dt=DT):
    """A 'network' whose errors at lead j on axis a are white, `draw(rng, shape)` times c_ja times its stated
    std (c_ja from 0.8 to 3 over the leads, times 1, 1.6 and 0.9 on x, y, z: the network's std is off by a
    different factor on each axis, as on the racing flights; or `ratio` (H, 3)), through a guard (grid step
    `dt`) whose blend never starts at the
    product's calibration rate: returns (c (H, 3), the mean 1- and 2-sigma scales (2, H, 3) and the share of
    the errors inside 1 and 2 published std (2, H, 3) per lead and axis, both over the steps after the first
    1500 (each axis's tracker moves by the rate at every step: the scales are averaged, not read once)."""
    rng = np.random.default_rng(2)
    truth = slow_flight(steps=steps + 100)
    ratio = np.linspace(0.8, 3.0, H)[:, None] * np.array([1.0, 1.6, 0.9]) if ratio is None else ratio
    stated = 0.01 * np.arange(1, H + 1)[:, None] * np.ones(3)
    guard = Guard(1, H, dt, calibration=CALIBRATION_RATE, min_evidence=10**9, fused=fused)
    exact = future(truth)
    inside, scales, count = np.zeros((2, H, 3)), np.zeros((2, H, 3)), 0
    for k in range(1, steps):
        predicted = exact[k][None] + draw(rng, (1, H, 3)) * ratio * stated
        positions, std = predicted.copy(), np.broadcast_to(stated, (1, H, 3)).copy()
        guard.apply(np.zeros(1, np.int64), np.array([k]), truth[k:k + 1], np.array([0.001]), positions, std,
                    np.ones(1, bool))
        np.testing.assert_array_equal(positions, predicted)               # the positions are untouched
        if k > 1500:
            error = np.abs(predicted[0] - exact[k])
            inside += [error <= std[0], error <= 2 * std[0]]
            scales += guard._scale[0]
            count += 1
    return ratio, scales / count, inside / count


@pytest.mark.parametrize("fused", [True, False])
def test_lead_calibration_learns_each_leads_scale(fused):
    """Gaussian errors: each lead's 1-sigma scale converges near c_j (68.3 % of the per-axis errors inside the
    scaled std) on each axis and is the one published (the 2-sigma tracker's is smaller: a Gaussian's 93 % lie
    within 1.81 sigma), so the stated std is right at every lead and on every axis."""
    ratio, (one_sigma, two_sigma), inside = calibrate_lead_errors(lambda rng, shape: rng.normal(0, 1, shape), fused)
    np.testing.assert_allclose(one_sigma, ratio, rtol=0.15)
    assert (two_sigma < one_sigma).all()
    np.testing.assert_allclose(inside[0], 0.683, atol=0.04)
    assert (inside[1] > 0.93).all()


@pytest.mark.parametrize("fused", [True, False])
def test_lead_calibration_widens_where_the_tails_are_heavy(fused):
    """Student-t errors with 3 degrees of freedom (racing flights' far leads are about as heavy): a 1-sigma fit
    alone would leave 2 sigma at 90.4 %, on the target's edge; the 2-sigma tracker (93 %) is the one published
    and holds 2 sigma above 92 % at every lead, on every axis at its own scale, while 1 sigma stays near the top
    of 68 +- 7 %."""
    ratio, (one_sigma, two_sigma), inside = calibrate_lead_errors(lambda rng, shape: rng.standard_t(3.0, shape),
                                                                  fused)
    assert (two_sigma > one_sigma).all()
    relative = two_sigma / ratio                                        # the same on every axis: each its own
    np.testing.assert_allclose(relative, np.broadcast_to(relative[:, :1], relative.shape), rtol=0.2)
    one, two = inside.mean(axis=2)                                      # per lead, over the axes (the target's)
    assert (two >= 0.92).all(), two
    # 73.9 % at the exact 93 % scale; each tracker moves at every step and the published scale is the wider of
    # two, which adds about a point (CALIBRATION_RATE 0.05: mean 74.1 %, leads 72.3-75.1 % here)
    assert 0.61 < one.mean() < 0.75 and (one < 0.76).all(), one
    assert (inside[1] >= 0.91).all() and (inside[0] < 0.77).all(), inside   # and near it on each axis


@pytest.mark.parametrize("fused", [True, False])
def test_lead_calibration_shrinks_the_first_second_no_further_than_its_floor(fused):
    """Errors at 0.3x the stated std at every lead of a 0.2 s grid: the leads beyond 1 s learn 0.3, those within it
    stop at the near floor (0.7: a hover must not make the next seconds' std over-confident), on both paths."""
    (near_s, near_floor), (_, far_floor) = CALIBRATION_FLOORS
    ratio = np.full((H, 3), 0.3)
    _, (one_sigma, _), inside = calibrate_lead_errors(lambda rng, shape: rng.normal(0, 1, shape), fused,
                                                      ratio=ratio, dt=0.2)
    near = (np.arange(1, H + 1) * 0.2 <= near_s + 1e-9)
    assert near.sum() == 5 and far_floor < 0.3 < near_floor
    np.testing.assert_allclose(one_sigma[near], near_floor, rtol=0.01)          # held at the floor
    np.testing.assert_allclose(one_sigma[~near], 0.3, rtol=0.15)                # learnt
    assert (inside[0][near] > 0.95).all() and (np.abs(inside[0][~near].mean() - 0.683) < 0.03)


def test_packed_outputs_carry_the_velocities_of_the_blended_positions():
    """apply_packed (the C path's layout [positions | velocities | std]): C and numpy agree, and the
    velocities are the differences of the blended positions from the last grid position."""
    results = []
    for fused in (True, False):
        guard, rng = Guard(1, H, DT, min_evidence=1, fused=fused), np.random.default_rng(7)
        truth = slow_flight(steps=200, seed=7)
        for k in range(1, 200 - H):
            out = np.zeros((1, 3, H, 3))
            out[0, 0] = future(truth)[k] + rng.normal(0, 0.3, (H, 3))       # a poor network: blended
            out[0, 2] = 0.1
            guard.apply_packed(np.zeros(1, np.int64), [k], truth[k:k + 1], [0.001], out)
        results.append(out)
        steps = np.concatenate([truth[k][None], out[0, 0]])
        np.testing.assert_allclose(out[0, 1], np.diff(steps, axis=0) / DT, rtol=1e-12)
        assert guard.weight([0])[0] > 0.3
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)
