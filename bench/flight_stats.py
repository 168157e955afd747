"""Motion statistics of simulated flights vs the real flights in ../shared/flights.

    .venv/bin/python bench/flight_stats.py [--flights 24] [--duration 60] [--seed 0] [--plot docs/img/flight_stats.png]

Every flight (real or simulated with mocap noise at 100 Hz) goes through the evaluation's `preprocess`
(10 Hz grid, linear interpolation of the raw samples, split at gaps > 0.2 s, no smoothing), so the
statistics are those of what the model sees. On the grid (dt = 0.1 s):
speed |v| with v = diff(p)/dt; acceleration |a| with a = diff(v)/dt; jerk |diff(a)/dt|; curvature
|v x a| / |v|^3 at samples faster than 0.5 m/s (1/m). Each row pools all grid samples of its group.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from uav_traj_predictor.data import read_flights
from uav_traj_predictor.sim import FAMILIES, generate_flights
from uav_traj_predictor.sim.stats import QUANTITIES, pooled_motion

REPO = Path(__file__).resolve().parents[1]
FLIGHTS = REPO.parent / "shared" / "flights"
REAL_GROUPS = ("euroc", "uzh_fpv", "blackbird")


def summary(values: np.ndarray) -> str:
    if len(values) == 0:
        return f"{'-':>27}"
    return (f"{values.mean():6.2f} {np.percentile(values, 50):6.2f} {np.percentile(values, 95):6.2f} "
            f"{values.max():7.2f}")


def print_table(groups: dict[str, dict[str, np.ndarray]]) -> None:
    head = " | ".join(f"{name} ({unit}) mean/p50/p95/max" for name, unit in QUANTITIES)
    print(f"| group | grid samples | {head} |")
    print("|---|---:|" + "---|" * len(QUANTITIES))
    for label, stats in groups.items():
        cells = " | ".join(summary(stats[name]) for name, _ in QUANTITIES)
        print(f"| {label} | {len(stats['speed'])} | {cells} |")


def plot(groups: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(QUANTITIES), figsize=(18, 4.2))
    for ax, (name, unit) in zip(axes, QUANTITIES):
        for label, stats in groups.items():
            values = np.sort(stats[name])
            if len(values) == 0:
                continue
            real = label.startswith("real")
            ax.plot(np.maximum(values, 1e-3), np.linspace(0, 1, len(values)), lw=2.2 if real else 1.2,
                    ls="-" if real else "--", label=label)
        ax.set_xscale("log")
        ax.set_xlabel(f"{name} ({unit}), 10 Hz grid")
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("real flights (solid) vs simulated families (dashed)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"plot written to {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flights", type=int, default=24, help="simulated flights per family")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "img" / "flight_stats.png")
    args = parser.parse_args()
    if not FLIGHTS.is_dir():
        print(f"real flights not found at {FLIGHTS}", file=sys.stderr)
        return 1
    groups = {}
    for group in REAL_GROUPS:
        groups[f"real {group}"] = pooled_motion(read_flights(FLIGHTS / group))
    sim_all = []
    for name in FAMILIES:
        flights = generate_flights(args.flights, args.duration, seed=args.seed, families=[name], noise="mocap")
        groups[f"sim {name}"] = pooled_motion(flights)
        sim_all.append(groups[f"sim {name}"])
    groups["sim all"] = {k: np.concatenate([g[k] for g in sim_all]) for k, _ in QUANTITIES}
    print(f"# {os.path.basename(__file__)} --flights {args.flights} --duration {args.duration:g} --seed {args.seed}")
    print_table(groups)
    plot(groups, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
