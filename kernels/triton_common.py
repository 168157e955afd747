"""Pieces shared by the Triton GRU kernels: packed weight layout, launch configurations, the cell.

Packed layout per layer (built once per device/dtype and cached on `GRUWeights`):
  wi (I, 3*HP)   W_ih transposed, gate blocks [r | z | n] (columns zero-padded): the small input projection
                 (I <= FUSED_INPUT_MAX, layer 0) fused in the kernels as I rank-1 fp32 updates
  wi_full (I, 3H) fp32  W_ih transposed for the other layers: their input projection is one cuBLAS
                 matmul (whole sequence / all advanced tracks) whose (rows, 3H) result the kernel reads
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
FUSED_INPUT_MAX = 16  # input sizes up to this are projected inside the kernels
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# On-chip budget for W_hh kept resident across the time/tile loop (bytes per program). Above it
# the kernel re-reads them from L2 every step. Chosen so that ptxas reports no spills (kernels/aot.py).
RESIDENT_WEIGHT_BYTES = 96 * 1024


def interpreting() -> bool:
    """True when Triton runs kernels in its numpy interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def pow2(n: int, minimum: int = 1) -> int:
    return max(minimum, triton.next_power_of_2(int(n)))


@dataclass(frozen=True)
class PackedLayer:
    wi: torch.Tensor   # (I, 3*HP) weight dtype
    wh: torch.Tensor   # (HP, 3*HP) weight dtype
    b: torch.Tensor    # (4*HP,) fp32
    in_size: int
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
        b = torch.zeros(4 * hp, dtype=torch.float32, device=device)
        rz = layer.summed_rz_bias().float()
        b[:h], b[hp:hp + h] = rz[:h], rz[h:]
        b[2 * hp:2 * hp + h] = layer.b_ih[2 * h:].float()
        b[3 * hp:3 * hp + h] = layer.b_hh[2 * h:].float()
        layers.append(PackedLayer(_gate_blocks_t(layer.w_ih, h, hp, in_size, dtype),
                                  _gate_blocks_t(layer.w_hh, h, hp, hp, dtype).contiguous(),
                                  b, in_size, layer.w_ih.float().T.contiguous(),
                                  gates_in=len(layers) > 0 or in_size > FUSED_INPUT_MAX))
    return PackedGRU(tuple(layers), h, hp, dtype)


FP16_SAFE_MAX = 2.0 ** 14  # weights within this magnitude are exact to a 10-bit mantissa in fp16


def compute_dtype(dtype: torch.dtype, hidden_pad: int, allow_tf32: bool, max_abs_weight: float = 0.0):
    """dtype of the weight tiles the kernels multiply with.

    fp32 weights under TF32 (allow_tf32) at hidden >= 128 run on fp16 tiles: TF32 rounds the inputs of
    the tensor-core product to a 10-bit mantissa, as fp16 does, and halving the tiles keeps W_hh on chip
    (fp32 tiles spill registers there, see kernels/aot.py). Not done when a weight would leave
    fp16's range.
    """
    if (dtype == torch.float32 and allow_tf32 and hidden_pad >= 128
            and max_abs_weight <= FP16_SAFE_MAX):
        return torch.float16
    return dtype


def packed_for(weights: GRUWeights, device, dtype=None, allow_tf32: bool = False) -> PackedGRU:
    """`pack` cached on the weights object per (device, compute dtype)."""
    device = torch.device(device)
    dtype = dtype or weights.dtype
    if dtype == torch.float32 and allow_tf32:
        max_abs = weights.packed(("max_abs",), lambda w: max(float(t.abs().max()) for l in w.layers
                                                             for t in (l.w_ih, l.w_hh)))
        dtype = compute_dtype(dtype, pow2(weights.hidden_size, MIN_DOT), allow_tf32, max_abs)
    return weights.packed(("triton", str(device), dtype), lambda w: pack(w, device, dtype))


@dataclass(frozen=True)
class LaunchConfig:
    block: int        # batch rows (sequence) or tracks (step) per program tile
    num_warps: int
    resident: bool    # weights loaded once per program (else re-read from L2 each step/tile)


def recurrent_weight_bytes(hidden_pad: int, dtype: torch.dtype) -> int:
    return 3 * hidden_pad * hidden_pad * torch.finfo(dtype).bits // 8


def launch_config(kind: str, hidden_pad: int, dtype: torch.dtype) -> LaunchConfig:
    """Configuration the launchers use (and kernels/aot.py checks for spills) per shape/dtype."""
    resident = recurrent_weight_bytes(hidden_pad, dtype) <= RESIDENT_WEIGHT_BYTES
    if kind == "sequence":
        block = 32 if hidden_pad <= 32 else 16
    elif kind == "step":
        block = {16: 64, 32: 64, 64: 32}.get(hidden_pad, 16)
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
def load_layer_biases(b_ptr, HP: tl.constexpr):
    cols = tl.arange(0, HP)
    return (tl.load(b_ptr + cols), tl.load(b_ptr + HP + cols),
            tl.load(b_ptr + 2 * HP + cols), tl.load(b_ptr + 3 * HP + cols))


