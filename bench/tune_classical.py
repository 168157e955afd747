"""Choose the defaults of the adaptive classical baselines ("akf", "imm" in `uav-traj evaluate`) on
simulated flights only: the dynamic simulator's families and the kinematic mixture, each flight seen
through a sensor of the training measurement mixture (sim/noise.py SENSOR_MIXTURE), seeds disjoint from
training. Never on the real flights, so the baselines the model is compared with are not tuned on the
figures they are compared on (unlike the hindsight-tuned anchors of ../shared/notes/classical-anchors.md).

Score of a configuration: the geometric mean over flights of ADE / constant-velocity ADE (every flight
counts equally, whatever its speed or noise), under the evaluation protocol (10 Hz grid, 2 s history,
1 s horizon, truth = the measured future).

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/tune_classical.py [--flights 24] [--seed 4242]
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from uav_traj_predictor.data import Flight
from uav_traj_predictor.data.perturb import perturb_flight
from uav_traj_predictor.evaluate.baselines import ConstantVelocity
from uav_traj_predictor.evaluate.imm import IMMPredictor
from uav_traj_predictor.evaluate.runner import evaluate_flight
from uav_traj_predictor.sim import generate_flights
from uav_traj_predictor.sim.kinematic import FINE_DT, kinematic_paths
from uav_traj_predictor.sim.noise import draw_perturbation


def flights(count: int, duration: float, seed: int) -> list[tuple[str, Flight]]:
    """Half dynamic simulator, half kinematic, each through one random sensor of the mixture."""
    rng = np.random.default_rng([seed, 11])
    out = []
    for index, flight in enumerate(generate_flights(count // 2, duration, seed=seed, rate=100.0, noise="none")):
        sensor, perturbation = draw_perturbation(rng, 100.0)
        out.append((sensor, perturb_flight(flight, perturbation, rng=rng)))
    for index, (t, p) in enumerate(kinematic_paths(count - count // 2, duration, seed=seed)):
        sensor, perturbation = draw_perturbation(rng, 1.0 / FINE_DT)
        out.append((sensor, perturb_flight(Flight(f"kinematic{index}", "", t, p), perturbation, rng=rng)))
    return out


def constant_velocity_ades(sets) -> list[float | None]:
    """Each flight's constant-velocity ADE (None: no window), the denominator of `score`."""
    out = []
    for _, flight in sets:
        scores = evaluate_flight(flight, {"cv": ConstantVelocity()})["cv"]
        out.append(float(scores.errors.mean()) if len(scores) else None)
    return out


def score(method, sets, cv_ades) -> tuple[float, dict]:
    ratios, by_sensor = [], {}
    for (sensor, flight), cv in zip(sets, cv_ades):
        scores = evaluate_flight(flight, {"m": method})["m"]
        if len(scores) == 0 or cv is None:
            continue
        ratio = float(scores.errors.mean()) / cv
        ratios.append(np.log(ratio))
        by_sensor.setdefault(sensor, []).append(np.log(ratio))
    return float(np.exp(np.mean(ratios))), {k: float(np.exp(np.mean(v))) for k, v in sorted(by_sensor.items())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flights", type=int, default=24)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sets = flights(args.flights, args.duration, args.seed)
    cv_ades = constant_velocity_ades(sets)
    print(f"# {len(sets)} simulated flights x {args.duration:g} s, seed {args.seed}; score = geometric mean "
          f"of ADE / CV ADE per flight (lower is better)")
    grids = {
        "akf cv": [dict(modes=("cv",), q_accel=q, sigma_floor=f) for q, f in itertools.product(
            (0.1, 0.3, 1.0, 3.0, 10.0, 30.0), (0.001, 0.002, 0.005))],
        "akf ca": [dict(modes=("ca",), q_jerk=q, sigma_floor=f) for q, f in itertools.product(
            (0.1, 0.3, 1.0, 3.0, 10.0, 30.0), (0.0005, 0.001, 0.002, 0.005))],
        "imm": [dict(modes=("cv", "ca"), q_accel=a, q_jerk=j, p_stay=s, sigma_floor=f) for a, j, s, f in
                itertools.product((0.03, 0.1, 0.3, 1.0), (3.0, 10.0, 30.0, 100.0), (0.9, 0.95, 0.99),
                                  (0.001, 0.003, 0.01))],
    }
    for family, configs in grids.items():
        results = []
        for config in configs:
            value, by_sensor = score(IMMPredictor(**config, adaptive=True), sets, cv_ades)
            results.append((value, config, by_sensor))
        results.sort(key=lambda row: row[0])
        print(f"\n## {family}: best 5 of {len(configs)}")
        for value, config, by_sensor in results[:5]:
            sensors = ", ".join(f"{k} {v:.3f}" for k, v in by_sensor.items())
            shown = {k: v for k, v in config.items() if k != "modes"}
            print(f"{value:.4f}  {shown}  ({sensors})")
    print(f"\n# {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
