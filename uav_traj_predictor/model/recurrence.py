"""The seam between the predictor and the GRU kernels: per-track hidden state advanced in place.

`make_stepper(gru, capacity, backend, device)` returns an object with the `uav_traj_predictor.kernels`
`GRUStepper` interface (`step(x, index) -> top hidden`, `reset(index)`, `resize(capacity)`). Until the
kernels room provides it, `NumpyGRUStepper` (float32, one core, lean for one track) is used; switching
to the kernels is the one line in `make_stepper`.
"""
from __future__ import annotations

import numpy as np
from torch import nn


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)   # overflow-free and exact: σ(x) = (1 + tanh(x/2)) / 2


class NumpyGRUStepper:
    """torch.nn.GRU math (gate order r, z, n) on numpy float32 with state (layers, capacity, hidden)."""

    def __init__(self, gru: nn.GRU, capacity: int):
        self.layers, self.hidden = gru.num_layers, gru.hidden_size
        self.weights = []
        for layer in range(self.layers):
            w_ih = getattr(gru, f"weight_ih_l{layer}").detach().numpy().astype(np.float32)
            w_hh = getattr(gru, f"weight_hh_l{layer}").detach().numpy().astype(np.float32)
            b_ih = getattr(gru, f"bias_ih_l{layer}").detach().numpy().astype(np.float32)
            b_hh = getattr(gru, f"bias_hh_l{layer}").detach().numpy().astype(np.float32)
            self.weights.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b_ih, b_hh))
        self.state = np.zeros((self.layers, capacity, self.hidden), np.float32)

    @property
    def capacity(self) -> int:
        return self.state.shape[1]

    def resize(self, capacity: int) -> None:
        """Grow (or shrink) the state; existing rows are kept, new rows start at zero."""
        state = np.zeros((self.layers, capacity, self.hidden), np.float32)
        keep = min(capacity, self.capacity)
        state[:, :keep] = self.state[:, :keep]
        self.state = state

    def reset(self, index) -> None:
        self.state[:, index] = 0.0

    def step(self, x: np.ndarray, index) -> np.ndarray:
        """Advance tracks `index` by one input row each (x: (n, inputs)); returns their top hidden (n, H)."""
        hidden = self.hidden
        inp = np.asarray(x, np.float32)
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.weights):
            h = self.state[layer, index]
            gi = inp @ w_ih + b_ih
            gh = h @ w_hh + b_hh
            rz = _sigmoid(gi[:, :2 * hidden] + gh[:, :2 * hidden])
            r, z = rz[:, :hidden], rz[:, hidden:]
            n = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
            h = n + z * (h - n)
            self.state[layer, index] = h
            inp = h
        return inp


def make_stepper(gru: nn.GRU, capacity: int, backend: str = "auto", device: str = "cpu"):
    """A per-track GRU stepper for `backend` ("auto" | "numpy"); the kernels room plugs in here."""
    if backend not in ("auto", "numpy"):
        raise ValueError(f"unknown GRU backend {backend!r}: expected 'auto' or 'numpy'")
    if device != "cpu":
        raise ValueError(f"device {device!r} needs the kernels backends; the numpy stepper runs on 'cpu'")
    return NumpyGRUStepper(gru, capacity)
