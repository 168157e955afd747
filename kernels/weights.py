"""`GRUWeights`: the parameters of a (multi-layer, unidirectional) `torch.nn.GRU`, unchanged.

Gate order [r, z, n] as in torch: `w_ih` (3H, I_l), `w_hh` (3H, H), `b_ih` (3H), `b_hh` (3H).
Backends derive their own packed layouts from these (cached per backend/device/dtype, see `packed`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class GRULayer:
    """One layer's torch.nn.GRU parameters (gate order r, z, n)."""
    w_ih: torch.Tensor  # (3H, I)
    w_hh: torch.Tensor  # (3H, H)
    b_ih: torch.Tensor  # (3H,)
    b_hh: torch.Tensor  # (3H,)

    def summed_rz_bias(self) -> torch.Tensor:
        """b_ir + b_hr and b_iz + b_hz (2H,): the r/z biases may be pre-summed, b_hn may not."""
        h = self.w_hh.shape[1]
        return self.b_ih[: 2 * h] + self.b_hh[: 2 * h]


@dataclass
class GRUWeights:
    """Weights of a stacked GRU, loaded unchanged from `torch.nn.GRU` (treat as read-only).

    Backends cache derived layouts in `_packed`; call `invalidate()` after editing tensors in place.
    """
    layers: list[GRULayer]
    _packed: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if not self.layers:
            raise ValueError("GRUWeights needs at least one layer")
        h = self.hidden_size
        for k, layer in enumerate(self.layers):
            expect_in = self.input_size if k == 0 else h
            shapes = {"w_ih": (3 * h, expect_in), "w_hh": (3 * h, h), "b_ih": (3 * h,), "b_hh": (3 * h,)}
            for name, shape in shapes.items():
                got = tuple(getattr(layer, name).shape)
                if got != shape:
                    raise ValueError(f"layer {k}: {name} has shape {got}, expected {shape} "
                                     f"(input {self.input_size}, hidden {h})")

    @property
    def input_size(self) -> int:
        return self.layers[0].w_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.layers[0].w_hh.shape[1]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].w_hh.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].w_hh.device

    @classmethod
    def from_module(cls, gru: torch.nn.GRU) -> "GRUWeights":
        """Weights of a `torch.nn.GRU` (unidirectional, no projection; bias=False gives zero biases)."""
        if not isinstance(gru, torch.nn.GRU):
            raise TypeError(f"expected torch.nn.GRU, got {type(gru).__name__}")
        if gru.bidirectional:
            raise ValueError("bidirectional GRUs are not supported by the kernels")
        return cls.from_state_dict(gru.state_dict(), num_layers=gru.num_layers)

    @classmethod
    def from_state_dict(cls, sd: dict, prefix: str = "", num_layers: int | None = None) -> "GRUWeights":
        """Weights from a torch.nn.GRU state_dict; `prefix` selects a submodule (e.g. "gru.")."""
        if num_layers is None:
            num_layers = 0
            while f"{prefix}weight_ih_l{num_layers}" in sd:
                num_layers += 1
        if num_layers == 0:
            sample = ", ".join(list(sd)[:6])
            raise KeyError(f"no '{prefix}weight_ih_l0' in the state_dict (keys: {sample}...)")
        if any(k.startswith(prefix) and k.endswith("_reverse") for k in sd):
            raise ValueError("bidirectional GRUs are not supported by the kernels")
        layers = []
        for k in range(num_layers):
            try:
                w_ih = sd[f"{prefix}weight_ih_l{k}"].detach()
                w_hh = sd[f"{prefix}weight_hh_l{k}"].detach()
            except KeyError as err:
                raise KeyError(f"state_dict lacks {err.args[0]!r} (layer {k} of {num_layers})") from None
            zeros = torch.zeros(w_hh.shape[0], dtype=w_hh.dtype, device=w_hh.device)
            b_ih = sd.get(f"{prefix}bias_ih_l{k}", zeros).detach()
            b_hh = sd.get(f"{prefix}bias_hh_l{k}", zeros).detach()
            layers.append(GRULayer(w_ih, w_hh, b_ih, b_hh))
        return cls(layers)

    def to(self, device=None, dtype=None) -> "GRUWeights":
        """A copy on `device` with weight matrices in `dtype` (biases stay fp32 when dtype is half)."""
        def conv(t, is_bias):
            bias_dtype = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
            return t.to(device=device, dtype=bias_dtype if is_bias else dtype)
        return GRUWeights([GRULayer(conv(l.w_ih, False), conv(l.w_hh, False), conv(l.b_ih, True),
                                    conv(l.b_hh, True)) for l in self.layers])

    def packed(self, key, build):
        """Cached derived layout: `build(self)` runs once per `key` (backend, device, dtype...)."""
        found = self._packed.get(key)
        if found is None:
            found = self._packed[key] = build(self)
        return found

    def invalidate(self) -> None:
        """Forget cached packed layouts (after editing the weight tensors in place)."""
        self._packed.clear()
