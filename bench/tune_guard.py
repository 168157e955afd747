"""Choose the guard's classical partner (model/guard.py PARTNER_DEFAULTS) on simulated flights only: the same
flights as bench/tune_classical.py (the dynamic simulator's families and the kinematic mixture, each seen
through a random sensor of the training measurement mixture, seeds disjoint from training). The score is
the *guarded model's*: the geometric mean over flights of its ADE / constant-velocity ADE (evaluation
protocol: 10 Hz grid, 2 s history, 1 s horizon, truth = the measured future), so a partner is judged by
what the blend gains, not by its own error (a filter that errs differently from the network helps the
blend even where it is worse alone).

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/tune_guard.py [--flights 24] [--seed 4242] \
        [--checkpoint CKPT]
"""
from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from uav_traj_predictor.core.imm import IMM_DEFAULTS, FilterConfig
from uav_traj_predictor.evaluate.methods import ModelMethod

HERE = Path(__file__).resolve().parent


def load_tune_classical():
    import importlib.util
    spec = importlib.util.spec_from_file_location("tune_classical", HERE / "tune_classical.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flights", type=int, default=24)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--checkpoint")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tune_classical = load_tune_classical()
    sets = tune_classical.flights(args.flights, args.duration, args.seed)
    cv_ades = tune_classical.constant_velocity_ades(sets)
    print(f"# {len(sets)} simulated flights x {args.duration:g} s, seed {args.seed}; score = geometric mean of the "
          f"guarded model's ADE / CV ADE per flight (lower is better); 'network' = guard 0")
    candidates = {"network": None}
    for floor, jerk in itertools.product((0.001, 0.003, 0.01, 0.02), (3.0, 10.0)):
        candidates[f"floor {floor:g}, q_jerk {jerk:g}"] = dict(IMM_DEFAULTS, sigma_floor=floor, q_jerk=jerk)
    results = []
    for name, config in candidates.items():
        options = {"guard": 0.0} if config is None else {"guard_partner": FilterConfig(**config)}
        value, by_sensor = tune_classical.score(ModelMethod(args.checkpoint, **options), sets, cv_ades)
        sensors = ", ".join(f"{k} {v:.3f}" for k, v in by_sensor.items())
        results.append((value, name))
        print(f"{value:.4f}  {name}  ({sensors})", flush=True)
    best = min(result for result in results if result[1] != "network")
    print(f"\n# best partner: {best[1]} ({best[0]:.4f}); {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
