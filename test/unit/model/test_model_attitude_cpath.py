"""The attitude input (input_features 13) on the C path (kernels/cstream.c): 10-value grid samples
(vx, vy, vz, noise, ux, uy, uz, ax, ay, available) stream to what the numpy path (ModelSpec.features) gives,
shorter samples mean no attitude, and models without the input ignore it."""
import math

import numpy as np
import pytest
import torch

from helpers.checkpoints import random_checkpoint, random_model
from uav_traj_predictor.kernels import fused as fused_kernels
from uav_traj_predictor.kernels.cpu import numpy_layers
from uav_traj_predictor.model import StreamingPredictor
from uav_traj_predictor.model.spec import ModelSpec


@pytest.fixture(scope="module")
def attitude_checkpoint(tmp_path_factory):
    model = random_model(hidden=16, layers=2, head_hidden=12, features=13, scales=True, seed=13)
    model.accel_scale.copy_(torch.tensor([2.0, 5.0, 1.5]))        # x and y scaled apart (a swap shows)
    return random_checkpoint(tmp_path_factory.mktemp("att") / "m13.pt", model, min_history=3)


@pytest.fixture(scope="module")
def interval_checkpoint(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("att") / "m10.pt", hidden=16, head_hidden=12, features=10,
                             scales=True, min_history=3, seed=10)


def pair(path, **options):
    """(C path, numpy path) predictors of one checkpoint; skips without the extension."""
    fused, plain = (StreamingPredictor(path, fused=f, **options) for f in (True, False))
    if not fused.fused:
        pytest.skip("C extension _cstream not built")
    assert not plain.fused
    return fused, plain


def sample(rng, attitude=True, available=None):
    """A 10-value grid sample (random attitude, availability 0 or 1), or its 7-value prefix."""
    v = rng.normal(0, 3, 3)
    values = (*v, float(rng.uniform(0, 0.02)), *(v + rng.normal(0, 0.3, 3)))
    if not attitude:
        return tuple(float(a) for a in values)
    available = float(rng.integers(0, 2)) if available is None else available
    return tuple(float(a) for a in (*values, *rng.normal(0, 4, 2), available))


def test_spec_has_the_attitude_input(attitude_checkpoint):
    predictor = StreamingPredictor(attitude_checkpoint, fused=False)
    assert predictor.spec.uses_attitude and predictor.spec.input_size == 13
    assert predictor.spec.inv_attitude_scale.dtype == np.float32 and predictor.spec.inv_attitude_scale.shape == (2,)


@pytest.mark.parametrize("guard", [0.0, 0.05], ids=["plain", "guard"])
def test_c_advance_with_attitude_equals_the_numpy_path(attitude_checkpoint, guard):
    """10-value samples (availability 0 and 1) and 7-value ones in the same tick, 0-3 samples per track, 8 tracks
    (a full BLOCK of 6 and single tracks): the C path's advance == rounds of the numpy step + predict."""
    fused, plain = pair(attitude_checkpoint, capacity=8, guard=guard)
    rng = np.random.default_rng(7)
    tracks = list(range(8))
    fused.add_tracks(8)
    plain.add_tracks(8)
    widths = set()
    for k in range(60):
        chosen = sorted(rng.choice(8, size=rng.integers(1, 9), replace=False).tolist())
        lists = [[sample(rng, attitude=bool(rng.random() < 0.7)) for _ in range(rng.integers(0 if k else 1, 4))]
                 for _ in chosen]
        if k == 0:
            chosen, lists = tracks, [[sample(rng)] for _ in tracks]
        if min(fused.history(chosen)) == 0 and not all(lists):
            continue                                           # tracks are advanced once they have a velocity
        widths.update(len(s) for samples in lists for s in samples)
        last = [tuple((rng.normal(0, 0.05, 3) + k * 0.1).tolist()) for _ in chosen]
        got, want = fused.advance(chosen, lists, last), plain.advance(chosen, lists, last)
        assert got[3] == want[3]
        for a, b in zip(got[:3], want[:3]):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)
        assert fused.history(chosen).tolist() == plain.history(chosen).tolist()
    assert widths == {7, 10}
    np.testing.assert_allclose(fused._stepper.state, plain._stepper.state, rtol=1e-5, atol=1e-6)


def test_attitude_changes_a_13_input_prediction_and_unavailable_is_none(attitude_checkpoint):
    """The attitude moves the prediction; with availability 0 its values are masked: the same as a 7-value
    sample (no attitude) or an explicit (0, 0, 0), on both paths."""
    rng = np.random.default_rng(11)
    base = [sample(rng, attitude=False) for _ in range(6)]
    implied = [tuple(rng.normal(0, 4, 2).tolist()) for _ in range(6)]
    variants = {"available": [s + a + (1.0,) for s, a in zip(base, implied)],
                "unavailable": [s + a + (0.0,) for s, a in zip(base, implied)],
                "zero": [s + (0.0, 0.0, 0.0) for s in base],
                "none": base}
    for predictor in pair(attitude_checkpoint, guard=0.0):
        out = {}
        for name, samples in variants.items():
            index = int(predictor.add_tracks(1)[0])
            positions, _, std, status = predictor.advance([index], [samples], [(1.0, 2.0, 3.0)])
            assert status == ["tracking"]
            out[name] = (positions, std)
            predictor.remove_tracks([index])
        for name in ("unavailable", "zero"):
            np.testing.assert_array_equal(out[name][0], out["none"][0])
            np.testing.assert_array_equal(out[name][1], out["none"][1])
        assert np.abs(out["available"][0] - out["none"][0]).max() > 1e-4


