"""How much the vehicle's attitude could add to 1 s prediction: a linear probe, not the product.

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/attitude_probe.py /work/shared/flights/uzh_fpv \
        [/work/shared/flights/blackbird ...] [--perturb rate=20,noise=0.01] [--attitude-noise 1.0] [--seed 0]

A multirotor accelerates along its thrust axis: the horizontal acceleration it is about to fly is visible in its
tilt before it shows in the positions (nav_msgs/Odometry and PoseStamped carry the orientation; the product
reads positions only). Per folder, leave one flight out: two ridge regressions predict the 10 future positions
(1 s at 10 Hz) as constant velocity plus a learned correction, in the frame of the current horizontal
velocity, from (a) the last 6 grid velocities and (b) those plus the attitude-implied horizontal
acceleration at the last two grid stamps. The thrust axis in the body frame is not assumed (EuRoC's pose is
its IMU's, Blackbird's is FRD): it is the product's causal estimate (data/attitude.py: the running mean of
R_k^T (a_k + g) / |a_k + g| over the grid accelerations seen so far), and the implied acceleration is
g * t_xy / t_z with t = R_k u. `--perturb` is evaluate's measurement model (data/perturb.py:
orientations follow their rows, untouched); `--attitude-noise DEG` rotates each orientation by white noise of
that many degrees per axis. The grid interpolates across outages: measure without `gaps` / `dropout`. Prints
CV, probe (a), probe (b) and (b) / (a) per folder: (b) / (a) is what the attitude adds to the same learner; the
GRU is a stronger learner than (a), so the ratio is a lead, not a forecast of the product's figure.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from uav_traj_predictor.data.attitude import grid_orientations, segment_attitude
from uav_traj_predictor.data.perturb import Perturbation, perturb_flight
from uav_traj_predictor.data.readers import read_flight

DT = 0.1
HORIZON = 10
HISTORY = 6
RIDGE = 1e-2


def gridded(flight, attitude_noise_deg: float, rng: np.random.Generator):
    """Measured positions and attitude-implied horizontal accelerations on a 10 Hz grid (1 s trimmed each end): the
    product's own estimate (data/attitude.py; its availability check is not applied: the probe reads the value)."""
    p, attitude = attitude_grid(flight, attitude_noise_deg, rng)
    return p, attitude[:, :2]


def attitude_grid(flight, attitude_noise_deg: float = 0.0, rng: np.random.Generator | None = None):
    """The grid positions (M, 3) of `gridded` and the estimate's (implied x, implied y, available) (M, 3) at each grid
    sample (row 0: none); also bench/attitude_residuals.py's grid."""
    t = flight.t
    grid = np.arange(t[0] + 1.0, t[-1] - 1.0, DT)
    p = np.stack([np.interp(grid, t, flight.p[:, i]) for i in range(3)], axis=1)
    orientations = grid_orientations(t, flight.q, grid)
    if attitude_noise_deg > 0:
        noisy = Rotation.from_quat(orientations) * Rotation.from_rotvec(
            np.radians(attitude_noise_deg) * rng.standard_normal((len(grid), 3)))
        orientations = [tuple(row) for row in noisy.as_quat().tolist()]
    attitude = segment_attitude(np.diff(p, axis=0) / DT, orientations, DT)   # row r: grid sample r + 1
    return p, np.vstack([np.zeros((1, 3)), attitude])


def samples(p, implied, use_attitude: bool):
    velocity = np.vstack([np.zeros((1, 3)), np.diff(p, axis=0) / DT])
    steps = np.arange(1, HORIZON + 1)[:, None] * DT
    features, targets, frames = [], [], []
    for k in range(HISTORY + 20, len(p) - HORIZON):
        v = velocity[k]
        speed = np.hypot(v[0], v[1])
        c, s = (v[0] / speed, v[1] / speed) if speed > 1e-3 else (1.0, 0.0)
        rz = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        row = [rz @ velocity[k - j] for j in range(HISTORY)]
        if use_attitude:
            row += [rz @ np.array([*implied[k - j], 0.0]) for j in range(2)]
        features.append(np.concatenate(row))
        cv = p[k] + steps * v
        targets.append((rz @ (p[k + 1:k + HORIZON + 1] - cv).T).T.ravel())
        frames.append((rz, cv, p[k + 1:k + HORIZON + 1]))
    return np.array(features), np.array(targets), frames


def lofo(data, use_attitude: bool) -> tuple[float, float, int]:
    """(probe ADE, CV ADE, windows) over every held-out flight's windows."""
    errors, cv_errors = [], []
    for held in range(len(data)):
        train = [samples(*data[j], use_attitude) for j in range(len(data)) if j != held]
        x = np.vstack([np.hstack([f, np.ones((len(f), 1))]) for f, _, _ in train])
        y = np.vstack([t for _, t, _ in train])
        weights = np.linalg.solve(x.T @ x + RIDGE * len(x) * np.eye(x.shape[1]), x.T @ y)
        features, _, frames = samples(*data[held], use_attitude)
        corrections = np.hstack([features, np.ones((len(features), 1))]) @ weights
        for (rz, cv, truth), correction in zip(frames, corrections):
            predicted = cv + (rz.T @ correction.reshape(HORIZON, 3).T).T
            errors.append(np.linalg.norm(predicted - truth, axis=1).mean())
            cv_errors.append(np.linalg.norm(cv - truth, axis=1).mean())
    return float(np.mean(errors)), float(np.mean(cv_errors)), len(errors)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--perturb", default="", help="measurement model (uav-traj evaluate --perturb syntax)")
    parser.add_argument("--attitude-noise", type=float, default=0.0, metavar="DEG")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    perturbation = Perturbation.parse(args.perturb)
    if perturbation.gaps > 0 or perturbation.dropout > 0:
        parser.error("the probe's grid interpolates across outages: measure without gaps / dropout")
    print("| folder | measurement | windows | CV | probe: velocities | probe: + attitude | ratio |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for folder in args.folders:
        files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix in (".txt", ".csv"))
        flights = [perturb_flight(read_flight(path), perturbation, args.seed) for path in files]
        flights = [flight for flight in flights if flight.q is not None]
        if len(flights) < 2:
            print(f"| {folder.name} | needs two flights with orientations, has {len(flights)} | | | | | |")
            continue
        rng = np.random.default_rng(args.seed)
        data = [gridded(flight, args.attitude_noise, rng) for flight in flights]
        velocity_only, cv, windows = lofo(data, False)
        with_attitude, _, _ = lofo(data, True)
        label = perturbation.label() + (f", attitude {args.attitude_noise:g} deg" if args.attitude_noise else "")
        print(f"| {folder.name} | {label} | {windows} | {cv:.3f} | {velocity_only:.3f} | {with_attitude:.3f} | "
              f"{with_attitude / velocity_only:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
