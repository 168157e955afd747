"""Plain PyTorch reference GRU: the torch.nn.GRU math every kernel is held to.

r = σ(W_ir x + b_ir + W_hr h + b_hr); z = σ(W_iz x + b_iz + W_hz h + b_hz);
n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = (1 − z) ⊙ n + z ⊙ h.
Computed in fp32 (or fp64 when given fp64) whatever the weights' dtype.
"""
from __future__ import annotations

import torch

from .weights import GRULayer, GRUWeights


def gru_cell_reference(x: torch.Tensor, h: torch.Tensor, layer: GRULayer) -> torch.Tensor:
    """One GRU step for one layer: x (N, I), h (N, H) -> h' (N, H)."""
    dtype = torch.promote_types(h.dtype, torch.float32)
    x, h = x.to(dtype), h.to(dtype)
    gi = x @ layer.w_ih.to(dtype).T + layer.b_ih.to(dtype)
    gh = h @ layer.w_hh.to(dtype).T + layer.b_hh.to(dtype)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


@torch.no_grad()
def gru_reference(x: torch.Tensor, weights: GRUWeights, h0: torch.Tensor | None = None):
    """Multi-layer GRU over a batch-first sequence x (B, T, I) -> (out (B, T, H), h_n (L, B, H))."""
    b, t, _ = x.shape
    dtype = torch.promote_types(x.dtype, torch.float32)
    if h0 is None:
        h0 = torch.zeros(weights.num_layers, b, weights.hidden_size, dtype=dtype, device=x.device)
    layer_in = x.to(dtype)
    h_n = []
    for k, layer in enumerate(weights.layers):
        h = h0[k].to(dtype)
        outs = []
        for step in range(t):
            h = gru_cell_reference(layer_in[:, step], h, layer)
            outs.append(h)
        layer_in = torch.stack(outs, dim=1) if outs else layer_in.new_zeros(b, 0, weights.hidden_size)
        h_n.append(h)
    return layer_in, torch.stack(h_n)
