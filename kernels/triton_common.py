"""Pieces shared by the Triton GRU kernels: packed weight layout, launch configurations, the cell.

Packed layout per layer (built once per device/dtype and cached on `GRUWeights`):
  wi (IP, 3*HP)  W_ih transposed, gate blocks [r | z | n], zero-padded (IP = max(16, pow2(I))):
                 layer 0's small input projection, fused in the kernels
  wi_full (I, 3H) fp32  W_ih transposed for layers > 0: their input projection is one cuBLAS matmul
                 (over the whole sequence / all advanced tracks) whose (rows, 3H) result the kernel reads
  wh (HP, 3*HP)  W_hh transposed, same blocks (HP = pow2(H))
  b (4*HP) fp32  [b_ir + b_hr | b_iz + b_hz | b_in | b_hn]   (b_hn stays inside r ⊙ (...))
Zero padding keeps padded hidden units at exactly 0 (r = z = 0.5, n = 0, h starts at 0).
tanh/sigmoid are written with `tl.exp` (libdevice is unavailable in the interpreter).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from .weights import GRUWeights

MIN_DOT = 16  # smallest tl.dot dimension on NVIDIA GPUs
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# On-chip budget for weights kept resident across the time/tile loop (bytes per program). Above it
# the kernel re-reads them from L2 every step. Chosen so that ptxas reports no spills (kernels/aot.py).
RESIDENT_WEIGHT_BYTES = 64 * 1024


def interpreting() -> bool:
    """True when Triton runs kernels in its numpy interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def pow2(n: int, minimum: int = 1) -> int:
    return max(minimum, triton.next_power_of_2(int(n)))


@dataclass(frozen=True)
class PackedLayer:
    wi: torch.Tensor   # (IP, 3*HP) weight dtype
    wh: torch.Tensor   # (HP, 3*HP) weight dtype
    b: torch.Tensor    # (4*HP,) fp32
    in_size: int
    in_pad: int
    wi_full: torch.Tensor  # (I, 3H) fp32, W_ih.T (used when the input projection runs outside)
    gates_in: bool         # True for layers > 0: the kernel reads precomputed W_ih x


@dataclass(frozen=True)
class PackedGRU:
    layers: tuple[PackedLayer, ...]
    hidden: int
    hidden_pad: int
    dtype: torch.dtype


def _gate_blocks_t(w: torch.Tensor, hidden: int, hidden_pad: int, in_pad: int, dtype) -> torch.Tensor:
    """(3H, K) torch layout -> (K_pad, 3*HP) transposed, zero-padded gate blocks."""
    k = w.shape[1]
    out = torch.zeros(in_pad, 3 * hidden_pad, dtype=dtype, device=w.device)
    for g in range(3):
        out[:k, g * hidden_pad: g * hidden_pad + hidden] = w[g * hidden:(g + 1) * hidden].T.to(dtype)
    return out


def pack(weights: GRUWeights, device, dtype=None) -> PackedGRU:
    """Packed Triton layout of `weights` on `device` (weights cast to `dtype`, default theirs)."""
    dtype = dtype or weights.dtype
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"Triton GRU kernels support {SUPPORTED_DTYPES}, got {dtype}")
    h, hp = weights.hidden_size, pow2(weights.hidden_size, MIN_DOT)
    layers = []
    for layer in weights.layers:
        layer = type(layer)(*(t.to(device) for t in (layer.w_ih, layer.w_hh, layer.b_ih, layer.b_hh)))
        in_size = layer.w_ih.shape[1]
        in_pad = pow2(in_size, MIN_DOT)
        b = torch.zeros(4 * hp, dtype=torch.float32, device=device)
        rz = layer.summed_rz_bias().float()
        b[:h], b[hp:hp + h] = rz[:h], rz[h:]
        b[2 * hp:2 * hp + h] = layer.b_ih[2 * h:].float()
        b[3 * hp:3 * hp + h] = layer.b_hh[2 * h:].float()
        layers.append(PackedLayer(_gate_blocks_t(layer.w_ih, h, hp, in_pad, dtype),
                                  _gate_blocks_t(layer.w_hh, h, hp, hp, dtype).contiguous(),
                                  b, in_size, in_pad, layer.w_ih.float().T.contiguous(),
                                  gates_in=len(layers) > 0))
    return PackedGRU(tuple(layers), h, hp, dtype)


def packed_for(weights: GRUWeights, device, dtype=None) -> PackedGRU:
    """`pack` cached on the weights object per (device, dtype)."""
    device = torch.device(device)
    dtype = dtype or weights.dtype
    return weights.packed(("triton", str(device), dtype), lambda w: pack(w, device, dtype))


@dataclass(frozen=True)
class LaunchConfig:
    block: int        # batch rows (sequence) or tracks (step) per program tile
    num_warps: int
    resident: bool    # weights loaded once per program (else re-read from L2 each step/tile)


def weight_bytes(in_pad: int, hidden_pad: int, dtype: torch.dtype) -> int:
    return 3 * (in_pad + hidden_pad) * hidden_pad * torch.finfo(dtype).bits // 8


def launch_config(kind: str, in_pad: int, hidden_pad: int, dtype: torch.dtype) -> LaunchConfig:
    """Configuration the launchers use (and kernels/aot.py checks for spills) per shape/dtype.

    in_pad is 0 when the kernel reads precomputed input gates (layers > 0).
    """
    resident = weight_bytes(in_pad, hidden_pad, dtype) <= RESIDENT_WEIGHT_BYTES
    if kind == "sequence":
        block = 32 if hidden_pad <= 64 else 16
    elif kind == "step":
        block = 64 if hidden_pad <= 64 else 32
    else:
        raise ValueError(f"kind must be 'sequence' or 'step', got {kind!r}")
    num_warps = 4 if hidden_pad <= 64 else 8
    return LaunchConfig(block, num_warps, resident)


