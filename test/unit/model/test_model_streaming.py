"""StreamingPredictor: stepping equals the sequence path, warm-up fallback, track bookkeeping."""
from types import SimpleNamespace

import numpy as np
import pytest

import dataclasses

from helpers.checkpoints import random_checkpoint
from uav_traj_predictor.model import FALLBACK_CV, TRACKING, WARMING_UP, StreamingPredictor


@pytest.fixture(scope="module", params=[10, 7, 6, 3],
                ids=["velocity+accel+noise+interval", "velocity+accel+noise", "velocity+accel", "velocity"])
def checkpoint(tmp_path_factory, request):
    return random_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.pt", hidden=24, layers=2, head_hidden=8,
                             features=request.param, scales=True, min_history=20, cv_std=[0.01] * 10, model_id="test")


def break_head(predictor):
    """NaN output biases of the head, in the spec every path reads (the C path copies it when built)."""
    predictor.spec = dataclasses.replace(predictor.spec, b2=np.full_like(predictor.spec.b2, np.nan))
    predictor._fused = predictor._fused_plan()


def flight(rng, count=120):
    acc = rng.normal(size=(count, 3)) * 2.0
    return np.cumsum(np.cumsum(acc, axis=0) * 0.1, axis=0) * 0.1 + rng.uniform(-100, 100, 3)


def stream(predictor, positions):
    """Predictions made by stepping one track sample by sample (NaN rows before min_history)."""
    index = predictor.add_tracks(1)
    out = np.full((len(positions), predictor.horizon_steps, 3), np.nan)
    std = np.full_like(out, np.nan)
    statuses = []
    for k in range(1, len(positions)):
        predictor.step(index, (positions[k] - positions[k - 1])[None] / predictor.dt)
        pos, vel, sd = predictor.predict(index, positions[k][None])
        statuses.append(predictor.status(index)[0])
        if statuses[-1] == TRACKING:
            out[k], std[k] = pos[0], sd[0]
    predictor.remove_tracks(index)
    return out, std, statuses


