"""evaluate.imm: the IMM / Kalman baselines against a plain textbook loop, the project's KF, the
published classical anchors, and the protocol's no-future-leak rule."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from uav_traj_predictor.evaluate.baselines import KalmanCA
from uav_traj_predictor.evaluate.imm import IMMPredictor, adaptive_imm, adaptive_kalman

DT, H = 0.1, 10


def segment(seed=0, count=80, sigma=0.02):
    rng = np.random.default_rng(seed)
    t = np.arange(count) * DT
    truth = np.column_stack([3 * np.cos(0.7 * t), 2 * np.sin(1.1 * t), 0.5 * t])
    noise = np.abs(rng.normal(sigma, 0.002, count))
    return SimpleNamespace(positions=truth + rng.normal(0, sigma, (count, 3)), dt=DT, noise=noise)


def reference_imm(z, r, q_a, q_j, p_stay, init=(5.0, 10.0), horizon=H):
    """Bar-Shalom's IMM written out per step with explicit inverses and scipy's Gaussian pdf."""
    d = DT
    f_cv = np.array([[1, d, 0], [0, 1, 0], [0, 0, 0.0]])
    f_ca = np.array([[1, d, d * d / 2], [0, 1, d], [0, 0, 1.0]])
    q_cv = q_a * np.array([[d**3 / 3, d**2 / 2, 0], [d**2 / 2, d, 0], [0, 0, 0]])
    q_ca = q_j * np.array([[d**5 / 20, d**4 / 8, d**3 / 6], [d**4 / 8, d**3 / 3, d**2 / 2], [d**3 / 6, d**2 / 2, d]])
    F = [np.kron(f, np.eye(3)) for f in (f_cv, f_ca)]
    Q = [np.kron(q, np.eye(3)) for q in (q_cv, q_ca)]
    Hm = np.hstack([np.eye(3), np.zeros((3, 6))])
    Pi = np.array([[p_stay, 1 - p_stay], [1 - p_stay, p_stay]])
    x = [np.concatenate([z[0], np.zeros(6)])] * 2
    P = [np.diag([r[0]] * 3 + [init[0] ** 2] * 3 + [init[1] ** 2] * 3)] * 2
    mu = np.array([0.5, 0.5])
    out = []
    for k in range(len(z)):
        if k:
            c = Pi.T @ mu
            w = np.array([[Pi[i, j] * mu[i] / c[j] for j in range(2)] for i in range(2)])
            x0 = [w[0, j] * x[0] + w[1, j] * x[1] for j in range(2)]
            P0 = [sum(w[i, j] * (P[i] + np.outer(x[i] - x0[j], x[i] - x0[j])) for i in range(2)) for j in range(2)]
            like = []
            for j in range(2):
                xp, Pp = F[j] @ x0[j], F[j] @ P0[j] @ F[j].T + Q[j]
                S = Hm @ Pp @ Hm.T + r[k] * np.eye(3)
                K = Pp @ Hm.T @ np.linalg.inv(S)
                like.append(multivariate_normal(Hm @ xp, S).pdf(z[k]))
                x[j] = xp + K @ (z[k] - Hm @ xp)
                P[j] = (np.eye(9) - K @ Hm) @ Pp
            mu = c * np.array(like)
            mu = mu / mu.sum()
        forecast = np.zeros((horizon, 3))
        for j in range(2):
            xf = x[j].copy()
            for step in range(horizon):
                xf = F[j] @ xf
                forecast[step] += mu[j] * xf[:3]
        out.append(forecast)
    return np.array(out)


def test_imm_equals_a_plain_textbook_loop():
    seg = segment()
    r = seg.noise ** 2 + 0.002 ** 2
    expected = reference_imm(seg.positions, r, q_a=10.0, q_j=1000.0, p_stay=0.95)
    got = IMMPredictor(q_accel=10.0, q_jerk=1000.0, p_stay=0.95, sigma_floor=0.002).predict_segment(seg)
    np.testing.assert_allclose(got.positions, expected, rtol=0, atol=1e-9)
    assert np.isfinite(got.std).all() and (got.std > 0).all()


def test_one_ca_mode_equals_the_projects_constant_acceleration_kalman_filter():
    seg = segment(seed=1)
    kf = KalmanCA(horizon=H).predict_segment(seg)            # q 50, r 1e-4, P0 diag(r, 10, 100)
    one = IMMPredictor(modes=("ca",), q_jerk=50.0, sigma=0.01, adaptive=False,
                       init_velocity_std=math.sqrt(10.0), init_accel_std=10.0).predict_segment(seg)
    np.testing.assert_allclose(one.positions, kf.positions, atol=1e-9)
    np.testing.assert_allclose(one.std, kf.std, rtol=1e-7)


def test_adaptive_noise_follows_the_segment_and_later_samples_never_leak():
    seg = segment(seed=2)
    method = adaptive_imm()
    base = method.predict_segment(seg).positions
    quiet = SimpleNamespace(positions=seg.positions, dt=DT, noise=np.full(len(seg.positions), 1e-4))
    assert not np.allclose(method.predict_segment(quiet).positions[30:], base[30:])    # R from the estimate
    changed = SimpleNamespace(positions=seg.positions.copy(), dt=DT, noise=seg.noise.copy())
    changed.positions[50:] += 3.0
    changed.noise[50:] = 0.5
    for build in (adaptive_imm, adaptive_kalman):
        a, b = build().predict_segment(seg).positions, build().predict_segment(changed).positions
        np.testing.assert_array_equal(a[:50], b[:50])
    with pytest.raises(ValueError):
        IMMPredictor(modes=("cv", "turn"))
    with pytest.raises(ValueError):
        IMMPredictor(adaptive=False)


def test_reproduces_the_published_classical_anchors(flights_dir):
    """The IMM tuned in hindsight per folder (../shared/notes/classical-anchors.md) gives its published ADE."""
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    for folder, (q_a, q_j, sigma, p_stay, published) in {
            "euroc": (3, 300, 0.005, 0.99, 0.095), "uzh_fpv": (30, 3000, 0.002, 0.95, 0.262)}.items():
        method = IMMPredictor(q_accel=q_a, q_jerk=q_j, sigma=sigma, p_stay=p_stay, adaptive=False)
        report = evaluate_flights(flights_dir / folder, {"imm": method})
        assert report["pooled"]["imm"]["ade"] == pytest.approx(published, abs=0.001)