def test_a_10_input_model_ignores_the_attitude(interval_checkpoint):
    """Models without the attitude input give the same predictions for 10-value samples as for their 7-value
    prefix, whatever the attitude (even values the attitude input would refuse)."""
    rng = np.random.default_rng(12)
    samples = [sample(rng, available=1.0) for _ in range(8)]
    samples[3] = samples[3][:7] + (math.nan, 1e300, 0.5)
    for predictor in pair(interval_checkpoint, guard=0.0):
        a, b = (int(i) for i in predictor.add_tracks(2))
        for k in range(0, 8, 2):
            with_attitude = predictor.advance([a], [samples[k:k + 2]], [(0.0, 0.0, float(k))])
            prefix = predictor.advance([b], [[s[:7] for s in samples[k:k + 2]]], [(0.0, 0.0, float(k))])
            for x, y in zip(with_attitude[:3], prefix[:3]):
                np.testing.assert_array_equal(x, y)
            assert with_attitude[3] == prefix[3]


@pytest.mark.parametrize("bad", [(1.0, 0.0, 0.5), (math.nan, 0.0, 1.0), (0.0, math.inf, 0.0), (0.0, 0.0, math.nan)])
def test_c_advance_refuses_bad_attitudes_like_step(attitude_checkpoint, bad):
    """An attitude that is not finite or whose availability is not 0 / 1: ValueError on both paths; on the C
    path nothing is stepped (it validates every sample first; the numpy path's earlier rounds have run)."""
    fused, plain = pair(attitude_checkpoint, guard=0.0)
    good = (0.5, 0.0, 0.0, 0.004, 0.5, 0.0, 0.0, 1.0, 2.0, 1.0)
    wrong = (0.5, 0.0, 0.0, 0.004, 0.5, 0.0, 0.0, *bad)
    index = int(fused.add_tracks(1)[0])
    fused.advance([index], [[(1.0, 0.0, 0.0)]], [(0.0, 0.0, 0.0)])
    state = fused._stepper.state.copy()
    with pytest.raises(ValueError, match="attitude"):
        fused.advance([index], [[good, wrong]], [(0.0, 0.0, 0.0)])
    np.testing.assert_array_equal(fused._stepper.state, state)
    assert fused.history([index]).tolist() == [1]
    index = int(plain.add_tracks(1)[0])
    with pytest.raises(ValueError, match="attitude"):
        plain.advance([index], [[wrong]], [(0.0, 0.0, 0.0)])


def test_c_advance_refuses_other_sample_sizes(attitude_checkpoint):
    fused, _ = pair(attitude_checkpoint, guard=0.0)
    index = int(fused.add_tracks(1)[0])
    for size in (5, 8, 9, 11):
        with pytest.raises(ValueError, match="3, 4 or 7"):
            fused._advance_fused([index], [[(1.0,) * size]], [(0.0, 0.0, 0.0)])


def test_plan_checks_its_attitude_input():
    """The attitude input needs the interval one before it, and (2,) float32 scales."""
    if not fused_kernels.available():
        pytest.skip("C extension _cstream not built")
    spec = ModelSpec.from_model(random_model(hidden=8, head_hidden=8, features=13, scales=True), {
        "dt": 0.1, "cv_std": [0.01] * 10})
    plan_args = ([(layer.w_step, layer.b_step) for layer in numpy_layers(spec.gru)], spec.inv_feature_scale,
                 spec.noise_norm, True, [spec.w1, spec.b1, spec.w2, spec.b2],
                 [np.ascontiguousarray(a, np.float64) for a in (spec.head_low, spec.head_high, spec.log_residual_scale,
                                                                spec.head_scale, spec.speed_edges, spec.speed_factor)],
                 0.1)
    assert fused_kernels.Plan(*plan_args, attitude=spec.inv_attitude_scale).hidden == 8
    with pytest.raises(ValueError, match="layer 0"):          # 13 GRU inputs, 10 features without the attitude
        fused_kernels.Plan(*plan_args)
    model10 = random_model(hidden=8, head_hidden=8, features=10, scales=True)
    spec10 = ModelSpec.from_model(model10, {"dt": 0.1, "cv_std": [0.01] * 10})
    no_interval = list(plan_args)
    no_interval[0] = [(layer.w_step, layer.b_step) for layer in numpy_layers(spec10.gru)]   # 10 = 6 + 1 + 3
    no_interval[3] = False
    with pytest.raises(ValueError, match="attitude input only after the interval"):
        fused_kernels.Plan(*no_interval, attitude=np.ones(2, np.float32))
    for scales in (np.ones(3, np.float32), np.ones(2, np.float64)):
        with pytest.raises(ValueError, match="attitude"):
            fused_kernels.Plan(*plan_args, attitude=scales)
