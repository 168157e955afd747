"""Garbage-collector setting for a long-running prediction process (no effect on results).

A full (generation 2) collection traverses every tracked object of the process, ~200k after importing
torch and loading a model: ~100 ms on one core. Each tick's `Prediction`s that the caller keeps (the
node keeps the latest per track) are promoted to that generation, so with 1000 tracks a full collection
fires every ~150 ticks, inside whatever runs then (bench/node_latency.py: tick max ~110 ms, p50 ~3.5 ms).
`freeze_startup_heap()` after start-up moves the start-up objects out of every later collection.
"""
from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then freeze every object alive now (gc.freeze: later collections skip them; they are
    still freed when their reference count drops). Call once, after loading the model and before the first
    tick. Returns the number of frozen objects."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
