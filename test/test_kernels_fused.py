"""The C one-track path (kernels/cstream.c via kernels/fused.py) against torch's GRU cell and the
head arithmetic it implements; bad arguments are errors, not crashes."""
import math

import numpy as np
import pytest
import torch

from test_kernels_cpu import gru_case
from uav_traj_predictor.kernels import fused
from uav_traj_predictor.kernels.cpu import numpy_layers

pytestmark = pytest.mark.skipif(not fused.available(), reason="C extension _cstream not built")

STEPS, EDGES = 4, np.array([1.0, 3.0])


def head_constants(hidden, steps=STEPS, mlp=5, seed=0):
    rng = np.random.default_rng(seed)
    head = [rng.normal(0, 0.3, (hidden, mlp)), rng.normal(0, 0.1, mlp), rng.normal(0, 0.3, (mlp, 6 * steps)),
            rng.normal(0, 0.1, 6 * steps)]
    low = np.concatenate([np.full(3 * steps, -np.inf), np.full(3 * steps, -0.2)])
    high = np.concatenate([np.full(3 * steps, np.inf), np.full(3 * steps, 0.3)])
    post = [low, high, rng.normal(0, 0.5, 3 * steps), rng.uniform(0.5, 2.0, 6 * steps), EDGES,
            rng.uniform(0.5, 1.5, (len(EDGES) + 1, 3 * steps))]
    return head, post


def make_plan(weights, features, seed=0, dt=0.1):
    scale = np.linspace(0.5, 2.0, features)
    head, post = head_constants(weights.hidden_size, seed=seed)
    return fused.plan(weights, scale, head, post, dt), scale.astype(np.float32), head, post


def advance(plan, state, slot, velocities, last_velocity, count, position, min_history):
    """One track through Plan.advance; returns (out (3, S, 3), ready, top, last_velocity, count arrays)."""
    rows = state.shape[1]
    top, lv, counts = np.zeros((rows, state.shape[2]), np.float32), np.zeros((rows, 3)), np.zeros(rows, np.int64)
    lv[slot], counts[slot] = last_velocity, count
    out, ready = np.zeros((1, 3, STEPS, 3)), np.zeros(1, bool)
    plan.advance(state, top, lv, counts, np.ones(rows, bool), [slot], [velocities], [position], min_history, 1e6,
                 out, ready)
    return out[0], bool(ready[0]), top, lv, counts


