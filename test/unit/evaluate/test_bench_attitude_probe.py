"""bench/attitude_probe.py: the causal thrust-axis estimate finds a mounted body frame by itself (EuRoC's pose is
its IMU's, Blackbird's FRD), so the attitude-implied acceleration is the flown one; where the attitude carries the
manoeuvre, the probe with it beats the probe without."""
import numpy as np
from scipy.spatial.transform import Rotation

from helpers import load_bench
from uav_traj_predictor.data import Flight

probe = load_bench("attitude_probe")
G = 9.81


def weaving(name, mount, seconds=60.0, rate=100.0, seed=0):
    """A flight whose horizontal acceleration follows a random smooth signal, its attitude the thrust axis (yaw
    random) seen through a fixed body mount."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    freqs, phases = rng.uniform(0.1, 0.6, (3, 2)), rng.uniform(0, 2 * np.pi, (3, 2))
    a = np.stack([sum(3.0 * np.sin(2 * np.pi * freqs[i, j] * t + phases[i, j]) for i in range(3))
                  for j in range(2)] + [np.zeros_like(t)], axis=1)
    v = np.cumsum(a, axis=0) / rate
    v -= v.mean(axis=0)
    p = np.cumsum(v, axis=0) / rate
    thrust = a + [0.0, 0.0, G]
    thrust /= np.linalg.norm(thrust, axis=1, keepdims=True)
    tilt, _ = zip(*(Rotation.align_vectors([z], [[0.0, 0.0, 1.0]]) for z in thrust))
    yaw = Rotation.from_euler("z", (rng.uniform(-np.pi, np.pi) + 0.3 * t)[:, None])
    body = Rotation.concatenate(tilt) * yaw * mount.inv()         # the pose is the mounted frame's
    return Flight(name, "", t, p, q=body.as_quat()), a


def test_the_thrust_axis_is_found_through_any_mount():
    for mount in (Rotation.identity(), Rotation.from_euler("xyz", [180, 0, 0], degrees=True),
                  Rotation.from_euler("xyz", [0, 90, 90], degrees=True)):
        flight, a = weaving("f", mount)
        p, implied = probe.gridded(flight, 0.0, np.random.default_rng(0))
        grid = np.arange(flight.t[0] + 1.0, flight.t[-1] - 1.0, probe.DT)
        truth = np.stack([np.interp(grid, flight.t, a[:, i]) for i in range(2)], axis=1)
        late = slice(50, None)                                    # after 5 s of running mean
        assert np.sqrt(np.mean((implied[late] - truth[late]) ** 2)) < 0.1 * np.sqrt(np.mean(truth[late] ** 2))


def test_the_attitude_helps_the_probe_where_it_carries_the_manoeuvre():
    mount = Rotation.from_euler("xyz", [0, 90, 90], degrees=True)
    data = [probe.gridded(weaving(f"f{i}", mount, seed=i)[0], 0.0, np.random.default_rng(i)) for i in range(3)]
    velocity_only, cv, _ = probe.lofo(data, False)
    with_attitude, _, _ = probe.lofo(data, True)
    assert with_attitude < 0.8 * velocity_only < 0.8 * cv
