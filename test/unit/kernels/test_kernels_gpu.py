"""Triton kernels on a real CUDA device (skipped with a reason on CPU machines by conftest)."""
import pytest
import torch

from uav_traj_predictor.kernels import GRUStepper, GRUWeights, gru_reference, gru_sequence

pytestmark = pytest.mark.gpu

# fp32 weights run on TF32 tensor cores by default (as cuDNN does); allow_tf32=False is exact fp32.
TOLERANCE = {(torch.float32, False): 1e-5, (torch.float32, True): 5e-3,
             (torch.float16, True): 5e-3, (torch.bfloat16, True): 3e-2}


def _setup(i, h, layers, b, t, seed=0):
    torch.manual_seed(seed)
    gru = torch.nn.GRU(i, h, layers, batch_first=True).cuda()
    x, h0 = torch.randn(b, t, i, device="cuda"), torch.randn(layers, b, h, device="cuda")
    return GRUWeights.from_module(gru), x, h0


@pytest.mark.parametrize("dtype,tf32", list(TOLERANCE))
@pytest.mark.parametrize("shape", [(3, 64, 1, 1, 20), (3, 128, 2, 67, 50), (6, 32, 3, 1000, 10),
                                   (3, 256, 1, 65, 20)])
def test_sequence_on_device(shape, dtype, tf32):
    w, x, h0 = _setup(*shape)
    out, h_n = gru_sequence(x, w, h0, backend="auto", dtype=dtype, allow_tf32=tf32)
    ref_out, ref_h = gru_reference(x.double(), w, h0.double())
    atol = TOLERANCE[(dtype, tf32)]
    torch.testing.assert_close(out.double(), ref_out, atol=atol, rtol=0)
    torch.testing.assert_close(h_n.double(), ref_h, atol=atol, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("layers,hidden,n", [(1, 64, 100_000), (2, 128, 1000), (1, 128, 1)])
def test_step_graph_capture_matches_eager(layers, hidden, n, dtype):
    from uav_traj_predictor.kernels.triton_step import gru_step_triton, step_workspace
    w, _, _ = _setup(3, hidden, layers, 1, 1)
    cap = n + 7
    state = torch.randn(layers, cap, hidden, device="cuda")
    x = torch.randn(n, 3, device="cuda")
    idx = torch.randperm(cap, device="cuda")[:n]
    out = torch.empty(n, hidden, device="cuda")
    ws = step_workspace(layers, n, hidden, "cuda")
    expect = state.clone()
    expect_top = gru_step_triton(x, expect, w, index=idx, dtype=dtype, allow_tf32=True)
    gru_step_triton(x, state.clone(), w, index=idx, out=out, dtype=dtype, allow_tf32=True, workspace=ws)  # warm
    graph = torch.cuda.CUDAGraph()
    captured = state.clone()
    with torch.cuda.graph(graph):
        gru_step_triton(x, captured, w, index=idx, out=out, dtype=dtype, allow_tf32=True, workspace=ws)
    captured.copy_(state)
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(out, expect_top, atol=1e-6, rtol=0)  # replay == eager launch
    torch.testing.assert_close(captured, expect, atol=1e-6, rtol=0)
    ref = state.double()
    ref_top = gru_reference(x.double()[:, None], w, ref[:, idx])[0][:, 0]
    torch.testing.assert_close(out.double(), ref_top, atol=TOLERANCE[(dtype, True)], rtol=0)


def test_stepper_on_device_streams_like_sequence():
    w, x, h0 = _setup(3, 64, 2, 33, 15)
    seq_out, seq_h = gru_sequence(x, w, h0, allow_tf32=False)
    stepper = GRUStepper(w, capacity=33, device="cuda", allow_tf32=False)
    assert stepper.backend == "triton"
    stepper.state.copy_(h0)
    idx = torch.arange(33, device="cuda")
    for t in range(x.shape[1]):
        torch.testing.assert_close(stepper.step(x[:, t], idx), seq_out[:, t], atol=1e-5, rtol=0)
    torch.testing.assert_close(stepper.state, seq_h, atol=1e-5, rtol=0)
