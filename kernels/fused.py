"""The fused CPU path for a few tracks: the C extension `_cstream` (kernels/cstream.c), when it was built.

`plan(weights, inv_scale, head, post, dt)` packs a GRU (the numpy step layouts of kernels/cpu.py) and a
two-layer tanh MLP head with its post-processing constants into a `_cstream.Plan`, whose `advance` steps
and predicts n tracks in one call on the caller's numpy arrays (a one-track tick: 8.7 us vs 39 us through
numpy, `bench/node_latency.py --crossover`). None when the extension is missing (no C compiler at build
time): callers then use the numpy path, with the same results to float32 rounding (tests).
"""
from __future__ import annotations

import numpy as np

from .cpu import numpy_layers
from .weights import GRUWeights

try:
    from ._cstream import Plan
except ImportError:          # built without a C compiler: the numpy path runs instead
    Plan = None


def available() -> bool:
    return Plan is not None


def plan(weights: GRUWeights, inv_scale, head, post, dt: float):
    """A `_cstream.Plan` (or None without the extension). head: (w1 (H, M), b1, w2 (M, 6S), b2) float32;
    post: (low, high (6S,), log_residual_scale (3S,), head_scale (6S,), edges (E,), speed_factor (E+1, 3S))."""
    if Plan is None:
        return None
    layers = [(layer.w_step, layer.b_step) for layer in numpy_layers(weights)]
    f32 = lambda a: np.ascontiguousarray(a, np.float32)
    f64 = lambda a: np.ascontiguousarray(a, np.float64)
    return Plan(layers, f32(inv_scale), [f32(a) for a in head], [f64(a) for a in post], float(dt))
