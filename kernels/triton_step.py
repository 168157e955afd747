"""Batched streaming GRU step in Triton: advance n tracks by one sample each, state in place.

State lives on the device as (L, capacity, H) fp32. An optional index (n,) long names the state rows
that advance (unique; others untouched). One launch per layer: layer 0 fuses its small input
projection (IN <= 16 rank-1 fp32 updates); layer l > 0 reads W_ih h_{l-1} from one gather + matmul
over the rows layer l-1 just updated (so its kernel holds only W_hh). A persistent grid (a few programs
per SM) walks tiles of BLOCK_N tracks so resident weights are loaded once per program, not once per tile.
No host sync and no allocation when `out` is given: capturable in a CUDA graph.
"""
from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from .triton_sequence import check_triton_device
from .triton_common import (dot_precision, launch_config, layer_step, load_layer_biases, packed_for,
                            resident_tiles)
from .weights import GRUWeights

PROGRAMS_PER_SM = 2


@triton.jit
def gru_step_layer_kernel(
        x_ptr, state_ptr, idx_ptr, out_ptr, wi_ptr, wh_ptr, b_ptr,
        n, stride_x, stride_out, w_step,
        IN: tl.constexpr, H: tl.constexpr, HP: tl.constexpr,
        BLOCK_N: tl.constexpr, RESIDENT: tl.constexpr, HAS_INDEX: tl.constexpr,
        GATES_IN: tl.constexpr, HAS_OUT: tl.constexpr, PRECISION: tl.constexpr):
    """One layer, one step for n tracks. x row r is track r's input (n, IN), or with GATES_IN its
    input projection (n, 3H); state row index[r] (or r) advances in place."""
    hcols = tl.arange(0, HP)
    b_r, b_z, b_in, b_hn = load_layer_biases(b_ptr, HP)
    w_hr, w_hz, w_hn = resident_tiles(wh_ptr, HP, RESIDENT)
    for tile in range(tl.program_id(0), tl.cdiv(n, BLOCK_N), tl.num_programs(0)):
        rows = tl.arange(0, BLOCK_N).to(tl.int64) + tile * BLOCK_N
        row_ok = rows < n
        h_mask = row_ok[:, None] & (hcols[None, :] < H)
        if HAS_INDEX:
            slots = tl.load(idx_ptr + rows, mask=row_ok, other=0).to(tl.int64)
        else:
            slots = rows
        x_t = x_ptr + rows * stride_x
        g_t = x_ptr + rows[:, None] * stride_x + hcols[None, :]
        off = tile * w_step
        h_ptrs = state_ptr + slots[:, None] * H + hcols[None, :]
        h = tl.load(h_ptrs, mask=h_mask, other=0.0)
        h = layer_step(x_t, g_t, row_ok, h_mask, wi_ptr, wh_ptr, off, h, w_hr, w_hz, w_hn, b_r, b_z, b_in, b_hn,
                       RESIDENT, GATES_IN, IN, H, HP, PRECISION)
        tl.store(h_ptrs, h, mask=h_mask)
        if HAS_OUT:
            tl.store(out_ptr + rows[:, None] * stride_out + hcols[None, :], h, mask=h_mask)


@functools.lru_cache(maxsize=None)
def _sm_count(device_index: int) -> int:
    return torch.cuda.get_device_properties(device_index).multi_processor_count


def _grid_size(tiles: int, device: torch.device) -> int:
    if device.type != "cuda":
        return tiles  # interpreter: one program per tile
    return max(1, min(tiles, _sm_count(device.index or 0) * PROGRAMS_PER_SM))


def step_workspace(num_layers: int, capacity: int, hidden: int, device) -> tuple | None:
    """Preallocated buffers for layers > 0 (gathered inputs, their projection): pass to gru_step_triton
    to keep the step allocation-free (CUDA graphs). None for one layer."""
    if num_layers < 2:
        return None
    return (torch.empty(capacity, hidden, device=device), torch.empty(capacity, 3 * hidden, device=device))


def gru_step_triton(x: torch.Tensor, state: torch.Tensor, weights: GRUWeights,
                    index: torch.Tensor | None = None, out: torch.Tensor | None = None,
                    dtype: torch.dtype | None = None, allow_tf32: bool = False, workspace=None):
    """Advance tracks one step in place: x (n, I), state (L, N, H) fp32 contiguous, index (n,) long.

    Without `index`, n == N and every track advances. Writes the top layer's new h to `out` (n, H)
    when given (and returns it), else returns a fresh tensor. With `out` and `workspace`
    (step_workspace, capacity >= n) nothing is allocated and nothing syncs with the host.
    Layer l > 0 takes its input projection from one matmul over the rows layer l-1 just updated.
    """
    check_triton_device(x)
    if state.dtype != torch.float32 or not state.is_contiguous():
        raise ValueError("state must be a contiguous float32 tensor (L, N, H)")
    packed = packed_for(weights, state.device, dtype, allow_tf32)
    n, hidden, hp = x.shape[0], packed.hidden, packed.hidden_pad
    if out is None:
        out = torch.empty(n, hidden, dtype=torch.float32, device=state.device)
    if n == 0:
        return out
    if x.stride(-1) != 1:
        x = x.contiguous()
    if workspace is None:
        workspace = step_workspace(len(packed.layers), n, hidden, state.device)
    precision = dot_precision(packed.dtype, allow_tf32)
    for k, layer in enumerate(packed.layers):
        layer_x = x
        if layer.gates_in:  # W_ih of the rows layer k-1 just updated, as one matmul
            rows, gates = workspace[0][:n], workspace[1][:n]
            if index is None:
                rows = state[k - 1]
            else:
                torch.index_select(state[k - 1], 0, index, out=rows)
            layer_x = torch.mm(rows, layer.wi_full, out=gates)
        cfg = launch_config("step", hp, packed.dtype)
        grid = (_grid_size(triton.cdiv(n, cfg.block), state.device),)
        gru_step_layer_kernel[grid](
            layer_x, state[k], index if index is not None else state, out, layer.wi, layer.wh, layer.b,
            n, layer_x.stride(0), out.stride(0), 0,
            IN=layer.in_size, H=hidden, HP=hp, BLOCK_N=cfg.block,
            RESIDENT=cfg.resident, HAS_INDEX=index is not None, GATES_IN=layer.gates_in,
            HAS_OUT=k == len(packed.layers) - 1, PRECISION=precision, num_warps=cfg.num_warps)
    return out
