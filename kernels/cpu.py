"""CPU GRU paths (numpy and torch): sequence forward and the in-place streaming step.

The torch path runs on whatever device its tensors are on (on CUDA: the eager PyTorch baseline).

Both use one fused gate matmul per layer and step: [x | h] (n, I+H) @ W (I+H, 4H) + b gives
[r_pre | z_pre | W_in x + b_in | W_hn h + b_hn], so b_hn stays inside r ⊙ (...). The sequence paths
instead project the whole input sequence at once (one big matmul) and do one h @ W_hh matmul per step.
Weights are float32 copies built once per weights object (cached); work buffers are reused.
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


def torch_layers(weights: GRUWeights, device="cpu") -> tuple[CpuLayer, ...]:
    device = torch.device(device)
    return weights.packed(("torch", str(device)), lambda w: _build_layers(w, lambda t: t.to(device).clone()))


# ----------------------------------------------------------------------------------------- numpy
class NumpyCell:
    """One fused step for one layer, with work buffers reused across calls (grown as needed)."""

    def __init__(self):
        self._xh = self._g = None

    def __call__(self, layer: CpuLayer, x: np.ndarray, h: np.ndarray, out: np.ndarray) -> np.ndarray:
        n, i = x.shape
        hid = h.shape[1]
        if self._xh is None or self._xh.shape[0] < n or self._xh.shape[1] != i + hid:
            self._xh = np.empty((max(n, 1), i + hid), np.float32)
            self._g = np.empty((max(n, 1), 4 * hid), np.float32)
        xh, g = self._xh[:n], self._g[:n]
        xh[:, :i] = x
        xh[:, i:] = h
        np.matmul(xh, layer.w_step, out=g)
        g += layer.b_step
        rz = _expit(g[:, :2 * hid], out=g[:, :2 * hid])
        n_gate = g[:, 2 * hid:3 * hid]
        n_gate += rz[:, :hid] * g[:, 3 * hid:]
        np.tanh(n_gate, out=n_gate)
        np.subtract(h, n_gate, out=out)      # h' = n + z (h - n)
        out *= rz[:, hid:]
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
        gi = (layer_in.reshape(b * t, -1) @ layer.w_in).reshape(b, t, 3 * hid)
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
class TorchCell:
    """torch twin of NumpyCell (float32, no autograd; runs on the tensors' device)."""

    def __init__(self):
        self._xh = self._g = None

    @torch.no_grad()
    def __call__(self, layer: CpuLayer, x: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        n, i = x.shape
        hid = h.shape[1]
        if self._xh is None or self._xh.shape[0] < n or self._xh.shape[1] != i + hid:
            self._xh = torch.empty(max(n, 1), i + hid, device=h.device)
            self._g = torch.empty(max(n, 1), 4 * hid, device=h.device)
        xh, g = self._xh[:n], self._g[:n]
        xh[:, :i] = x
        xh[:, i:] = h
        torch.addmm(layer.b_step, xh, layer.w_step, out=g)
        rz = g[:, :2 * hid]
        torch.sigmoid(rz, out=rz)
        n_gate = g[:, 2 * hid:3 * hid]
        n_gate.addcmul_(rz[:, :hid], g[:, 3 * hid:]).tanh_()
        torch.sub(h, n_gate, out=out)
        return out.mul_(rz[:, hid:]).add_(n_gate)


@torch.no_grad()
def gru_sequence_torch(x: torch.Tensor, weights: GRUWeights, h0: torch.Tensor | None = None):
    """Multi-layer GRU over x (B, T, I) -> (out (B, T, H), h_n (L, B, H)): an eager torch step loop
    on x's device (the CPU path; on CUDA it is the "PyTorch step loop" baseline)."""
    dev = x.device
    x = x.detach().to(torch.float32)
    b, t, _ = x.shape
    hid = weights.hidden_size
    layers = torch_layers(weights, dev)
    h_n = (torch.zeros(len(layers), b, hid, device=dev) if h0 is None
           else h0.detach().to(dev, torch.float32).clone())
    layer_in = x
    gh = torch.empty(b, 3 * hid, device=dev)
    for k, layer in enumerate(layers):
        gi = torch.addmm(layer.b_in, layer_in.reshape(b * t, -1), layer.w_in).view(b, t, 3 * hid)
        out = torch.empty(b, t, hid, device=dev)
        h = h_n[k]
        for s in range(t):
            torch.mm(h, layer.w_hh, out=gh)
            rz = gi[:, s, :2 * hid].add_(gh[:, :2 * hid]).sigmoid_()
            n_gate = gi[:, s, 2 * hid:]
            n_gate.addcmul_(rz[:, :hid], gh[:, 2 * hid:].add_(layer.b_hn)).tanh_()
            h_new = out[:, s]
            torch.sub(h, n_gate, out=h_new)
            h = h_new.mul_(rz[:, hid:]).add_(n_gate)
        h_n[k] = h
        layer_in = out
    return layer_in, h_n


# ------------------------------------------------------------------------------------- step (both)
def gru_step_cpu(x, state, layers, cell, index=None, out=None):
    """Advance tracks one step in place on `state` (L, N, H) (numpy or torch CPU, matching `cell`).

    `index` (n,) selects the rows that advance (unique), else all N. Returns the top layer's new h
    (n, H), written to `out` when given.
    """
    is_np = isinstance(state, np.ndarray)
    new_h = None
    for k, layer in enumerate(layers):
        rows = state[k] if index is None else state[k][index]
        dst = out if (out is not None and k == len(layers) - 1) else (
            np.empty_like(rows) if is_np else torch.empty_like(rows))
        new_h = cell(layer, x if k == 0 else new_h, rows, dst)
        if index is None:
            state[k][...] = new_h
        else:
            state[k][index] = new_h
    return new_h
