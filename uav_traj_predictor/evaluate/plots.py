"""PNG figures of an evaluation (matplotlib, Agg backend): error and calibration vs horizon, example windows."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

from .methods import VECTOR_PREFIX as PREFIX  # noqa: E402


def plot_error_vs_horizon(report: dict, path) -> Path:
    """Mean 3D error per horizon step for every method: pooled and one panel per group."""
    dt = report["protocol"]["dt"]
    scopes = [("pooled", report["pooled"])] + list(report["groups"].items())
    fig, axes = plt.subplots(1, len(scopes), figsize=(4.2 * len(scopes), 3.8), squeeze=False)
    for axis, (title, entries) in zip(axes[0], scopes):
        for name, summary in entries.items():
            if summary.get("windows", 0):
                steps = [dt * (j + 1) for j in range(len(summary["err_by_step"]))]
                axis.plot(steps, summary["err_by_step"], marker=".", label=_short(name))
        axis.set(title=f"{title} ({_windows(entries)} windows)", xlabel="lead time [s]", ylabel="mean 3D error [m]")
        axis.grid(alpha=0.3)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def plot_calibration_vs_horizon(report: dict, path) -> Path:
    """Per-axis 1-sigma / 2-sigma coverage and NEES per horizon step for every method with std, pooled and
    per group (dashed lines: the Gaussian targets 68.3 %, 95.4 % and NEES 3)."""
    dt = report["protocol"]["dt"]
    scopes = [("pooled", report["pooled"])] + list(report["groups"].items())
    fig, axes = plt.subplots(2, len(scopes), figsize=(4.2 * len(scopes), 6.4), squeeze=False)
    for column, (title, entries) in enumerate(scopes):
        top, bottom = axes[0][column], axes[1][column]
        for name, summary in entries.items():
            if summary.get("windows", 0) and "coverage_1sigma_by_step" in summary:
                steps = [dt * (j + 1) for j in range(len(summary["coverage_1sigma_by_step"]))]
                line, = top.plot(steps, summary["coverage_1sigma_by_step"], marker=".", label=_short(name))
                top.plot(steps, summary["coverage_2sigma_by_step"], marker=".", color=line.get_color(), alpha=0.6)
                if "nees_by_step" in summary:
                    bottom.plot(steps, summary["nees_by_step"], marker=".", color=line.get_color())
        for level in (0.6827, 0.9545):
            top.axhline(level, color="0.5", linestyle="--", linewidth=0.8)
        bottom.axhline(3.0, color="0.5", linestyle="--", linewidth=0.8)
        top.set(title=f"{title}", ylabel="per-axis coverage (1σ, 2σ)", ylim=(0, 1.02))
        bottom.set(xlabel="lead time [s]", ylabel="NEES (3-D, diagonal)", yscale="log")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def plot_examples(examples: dict, report: dict, folder) -> list[Path]:
    """Per group, a few windows top-down (x-y): history, truth and each shown method's path;
    methods with std draw their 1-sigma x-y ellipses. VECTOR is shown by its best pooled checkpoint."""
    shown = _shown_methods(report)
    written = []
    for group, windows in examples.items():
        if not windows:
            continue
        fig, axes = plt.subplots(1, len(windows), figsize=(4.5 * len(windows), 4.2), squeeze=False)
        for axis, window in zip(axes[0], windows):
            _draw_window(axis, window, shown)
            axis.set_title(f"{group}, k = {window['k']}", fontsize=9)
        axes[0][0].legend(fontsize=7)
        written.append(_save(fig, Path(folder) / f"examples_{_slug(group)}.png"))
    return written


def write_plots(report: dict, examples: dict, folder) -> list[Path]:
    """All figures into `folder` (created): error_vs_horizon.png, calibration_vs_horizon.png and
    examples_<group>.png."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [plot_error_vs_horizon(report, folder / "error_vs_horizon.png"),
            plot_calibration_vs_horizon(report, folder / "calibration_vs_horizon.png"),
            *plot_examples(examples, report, folder)]


def _draw_window(axis, window: dict, shown: list[str]) -> None:
    history, truth = window["history"], window["truth"]
    now = history[-1:, :2]                       # every future path starts at p_k
    axis.plot(history[:, 0], history[:, 1], color="0.6", marker=".", label="history")
    axis.plot(*np.vstack([now, truth[:, :2]]).T, color="k", marker="o", markersize=3, label="truth")
    for name in shown:
        if name not in window["predictions"]:
            continue
        positions, std = window["predictions"][name]
        line, = axis.plot(*np.vstack([now, positions[:, :2]]).T, marker=".", label=_short(name))
        if std is not None:
            for centre, sigma in zip(positions, std):
                axis.add_patch(Ellipse(centre[:2], 2 * sigma[0], 2 * sigma[1], color=line.get_color(), alpha=0.12))
    axis.set(xlabel="x [m]", ylabel="y [m]")
    axis.set_aspect("equal", adjustable="datalim")
    axis.grid(alpha=0.3)


def _shown_methods(report: dict) -> list[str]:
    pooled = report["pooled"]
    names = [name for name in pooled if not name.startswith(PREFIX)]
    vectors = [name for name in pooled if name.startswith(PREFIX) and pooled[name].get("windows", 0)]
    if vectors:
        names.append(min(vectors, key=lambda name: pooled[name]["ade"]))
    return names


def _windows(entries: dict) -> int:
    return max((summary.get("windows", 0) for summary in entries.values()), default=0)


def _short(name: str) -> str:
    return name.replace("_dataset__", ":").replace("_0p5", "") if name.startswith(PREFIX) else name


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _save(fig, path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
