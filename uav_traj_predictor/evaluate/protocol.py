"""The evaluation protocol: how flights become scored prediction windows (see docs/evaluation.md).

Per flight, `data.preprocess` (gaps > max_gap split segments, linear resampling at `rate` from each
segment's first stamp). In a segment of M grid positions a window sits at every index k with
k >= history (that many velocities behind it) and k + horizon <= M - 1 (a full horizon ahead);
the prediction made at k may use positions[:k+1] only, its truth is positions[k+1 .. k+horizon].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..data import PreprocessConfig
from ..data.windows import window_indices as data_window_indices

ADE_SHORT_SECONDS = 0.5   # `ade_0p5`: ADE over the steps whose lead time is <= 0.5 s
LEAD_SECONDS = (0.5, 1.0, 2.0, 3.0)   # lead times of the per-lead figures (`ade_1s`, `fde_1s`, ...)


def lead_label(seconds: float) -> str:
    """Key suffix of a lead time: 0.5 -> "0p5" (as in `ade_0p5`), 1.0 -> "1s", 2.0 -> "2s"."""
    return f"{seconds:g}s" if float(seconds).is_integer() else f"{seconds:g}".replace(".", "p")


@dataclass(frozen=True)
class Protocol:
    """Windowing and preprocessing settings; recorded verbatim in the JSON report."""
    history: int = 20        # velocities needed before a window (k >= history)
    horizon: int = 10        # predicted grid steps (truth positions[k+1..k+horizon])
    rate: float = 10.0       # grid rate, Hz
    max_gap: float = 0.2     # gaps above this (s) split a flight into segments
    velocity_source: str = "pose"   # the model's grid velocities: "pose" differences or measured "twist"

    def __post_init__(self):
        if self.history < 1 or self.horizon < 1:
            raise ValueError(f"Protocol needs history >= 1 and horizon >= 1, got {self.history}, {self.horizon}")
        self.preprocess_config()  # validates rate, gap and velocity source

    @property
    def dt(self) -> float:
        return 1.0 / self.rate

    @property
    def short_steps(self) -> int:
        """Number of horizon steps with lead time <= 0.5 s (at least 1, at most horizon)."""
        return int(min(self.horizon, max(1, np.floor(ADE_SHORT_SECONDS * self.rate + 1e-9))))

    @property
    def lead_steps(self) -> dict[str, int]:
        """Per-lead figures the horizon covers: key suffix -> horizon step of that lead time ({"0p5": 5,
        "1s": 10, "2s": 20, "3s": 30} at 10 Hz and a 30-step horizon; a lead needs a whole grid step)."""
        leads = {}
        for seconds in LEAD_SECONDS:
            steps = seconds * self.rate
            if abs(steps - round(steps)) < 1e-9 and 1 <= round(steps) <= self.horizon:
                leads[lead_label(seconds)] = int(round(steps))
        return leads

    def preprocess_config(self) -> PreprocessConfig:
        return PreprocessConfig(rate=self.rate, max_gap=self.max_gap, velocity_source=self.velocity_source)

    def to_dict(self) -> dict:
        """The protocol as recorded under "protocol" in the JSON report."""
        return {
            **asdict(self),
            "dt": self.dt,
            "interpolation": "linear, grid t0 + k*dt from each segment's first stamp",
            "window_rule": "k >= history and k + horizon <= M - 1, per segment of M grid samples",
            "truth": "positions[k+1 .. k+horizon]; the prediction at k sees positions[:k+1] only",
            "ade_0p5_steps": self.short_steps,
            "lead_steps": self.lead_steps,
            "leads": "ade_<lead> = mean 3D error over the steps with lead time <= <lead>, fde_<lead> = the mean 3D "
                     "error at that lead time (0p5 = 0.5 s, 1s, 2s, 3s where the horizon covers them); a method "
                     "that predicts fewer steps than the horizon (VECTOR: 1 s) is scored on the same windows over "
                     "the steps it predicts, with only the per-lead figures it covers",
            "coverage": "fraction of per-axis errors |e| <= n * predicted per-axis std (n = 1, 2), "
                        "over windows, steps and axes",
            "nll": "Gaussian negative log-likelihood per step per axis, "
                   "0.5*log(2*pi*std^2) + 0.5*(e/std)^2, averaged",
            "pooling": "groups and pooled are window-weighted (means over all their windows)",
        }


def window_indices(length: int, protocol: Protocol = Protocol()) -> np.ndarray:
    """Grid indices k of the protocol's windows in a segment of `length` samples (possibly empty): the
    rule of `data.windows.window_indices` with the protocol's history and horizon."""
    return data_window_indices(length, protocol.history, protocol.horizon)


def truth_windows(positions: np.ndarray, indices: np.ndarray, horizon: int) -> np.ndarray:
    """(n, horizon, 3) true future positions positions[k+1 .. k+horizon] for each k in `indices`."""
    return positions[np.asarray(indices)[:, None] + np.arange(1, horizon + 1)]
