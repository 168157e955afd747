"""VECTOR's released velocity checkpoints as an evaluation method (the published anchor).

Network (read from the state_dict): encoder GRU (3 -> H, L layers); its final hidden state
initialises a decoder GRU fed zeros for `horizon` steps; Linear(H, 3) maps each decoder output to a
normalised velocity. Input: the last `history` grid velocities, normalised with the set's
`<set>__vel_stats.npz`: "max" divides by `max_velocity`; "white" maps v -> (v - input_mean) @ L.T
(`L_matrix`), inverted on the outputs. Output velocities are Euler-integrated from p_k.
All windows of a segment go through torch in batched calls (no per-window loop). The released models
predict 1 s (10 steps, `TRAINED_STEPS`); under a longer protocol horizon they still predict 10 steps and are
scored over those only (`max_horizon`, evaluate.runner.method_horizon).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .methods import VECTOR_PREFIX as PREFIX
from .methods import MethodUnavailable, SegmentPrediction
from .protocol import Protocol

MODULE_NAMES = (("encoder", "decoder", "fc"), ("gru1", "gru2", "fc"))
BATCH_WINDOWS = 8192
TRAINED_STEPS = 10     # VECTOR's released models were trained for 10 output steps (1 s at 10 Hz): never more


class VectorFormatError(ValueError):
    """A VECTOR checkpoint or its statistics file does not have the expected layout."""


class VectorNormaliser:
    """The "max" or "white" velocity normalisation of one training set."""

    def __init__(self, kind: str, stats_path: Path):
        try:
            stats = np.load(stats_path)
            self.max_velocity = float(stats["max_velocity"])
            self.mean = np.asarray(stats["input_mean"], np.float64).reshape(3)
            self.factor = np.asarray(stats["L_matrix"], np.float64).reshape(3, 3).T
        except (OSError, KeyError, ValueError) as err:
            raise VectorFormatError(f"{stats_path}: cannot read VECTOR velocity statistics "
                                    f"(max_velocity, input_mean, L_matrix): {err}") from None
        if kind not in ("max", "white"):
            raise VectorFormatError(f"unknown VECTOR normalisation {kind!r}")
        self.kind = kind
        self.inverse = np.linalg.inv(self.factor)

    def forward(self, velocities: np.ndarray) -> np.ndarray:
        if self.kind == "max":
            return velocities / self.max_velocity
        return (velocities - self.mean) @ self.factor

    def backward(self, normalised: np.ndarray) -> np.ndarray:
        if self.kind == "max":
            return normalised * self.max_velocity
        return normalised @ self.inverse + self.mean


class VectorNetwork(torch.nn.Module):
    """Encoder GRU -> decoder GRU on zeros -> Linear, sizes inferred from a VECTOR state_dict."""

    def __init__(self, state_dict: dict, source: str = "state_dict"):
        super().__init__()
        names = next((n for n in MODULE_NAMES if f"{n[0]}.weight_ih_l0" in state_dict
                      and f"{n[1]}.weight_ih_l0" in state_dict and f"{n[2]}.weight" in state_dict), None)
        if names is None:
            raise VectorFormatError(f"{source}: not a VECTOR encoder/decoder GRU state_dict "
                                    f"(keys: {', '.join(sorted(state_dict)[:6])}, ...)")
        self.encoder = _gru_from(state_dict, names[0], source)
        self.decoder = _gru_from(state_dict, names[1], source)
        head = state_dict[f"{names[2]}.weight"]
        self.fc = torch.nn.Linear(head.shape[1], head.shape[0])
        try:
            self.fc.load_state_dict({"weight": head, "bias": state_dict[f"{names[2]}.bias"]})
        except (KeyError, RuntimeError) as err:
            raise VectorFormatError(f"{source}: bad output layer: {err}") from None
        if self.encoder.input_size != 3 or self.fc.out_features != 3 \
                or self.decoder.num_layers != self.encoder.num_layers \
                or self.decoder.hidden_size != self.encoder.hidden_size:
            raise VectorFormatError(f"{source}: encoder/decoder/output sizes do not fit together")
        self.eval()

    @property
    def size(self) -> str:
        return f"{self.encoder.hidden_size}x{self.encoder.num_layers}"

    def forward(self, inputs: torch.Tensor, steps: int) -> torch.Tensor:
        """(n, T, 3) normalised velocities -> (n, steps, 3) normalised future velocities."""
        _, hidden = self.encoder(inputs)
        zeros = inputs.new_zeros(inputs.shape[0], steps, self.decoder.input_size)
        outputs, _ = self.decoder(zeros, hidden)
        return self.fc(outputs)


def _gru_from(state_dict: dict, prefix: str, source: str) -> torch.nn.GRU:
    weights = {k[len(prefix) + 1:]: v for k, v in state_dict.items() if k.startswith(prefix + ".")}
    layers = sum(1 for k in weights if k.startswith("weight_ih_l"))
    hidden = weights["weight_hh_l0"].shape[1]
    gru = torch.nn.GRU(weights["weight_ih_l0"].shape[1], hidden, layers, batch_first=True)
    try:
        gru.load_state_dict(weights)
    except RuntimeError as err:
        raise VectorFormatError(f"{source}: {prefix} is not a {hidden}x{layers} GRU: {err}") from None
    return gru


class VectorCheckpoint:
    """One released VECTOR velocity checkpoint `<set>__<name>.pth` with its `<set>__vel_stats.npz`."""

    def __init__(self, path, protocol: Protocol = Protocol()):
        path = Path(path)
        self.name = PREFIX + path.stem
        self.history, self.horizon = protocol.history, min(protocol.horizon, TRAINED_STEPS)
        self.max_horizon = TRAINED_STEPS     # a longer protocol horizon scores it over its 1 s (evaluate.runner)
        kind = "max" if "max_norm" in path.stem else "white" if "white_norm" in path.stem else None
        if kind is None or "__" not in path.stem:
            raise VectorFormatError(f"{path}: name must look like <set>__<...>_vel_(max|white)_norm_...")
        self.normaliser = VectorNormaliser(kind, path.with_name(path.stem.split("__")[0] + "__vel_stats.npz"))
        try:
            state_dict = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as err:  # torch raises many types for corrupt or unsafe files
            raise VectorFormatError(f"{path}: cannot load as a weights-only state_dict: {err}") from None
        self.network = VectorNetwork(state_dict, str(path))
        self.source = str(path)

    def describe(self) -> str:
        return (f"VECTOR {self.network.size} GRU, {self.normaliser.kind} normalisation, "
                f"{self.history} velocities in, {self.horizon} out, Euler-integrated")

    def predict_segment(self, segment) -> SegmentPrediction:
        p, dt = np.asarray(segment.positions, np.float64), float(segment.dt)
        out = np.full((len(p), self.horizon, 3), np.nan)
        if len(p) <= self.history:
            return SegmentPrediction(out)
        velocities = np.diff(p, axis=0) / dt
        windows = np.lib.stride_tricks.sliding_window_view(velocities, self.history, axis=0)
        inputs = self.normaliser.forward(windows.transpose(0, 2, 1))      # row i -> k = i + history
        future = np.concatenate([self._run(inputs[i:i + BATCH_WINDOWS])
                                 for i in range(0, len(inputs), BATCH_WINDOWS)])
        out[self.history:] = p[self.history:, None] + np.cumsum(future, axis=1) * dt
        return SegmentPrediction(out)

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            normalised = self.network(torch.as_tensor(inputs, dtype=torch.float32), self.horizon)
        return self.normaliser.backward(normalised.double().numpy())


def vector_methods(directory, protocol: Protocol = Protocol(), notes: list[str] | None = None) -> dict:
    """`vector:<stem>` -> VectorCheckpoint for every velocity `*.pth` in `directory` (sorted).

    Position-input checkpoints are skipped with a note; a missing or empty directory raises
    MethodUnavailable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MethodUnavailable(f"--vector {directory}: not a directory")
    methods = {}
    for path in sorted(directory.glob("*.pth")):
        if "_vel_" not in path.stem:
            if notes is not None:
                notes.append(f"skipping {path.name}: not a velocity-input VECTOR checkpoint")
            continue
        method = VectorCheckpoint(path, protocol)
        methods[method.name] = method
    if not methods:
        raise MethodUnavailable(f"--vector {directory}: no VECTOR velocity checkpoints (*_vel_*.pth) there")
    return methods