@triton.jit
def input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, GATE: tl.constexpr, GATES_IN: tl.constexpr,
               IN: tl.constexpr, H: tl.constexpr, HP: tl.constexpr):
    """W_ih x for one gate (0 r, 1 z, 2 n), (BLOCK, HP) fp32, without bias.

    GATES_IN: read it precomputed from g_ptrs (BLOCK, HP) into a (rows, 3H) tensor. Else compute it as
    IN rank-1 fp32 updates (small input sizes): x_ptrs (BLOCK,) point at each row's first input,
    wi_ptr at the packed (IN, 3*HP) W_ih^T.
    """
    if GATES_IN:
        return tl.load(g_ptrs + GATE * H, mask=h_mask, other=0.0)
    else:
        cols = GATE * HP + tl.arange(0, HP) + offset
        acc = (tl.load(x_ptrs, mask=row_ok, other=0.0).to(tl.float32)[:, None]
               * tl.load(wi_ptr + cols).to(tl.float32)[None, :])
        for k in tl.static_range(1, IN):
            acc += (tl.load(x_ptrs + k, mask=row_ok, other=0.0).to(tl.float32)[:, None]
                    * tl.load(wi_ptr + k * 3 * HP + cols).to(tl.float32)[None, :])
        return acc


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
def recurrent_update_streamed(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, h, wh_ptr, b_r, b_z, b_in, b_hn, offset,
                              GATES_IN: tl.constexpr, IN: tl.constexpr, H: tl.constexpr, HP: tl.constexpr,
                              PRECISION: tl.constexpr):
    """h' with each W_hh gate tile read (from L2) right before its matmul and each gate finished
    before the next starts (few live tiles: large hidden sizes fit in registers)."""
    hw = h.to(wh_ptr.dtype.element_ty)
    r = tl.dot(hw, weight_tile(wh_ptr, 0, HP, HP, offset), input_precision=PRECISION)
    r = sigmoid(r + input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, 0, GATES_IN, IN, H, HP)
                + b_r[None, :])
    n = tl.dot(hw, weight_tile(wh_ptr, 2, HP, HP, offset), input_precision=PRECISION) + b_hn[None, :]
    n = tanh(input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, 2, GATES_IN, IN, H, HP)
             + b_in[None, :] + r * n)
    z = tl.dot(hw, weight_tile(wh_ptr, 1, HP, HP, offset), input_precision=PRECISION)
    z = sigmoid(z + input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, 1, GATES_IN, IN, H, HP)
                + b_z[None, :])
    return n + z * (h - n)


@triton.jit
def resident_tiles(wh_ptr, HP: tl.constexpr, RESIDENT: tl.constexpr):
    """The three W_hh gate tiles (r, z, n) loaded on chip when RESIDENT, else placeholders (unused)."""
    if RESIDENT:
        tiles = weight_tile(wh_ptr, 0, HP, HP), weight_tile(wh_ptr, 1, HP, HP), weight_tile(wh_ptr, 2, HP, HP)
    else:
        tiles = wh_ptr, wh_ptr, wh_ptr
    return tiles


@triton.jit
def layer_step(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, wh_ptr, offset, h, w_hr, w_hz, w_hn, b_r, b_z, b_in, b_hn,
               RESIDENT: tl.constexpr, GATES_IN: tl.constexpr, IN: tl.constexpr, H: tl.constexpr,
               HP: tl.constexpr, PRECISION: tl.constexpr):
    """One GRU step of one layer for a block of rows, the shared body of the sequence and step kernels:
    resident W_hh tiles (from `resident_tiles`), or each tile streamed from L2 before its matmul."""
    if RESIDENT:
        i_r = input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, 0, GATES_IN, IN, H, HP)
        i_z = input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, 1, GATES_IN, IN, H, HP)
        i_n = input_gate(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, offset, 2, GATES_IN, IN, H, HP)
        h_new = recurrent_update(i_r, i_z, i_n, h, w_hr, w_hz, w_hn, b_r, b_z, b_in, b_hn, PRECISION)
    else:
        h_new = recurrent_update_streamed(x_ptrs, g_ptrs, row_ok, h_mask, wi_ptr, h, wh_ptr, b_r, b_z, b_in, b_hn,
                                          offset, GATES_IN, IN, H, HP, PRECISION)
    return h_new


def dot_precision(dtype: torch.dtype, allow_tf32: bool) -> str:
    """tl.dot input precision: exact fp32 ("ieee") unless TF32 is asked for; halves use tensor cores."""
    return "tf32" if (dtype == torch.float32 and allow_tf32) else "ieee"