@pytest.mark.parametrize("features,hidden,layers", [(6, 32, 1), (3, 16, 2), (6, 96, 1), (6, 8, 3)])
@pytest.mark.parametrize("fresh", [False, True])
def test_step_matches_torch_gru_cell_on_one_row(features, hidden, layers, fresh):
    weights, _, _, _, _ = gru_case(features, hidden, layers, 1, 1, seed=hidden + layers)
    plan, scale, _, _ = make_plan(weights, features)
    rng = np.random.default_rng(1)
    state = rng.normal(size=(layers, 5, hidden)).astype(np.float32)
    before = state.copy()
    v, last = rng.normal(0, 3, 3), rng.normal(0, 3, 3)
    _, ready, top, lv, counts = advance(plan, state, 3, [tuple(v)], last, 0 if fresh else 1, (0.0, 0.0, 0.0),
                                        min_history=10**9)          # stepped, not predicted

    x32 = v.astype(np.float32)
    accel = np.zeros(3, np.float32) if fresh else x32 - last.astype(np.float32)
    x = torch.from_numpy((np.concatenate([x32, accel])[:features] * scale).astype(np.float32))[None]
    for k, layer in enumerate(weights.layers):
        x = torch.gru_cell(x, torch.from_numpy(before[k, 3:4]), layer.w_ih, layer.w_hh, layer.b_ih, layer.b_hh)
        np.testing.assert_allclose(state[k, 3], x[0].numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_array_equal(top[3], state[-1, 3])
    assert not ready and counts[3] == (1 if fresh else 2) and lv[3].tolist() == v.tolist()
    untouched = np.ones(5, bool)
    untouched[3] = False
    np.testing.assert_array_equal(state[:, untouched], before[:, untouched])   # other tracks keep their state


def test_predict_applies_the_head_and_integrates_positions():
    weights, _, _, _, _ = gru_case(6, 16, 1, 1, 1)
    plan, _, (w1, b1, w2, b2), (low, high, log_rs, scale, edges, factor) = make_plan(weights, 6)
    state = np.random.default_rng(2).normal(size=(1, 2, 16)).astype(np.float32)
    before = state.copy()
    v, last, dt = np.array([2.0, -1.0, 0.5]), np.array([10.0, 20.0, -3.0]), 0.1
    out, ready, _, _, _ = advance(plan, state, 1, [], v, 1, tuple(last), min_history=1)   # no new velocity
    assert ready
    np.testing.assert_array_equal(state, before)

    f32 = lambda a: a.astype(np.float32)
    raw = (np.tanh(state[0, 1] @ f32(w1) + f32(b1)) @ f32(w2) + f32(b2)).astype(np.float64)
    raw = np.minimum(np.maximum(raw, low), high)
    half = 3 * STEPS
    speed_bin = int(np.searchsorted(edges, np.linalg.norm(v), side="left"))
    residual = (raw[:half] * scale[:half]).reshape(STEPS, 3)
    std = (np.exp(raw[half:] + log_rs) * scale[half:] * factor[speed_bin]).reshape(STEPS, 3)
    steps = last + v * (np.arange(STEPS + 1)[:, None] * dt)
    steps[1:] += residual
    np.testing.assert_allclose(out[0], steps[1:], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[1], np.diff(steps, axis=0) / dt, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[2], std, rtol=1e-6)


def test_predict_reports_non_finite_head_output():
    weights, _, _, _, _ = gru_case(6, 8, 1, 1, 1)
    head, post = head_constants(8)
    head[3][2] = np.nan
    plan = fused.plan(weights, np.ones(6), head, post, 0.1)
    _, ready, _, _, _ = advance(plan, np.zeros((1, 1, 8), np.float32), 0, [(1.0, 0.0, 0.0)], (0.0,) * 3, 0,
                                (0.0,) * 3, min_history=1)
    assert not ready


def test_bad_plans_are_errors_not_crashes():
    weights, _, _, _, _ = gru_case(6, 8, 1, 1, 1)
    plan, _, head, post = make_plan(weights, 6)
    with pytest.raises(ValueError):
        fused.plan(weights, np.ones(4), head, post, 0.1)            # feature scale of the wrong size
    with pytest.raises(ValueError, match="b_step"):
        fused.Plan([(numpy_layers(weights)[0].w_step, np.zeros(3, np.float32))], np.ones(6, np.float32),
                   [a.astype(np.float32) for a in head], [np.asarray(a, np.float64) for a in post], 0.1)
    with pytest.raises(TypeError):
        fused.Plan([], np.ones(6, np.float32), head, post)          # missing dt


def test_advance_checks_its_arrays_before_touching_state():
    weights, _, _, _, _ = gru_case(6, 8, 1, 1, 1)
    plan, _, _, _ = make_plan(weights, 6)
    rng = np.random.default_rng(4)
    state, top = rng.normal(size=(1, 3, 8)).astype(np.float32), np.zeros((3, 8), np.float32)
    last_velocity, count, active = np.zeros((3, 3)), np.zeros(3, np.int64), np.ones(3, bool)
    out, ready = np.zeros((1, 3, STEPS, 3)), np.zeros(1, bool)
    before = state.copy()
    call = lambda **changed: plan.advance(*{**dict(
        state=state, top=top, last_velocity=last_velocity, count=count, active=active, slots=[1],
        lists=[[(1.0, 2.0, 3.0)]], lasts=[(0.0, 0.0, 0.0)], min_history=1, max_speed=1e6, out=out,
        ready=ready), **changed}.values())
    with pytest.raises(ValueError, match="count"):
        call(count=count.astype(np.int32))
    with pytest.raises(ValueError, match="state"):
        call(state=state.astype(np.float64))                                  # wrong dtype
    with pytest.raises((ValueError, BufferError)):
        call(state=np.zeros((1, 8, 3), np.float32).transpose(0, 2, 1))        # not contiguous
    with pytest.raises(TypeError):
        plan.advance(state, top, last_velocity, count, active, [1], [[(1.0, 2.0, 3.0)]], [(0.0,) * 3])  # too few
    with pytest.raises(TypeError):
        call(lists=[[("x", 2.0, 3.0)]])
    with pytest.raises(ValueError, match="inconsistent"):
        call(out=np.zeros((2, 3, STEPS, 3)))
    with pytest.raises(ValueError, match="MAX_SPEED"):
        call(lists=[[(1.0, 2.0, 3.0), (1e7, 0.0, 0.0)]])
    with pytest.raises(ValueError):
        call(lasts=[(0.0, 0.0)])
    with pytest.raises(IndexError):
        call(active=np.array([True, False, True]))
    for slots in ([3], [-1], [1, 1]):                                         # beyond the state, twice
        with pytest.raises(IndexError):
            call(slots=slots, lists=[[(1.0, 2.0, 3.0)]] * len(slots), lasts=[(0.0,) * 3] * len(slots),
                 out=np.zeros((len(slots), 3, STEPS, 3)), ready=np.zeros(len(slots), bool))
    np.testing.assert_array_equal(state, before)
    assert count.tolist() == [0, 0, 0]
    call()                                                    # and a good call advances track 1 only
    assert count.tolist() == [0, 1, 0] and ready.tolist() == [True]
    np.testing.assert_array_equal(last_velocity[1], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(top[1], state[0, 1])
    assert np.isfinite(out).all() and not np.array_equal(state[0, 1], before[0, 1])
