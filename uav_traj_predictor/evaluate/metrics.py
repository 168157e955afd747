"""Per-window errors and their summaries (metres), vectorised over windows.

`score_windows` turns predictions and truth into `WindowScores` (one row per window); scores of
files concatenate into groups and the pooled set, so every summary is window-weighted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class WindowScores:
    """Per-window, per-step quantities: 3D error, and for predictions with std the fractions of the three
    per-axis errors inside 1 and 2 std, the mean per-axis Gaussian NLL and the NEES (sum over the axes of
    (e / std)^2: the normalised estimation error squared of the diagonal covariance, 3 on average when
    calibrated)."""
    errors: np.ndarray                  # (n, H) Euclidean error per horizon step, m
    within_1sigma: np.ndarray | None    # (n, H) fraction of the 3 per-axis errors with |e| <= std
    within_2sigma: np.ndarray | None    # (n, H) ... with |e| <= 2 std
    nll: np.ndarray | None              # (n, H) mean over the axes of the Gaussian NLL
    nees: np.ndarray | None = None      # (n, H) sum over the axes of (e / std)^2

    def __len__(self) -> int:
        return len(self.errors)

    @property
    def has_std(self) -> bool:
        return self.nll is not None

    @staticmethod
    def concat(parts: list[WindowScores]) -> WindowScores:
        """Scores of several window sets as one (std metrics kept only if every part has them)."""
        parts = [part for part in parts if part is not None]
        if not parts:
            raise ValueError("WindowScores.concat needs at least one part")
        parts = [part for part in parts if len(part)] or parts[:1]   # empty sets carry no std flag
        with_std = all(part.has_std for part in parts)

        def stack(name):
            return np.concatenate([getattr(part, name) for part in parts]) if with_std else None
        return WindowScores(np.concatenate([part.errors for part in parts]),
                            stack("within_1sigma"), stack("within_2sigma"), stack("nll"), stack("nees"))


def score_windows(predicted: np.ndarray, truth: np.ndarray, std: np.ndarray | None = None) -> WindowScores:
    """Score (n, H, 3) predicted positions against (n, H, 3) truth, with optional (n, H, 3) std > 0."""
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    if predicted.shape != truth.shape or predicted.ndim != 3 or predicted.shape[2] != 3:
        raise ValueError(f"predictions {predicted.shape} and truth {truth.shape} must both be (n, H, 3)")
    if not np.isfinite(predicted).all():
        bad = int(np.flatnonzero(~np.isfinite(predicted).all(axis=(1, 2)))[0])
        raise ValueError(f"non-finite predicted positions (first at window {bad} of {len(predicted)})")
    residual = predicted - truth
    errors = np.linalg.norm(residual, axis=2)
    if std is None:
        return WindowScores(errors, None, None, None)
    std = np.asarray(std, np.float64)
    if std.shape != predicted.shape:
        raise ValueError(f"std {std.shape} must have the shape of the predictions {predicted.shape}")
    if not (np.isfinite(std).all() and (std > 0).all()):
        raise ValueError("predicted std must be finite and > 0 everywhere")
    z = np.abs(residual) / std
    nll = 0.5 * LOG_2PI + np.log(std) + 0.5 * z**2
    return WindowScores(errors, (z <= 1.0).mean(axis=2), (z <= 2.0).mean(axis=2), nll.mean(axis=2),
                        (z**2).sum(axis=2))


def summarise(scores: WindowScores, short_steps: int = 5, leads: dict[str, int] | None = None,
              horizon: int | None = None) -> dict:
    """Metrics of a set of windows: windows, ade, fde, ade_0p5 (first `short_steps` steps), err_by_step,
    rmse_by_step (root mean square of the 3D error per step),
    miss_rate_0p5m / miss_rate_1m (share of windows whose final error exceeds 0.5 m / 1 m), and with std
    coverage_1sigma, coverage_2sigma, nll, nees (mean), coverage_1sigma_by_step, coverage_2sigma_by_step,
    nees_by_step. `leads` (key suffix -> horizon step, `Protocol.lead_steps`) adds ade_<key> (mean error over
    steps 1..step) and fde_<key> (mean error at that step) for each lead the scores reach. Scores shorter than
    `horizon` (a method that predicts fewer steps than the protocol's horizon, such as VECTOR's 1 s) keep only
    those per-lead figures, the per-step lists and `horizon_steps`: their whole-horizon figures (ade, fde, miss
    rates, coverage, nll, nees) would not compare with the others'. Empty sets give windows 0."""
    count = len(scores)
    if count == 0:
        return {"windows": 0}
    errors = scores.errors
    steps = errors.shape[1]
    per_lead = {}
    for key, step in (leads or {}).items():
        if step <= steps:
            per_lead[f"ade_{key}"] = float(errors[:, :step].mean())
            per_lead[f"fde_{key}"] = float(errors[:, step - 1].mean())
    if horizon is not None and steps < horizon:
        partial = {"windows": int(count), "horizon_steps": int(steps), **per_lead,
                   "err_by_step": [float(e) for e in errors.mean(axis=0)],
                   "rmse_by_step": [float(e) for e in np.sqrt((errors ** 2).mean(axis=0))]}
        if steps >= short_steps:
            partial["ade_0p5"] = float(errors[:, :short_steps].mean())
        if scores.has_std:
            partial["coverage_1sigma_by_step"] = [float(c) for c in scores.within_1sigma.mean(axis=0)]
            partial["coverage_2sigma_by_step"] = [float(c) for c in scores.within_2sigma.mean(axis=0)]
        return partial
    summary = {
        "windows": int(count),
        "ade": float(errors.mean()),
        "fde": float(errors[:, -1].mean()),
        "ade_0p5": float(errors[:, :short_steps].mean()),
        "err_by_step": [float(e) for e in errors.mean(axis=0)],
        "rmse_by_step": [float(e) for e in np.sqrt((errors ** 2).mean(axis=0))],
        "miss_rate_0p5m": float((errors[:, -1] > 0.5).mean()),
        "miss_rate_1m": float((errors[:, -1] > 1.0).mean()),
        **per_lead,
    }
    if scores.has_std:
        summary["coverage_1sigma"] = float(scores.within_1sigma.mean())
        summary["coverage_2sigma"] = float(scores.within_2sigma.mean())
        summary["nll"] = float(scores.nll.mean())
        summary["coverage_1sigma_by_step"] = [float(c) for c in scores.within_1sigma.mean(axis=0)]
        summary["coverage_2sigma_by_step"] = [float(c) for c in scores.within_2sigma.mean(axis=0)]
        if scores.nees is not None:
            summary["nees"] = float(scores.nees.mean())
            summary["nees_by_step"] = [float(v) for v in scores.nees.mean(axis=0)]
    return summary
