"""model.spec.ModelSpec is the one export of a checkpoint's semantics: the torch module training
differentiates (`VelocityGRU.features`, `decode`, `std_scale`) and the spec's numpy arithmetic (what the
numpy path runs, and what kernels/cstream.c is built from) give the same inputs and the same head."""
import math

import numpy as np
import pytest
import torch

from helpers.checkpoints import random_model
from uav_traj_predictor.model import StreamingPredictor
from uav_traj_predictor.model.spec import ModelSpec

DT = 0.1


def spec_of(model):
    meta = {"dt": DT, "cv_std": [0.01 * (k + 1) for k in range(model.arch.horizon_steps)]}
    return ModelSpec.from_model(model, meta)


@pytest.mark.parametrize("features", [3, 6, 7, 10, 13])
def test_features_equal_the_torch_modules(features):
    """A velocity sequence seen from a track's start: torch's features (training) == the spec's, one grid step
    at a time with the previous velocity (streaming), noise, interval and attitude inputs included."""
    model = random_model(hidden=8, features=features, scales=True, seed=features)
    spec = spec_of(model)
    rng = np.random.default_rng(features)
    velocities = rng.normal(0, 3, (1, 12, 3))
    noise = rng.uniform(0, 0.05, (1, 12))
    noise[0, 3] = 0.0                                        # below the floor: clamped the same way
    interval = velocities + rng.normal(0, 0.2, velocities.shape)
    attitude = np.concatenate([rng.normal(0, 4, (1, 12, 2)), rng.random((1, 12, 1)) < 0.6], axis=-1)
    with torch.no_grad():
        expected = model.features(torch.tensor(velocities, dtype=torch.float32), DT,
                                  torch.tensor(noise) if model.uses_noise else None,
                                  torch.tensor(interval, dtype=torch.float32) if model.uses_interval else None,
                                  torch.tensor(attitude, dtype=torch.float32) if model.uses_attitude else None)
    assert spec.input_size == expected.shape[-1] == features
    previous = np.zeros(3)
    for k in range(12):
        row = spec.features(velocities[0, k:k + 1], previous[None], [k == 0], noise[0, k:k + 1],
                            interval[0, k:k + 1] if model.uses_interval else None,
                            attitude[0, k:k + 1] if model.uses_attitude else None)
        np.testing.assert_allclose(row[0], expected[0, k].numpy(), rtol=2e-6, atol=2e-6)
        previous = velocities[0, k]
    if model.uses_attitude:                   # an unavailable attitude is zeros, as no attitude at all
        assert attitude[0, :, 2].any() and not attitude[0, :, 2].all()
        np.testing.assert_array_equal(spec.features(velocities[0], velocities[0], [True] * 12, noise[0], interval[0],
                                                    attitude[0] * [1, 1, 0])[:, 10:], 0.0)
        np.testing.assert_array_equal(spec.features(velocities[0], velocities[0], [True] * 12, noise[0], interval[0],
                                                    None)[:, 10:], 0.0)


@pytest.mark.parametrize("horizon", [10, 30])
def test_head_equals_decode_and_calibration(horizon):
    """spec.head (numpy) == torch's decode (residual, clipped log std + log residual scale) with
    std = exp(log std) * std_scale(|v|), at speeds in every calibration bin and with log stds driven past
    both clip bounds."""
    model = random_model(hidden=16, head_hidden=12, horizon=horizon, scales=True, seed=horizon)
    with torch.no_grad():
        model.std_calibration.copy_(torch.linspace(0.8, 1.3, horizon))
        model.head[2].bias[3 * horizon:] += torch.linspace(-40, 40, 3 * horizon)   # beyond LOG_STD_MIN / MAX
    spec = spec_of(model)
    rng = np.random.default_rng(horizon)
    top = rng.uniform(-1, 1, (40, 16)).astype(np.float32)
    edges = model.speed_edges.numpy()
    speeds = np.concatenate([edges - 1e-3, edges + 1e-3, rng.uniform(0, 2 * edges.max() + 1, 40 - 2 * len(edges))])
    direction = rng.normal(size=(40, 3))
    velocity = direction / np.linalg.norm(direction, axis=1, keepdims=True) * speeds[:, None]
    out = spec.head(top, velocity).reshape(40, 2, horizon, 3)
    with torch.no_grad():
        residual, log_std = model.decode(torch.from_numpy(top))
        scale = model.std_scale(torch.tensor(np.linalg.norm(velocity, axis=1), dtype=torch.float32))
    std = np.exp(log_std.double().numpy()) * scale.double().numpy()[:, :, None]
    np.testing.assert_allclose(out[:, 0], residual.double().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out[:, 1], std, rtol=1e-5)
    assert out[:, 1].min() < math.exp(-5) and out[:, 1].max() > math.exp(2)     # both clips were reached


def test_the_c_path_built_from_the_spec_predicts_what_the_numpy_path_predicts(tmp_path):
    """The C path (kernels/cstream.c from the same spec) and the spec's numpy arithmetic stream the same
    velocities to the same predictions (float32 rounding)."""
    from helpers.checkpoints import random_checkpoint
    path = random_checkpoint(tmp_path / "s.pt", hidden=16, head_hidden=12, features=10, scales=True, min_history=3)
    fused, numpy_path = (StreamingPredictor(path, guard=0.0, fused=f) for f in (True, False))
    if not fused.fused:
        pytest.skip("C extension _cstream not built")
    rng = np.random.default_rng(3)
    for predictor in (fused, numpy_path):
        predictor.add_tracks(1)
    for k in range(30):
        v = tuple(rng.normal(0, 2, 3))
        sample = (*v, 0.004, *v)
        got, want = (p.advance([0], [[sample]], [(1.0, 2.0, 3.0)]) for p in (fused, numpy_path))
        for a, b in zip(got[:3], want[:3]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert got[3] == want[3]
