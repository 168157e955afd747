"""The fused CPU path (any number of tracks): the C extension `_cstream` (kernels/cstream.c), when it was built.

`plan(spec)` packs a model's exported semantics (`model.spec.ModelSpec`: features, the attitude input's
scales included, the GRU in the numpy step layouts of kernels/cpu.py, a two-layer tanh MLP head and its
post-processing constants) into a
`_cstream.Plan`, whose `advance` steps and predicts n tracks in one call on the predictor's state object
(a one-track tick: 8.7 us vs 39 us through
numpy, `bench/node_latency.py --crossover`). None when the extension is missing (no C compiler at build
time): callers then use the numpy path, with the same results to float32 rounding (tests).
"""
from __future__ import annotations

import numpy as np

from .cpu import numpy_layers

try:
    from ._cstream import Plan
except ImportError:          # built without a C compiler: the numpy path runs instead
    Plan = None


def available() -> bool:
    return Plan is not None


def plan(spec):
    """A `_cstream.Plan` of a `model.spec.ModelSpec` (anything with its fields), or None without the
    extension."""
    if Plan is None:
        return None
    layers = [(layer.w_step, layer.b_step) for layer in numpy_layers(spec.gru)]
    f32 = lambda a: np.ascontiguousarray(a, np.float32)    # noqa: E731
    f64 = lambda a: np.ascontiguousarray(a, np.float64)    # noqa: E731
    head = (spec.w1, spec.b1, spec.w2, spec.b2)
    post = (spec.head_low, spec.head_high, spec.log_residual_scale, spec.head_scale, spec.speed_edges,
            spec.speed_factor)
    interval = "interval" in getattr(spec, "feature_groups", ())
    attitude = getattr(spec, "inv_attitude_scale", None)       # None: no attitude input
    return Plan(layers, f32(spec.inv_feature_scale), spec.noise_norm, interval, [f32(a) for a in head],
                [f64(a) for a in post], float(spec.dt), attitude=None if attitude is None else f32(attitude))