def test_stepping_equals_segment_prediction(checkpoint):
    rng = np.random.default_rng(1)
    predictor = StreamingPredictor(checkpoint)
    positions = flight(rng)
    streamed, streamed_std, statuses = stream(predictor, positions)
    offline = predictor.predict_segment(SimpleNamespace(positions=positions))
    assert offline.positions.shape == (len(positions), 10, 3)
    np.testing.assert_array_equal(np.isnan(offline.positions), np.isnan(streamed))
    np.testing.assert_allclose(offline.positions, streamed, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(offline.std, streamed_std, rtol=1e-4, atol=1e-6, equal_nan=True)
    assert statuses[:19] == [WARMING_UP] * 19 and set(statuses[19:]) == {TRACKING}
    assert np.isnan(offline.positions[:20]).all() and np.isfinite(offline.positions[20:]).all()


def test_warming_up_is_constant_velocity_with_cv_std(checkpoint):
    predictor = StreamingPredictor(checkpoint)
    index = predictor.add_tracks(1)
    velocity = np.array([[1.0, -2.0, 0.5]])
    for _ in range(5):
        predictor.step(index, velocity)
    positions, velocities, std = predictor.predict(index, np.array([[3.0, 4.0, 5.0]]))
    steps = np.arange(1, 11)[:, None] * 0.1
    np.testing.assert_allclose(positions[0], [3.0, 4.0, 5.0] + velocity * steps)
    np.testing.assert_allclose(velocities[0], np.repeat(velocity, 10, axis=0))
    np.testing.assert_allclose(std[0], 0.01)
    assert predictor.status(index) == [WARMING_UP]


def test_batched_tracks_match_single_tracks_and_offset_invariance(checkpoint):
    rng = np.random.default_rng(2)
    predictor = StreamingPredictor(checkpoint, capacity=2)
    flights = [flight(rng, 40) for _ in range(5)]
    indices = predictor.add_tracks(5)                    # grows past the initial capacity
    for k in range(1, 40):
        velocities = np.stack([(f[k] - f[k - 1]) / 0.1 for f in flights])
        predictor.step(indices, velocities)
    batched, _, _ = predictor.predict(indices, np.stack([f[-1] for f in flights]))
    for i, positions in enumerate(flights):
        single, _, _ = stream(StreamingPredictor(checkpoint), positions)
        np.testing.assert_allclose(batched[i], single[-1], atol=1e-5)
        shifted, _, _ = stream(StreamingPredictor(checkpoint), positions + [1000.0, -500.0, 20.0])
        np.testing.assert_allclose(shifted[-1] - [1000.0, -500.0, 20.0], single[-1], atol=1e-4)


def test_reset_remove_and_errors(checkpoint):
    predictor = StreamingPredictor(checkpoint)
    a, b = predictor.add_tracks(2)
    for _ in range(25):
        predictor.step([a, b], np.ones((2, 3)))
    assert predictor.history([a, b]).tolist() == [25, 25]
    predictor.reset([a])
    assert predictor.history([a, b]).tolist() == [0, 25]
    predictor.predict([a, b], np.zeros((2, 3)))
    assert predictor.status([a, b]) == [WARMING_UP, TRACKING]
    assert predictor.active_tracks == 2
    predictor.remove_tracks([b])
    assert predictor.active_tracks == 1
    with pytest.raises(IndexError):
        predictor.step([b], np.ones((1, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        predictor.step([a], np.array([[np.nan, 0, 0]]))
    assert predictor.add_tracks(1).tolist() == [b]        # freed slot reused, fresh state
    assert predictor.history([b]).tolist() == [0]


def test_non_finite_network_output_falls_back_to_cv(checkpoint):
    predictor = StreamingPredictor(checkpoint, min_history=1)
    break_head(predictor)                                  # a broken head must never leak garbage
    index = predictor.add_tracks(1)
    predictor.step(index, np.array([[1.0, 0.0, 0.0]]))
    positions, _, std = predictor.predict(index, np.zeros((1, 3)))
    assert predictor.status(index) == [FALLBACK_CV]
    np.testing.assert_allclose(positions[0, :, 0], np.arange(1, 11) * 0.1)
    assert np.isfinite(std).all()


def test_short_segment_gives_all_nan_and_wrong_rate_is_refused(checkpoint):
    predictor = StreamingPredictor(checkpoint)
    result = predictor.predict_segment(SimpleNamespace(positions=np.zeros((15, 3))))
    assert result.positions.shape == (15, 10, 3) and np.isnan(result.positions).all()
    with pytest.raises(ValueError, match="dt"):
        predictor.predict_segment(SimpleNamespace(positions=np.zeros((30, 3)), dt=0.05))


def test_shipped_checkpoint_streams_like_its_segment_path():
    predictor = StreamingPredictor()
    positions = flight(np.random.default_rng(5), 200)
    streamed, streamed_std, _ = stream(predictor, positions)
    offline = predictor.predict_segment(SimpleNamespace(positions=positions))
    np.testing.assert_allclose(offline.positions, streamed, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(offline.std, streamed_std, rtol=1e-4, atol=1e-6, equal_nan=True)


def test_online_calibration_streams_like_its_segment_path(checkpoint):
    """With the online std calibration on, stepping a track and the offline sequence pass agree (a
    boundary case |e| = std flipping between the float32 paths moves a scale by at most 0.2 %)."""
    rng = np.random.default_rng(5)
    predictor = StreamingPredictor(checkpoint, online_calibration=0.02)
    positions = flight(rng, count=300)
    streamed, streamed_std, _ = stream(predictor, positions)
    offline = predictor.predict_segment(SimpleNamespace(positions=positions))
    np.testing.assert_allclose(offline.std, streamed_std, rtol=5e-3, equal_nan=True)
    plain = StreamingPredictor(checkpoint).predict_segment(SimpleNamespace(positions=positions))
    np.testing.assert_array_equal(offline.positions, plain.positions)        # positions untouched
    assert not np.allclose(offline.std[100:], plain.std[100:])                # the std adapted


def test_online_calibration_accepts_an_empty_batch(checkpoint):
    predictor = StreamingPredictor(checkpoint, online_calibration=0.02)
    positions, velocities, std = predictor.predict(np.zeros(0, np.int64), np.zeros((0, 3)))
    assert positions.shape == velocities.shape == std.shape == (0, 10, 3)


@pytest.mark.parametrize("guard", [0.0, 0.05], ids=["plain", "guard"])
def test_advance_fused_equals_rounds_of_step_then_predict(checkpoint, guard):
    """advance() through the C path gives what the batched step rounds + predict give, through warm-up,
    capacity growth (the state is reallocated), several velocities per track and several tracks per call;
    with the guard on too (its C twin after the C path's predictions, against the numpy guard)."""
    fused = StreamingPredictor(checkpoint, capacity=2, guard=guard)
    plain = StreamingPredictor(checkpoint, capacity=2, fused=False, guard=guard)
    if not fused.fused:
        pytest.skip("C extension _cstream not built")
    assert not plain.fused
    rng = np.random.default_rng(5)
    slots = [(int(fused.add_tracks(1)[0]), int(plain.add_tracks(1)[0])) for _ in range(2)]
    statuses = set()
    for k in range(120):
        if k == 30:
            slots += [(int(fused.add_tracks(1)[0]), int(plain.add_tracks(1)[0])) for _ in range(3)]
        chosen = rng.choice(len(slots), size=rng.integers(1, len(slots) + 1), replace=False)
        velocities = [[tuple(rng.normal(0, 4, 3).tolist()) + ((rng.uniform(0, 0.02),) if guard else ())
                       for _ in range(rng.integers(0, 3))] for _ in chosen]
        last = [tuple((rng.normal(0, 50 if not guard else 0.05, 3) + (0 if not guard else k * 0.1)).tolist())
                for _ in chosen]
        a = [slots[i][0] for i in chosen]
        b = [slots[i][1] for i in chosen]
        if min(fused.history(a)) == 0 and not all(velocities):
            continue                                        # tracks are advanced once they have a velocity
        got, expected = fused.advance(a, velocities, last), plain.advance(b, velocities, last)
        assert got[3] == expected[3] == fused.status(a)
        statuses.update(got[3])
        for x, y in zip(got[:3], expected[:3]):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5)
        assert fused.history(a).tolist() == plain.history(b).tolist()
    assert statuses == {WARMING_UP, TRACKING}
    if guard:
        assert fused.guard_weight([s for s, _ in slots]).max() > 0                # the blend was exercised
        np.testing.assert_allclose(fused.guard_weight([s for s, _ in slots]),
                                   plain.guard_weight([s for _, s in slots]), atol=1e-4)


def test_advance_falls_back_and_refuses_like_step(checkpoint):
    predictor = StreamingPredictor(checkpoint, min_history=1)
    if not predictor.fused:
        pytest.skip("C extension _cstream not built")
    break_head(predictor)
    index = int(predictor.add_tracks(1)[0])
    positions, _, std, status = predictor.advance([index], [[(1.0, 0.0, 0.0)]], [(0.0, 0.0, 0.0)])
    assert status == [FALLBACK_CV] == predictor.status([index])
    np.testing.assert_allclose(positions[0, :, 0], np.arange(1, 11) * 0.1)
    assert np.isfinite(std).all()
    state = predictor._stepper.state.copy()
    with pytest.raises(ValueError, match="MAX_SPEED"):
        predictor.advance([index], [[(0.5, 0.0, 0.0), (np.nan, 0.0, 0.0)]], [(0.0, 0.0, 0.0)])
    with pytest.raises(IndexError):
        predictor.advance([7], [[(1.0, 0.0, 0.0)]], [(0.0, 0.0, 0.0)])
    with pytest.raises(IndexError):
        predictor.advance([index, index], [[(1.0, 0.0, 0.0)]] * 2, [(0.0, 0.0, 0.0)] * 2)
    np.testing.assert_array_equal(predictor._stepper.state, state)   # refused calls change nothing
    assert predictor.history([index]).tolist() == [1]
