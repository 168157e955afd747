"""The seam between the predictor and the GRU kernels: per-track hidden state advanced in place.

`make_stepper(gru, capacity, backend, device)` wraps `uav_traj_predictor.kernels.GRUStepper`
(`step(x, index) -> top hidden`, `reset(index)`, `ensure_capacity(n)`); backends "auto" | "numpy" |
"torch" | "triton" | "cpu" as the kernels define them (numpy float32 on a CPU by default);
`fused_plan` builds the C path (kernels/fused.py) over the same weights; `fused_update(n)` says when to use it.
"""
from __future__ import annotations

from torch import nn

from ..kernels import GRUStepper, GRUWeights
from ..kernels.dispatch import fused_update   # noqa: F401  (when the predictor takes the C path)
from ..kernels.fused import plan as fused_plan   # noqa: F401  (the predictor's C path)


def make_stepper(gru: nn.GRU, capacity: int, backend: str = "auto", device: str = "cpu") -> GRUStepper:
    """A per-track stepper over the weights of `gru` (state (layers, capacity, hidden) float32)."""
    return GRUStepper(GRUWeights.from_module(gru), capacity=capacity, backend=backend, device=device)
