"""CPU GRU paths (numpy and torch): sequence forward and the in-place streaming step.

The torch paths run on whatever device their tensors are on.

numpy: one fused gate matmul per layer and step: [x | h] (n, I+H) @ W (I+H, 4H) + b gives
[r_pre | z_pre | W_in x + b_in | W_hn h + b_hn], so b_hn stays inside r ⊙ (...); the sequence projects
the whole input sequence at once (one big matmul) and does one h @ W_hh matmul per step. float32
weights built once per weights object (cached); work buffers are reused. Fastest for a few tracks.
torch: torch's fused GRU ops (torch.nn.GRU for sequences, torch.gru_cell for steps), faster than
numpy from some tens of tracks (vectorised gate functions; figures in kernels/README.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .weights import GRUWeights

try:
    from scipy.special import expit as _expit
except ImportError:  # scipy is a project dependency; keep the numpy path usable without it
    def _expit(a, out=None):
        out = np.negative(a, out=out)
        np.exp(out, out=out)
        out += 1.0
        return np.reciprocal(out, out=out)


@dataclass(frozen=True)
class CpuLayer:
    w_step: object   # (I+H, 4H) fused [x | h] -> [rz | i_n | h_n]
    b_step: object   # (4H,)
    w_in: object     # (I, 3H) input projection (sequence path)
    b_in: object     # (3H,) [b_r summed | b_z summed | b_in]
    w_hh: object     # (H, 3H) recurrent projection (sequence path)
    b_hn: object     # (H,)


def _build_layers(weights: GRUWeights, as_array) -> tuple[CpuLayer, ...]:
    h = weights.hidden_size
    layers = []
    for layer in weights.layers:
        w_ih, w_hh = layer.w_ih.detach().float().cpu(), layer.w_hh.detach().float().cpu()
        b_ih, b_hh = layer.b_ih.detach().float().cpu(), layer.b_hh.detach().float().cpu()
        i = w_ih.shape[1]
        w_step = torch.zeros(i + h, 4 * h)
        w_step[:i, :3 * h] = w_ih.T
        w_step[i:, :2 * h] = w_hh[:2 * h].T
        w_step[i:, 3 * h:] = w_hh[2 * h:].T
        b_in = torch.cat([b_ih[:2 * h] + b_hh[:2 * h], b_ih[2 * h:]])
        b_step = torch.cat([b_in, b_hh[2 * h:]])
        layers.append(CpuLayer(*(as_array(t.contiguous()) for t in
                                 (w_step, b_step, w_ih.T, b_in, w_hh.T, b_hh[2 * h:]))))
    return tuple(layers)


def numpy_layers(weights: GRUWeights) -> tuple[CpuLayer, ...]:
    return weights.packed(("numpy",), lambda w: _build_layers(w, lambda t: t.numpy().copy()))


# ----------------------------------------------------------------------------------------- numpy
class NumpyCell:
    """One fused step for one layer, with work buffers (one pair per layer shape, grown as needed) and
    their per-row-count views reused across calls (slicing costs as much as the math at one track)."""

    def __init__(self):
        self._buffers = {}   # (I, H) -> (xh (rows, I+H), g (rows, 4H)) float32
        self._views = {}     # (n, I, H) -> views of those buffers for n rows

    def _views_for(self, n: int, i: int, hid: int) -> tuple:
        views = self._views.get((n, i, hid))
        if views is None:
            xh, g = self._buffers.get((i, hid), (None, None))
            if xh is None or len(xh) < n:
                xh, g = np.empty((max(n, 1), i + hid), np.float32), np.empty((max(n, 1), 4 * hid), np.float32)
                self._buffers[(i, hid)] = xh, g
                self._views.clear()          # views of the old buffers
            xh, g = xh[:n], g[:n]
            views = (xh, xh[:, :i], xh[:, i:], g, g[:, :2 * hid], g[:, :hid], g[:, hid:2 * hid],
                     g[:, 2 * hid:3 * hid], g[:, 3 * hid:])
            self._views[(n, i, hid)] = views
        return views

    def __call__(self, layer: CpuLayer, x: np.ndarray, h: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        n, i = x.shape
        if out is None:
            out = np.empty_like(h)
        xh, xh_x, xh_h, g, rz, r, z, n_gate, h_n = self._views_for(n, i, h.shape[1])
        xh_x[...] = x
        xh_h[...] = h
        np.matmul(xh, layer.w_step, out=g)
        g += layer.b_step
        _expit(rz, out=rz)
        h_n *= r                             # r * (W_hn h + b_hn)
        n_gate += h_n
        np.tanh(n_gate, out=n_gate)
        np.subtract(h, n_gate, out=out)      # h' = n + z (h - n)
        out *= z
        out += n_gate
        return out


def gru_sequence_numpy(x: np.ndarray, weights: GRUWeights, h0: np.ndarray | None = None):
    """Multi-layer GRU over x (B, T, I) float32 -> (out (B, T, H), h_n (L, B, H)), numpy."""
    x = np.asarray(x, dtype=np.float32)
    b, t, _ = x.shape
    hid = weights.hidden_size
    layers = numpy_layers(weights)
    h_n = np.zeros((len(layers), b, hid), np.float32) if h0 is None else np.array(h0, np.float32)
    layer_in = x
    gh = np.empty((b, 3 * hid), np.float32)
    for k, layer in enumerate(layers):
        gi = (layer_in.reshape(b * t, layer.w_in.shape[0]) @ layer.w_in).reshape(b, t, 3 * hid)
        gi += layer.b_in
        out = np.empty((b, t, hid), np.float32)
        h = h_n[k]
        for s in range(t):
            np.matmul(h, layer.w_hh, out=gh)
            gh[:, 2 * hid:] += layer.b_hn
            rz = gi[:, s, :2 * hid]
            rz += gh[:, :2 * hid]
            _expit(rz, out=rz)
            n_gate = gi[:, s, 2 * hid:]
            n_gate += rz[:, :hid] * gh[:, 2 * hid:]
            np.tanh(n_gate, out=n_gate)
            h_new = out[:, s]
            np.subtract(h, n_gate, out=h_new)
            h_new *= rz[:, hid:]
            h_new += n_gate
            h = h_new
        h_n[k] = h
        layer_in = out
    return layer_in, h_n


# ----------------------------------------------------------------------------------------- torch
# torch's own fused GRU ops measured faster on the CPU than a hand-written torch loop (bench/kernels.py):
# the sequence runs torch.nn.GRU (aten/oneDNN), the step torch.gru_cell per layer (vectorised gates).
def torch_layers(weights: GRUWeights, device="cpu") -> tuple[tuple[torch.Tensor, ...], ...]:
    """(w_ih, w_hh, b_ih, b_hh) float32 per layer on `device`, torch.gru_cell's argument order."""
    device = torch.device(device)
    return weights.packed(("torch", str(device)), lambda w: tuple(
        tuple(t.detach().to(device, torch.float32).contiguous() for t in (l.w_ih, l.w_hh, l.b_ih, l.b_hh))
        for l in w.layers))


