"""Fused GRU sequence forward in Triton: all T steps of one layer in one launch.

One program owns BLOCK_B batch rows (ragged last block masked) and loops over time with its hidden
state in fp32 registers; layer 0's small input projection is fused (IN <= 16 rank-1 fp32 updates, exact).
Weights are loaded once per program when they fit on chip (`resident`), else each gate tile is
re-read from L2 right before its matmul every step. Layers run one launch each: for layers > 0 the
input projection of the previous layer's whole output sequence is one cuBLAS matmul (B*T, H) x (H, 3H)
before the launch (as cuDNN does), so the recurrent kernel only holds W_hh. 2L-1 launches per call.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .triton_common import (dot_precision, interpreting, launch_config, layer_step, load_layer_biases,
                            packed_for, resident_tiles)
from .weights import GRUWeights


@triton.jit
def gru_sequence_layer_kernel(
        x_ptr, h0_ptr, out_ptr, hn_ptr, wi_ptr, wh_ptr, b_ptr,
        B, T, stride_xb, stride_xt, stride_ob, stride_ot, w_step,
        IN: tl.constexpr, H: tl.constexpr, HP: tl.constexpr,
        BLOCK_B: tl.constexpr, RESIDENT: tl.constexpr, HAS_H0: tl.constexpr, GATES_IN: tl.constexpr,
        PRECISION: tl.constexpr):
    """One layer over T steps. x is the input (B, T, IN), or with GATES_IN its projection (B, T, 3H)."""
    rows = (tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)).to(tl.int64)
    row_ok = rows < B
    hcols = tl.arange(0, HP)
    h_mask = row_ok[:, None] & (hcols[None, :] < H)
    state_offs = rows[:, None] * H + hcols[None, :]
    if HAS_H0:
        h = tl.load(h0_ptr + state_offs, mask=h_mask, other=0.0).to(tl.float32)
    else:
        h = tl.zeros((BLOCK_B, HP), dtype=tl.float32)
    b_r, b_z, b_in, b_hn = load_layer_biases(b_ptr, HP)
    w_hr, w_hz, w_hn = resident_tiles(wh_ptr, HP, RESIDENT)
    x_row = x_ptr + rows * stride_xb
    g_row = x_ptr + rows[:, None] * stride_xb + hcols[None, :]
    o_row = out_ptr + rows[:, None] * stride_ob + hcols[None, :]
    for t in range(T):
        x_t, g_t, off = x_row + t * stride_xt, g_row + t * stride_xt, t * w_step
        h = layer_step(x_t, g_t, row_ok, h_mask, wi_ptr, wh_ptr, off, h, w_hr, w_hz, w_hn, b_r, b_z, b_in, b_hn,
                       RESIDENT, GATES_IN, IN, H, HP, PRECISION)
        tl.store(o_row + t * stride_ot, h, mask=h_mask)
    tl.store(hn_ptr + state_offs, h, mask=h_mask)


def check_triton_device(t: torch.Tensor) -> None:
    if not (t.is_cuda or interpreting()):
        raise ValueError(f"the Triton backend needs CUDA tensors (got a {t.device} tensor); "
                         "use backend='cpu' or set TRITON_INTERPRET=1 to interpret on the CPU")


def gru_sequence_triton(x: torch.Tensor, weights: GRUWeights, h0: torch.Tensor | None = None,
                        dtype: torch.dtype | None = None, allow_tf32: bool = False):
    """Multi-layer GRU forward, x (B, T, I) -> (out (B, T, H) fp32, h_n (L, B, H) fp32).

    `dtype` casts the weights (default: theirs; fp32/fp16/bf16), accumulation is fp32 throughout.
    """
    check_triton_device(x)
    packed = packed_for(weights, x.device, dtype, allow_tf32)
    b, t, _ = x.shape
    hidden, hp = packed.hidden, packed.hidden_pad
    h_n = torch.empty(len(packed.layers), b, hidden, dtype=torch.float32, device=x.device)
    if h0 is not None:
        h0 = h0.to(device=x.device, dtype=torch.float32).contiguous()
    layer_in = x if x.stride(-1) == 1 else x.contiguous()
    precision = dot_precision(packed.dtype, allow_tf32)
    for k, layer in enumerate(packed.layers):
        out = torch.empty(b, t, hidden, dtype=torch.float32, device=x.device)
        if layer.gates_in:  # input projection of the whole sequence: one matmul
            layer_in = (layer_in.reshape(b * t, layer.in_size) @ layer.wi_full).view(b, t, 3 * hidden)
        cfg = launch_config("sequence", hp, packed.dtype)
        if b > 0:
            gru_sequence_layer_kernel[(triton.cdiv(b, cfg.block),)](
                layer_in, h0[k] if h0 is not None else h_n, out, h_n[k], layer.wi, layer.wh, layer.b,
                b, t, layer_in.stride(0), layer_in.stride(1), out.stride(0), out.stride(1), 0,
                IN=layer.in_size, H=hidden, HP=hp, BLOCK_B=cfg.block,
                RESIDENT=cfg.resident, HAS_H0=h0 is not None, GATES_IN=layer.gates_in,
                PRECISION=precision, num_warps=cfg.num_warps)
        layer_in = out
    return layer_in, h_n
