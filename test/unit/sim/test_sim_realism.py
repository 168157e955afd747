"""Generated motion vs the real flights (10 Hz grid statistics, as in bench/flight_stats.py).

Each real dataset has the family that models it; the family must land near the dataset (EuRoC) or cover
it (UZH-FPV, Blackbird) in speed and acceleration, and all families together must reach every dataset's
extremes. Catches a tuning change that moves the synthetic data away from what the model is judged on.
"""
from functools import cache

import numpy as np
import pytest

from uav_traj_predictor.data import read_flights
from uav_traj_predictor.sim import generate_flights
from uav_traj_predictor.sim.stats import pooled_motion


@cache
def real_stats(folder):
    return pooled_motion(read_flights(folder))


@cache
def sim_stats(family):
    return pooled_motion(generate_flights(6, 60.0, seed=0, families=[family], noise="mocap"))


def p95(values):
    return float(np.percentile(values, 95))


def test_hover_dash_matches_euroc(flights_dir):
    real, sim = real_stats(flights_dir / "euroc"), sim_stats("hover_dash")
    assert 0.6 < sim["speed"].mean() / real["speed"].mean() < 1.6
    assert 0.6 < p95(sim["speed"]) / p95(real["speed"]) < 1.6
    assert 0.6 < p95(sim["accel"]) / p95(real["accel"]) < 1.8


def test_racing_covers_uzh_fpv(flights_dir):
    real, sim = real_stats(flights_dir / "uzh_fpv"), sim_stats("racing")
    assert 0.7 < sim["speed"].mean() / real["speed"].mean() < 2.0
    assert p95(sim["speed"]) >= p95(real["speed"])
    assert p95(sim["accel"]) >= p95(real["accel"])
    assert sim["speed"].max() >= real["speed"].max()


def test_clover_brackets_blackbird(flights_dir):
    real, sim = real_stats(flights_dir / "blackbird"), sim_stats("clover")
    assert 0.6 < sim["speed"].mean() / real["speed"].mean() < 1.6
    assert 0.8 < p95(sim["speed"]) / p95(real["speed"]) < 2.0
    assert 0.8 < p95(sim["accel"]) / p95(real["accel"]) < 2.0


@pytest.mark.parametrize("dataset", ["euroc", "uzh_fpv", "blackbird"])
def test_families_together_reach_the_real_extremes(flights_dir, dataset):
    real = real_stats(flights_dir / dataset)
    sims = [sim_stats(family) for family in ("hover_dash", "racing", "clover")]
    assert max(s["speed"].max() for s in sims) >= real["speed"].max()
    assert max(p95(s["accel"]) for s in sims) >= p95(real["accel"])
