"""A multirotor's flight with the orientations that fly it: for the attitude input's tests (data/attitude.py)."""
import numpy as np
from scipy.spatial.transform import Rotation

G = 9.81
DT = 0.1


def weaving(mount, seconds=60.0, seed=0, dt=DT):
    """Grid positions (N, 3) whose second differences are a horizontal acceleration a (N, 3), and the body
    orientations (x, y, z, w) of a multirotor flying it with its thrust along `mount`'s body axis."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds / dt)) * dt
    freqs, phases = rng.uniform(0.1, 0.6, (3, 2)), rng.uniform(0, 2 * np.pi, (3, 2))
    a = np.stack([sum(3.0 * np.sin(2 * np.pi * freqs[i, j] * t + phases[i, j]) for i in range(3))
                  for j in range(2)] + [np.zeros_like(t)], axis=1)
    p = np.zeros_like(a)
    v = rng.normal(size=3) * 0.5
    for k in range(1, len(t)):
        v = v + a[k - 1] * dt
        p[k] = p[k - 1] + v * dt
    thrust = a + [0.0, 0.0, G]
    thrust /= np.linalg.norm(thrust, axis=1, keepdims=True)
    tilt = Rotation.concatenate([Rotation.align_vectors([z], [[0.0, 0.0, 1.0]])[0] for z in thrust])
    yaw = Rotation.from_euler("z", (rng.uniform(-np.pi, np.pi) + 0.3 * t)[:, None])
    body = tilt * yaw * mount.inv()
    return t, p, body.as_quat(), a
