"""What the attitude input misses: per flight, the residual of the attitude-implied horizontal acceleration.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/attitude_residuals.py /work/shared/flights [/tmp/sim ...]

The product's input (data/attitude.py) is g * t_xy / t_z with t the estimated thrust axis: exact for a vehicle
without drag whose vertical acceleration is zero. Per flight (10 Hz grid of the flight's positions, 1 s trimmed each
end, the grid samples where the estimate's check has the input on) this prints, against the flown horizontal
acceleration a_xy (central second difference):
  * rms of (implied - a_xy): the error the network sees;
  * a least-squares fit implied = gain * a_xy + drag * v_xy + bias (pooled axes): the linear drag left after the
    thrust-axis estimate absorbed the mean tilt of steady flight, and the rms left by that fit;
  * rms of (implied * (a_z + g) / g - a_xy), a_z the flown vertical acceleration: the part of the error from
    assuming a_z = 0, and the same with a_z one grid step late (what a causal estimate would know).
Speeds (horizontal p50 / p95) show where drag would matter. A diagnostic for the input's next refinements (drag,
vertical acceleration), not the product's figure; the flights given are read as they are (no perturbation).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from attitude_probe import DT, attitude_grid          # the probe's grid and estimate (bench/ is the script's path)

from uav_traj_predictor.data.attitude import G
from uav_traj_predictor.data.readers import read_flight


def residuals(flight) -> dict | None:
    p, attitude = attitude_grid(flight)                                 # row k: grid sample k
    implied, on = attitude[:, :2], attitude[:, 2] == 1
    v = np.zeros_like(p)
    v[1:-1] = (p[2:] - p[:-2]) / (2 * DT)
    a = np.zeros_like(p)
    a[1:-1] = (p[2:] - 2 * p[1:-1] + p[:-2]) / DT ** 2
    late = np.zeros_like(a)
    late[2:] = a[1:-1]
    rows = np.flatnonzero(on[1:-1]) + 1
    if len(rows) < 50:
        return None
    i, flown, velocity = implied[rows], a[rows, :2], v[rows, :2]
    design = np.column_stack([flown.ravel(), velocity.ravel(), np.ones(flown.size)])
    fit, *_ = np.linalg.lstsq(design, i.ravel(), rcond=None)
    rms = lambda e: float(np.sqrt(np.mean(np.square(e))))               # noqa: E731
    speed = np.hypot(*velocity.T)
    return {"on": len(rows) / max(1, len(p) - 2), "rms": rms(i - flown), "gain": fit[0], "drag": fit[1],
            "fit_rms": rms(i.ravel() - design @ fit),
            "vertical_rms": rms(i * (a[rows, 2:] + G) / G - flown),
            "vertical_late_rms": rms(i * (late[rows, 2:] + G) / G - flown),
            "speed": (float(np.median(speed)), float(np.percentile(speed, 95)))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print("| flight | input on | rms implied - flown (m/s²) | fit: gain / drag (1/s) / rms | with a_z: rms / "
          "one step late | speed p50 / p95 (m/s) |\n|---|---:|---:|---|---|---|")
    for folder in args.folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".txt", ".csv")):
            flight = read_flight(path)
            row = residuals(flight) if flight.q is not None else None
            if row is None:
                print(f"| {path.parent.name}/{path.stem} | off or no orientations | | | | |")
                continue
            print(f"| {path.parent.name}/{path.stem} | {100 * row['on']:.0f} % | {row['rms']:.2f} | "
                  f"{row['gain']:.2f} / {row['drag']:.3f} / {row['fit_rms']:.2f} | {row['vertical_rms']:.2f} / "
                  f"{row['vertical_late_rms']:.2f} | {row['speed'][0]:.1f} / {row['speed'][1]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
