"""The C one-track path (kernels/cstream.c via kernels/fused.py) against torch's GRU cell and the
head arithmetic it implements; bad arguments are errors, not crashes."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers.kernels import gru_case
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


NOISE_NORM = (1e-4, math.log(3e-3), 1.5)
PRIOR = 1e-3


def make_spec(weights, features, head=None, post=None, seed=0, dt=0.1):
    """What kernels.fused.plan reads of a model.spec.ModelSpec (features 7: 6 scaled + the noise input;
    10: + the interval-mean velocity)."""
    default_head, default_post = head_constants(weights.hidden_size, seed=seed)
    head, post = head or default_head, post or default_post
    noise = features >= 7
    groups = {3: ("velocity",), 6: ("velocity", "accel"), 7: ("velocity", "accel", "noise"),
              10: ("velocity", "accel", "noise", "interval")}[features]
    low, high, log_rs, scale, edges, factor = post
    return SimpleNamespace(gru=weights, feature_groups=groups,
                           inv_feature_scale=np.linspace(0.5, 2.0, 6 if noise else features),
                           noise_norm=NOISE_NORM if noise else None, w1=head[0], b1=head[1], w2=head[2], b2=head[3],
                           head_low=low, head_high=high, log_residual_scale=log_rs, head_scale=scale,
                           speed_edges=edges, speed_factor=factor, dt=dt)


def make_plan(weights, features, seed=0, dt=0.1):
    spec = make_spec(weights, features, seed=seed, dt=dt)
    post = (spec.head_low, spec.head_high, spec.log_residual_scale, spec.head_scale, spec.speed_edges,
            spec.speed_factor)
    return fused.plan(spec), spec.inv_feature_scale.astype(np.float32), (spec.w1, spec.b1, spec.w2, spec.b2), post


def state_object(state, top, last_velocity, count, active):
    """The predictor's one state object as the C path reads it (model/slots.py TrackSlots)."""
    return SimpleNamespace(gru=state, top=top, last_velocity=last_velocity, count=count, active=active)


def advance(plan, state, slot, velocities, last_velocity, count, position, min_history):
    """One track through Plan.advance; returns (out (3, S, 3), ready, top, last_velocity, count arrays)."""
    rows = state.shape[1]
    top, lv, counts = np.zeros((rows, state.shape[2]), np.float32), np.zeros((rows, 3)), np.zeros(rows, np.int64)
    lv[slot], counts[slot] = last_velocity, count
    out, ready = np.zeros((1, 3, STEPS, 3)), np.zeros(1, bool)
    plan.advance(state_object(state, top, lv, counts, np.ones(rows, bool)), [slot], [velocities], [position],
                 min_history, 1e6, out, ready, PRIOR)
    return out[0], bool(ready[0]), top, lv, counts


@pytest.mark.parametrize("features,hidden,layers", [(6, 32, 1), (3, 16, 2), (7, 96, 1), (7, 8, 3), (6, 8, 3),
                                                     (10, 128, 1), (10, 8, 2)])
