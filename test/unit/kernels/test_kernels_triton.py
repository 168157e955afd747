"""Triton kernels under the interpreter (TRITON_INTERPRET=1) vs the reference and torch.nn.GRU.

The interpreter must be chosen before triton is imported, so the checks run in a child pytest
process with TRITON_INTERPRET=1 (it never leaks into this process or other test modules). The parent
collects one test that runs the child and reports its outcome; the child collects the real cases.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

CHILD = os.environ.get("UAV_KERNELS_INTERPRETER_CHILD") == "1"

if not CHILD:
    def test_triton_kernels_under_interpreter():
        env = dict(os.environ, TRITON_INTERPRET="1", UAV_KERNELS_INTERPRETER_CHILD="1")
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "--rootdir", str(REPO), __file__],
                              env=env, cwd=Path(__file__).parent, capture_output=True, text=True,
                              timeout=240)
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        print(tail)
        assert proc.returncode == 0, f"interpreter tests failed:\n{tail}\n{proc.stderr[-2000:]}"
        assert " passed" in tail and "skipped" not in tail.split("\n")[-1]

else:
    assert os.environ.get("TRITON_INTERPRET") == "1"
    import numpy as np
    import torch

    from helpers.kernels import gru_case
    from uav_traj_predictor.kernels import GRUStepper, gru_reference, gru_sequence, gru_step
    from uav_traj_predictor.kernels.triton_step import gru_step_triton, step_workspace

    # (input, hidden, layers, batch, T): odd batches, 1-3 layers, T 1..64, hidden 32/64/128 (sampled)
    SEQUENCE_GRID = [(3, 32, 1, 1, 1), (3, 32, 1, 33, 5), (6, 64, 2, 3, 7), (3, 128, 1, 5, 4),
                     (8, 32, 3, 7, 3), (3, 64, 1, 17, 64), (3, 128, 2, 3, 2), (4, 48, 1, 5, 3),
                     (3, 256, 2, 3, 2)]

    @pytest.mark.parametrize("shape", SEQUENCE_GRID)
    def test_sequence_kernel_matches_reference_and_torch_gru(shape):
        w, x, h0, expect_out, expect_h = gru_case(*shape)
        out, h_n = gru_sequence(x, w, h0, backend="triton", allow_tf32=False)
        torch.testing.assert_close(out, expect_out, atol=1e-5, rtol=0)
        torch.testing.assert_close(h_n, expect_h, atol=1e-5, rtol=0)
        ref_out, ref_h = gru_reference(x, w, h0)
        torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
        out0, _ = gru_sequence(x, w, backend="triton", allow_tf32=False)  # h0 = 0
        torch.testing.assert_close(out0, gru_reference(x, w)[0], atol=1e-5, rtol=0)

    @pytest.mark.parametrize("shape", [(3, 32, 1, 5, 1), (3, 64, 2, 3, 1), (8, 128, 1, 7, 1),
                                       (3, 32, 3, 65, 1)])
    def test_step_kernel_all_rows_matches_torch_gru(shape):
        w, x, h0, expect_out, expect_h = gru_case(*shape)
        state = h0.clone()
        top = gru_step(x[:, 0], state, w, backend="triton", allow_tf32=False)
        torch.testing.assert_close(top, expect_out[:, 0], atol=1e-5, rtol=0)
        torch.testing.assert_close(state, expect_h, atol=1e-5, rtol=0)

    @pytest.mark.parametrize("layers,hidden", [(1, 32), (2, 64), (3, 32)])
    def test_streaming_steps_equal_sequence_kernel(layers, hidden):
        w, x, h0, _, _ = gru_case(3, hidden, layers, 5, 12)
        seq_out, seq_h = gru_sequence(x, w, h0, backend="triton", allow_tf32=False)
        stepper = GRUStepper(w, capacity=5, backend="triton", allow_tf32=False)
        stepper.state.copy_(h0)
        idx = torch.arange(5)
        for t in range(x.shape[1]):
            torch.testing.assert_close(stepper.step(x[:, t], idx), seq_out[:, t], atol=1e-5, rtol=0)
        torch.testing.assert_close(stepper.state, seq_h, atol=1e-5, rtol=0)

    @pytest.mark.parametrize("layers", [1, 2])
    def test_step_index_semantics(layers):
        w, _, _, _, _ = gru_case(3, 32, layers, 1, 1)
        torch.manual_seed(1)
        state = torch.randn(layers, 70, 32)
        before = state.clone()
        idx = torch.tensor([69, 3, 40, 0, 17])  # unordered, spans two step tiles
        xs = torch.randn(5, 3)
        out = torch.full((5, 32), float("nan"))
        ws = step_workspace(layers, 70, 32, "cpu")
        res = gru_step_triton(xs, state, w, index=idx, out=out, workspace=ws)  # exact fp32 by default
        assert res.data_ptr() == out.data_ptr()
        untouched = torch.ones(70, dtype=torch.bool)
        untouched[idx] = False
        assert torch.equal(state[:, untouched], before[:, untouched])
        expect_h = before[:, idx].clone()
        expect_top = gru_step(xs, expect_h, w, backend="torch")
        torch.testing.assert_close(out, expect_top, atol=1e-5, rtol=0)
        torch.testing.assert_close(state[:, idx], expect_h, atol=1e-5, rtol=0)
        # n = 0 is a no-op
        snapshot = state.clone()
        gru_step_triton(xs[:0], state, w, index=idx[:0])
        assert torch.equal(state, snapshot)

    def test_sequence_empty_time_or_batch():
        w, x, h0, _, _ = gru_case(3, 32, 2, 3, 2)
        out, h_n = gru_sequence(x[:, :0], w, h0, backend="triton")
        assert out.shape == (3, 0, 32) and torch.equal(h_n, h0)
        out, h_n = gru_sequence(x[:0], w, backend="triton")
        assert out.shape == (0, 2, 32) and h_n.shape == (2, 0, 32)

    def test_fp16_weights_looser_tolerance():
        w, x, h0, expect_out, expect_h = gru_case(3, 32, 2, 5, 6)
        out, h_n = gru_sequence(x, w, h0, backend="triton", dtype=torch.float16)
        torch.testing.assert_close(out, expect_out, atol=5e-3, rtol=0)
        state = h0.clone()
        gru_step(x[:, 0], state, w, backend="triton", dtype=torch.float16)
        torch.testing.assert_close(state, gru_reference(x[:, :1], w, h0)[1], atol=5e-3, rtol=0)

    def test_fp32_weights_under_tf32_at_hidden_128_use_fp16_tiles():
        from uav_traj_predictor.kernels.triton_common import packed_for
        w, x, h0, expect_out, expect_h = gru_case(3, 128, 2, 3, 5)
        out, h_n = gru_sequence(x, w, h0, backend="triton", allow_tf32=True)
        assert packed_for(w, "cpu", None, allow_tf32=True).dtype == torch.float16
        assert packed_for(w, "cpu", None, allow_tf32=False).dtype == torch.float32
        torch.testing.assert_close(out, expect_out, atol=5e-3, rtol=0)
        torch.testing.assert_close(h_n, expect_h, atol=5e-3, rtol=0)

    def test_stepper_numpy_inputs_and_growth():
        w, x, h0, expect_out, _ = gru_case(3, 32, 1, 3, 2)
        stepper = GRUStepper(w, capacity=1, backend="triton", allow_tf32=False)
        stepper.ensure_capacity(3)
        stepper.state.copy_(h0)
        top = stepper.step(x[:, 0].numpy(), np.arange(3))
        assert isinstance(top, np.ndarray)
        np.testing.assert_allclose(top, expect_out[:, 0].numpy(), atol=1e-5)
