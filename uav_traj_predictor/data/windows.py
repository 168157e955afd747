"""Training windows over resampled segments, and train/val/test splits by flight (never by window)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .preprocess import Segment


@dataclass
class Windows:
    """N windows: window i is made at grid index `index[i]` of segment `segment[i]` (protocol rows).

    inputs: (N, history, 3) velocities ending at the window's grid sample (the model input);
    targets: (N, horizon, 3) the next `horizon` velocities; last_positions: (N, 3) position at the
    window's sample; future_positions: (N, horizon, 3) the positions the targets integrate to.
    """
    inputs: np.ndarray
    targets: np.ndarray
    last_positions: np.ndarray
    future_positions: np.ndarray
    segment: np.ndarray
    index: np.ndarray
    dt: float

    def __len__(self) -> int:
        return len(self.inputs)

    def to_torch(self, dtype=None):
        """(inputs, targets) as torch tensors (float32 unless dtype is given)."""
        import torch
        dtype = dtype or torch.float32
        return torch.as_tensor(self.inputs, dtype=dtype), torch.as_tensor(self.targets, dtype=dtype)


def _segment_windows(segment: Segment, history: int, horizon: int, stride: int):
    """Window arrays of one segment, all at once with strided views (no Python loop per window)."""
    velocities = segment.velocities                       # row i = (p[i+1] - p[i]) / dt
    length = history + horizon
    if len(velocities) < length:
        return None
    views = sliding_window_view(velocities, length, axis=0)[::stride]   # (W, 3, length)
    views = np.moveaxis(views, 2, 1)                                    # (W, length, 3)
    index = np.arange(history, len(velocities) - horizon + 1)[::stride]  # grid index k of each window
    future = sliding_window_view(segment.positions[1:], horizon, axis=0)[history::][::stride]
    return (views[:, :history], views[:, history:], segment.positions[index],
            np.moveaxis(future, 2, 1), index)


def make_windows(segments: Sequence[Segment], history: int = 20, horizon: int = 10,
                 stride: int = 1) -> Windows:
    """Windows at every grid index k with k >= history and k + horizon <= M - 1 (every `stride`-th).

    Inputs are the `history` velocities v[k-history..k-1] (v[i] = (p[i+1]-p[i])/dt), targets the
    next `horizon` velocities v[k..k+horizon-1], so positions[k+j] = positions[k] + dt*cumsum(targets).
    """
    if history < 1 or horizon < 1 or stride < 1:
        raise ValueError(f"make_windows needs history, horizon, stride >= 1, got {history}, {horizon}, {stride}")
    dts = {segment.dt for segment in segments}
    if len(dts) > 1:
        raise ValueError(f"segments have different grid steps {sorted(dts)}; resample them alike")
    parts = [(i, w) for i, segment in enumerate(segments)
             if (w := _segment_windows(segment, history, horizon, stride)) is not None]
    if not parts:
        empty = np.zeros((0, 3))
        return Windows(np.zeros((0, history, 3)), np.zeros((0, horizon, 3)), empty,
                       np.zeros((0, horizon, 3)), np.zeros(0, int), np.zeros(0, int),
                       dts.pop() if dts else float("nan"))
    inputs, targets, last, future, index = (np.concatenate(arrays) for arrays in zip(*(w for _, w in parts)))
    segment_ids = np.concatenate([np.full(len(w[4]), i) for i, w in parts])
    return Windows(np.ascontiguousarray(inputs), np.ascontiguousarray(targets), last,
                   np.ascontiguousarray(future), segment_ids, index, dts.pop())


def split_by_flight(flights: Sequence, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                    seed: int = 0) -> list[list]:
    """Split items (Flights, Segments or names) into len(fractions) groups by flight name.

    All items with the same `name` (a flight's segments) land in the same group, so no flight leaks
    across splits. Group sizes follow `fractions` in number of flights (largest remainder); a
    nonzero fraction gets at least one flight while there are enough. Reproducible per seed.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or len(fractions) == 0 or (fractions < 0).any() or fractions.sum() <= 0:
        raise ValueError(f"fractions must be non-negative with a positive sum, got {fractions.tolist()}")
    names = list(dict.fromkeys(getattr(item, "name", item) for item in flights))
    order = np.random.default_rng(seed).permutation(len(names))
    counts = _allocate(len(names), fractions / fractions.sum())
    group_of = {}
    start = 0
    for group, count in enumerate(counts):
        for position in order[start:start + count]:
            group_of[names[position]] = group
        start += count
    groups: list[list] = [[] for _ in fractions]
    for item in flights:
        groups[group_of[getattr(item, "name", item)]].append(item)
    return groups


def _allocate(total: int, shares: np.ndarray) -> list[int]:
    """Integer counts summing to total, proportional to shares, each nonzero share >= 1 if possible."""
    raw = shares * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    for i in np.flatnonzero((shares > 0) & (counts == 0)):
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[i] += 1
    return counts.tolist()
