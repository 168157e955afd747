"""CPU paths (numpy, torch), the dispatcher and GRUStepper vs torch.nn.GRU."""
import numpy as np
import pytest
import torch

from helpers.kernels import gru_case
from uav_traj_predictor.kernels import GRUStepper, gru_sequence, gru_step, resolve_backend

SHAPES = [(3, 32, 1, 1, 1), (3, 64, 1, 7, 20), (8, 128, 2, 5, 6), (6, 32, 3, 3, 11), (3, 96, 2, 13, 4),
          (5, 64, 3, 1, 9), (3, 256, 1, 2, 3)]


@pytest.mark.parametrize("backend", ["numpy", "torch", "cpu"])
@pytest.mark.parametrize("shape", SHAPES)
def test_sequence_matches_torch_gru(backend, shape):
    w, x, h0, expect_out, expect_h = gru_case(*shape)
    out, h_n = gru_sequence(x, w, h0, backend=backend)
    assert isinstance(out, torch.Tensor) and out.shape == expect_out.shape
    torch.testing.assert_close(out, expect_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_n, expect_h, atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sequence_empty_time_or_batch(backend):
    w, x, h0, _, _ = gru_case(3, 32, 2, 3, 2)
    out, h_n = gru_sequence(x[:, :0], w, h0, backend=backend)
    assert out.shape == (3, 0, 32) and torch.equal(h_n, h0)
    out, h_n = gru_sequence(x[:0], w, backend=backend)
    assert out.shape == (0, 2, 32) and h_n.shape == (2, 0, 32)
    with pytest.raises(ValueError, match="h0 must be"):
        gru_sequence(x, w, h0[:1], backend=backend)


def test_sequence_numpy_in_numpy_out_and_zero_h0():
    w, x, _, _, _ = gru_case(3, 32, 2, 4, 5)
    out, h_n = gru_sequence(x.numpy(), w, backend="numpy")
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    ref_out, ref_h = gru_sequence(x, w, backend="torch")
    np.testing.assert_allclose(out, ref_out.numpy(), atol=1e-5)
    np.testing.assert_allclose(h_n, ref_h.numpy(), atol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch", "cpu"])
@pytest.mark.parametrize("shape", [(3, 64, 1, 5, 8), (3, 32, 3, 3, 6), (8, 128, 2, 1, 4), (3, 32, 2, 11, 3)])
def test_stepper_streaming_equals_sequence(backend, shape):
    w, x, h0, expect_out, expect_h = gru_case(*shape)
    stepper = GRUStepper(w, capacity=2, backend=backend)
    b = x.shape[0]
    idx = np.arange(b)
    stepper.ensure_capacity(b)
    stepper.state[:, :b] = h0 if backend == "torch" else h0.numpy()
    for t in range(x.shape[1]):
        top = stepper.step(x[:, t], idx)
        torch.testing.assert_close(top, expect_out[:, t], atol=1e-5, rtol=0)
    state = torch.as_tensor(stepper.state[:, :b])
    torch.testing.assert_close(state, expect_h, atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_index_advances_only_named_tracks(backend):
    w, x, _, _, _ = gru_case(3, 32, 2, 6, 3)
    stepper = GRUStepper(w, capacity=10, backend=backend)
    stepper.step(np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32), np.arange(10))
    before = torch.as_tensor(stepper.state).clone().numpy()
    idx = np.array([7, 2, 5])
    xs = np.random.default_rng(1).normal(size=(3, 3)).astype(np.float32)
    top = stepper.step(xs, idx)
    after = torch.as_tensor(stepper.state).numpy()
    untouched = np.setdiff1d(np.arange(10), idx)
    assert np.array_equal(after[:, untouched], before[:, untouched])
    assert not np.allclose(after[:, idx], before[:, idx])
    # same as advancing those tracks alone, in the given order, by the reference cell (not the backend itself)
    from uav_traj_predictor.kernels.reference import gru_cell_reference
    inp, expect_state = torch.from_numpy(xs), torch.from_numpy(before[:, idx].copy())
    for k, layer in enumerate(w.layers):
        expect_state[k] = inp = gru_cell_reference(inp, expect_state[k], layer)
    np.testing.assert_allclose(top, inp.numpy(), atol=1e-5)
    np.testing.assert_allclose(after[:, idx], expect_state.numpy(), atol=1e-5)


def test_cpu_stepper_switches_paths_by_track_count_on_one_state():
    from uav_traj_predictor.kernels import dispatch
    from uav_traj_predictor.kernels.reference import gru_cell_reference
    w, _, _, _, _ = gru_case(3, 32, 2, 1, 1)
    stepper = GRUStepper(w, capacity=4, backend="cpu")
    assert isinstance(stepper.state, np.ndarray)
    expect = torch.zeros(2, 40, 32)
    rng = np.random.default_rng(2)
    for n in (1, dispatch.CPU_STEP_TORCH_FROM + 5, 2, 40):  # numpy, torch, numpy, torch
        idx = rng.permutation(40)[:n]
        xs = rng.normal(size=(n, 3)).astype(np.float32)
        stepper.ensure_capacity(40)
        top = stepper.step(xs, idx)
        inp = torch.from_numpy(xs)
        for k, layer in enumerate(w.layers):
            expect[k, idx] = inp = gru_cell_reference(inp, expect[k, idx], layer)
        np.testing.assert_allclose(top, inp.numpy(), atol=1e-5)
        np.testing.assert_allclose(stepper.state[:, :40], expect.numpy(), atol=1e-5)


def test_stepper_reset_growth_and_errors():
    w, _, _, _, _ = gru_case(3, 32, 1, 1, 1)
    stepper = GRUStepper(w, capacity=2, backend="numpy")
    stepper.step(np.ones((2, 3), np.float32), [0, 1])
    kept = stepper.state[:, :2].copy()
    stepper.ensure_capacity(5)
    assert stepper.capacity >= 5 and np.array_equal(stepper.state[:, :2], kept)
    assert not stepper.state[:, 2:].any()
    stepper.reset([1])
    assert not stepper.state[:, 1].any() and np.array_equal(stepper.state[:, 0], kept[:, 0])
    with pytest.raises(IndexError, match="out of range"):
        stepper.step(np.ones((1, 3), np.float32), [stepper.capacity])
    with pytest.raises(ValueError, match="x must be"):
        stepper.step(np.ones((2, 4), np.float32), [0, 1])
    stepper.reset()
    assert not stepper.state.any()


def test_functional_step_all_rows_in_place_numpy_and_torch():
    w, x, h0, expect_out, expect_h = gru_case(3, 64, 2, 4, 1)
    h_np = h0.numpy().copy()
    top = gru_step(x[:, 0].numpy(), h_np, w)  # auto on a numpy state: fastest CPU path
    np.testing.assert_allclose(top, expect_out[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(h_np, expect_h.numpy(), atol=1e-5)
    h_t = h0.clone()
    out = torch.empty(4, 64)
    res = gru_step(x[:, 0], h_t, w, backend="torch", out=out)
    assert res.data_ptr() == out.data_ptr()
    torch.testing.assert_close(h_t, expect_h, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="h must be float32"):
        gru_step(x[:, 0], h0.double(), w)
    with pytest.raises(ValueError, match="h must be float32"):
        gru_step(x[:, 0], h0[:1], w)


def test_backend_resolution():
    assert resolve_backend("auto", on_cuda=True) == "triton"
    assert resolve_backend("auto", on_cuda=False) in ("numpy", "torch")
    assert resolve_backend("cpu", on_cuda=True) in ("numpy", "torch")
    assert resolve_backend("numpy", on_cuda=False) == "numpy"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("cuda", on_cuda=False)


def test_triton_backend_on_cpu_tensors_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    w, x, _, _, _ = gru_case(3, 32, 1, 2, 2)
    with pytest.raises(ValueError, match="needs CUDA"):
        gru_sequence(x, w, backend="triton")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        GRUStepper(w, backend="triton")


def test_half_weights_run_on_cpu_in_fp32():
    w, x, h0, _, _ = gru_case(3, 32, 1, 3, 4)
    half = w.to(dtype=torch.float16)
    out, _ = gru_sequence(x, half, h0, backend="numpy")
    ref, _ = gru_sequence(x, half.to(dtype=torch.float32), h0, backend="torch")
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