def torch_gru_module(weights: GRUWeights, device="cpu") -> torch.nn.GRU:
    """A float32 torch.nn.GRU holding `weights` (cached), for the sequence path."""
    device = torch.device(device)

    def build(w):
        gru = torch.nn.GRU(w.input_size, w.hidden_size, w.num_layers, batch_first=True)
        with torch.no_grad():
            for k, params in enumerate(torch_layers(w, device)):
                for name, t in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), params):
                    getattr(gru, f"{name}_l{k}").copy_(t)
        return gru.to(device).eval().requires_grad_(False)
    return weights.packed(("torch-gru", str(device)), build)


class TorchCell:
    """One layer's step with torch.gru_cell (float32, no autograd, on the tensors' device)."""

    @torch.no_grad()
    def __call__(self, layer, x: torch.Tensor, h: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        new_h = torch.gru_cell(x, h, *layer)
        return new_h if out is None else out.copy_(new_h)


@torch.no_grad()
def gru_sequence_torch(x: torch.Tensor, weights: GRUWeights, h0: torch.Tensor | None = None):
    """Multi-layer GRU over x (B, T, I) -> (out (B, T, H), h_n (L, B, H)) with torch.nn.GRU on x's device."""
    x = x.detach().to(torch.float32)
    gru = torch_gru_module(weights, x.device)
    if h0 is not None:
        h0 = h0.detach().to(x.device, torch.float32)
    if x.shape[1] == 0:  # torch.nn.GRU rejects empty sequences
        h_n = h0.clone() if h0 is not None else x.new_zeros(weights.num_layers, x.shape[0], weights.hidden_size)
        return x.new_zeros(x.shape[0], 0, weights.hidden_size), h_n
    return gru(x, h0)


@torch.no_grad()
def gru_sequence_torch_loop(x: torch.Tensor, weights: GRUWeights, h0: torch.Tensor | None = None):
    """The same as an eager PyTorch step loop (torch.gru_cell per step and layer): the GPU baseline."""
    b, t, _ = x.shape
    layers = torch_layers(weights, x.device)
    h_n = (torch.zeros(len(layers), b, weights.hidden_size, device=x.device) if h0 is None
           else h0.detach().to(x.device, torch.float32).clone())
    layer_in = x.float()
    for k, params in enumerate(layers):
        h, outs = h_n[k], []
        for s in range(t):
            h = torch.gru_cell(layer_in[:, s], h, *params)
            outs.append(h)
        h_n[k] = h
        layer_in = torch.stack(outs, 1) if outs else layer_in.new_zeros(b, 0, weights.hidden_size)
    return layer_in, h_n


# ------------------------------------------------------------------------------------- step (both)
def gru_step_cpu(x, state, layers, cell, index=None, out=None):
    """Advance tracks one step in place on `state` (L, N, H) (numpy or torch, matching `cell`).

    `index` (n,) selects the rows that advance (unique; a slice works too, as views), else all N.
    Returns the top layer's new h (n, H), written to `out` when given.
    """
    if isinstance(index, slice):       # a block of rows (numpy): each layer's cell writes its state view in place
        h = x
        for k, layer in enumerate(layers):
            rows = state[k, index]
            h = cell(layer, h, rows, rows)
        if out is None:
            return h.copy()
        out[...] = h
        return out
    new_h = None
    for k, layer in enumerate(layers):
        rows = state[k] if index is None else state[k][index]
        new_h = cell(layer, x if k == 0 else new_h, rows, out if k == len(layers) - 1 else None)
        if index is None:
            state[k][...] = new_h
        else:
            state[k][index] = new_h
    return new_h