@pytest.mark.parametrize("fresh", [False, True])
def test_step_matches_torch_gru_cell_on_one_row(features, hidden, layers, fresh):
    weights, _, _, _, _ = gru_case(features, hidden, layers, 1, 1, seed=hidden + layers)
    plan, scale, _, _ = make_plan(weights, features)
    rng = np.random.default_rng(1)
    state = rng.normal(size=(layers, 5, hidden)).astype(np.float32)
    before = state.copy()
    v, last, noise, interval = rng.normal(0, 3, 3), rng.normal(0, 3, 3), 0.02, rng.normal(0, 3, 3)
    sample = tuple(v) + ((noise,) if features == 7 else (noise, *interval) if features == 10 else ())
    _, ready, top, lv, counts = advance(plan, state, 3, [sample], last, 0 if fresh else 1, (0.0, 0.0, 0.0),
                                        min_history=10**9)          # stepped, not predicted

    x32 = v.astype(np.float32)
    accel = np.zeros(3, np.float32) if fresh else x32 - last.astype(np.float32)
    scaled = (np.concatenate([x32, accel])[:len(scale)] * scale).astype(np.float32)
    if features >= 7:
        floor, log_center, width = NOISE_NORM
        scaled = np.append(scaled, np.float32((math.log(max(noise, floor)) - log_center) / width))
    if features == 10:
        scaled = np.append(scaled, interval.astype(np.float32) * scale[:3])
    x = torch.from_numpy(scaled)[None]
    for k, layer in enumerate(weights.layers):
        x = torch.gru_cell(x, torch.from_numpy(before[k, 3:4]), layer.w_ih, layer.w_hh, layer.b_ih, layer.b_hh)
        np.testing.assert_allclose(state[k, 3], x[0].numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_array_equal(top[3], state[-1, 3])
    assert not ready and counts[3] == (1 if fresh else 2) and lv[3].tolist() == v.tolist()
    untouched = np.ones(5, bool)
    untouched[3] = False
    np.testing.assert_array_equal(state[:, untouched], before[:, untouched])   # other tracks keep their state


@pytest.mark.parametrize("gain", [1.0, 8.0, 25.0])
def test_step_matches_torch_where_the_gates_saturate(gain):
    """The C path's own vectorised exp / sigmoid / tanh (kernels/cstream.c exp8, sigmoid8, tanh8) against
    torch's GRU cell over pre-activations from ~0 to far into saturation (gain scales the weights; at 25 they
    exceed +-40): the state agrees to float32 rounding, and a NaN velocity is refused before any state
    changes. (Beyond that, float32 sums of such large terms in another order than torch's differ by more
    than 2e-6 whatever the activation functions.)"""
    weights, _, _, _, _ = gru_case(6, 64, 1, 1, 1, seed=11)
    for layer in weights.layers:
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            getattr(layer, name).mul_(gain)
    plan, scale, _, _ = make_plan(weights, 6)
    rng, largest = np.random.default_rng(12), 0.0
    for _ in range(20):
        state = rng.uniform(-1, 1, size=(1, 2, 64)).astype(np.float32)
        before = state.copy()
        v, last = rng.normal(0, 5, 3), rng.normal(0, 5, 3)
        advance(plan, state, 1, [tuple(v)], last, 1, (0.0, 0.0, 0.0), min_history=10**9)
        x32 = v.astype(np.float32)
        scaled = (np.concatenate([x32, x32 - last.astype(np.float32)]) * scale).astype(np.float32)
        layer = weights.layers[0]
        expected = torch.gru_cell(torch.from_numpy(scaled)[None], torch.from_numpy(before[0, 1:2]), layer.w_ih,
                                  layer.w_hh, layer.b_ih, layer.b_hh)[0].numpy()
        np.testing.assert_allclose(state[0, 1], expected, rtol=1e-5, atol=2e-6)
        assert np.abs(state[0, 1]).max() <= 1.0
        gates = torch.cat([torch.from_numpy(scaled) @ layer.w_ih.T + layer.b_ih,
                           torch.from_numpy(before[0, 1]) @ layer.w_hh.T + layer.b_hh])
        largest = max(largest, float(gates.abs().max()))
    assert largest > 40 * gain / 25
    with pytest.raises(ValueError, match="non-finite"):
        advance(plan, state, 1, [(math.nan, 0.0, 0.0)], last, 1, (0.0, 0.0, 0.0), min_history=10**9)


def test_predict_applies_the_head_and_integrates_positions():
    weights, _, _, _, _ = gru_case(6, 16, 1, 1, 1)
    plan, _, (w1, b1, w2, b2), (low, high, log_rs, scale, edges, factor) = make_plan(weights, 6)
    state = np.random.default_rng(2).normal(size=(1, 2, 16)).astype(np.float32)
    before = state.copy()
    v, last, dt = np.array([2.0, -1.0, 0.5]), np.array([10.0, 20.0, -3.0]), 0.1
    out, ready, _, _, _ = advance(plan, state, 1, [], v, 1, tuple(last), min_history=1)   # no new velocity
    assert ready
    np.testing.assert_array_equal(state, before)

    def f32(a):
        return a.astype(np.float32)
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
    plan = fused.plan(make_spec(weights, 6, head, post))
    _, ready, _, _, _ = advance(plan, np.zeros((1, 1, 8), np.float32), 0, [(1.0, 0.0, 0.0)], (0.0,) * 3, 0,
                                (0.0,) * 3, min_history=1)
    assert not ready


def test_bad_plans_are_errors_not_crashes():
    weights, _, _, _, _ = gru_case(6, 8, 1, 1, 1)
    plan, _, head, post = make_plan(weights, 6)
    spec = make_spec(weights, 6)
    with pytest.raises(ValueError):
        spec.inv_feature_scale = np.ones(4)                          # feature scale of the wrong size
        fused.plan(spec)
    with pytest.raises(ValueError):                                   # the noise input on a 6-input GRU
        fused.plan(make_spec(weights, 7))
    with pytest.raises(TypeError, match="noise"):
        fused.Plan([(numpy_layers(weights)[0].w_step, numpy_layers(weights)[0].b_step)], np.ones(6, np.float32),
                   (1.0, 2.0), False, [a.astype(np.float32) for a in head], [np.asarray(a, np.float64) for a in post],
                   0.1)
    with pytest.raises(ValueError, match="b_step"):
        fused.Plan([(numpy_layers(weights)[0].w_step, np.zeros(3, np.float32))], np.ones(6, np.float32), None,
                   False, [a.astype(np.float32) for a in head], [np.asarray(a, np.float64) for a in post], 0.1)
    with pytest.raises(ValueError, match="interval"):                  # the interval input needs the noise one
        fused.Plan([(numpy_layers(weights)[0].w_step, numpy_layers(weights)[0].b_step)], np.ones(3, np.float32),
                   None, True, [a.astype(np.float32) for a in head], [np.asarray(a, np.float64) for a in post], 0.1)
    with pytest.raises(TypeError):
        fused.Plan([], np.ones(6, np.float32), None, False, head, post)    # missing dt


def test_advance_checks_its_arrays_before_touching_state():
    weights, _, _, _, _ = gru_case(6, 8, 1, 1, 1)
    plan, _, _, _ = make_plan(weights, 6)
    rng = np.random.default_rng(4)
    state, top = rng.normal(size=(1, 3, 8)).astype(np.float32), np.zeros((3, 8), np.float32)
    last_velocity, count, active = np.zeros((3, 3)), np.zeros(3, np.int64), np.ones(3, bool)
    out, ready = np.zeros((1, 3, STEPS, 3)), np.zeros(1, bool)
    before = state.copy()
    def call(**changed):
        args = {**dict(state=state, top=top, last_velocity=last_velocity, count=count, active=active, slots=[1],
                       lists=[[(1.0, 2.0, 3.0)]], lasts=[(0.0, 0.0, 0.0)], min_history=1, max_speed=1e6, out=out,
                       ready=ready, prior=PRIOR), **changed}
        tracks = state_object(*(args.pop(key) for key in ("state", "top", "last_velocity", "count", "active")))
        return plan.advance(tracks, *args.values())
    with pytest.raises(ValueError, match="count"):
        call(count=count.astype(np.int32))
    with pytest.raises(ValueError, match="gru"):
        call(state=state.astype(np.float64))                                  # wrong dtype
    with pytest.raises(AttributeError):
        plan.advance(SimpleNamespace(gru=state), [1], [[(1.0, 2.0, 3.0)]], [(0.0,) * 3], 1, 1e6, out, ready, PRIOR)
    with pytest.raises((ValueError, BufferError)):
        call(state=np.zeros((1, 8, 3), np.float32).transpose(0, 2, 1))        # not contiguous
    with pytest.raises(TypeError):
        plan.advance(state_object(state, top, last_velocity, count, active), [1], [[(1.0, 2.0, 3.0)]])  # too few
    with pytest.raises(TypeError):
        call(lists=[[("x", 2.0, 3.0)]])
    with pytest.raises(ValueError, match="inconsistent"):
        call(out=np.zeros((2, 3, STEPS, 3)))
    with pytest.raises(ValueError, match="MAX_SPEED"):
        call(lists=[[(1.0, 2.0, 3.0), (1e7, 0.0, 0.0)]])
    for noise in (-1e-3, math.nan, math.inf):                                 # noise levels: finite and >= 0
        with pytest.raises(ValueError, match="noise"):
            call(lists=[[(1.0, 2.0, 3.0, 0.01), (1.0, 2.0, 3.0, noise)]])
    with pytest.raises(ValueError, match="3, 4 or 7"):
        call(lists=[[(1.0, 2.0, 3.0, 0.01, 5.0)]])
    with pytest.raises(ValueError, match="MAX_SPEED"):                        # interval velocities are checked too
        call(lists=[[(1.0, 2.0, 3.0, 0.01, math.nan, 0.0, 0.0)]])
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


@pytest.mark.parametrize("features,hidden,layers", [(10, 128, 1), (6, 20, 2), (7, 8, 3)])
def test_many_tracks_in_one_call_equal_one_call_per_track(features, hidden, layers):
    """advance steps and predicts tracks in blocks (one pass over the weights per block, kernels/cstream.c
    BLOCK): bit-identical to each track alone, whatever the mix of sample counts and warming-up tracks."""
    weights, _, _, _, _ = gru_case(features, hidden, layers, 1, 1, seed=features + hidden)
    plan, _, _, _ = make_plan(weights, features)
    rng = np.random.default_rng(5)
    n, rows, min_history = 23, 30, 3
    slots = rng.permutation(rows)[:n].tolist()
    counts0 = rng.integers(0, 5, rows)                  # some fresh, some warming up, some predicting
    counts0[slots[:12]] = 5                             # and two whole blocks of predicting tracks
    state0 = rng.normal(size=(layers, rows, hidden)).astype(np.float32)
    lv0 = rng.normal(0, 2, (rows, 3))
    sizes = [1] * 14 + [0, 2, 3, 1, 2, 0, 1, 4, 1]      # whole blocks of one sample, then mixed ones

    def sample():
        values = tuple(rng.normal(0, 3, 3))
        return values + ((0.01,) if features == 7 else (0.02, *rng.normal(0, 3, 3)) if features == 10 else ())
    lists = [[sample() for _ in range(size)] for size in sizes]
    lasts = [tuple(rng.normal(0, 5, 3)) for _ in range(n)]

    def fresh_state():
        return state_object(state0.copy(), np.zeros((rows, hidden), np.float32), lv0.copy(), counts0.copy(),
                            np.ones(rows, bool))
    together, out, ready = fresh_state(), np.zeros((n, 3, STEPS, 3)), np.zeros(n, bool)
    plan.advance(together, slots, lists, lasts, min_history, 1e6, out, ready, PRIOR)
    alone = fresh_state()
    for i in range(n):
        one_out, one_ready = np.zeros((1, 3, STEPS, 3)), np.zeros(1, bool)
        plan.advance(alone, [slots[i]], [lists[i]], [lasts[i]], min_history, 1e6, one_out, one_ready, PRIOR)
        assert one_ready[0] == ready[i]
        if ready[i]:
            np.testing.assert_array_equal(out[i], one_out[0])
    for name in ("gru", "top", "last_velocity", "count"):
        np.testing.assert_array_equal(getattr(together, name), getattr(alone, name))
    assert ready[:12].all() and not ready.all()         # the test covers both kinds of rows