@triton.jit
def sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def tanh(x):
    e = tl.exp(-2.0 * tl.abs(x))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(x >= 0, t, -t)


@triton.jit
def weight_tile(w_ptr, GATE: tl.constexpr, K: tl.constexpr, HP: tl.constexpr, offset=0):
    """(K, HP) transposed weight tile of gate GATE (0 r, 1 z, 2 n) from a packed (K, 3*HP) matrix.

    `offset` is a runtime zero inside loops (t * w_step with w_step = 0): it keeps the compiler from
    hoisting streamed weights out of the loop into shared memory that would not fit.
    """
    cols = GATE * HP + tl.arange(0, HP)[None, :] + offset
    return tl.load(w_ptr + tl.arange(0, K)[:, None] * (3 * HP) + cols)


@triton.jit
def load_layer_weights(wi_ptr, wh_ptr, IP: tl.constexpr, HP: tl.constexpr):
    """The six transposed gate tiles of one layer: W_ir, W_iz, W_in (IP, HP), W_hr, W_hz, W_hn (HP, HP)."""
    return (weight_tile(wi_ptr, 0, IP, HP), weight_tile(wi_ptr, 1, IP, HP), weight_tile(wi_ptr, 2, IP, HP),
            weight_tile(wh_ptr, 0, HP, HP), weight_tile(wh_ptr, 1, HP, HP), weight_tile(wh_ptr, 2, HP, HP))


@triton.jit
def load_layer_biases(b_ptr, HP: tl.constexpr):
    cols = tl.arange(0, HP)
    return (tl.load(b_ptr + cols), tl.load(b_ptr + HP + cols),
            tl.load(b_ptr + 2 * HP + cols), tl.load(b_ptr + 3 * HP + cols))


@triton.jit
def load_input_gates(g_ptrs, mask, H: tl.constexpr):
    """Precomputed input pre-activations W_ih x (no bias) for r, z, n from a (rows, 3H) fp32 tensor."""
    return (tl.load(g_ptrs, mask=mask, other=0.0), tl.load(g_ptrs + H, mask=mask, other=0.0),
            tl.load(g_ptrs + 2 * H, mask=mask, other=0.0))


@triton.jit
def input_gates(x, w_ir, w_iz, w_in, PRECISION: tl.constexpr):
    """W_ih x for r, z, n with the (IP, HP) input tiles on chip; x (BLOCK, IP) fp32."""
    xw = x.to(w_ir.dtype)
    return (tl.dot(xw, w_ir, input_precision=PRECISION), tl.dot(xw, w_iz, input_precision=PRECISION),
            tl.dot(xw, w_in, input_precision=PRECISION))


@triton.jit
def input_gates_streamed(x, wi_ptr, offset, IP: tl.constexpr, HP: tl.constexpr, PRECISION: tl.constexpr):
    xw = x.to(wi_ptr.dtype.element_ty)
    return (tl.dot(xw, weight_tile(wi_ptr, 0, IP, HP, offset), input_precision=PRECISION),
            tl.dot(xw, weight_tile(wi_ptr, 1, IP, HP, offset), input_precision=PRECISION),
            tl.dot(xw, weight_tile(wi_ptr, 2, IP, HP, offset), input_precision=PRECISION))


@triton.jit
def gate_update(i_r, i_z, i_n, hr, hz, hn, h, b_r, b_z, b_in, b_hn):
    """h' = (1 - z) n + z h from input (i_*) and recurrent (h*) pre-activations; biases (HP,)."""
    r = sigmoid(i_r + hr + b_r[None, :])
    z = sigmoid(i_z + hz + b_z[None, :])
    n = tanh(i_n + b_in[None, :] + r * (hn + b_hn[None, :]))
    return n + z * (h - n)


@triton.jit
def recurrent_update(i_r, i_z, i_n, h, w_hr, w_hz, w_hn, b_r, b_z, b_in, b_hn, PRECISION: tl.constexpr):
    """h' with the recurrent tiles on chip; h (BLOCK, HP) fp32, matmuls in the weights' dtype."""
    hw = h.to(w_hr.dtype)
    return gate_update(i_r, i_z, i_n, tl.dot(hw, w_hr, input_precision=PRECISION),
                       tl.dot(hw, w_hz, input_precision=PRECISION), tl.dot(hw, w_hn, input_precision=PRECISION),
                       h, b_r, b_z, b_in, b_hn)


@triton.jit
def recurrent_update_streamed(i_r, i_z, i_n, h, wh_ptr, b_r, b_z, b_in, b_hn, offset,
                              HP: tl.constexpr, PRECISION: tl.constexpr):
    """recurrent_update with each W_hh gate tile read (from L2) right before its matmul."""
    hw = h.to(wh_ptr.dtype.element_ty)
    r = sigmoid(i_r + tl.dot(hw, weight_tile(wh_ptr, 0, HP, HP, offset), input_precision=PRECISION)
                + b_r[None, :])
    hn = tl.dot(hw, weight_tile(wh_ptr, 2, HP, HP, offset), input_precision=PRECISION) + b_hn[None, :]
    n = tanh(i_n + b_in[None, :] + r * hn)
    z = sigmoid(i_z + tl.dot(hw, weight_tile(wh_ptr, 1, HP, HP, offset), input_precision=PRECISION)
                + b_z[None, :])
    return n + z * (h - n)


def dot_precision(dtype: torch.dtype, allow_tf32: bool) -> str:
    """tl.dot input precision: exact fp32 ("ieee") unless TF32 is asked for; halves use tensor cores."""
    return "tf32" if (dtype == torch.float32 and allow_tf32) else "ieee"
