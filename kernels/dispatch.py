"""Backend choice and the public GRU API the predictor calls.

backend: "auto" (Triton on CUDA tensors, else the fastest CPU path), "triton", "torch", "numpy",
"cpu" (the fastest CPU path). The CPU choice comes from bench/kernels.py (figures in kernels/README.md);
`fused_update(n)` says when the predictor's whole update of n tracks takes the C path (kernels/fused.py).
Inputs may be numpy arrays or torch tensors; results come back in the same kind as `x`.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import cpu
from .weights import GRUWeights

BACKENDS = ("auto", "triton", "torch", "numpy", "cpu")
# Fastest CPU path by rows per call, measured with bench/kernels.py (1-1000 tracks, hidden 64-128,
# one thread; figures in kernels/README.md): numpy below these row counts, torch from them on.
CPU_STEP_TORCH_FROM = 32
CPU_SEQUENCE_TORCH_FROM = 8
# A streaming update (GRU step + head + guard) of up to this many tracks runs the C path (fused.py) in one
# call, where it is built: every n since the C path steps and predicts tracks in blocks sharing one pass over
# the weights (kernels/cstream.c BLOCK). Tick p50 through the C path / the batched calls with the guard on,
# shipped 128x1 (`bench/node_latency.py --skip-dds --crossover`, see kernels/README.md for the code it ran):
# 1 track 15 / 137 us, 16: 113 / 283, 64: 392 / 726, 128: 768 / 1247; 1000: 8.2 / 9.2 ms.
CPU_FUSED_UP_TO = math.inf


def _is_cuda(x) -> bool:
    return isinstance(x, torch.Tensor) and x.is_cuda


def fastest_cpu(kind: str, n: int) -> str:
    """"numpy" or "torch": the faster CPU path for a step / sequence over n tracks."""
    threshold = CPU_SEQUENCE_TORCH_FROM if kind == "sequence" else CPU_STEP_TORCH_FROM
    return "torch" if n >= threshold else "numpy"


def fused_update(n: int) -> bool:
    """Whether a CPU streaming update of n tracks should take the C path (fused.py) over batched calls (every n
    unless CPU_FUSED_UP_TO is lowered, as the crossover benchmark and the equivalence tests do)."""
    return n <= CPU_FUSED_UP_TO


def resolve_backend(backend: str, on_cuda: bool, kind: str = "step", n: int = 1) -> str:
    """The concrete backend ("triton" | "torch" | "numpy") for a call of `kind` over n rows."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto" and on_cuda:
        return "triton"
    if backend in ("auto", "cpu"):
        return fastest_cpu(kind, n)
    return backend


