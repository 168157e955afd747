"""k-step-ahead predictions as TUM trajectories, for the tools users already compare with (evo).

For a method, a horizon step j and a flight, the file holds one line per protocol window k: the
position predicted at grid index k for t_k + j * dt, stamped with that time (the time it predicts), and
an identity orientation; beside it the truth at the same stamps (the grid positions k + j). So
`evo_ape tum <truth> <prediction>` (no alignment) reports the method's error at that horizon: its mean
is the report's `err_by_step[j - 1]` and its RMSE `rmse_by_step[j - 1]` for that flight (tested).

File names: `<flight>__<method>__h<j>.tum` and `<flight>__truth__h<j>.tum` (method names with ':' or '/'
are written with '_').
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class TumExport:
    """Where and what to export: folder, horizon steps (1-based), methods (None: all)."""
    folder: Path
    horizons: tuple[int, ...] = (10,)
    methods: tuple[str, ...] | None = None
    rows: dict = field(default_factory=dict)     # (flight, name, j) -> list of (stamps, positions) arrays

    def __post_init__(self):
        self.folder = Path(self.folder)
        self.horizons = tuple(int(j) for j in self.horizons)
        if not self.horizons or min(self.horizons) < 1:
            raise ValueError(f"export horizons must be steps >= 1, got {self.horizons}")

    def wants(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def add(self, flight: str, segment, indices: np.ndarray, predictions: dict, std: dict | None = None) -> None:
        """One segment's windows: `predictions` {method: positions (n, H, 3) at `indices`} (`std`, the
        evaluation hook's per-method std, is not exported)."""
        times = segment.t0 + np.asarray(indices) * segment.dt
        for j in self.horizons:
            stamps = times + j * segment.dt
            self.rows.setdefault((flight, "truth", j), []).append(
                (stamps, segment.positions[np.asarray(indices) + j]))
            for name, positions in predictions.items():
                if self.wants(name) and positions.shape[1] >= j:    # VECTOR's 1 s: not beyond its steps
                    self.rows.setdefault((flight, name, j), []).append((stamps, positions[:, j - 1]))

    def write(self) -> list[Path]:
        """Write every collected trajectory; returns the paths."""
        self.folder.mkdir(parents=True, exist_ok=True)
        written = []
        for (flight, name, j), parts in sorted(self.rows.items()):
            stamps = np.concatenate([p[0] for p in parts])
            positions = np.concatenate([p[1] for p in parts])
            path = self.folder / f"{_safe(flight)}__{_safe(name)}__h{j}.tum"
            rows = np.column_stack([stamps, positions, np.zeros((len(stamps), 3)), np.ones(len(stamps))])
            np.savetxt(path, rows, fmt=["%.9f"] + ["%.9f"] * 3 + ["%.1f"] * 4,
                       header=f"timestamp tx ty tz qx qy qz qw ({name}, {j}-step-ahead, uav_traj_predictor)")
            written.append(path)
        return written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