def _as_tensor(a, device=None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t.to(device) if device is not None else t


def _like_input(result, x):
    """Convert a result back to the kind (numpy / torch) of the caller's input."""
    if isinstance(x, torch.Tensor):
        return torch.from_numpy(result) if isinstance(result, np.ndarray) else result
    return result if isinstance(result, np.ndarray) else result.detach().cpu().numpy()


def gru_sequence(x, weights: GRUWeights, h0=None, backend: str = "auto", dtype: torch.dtype | None = None,
                 allow_tf32: bool = True):
    """Multi-layer GRU forward: x (B, T, I) -> (out (B, T, H), h_n (L, B, H)), fp32 results.

    `dtype` (Triton only) casts the weights (fp32/fp16/bf16, fp32 accumulation); `allow_tf32`
    lets fp32 weights use TF32 tensor cores on the GPU (as cuDNN does by default).
    """
    if getattr(x, "ndim", None) != 3 or x.shape[2] != weights.input_size:
        raise ValueError(f"x must be (B, T, {weights.input_size}), got {tuple(getattr(x, 'shape', ()))}")
    expect_h0 = (weights.num_layers, x.shape[0], weights.hidden_size)
    if h0 is not None and tuple(h0.shape) != expect_h0:
        raise ValueError(f"h0 must be {expect_h0} (layers, batch, hidden), got {tuple(h0.shape)}")
    name = resolve_backend(backend, _is_cuda(x), "sequence", x.shape[0])
    if name == "numpy":
        xn = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
        h0n = h0.detach().cpu().numpy() if isinstance(h0, torch.Tensor) else h0
        out, h_n = cpu.gru_sequence_numpy(xn, weights, h0n)
    elif name == "torch":
        out, h_n = cpu.gru_sequence_torch(_as_tensor(x), weights, None if h0 is None else _as_tensor(h0))
    else:
        from .triton_sequence import gru_sequence_triton
        xt = _as_tensor(x)
        out, h_n = gru_sequence_triton(xt, weights, None if h0 is None else _as_tensor(h0, xt.device),
                                       dtype=dtype, allow_tf32=allow_tf32)
    return _like_input(out, x), _like_input(h_n, x)


def gru_step(x, h, weights: GRUWeights, index=None, backend: str = "auto", out=None,
             dtype: torch.dtype | None = None, allow_tf32: bool = True):
    """Advance tracks one step, in place on `h` (L, N, H) float32: x (n, I) for the rows in `index`
    (n,) (unique), or for all N rows without it. Returns the top layer's new h (n, H) (into `out`),
    in the kind of `x`. A CUDA `h` runs Triton (auto); a numpy or CPU-tensor `h` the CPU paths, which
    work on shared-memory views of it.
    """
    if h.dtype not in (np.float32, torch.float32) or tuple(h.shape[::2]) != (weights.num_layers,
                                                                             weights.hidden_size):
        raise ValueError(f"h must be float32 ({weights.num_layers}, N, {weights.hidden_size}), "
                         f"got {h.dtype} {tuple(h.shape)}")
    name = resolve_backend(backend, _is_cuda(h), "step", x.shape[0])
    if name == "triton":
        from .triton_step import gru_step_triton
        return _like_input(gru_step_triton(_as_tensor(x, h.device), h, weights, index=index, out=out,
                                           dtype=dtype, allow_tf32=allow_tf32), x)
    if name == "numpy" and _is_cuda(h):
        raise ValueError("backend 'numpy' cannot advance a CUDA state; use 'auto', 'triton' or 'torch'")
    if name == "numpy":
        hn = h if isinstance(h, np.ndarray) else h.detach().numpy()
        xs = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
        idx = index.cpu().numpy() if isinstance(index, torch.Tensor) else index
        outn = None if out is None else (out if isinstance(out, np.ndarray) else out.numpy())
        res = cpu.gru_step_cpu(np.asarray(xs, np.float32), hn, cpu.numpy_layers(weights), cpu.NumpyCell(),
                               idx, outn)
        return _like_input(res, x)
    ht = torch.from_numpy(h) if isinstance(h, np.ndarray) else h
    idx = None if index is None else torch.as_tensor(index, device=ht.device)
    res = cpu.gru_step_cpu(_as_tensor(x, ht.device).float(), ht, cpu.torch_layers(weights, ht.device),
                           cpu.TorchCell(), idx, None if out is None else _as_tensor(out))
    return _like_input(res, x)


def _in_range(idx: np.ndarray, capacity: int) -> bool:
    """All of the 1-D int indices in [0, capacity) (a plain loop for a few: cheaper than two reductions)."""
    if len(idx) > 8:
        return bool(idx.min() >= 0 and idx.max() < capacity)
    for i in idx.tolist():
        if not 0 <= i < capacity:
            return False
    return True


class GRUStepper:
    """Stateful streaming GRU over a bank of tracks: state (L, capacity, H) float32.

    step(x (n, I), index (n,)) advances the tracks in `index` one sample each, in place, and returns
    their top-layer h (n, H) in the kind of `x` (numpy or torch). Capacity grows on demand.
    On the CPU ("auto"/"cpu") the state is a numpy array and each call takes the faster path for its
    n (numpy for a few tracks, torch on a shared-memory view beyond). On CUDA (backend "triton"),
    pass device tensors (and `out`) for a sync-free, allocation-free call that a CUDA graph can
    capture; device indices are not bounds-checked (that would sync with the host).
    """

    def __init__(self, weights: GRUWeights, capacity: int = 64, backend: str = "auto", device="cpu",
                 dtype: torch.dtype | None = None, allow_tf32: bool = True):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.weights = weights
        self._input_size = weights.input_size
        self.device = torch.device(device)
        on_cuda = self.device.type == "cuda"
        self.backend = "cpu" if (backend == "cpu" or (backend == "auto" and not on_cuda)) else (
            "triton" if backend == "auto" else backend)
        if self.backend == "triton" and not on_cuda:
            from .triton_common import interpreting
            if not interpreting():
                raise ValueError("backend 'triton' needs a CUDA device (or TRITON_INTERPRET=1)")
        if self.backend in ("numpy", "cpu") and on_cuda:
            raise ValueError(f"backend {self.backend!r} runs on the CPU, not {self.device}")
        self.dtype, self.allow_tf32 = dtype, allow_tf32
        self._cells = {"numpy": (cpu.numpy_layers(weights), cpu.NumpyCell()),
                       "torch": (cpu.torch_layers(weights, self.device), cpu.TorchCell())}
        self._workspace = None
        self._set_state(self._zeros(max(1, int(capacity))))

    def _zeros(self, capacity: int):
        shape = (self.weights.num_layers, capacity, self.weights.hidden_size)
        if self.backend in ("numpy", "cpu"):
            return np.zeros(shape, np.float32)
        return torch.zeros(shape, dtype=torch.float32, device=self.device)

    def _set_state(self, state) -> None:
        self.state = state
        # the torch path works on a shared-memory view of a numpy state
        self._torch_state = torch.from_numpy(state) if isinstance(state, np.ndarray) else state
        if self.backend == "triton":
            from .triton_step import step_workspace
            self._workspace = step_workspace(self.weights.num_layers, self.capacity, self.weights.hidden_size,
                                             self.device)

    @property
    def capacity(self) -> int:
        return self.state.shape[1]

    def ensure_capacity(self, capacity: int) -> None:
        """Grow the state to hold at least `capacity` tracks (doubling; existing rows kept)."""
        if capacity <= self.capacity:
            return
        grown = self._zeros(max(int(capacity), 2 * self.capacity))
        grown[:, :self.capacity] = self.state
        self._set_state(grown)

    def _index(self, index):
        """Index as int64 (numpy on the CPU, a tensor on the device); host-side indices are
        bounds-checked, device ones are trusted."""
        if index is None:
            index = np.arange(self.capacity)
        if isinstance(index, torch.Tensor) and index.device.type != "cpu":
            return index
        idx = np.asarray(index.cpu().numpy() if isinstance(index, torch.Tensor) else index, dtype=np.int64)
        if idx.ndim != 1:
            raise ValueError(f"index must be 1-D, got shape {idx.shape}")
        if idx.size and not _in_range(idx, self.capacity):
            raise IndexError(f"track index out of range [0, {self.capacity}): min {idx.min()}, max {idx.max()}")
        if self.backend == "triton":
            return torch.from_numpy(idx).to(self.device, non_blocking=True)
        return idx

    def step(self, x, index=None, out=None):
        """Advance the tracks in `index` (n,) by one input row each (x (n, I)); returns top h (n, H).

        index None means every track (n == capacity)."""
        idx = self._index(index)
        if x.shape[0] != idx.shape[0] or x.shape[-1] != self._input_size:
            raise ValueError(f"x must be ({idx.shape[0]}, {self.weights.input_size}), got {tuple(x.shape)}")
        path = fastest_cpu("step", len(idx)) if self.backend == "cpu" else self.backend
        if path == "numpy":
            xs = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
            layers, cell = self._cells["numpy"]
            rows = idx if len(idx) != 1 else slice(idx.item(), idx.item() + 1)   # one track: a view, no gather
            res = cpu.gru_step_cpu(np.asarray(xs, np.float32), self.state, layers, cell, rows,
                                   None if out is None else np.asarray(out))
        elif path == "torch":
            layers, cell = self._cells["torch"]
            tidx = torch.as_tensor(idx, device=self.device)
            res = cpu.gru_step_cpu(_as_tensor(x, self.device).float(), self._torch_state, layers, cell, tidx,
                                   None if out is None else _as_tensor(out))
        else:
            from .triton_step import gru_step_triton
            res = gru_step_triton(_as_tensor(x, self.device), self.state, self.weights, index=idx, out=out,
                                  dtype=self.dtype, allow_tf32=self.allow_tf32, workspace=self._workspace)
        return _like_input(res, x)

    def reset(self, index=None) -> None:
        """Zero the hidden state of the tracks in `index` (all when None)."""
        if index is None:
            self.state[...] = 0
        else:
            self.state[:, self._index(index)] = 0
