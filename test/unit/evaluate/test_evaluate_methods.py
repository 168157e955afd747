"""Baselines and the VECTOR adapter: exactness on polynomials, streaming without future leak."""
import numpy as np
import pytest
import torch

from uav_traj_predictor.data import Segment
from uav_traj_predictor.evaluate import MethodUnavailable, Protocol, build_methods
from uav_traj_predictor.evaluate import methods as methods_module
from uav_traj_predictor.evaluate.baselines import ConstantAcceleration, ConstantVelocity, KalmanCA
from uav_traj_predictor.evaluate.protocol import truth_windows, window_indices
from uav_traj_predictor.evaluate.vector import VectorCheckpoint, VectorFormatError, vector_methods

DT = 0.1


def segment_of(fn, count=80):
    t = np.arange(count) * DT
    return Segment(t0=0.0, dt=DT, positions=np.stack(fn(t), axis=1))


LINE = segment_of(lambda t: (1.0 + 2.0 * t, -0.5 * t, 3.0 + 0.1 * t))
PARABOLA = segment_of(lambda t: (1.0 + 2.0 * t + 1.5 * t**2, -0.5 * t - 2.0 * t**2, 3.0 + 0.3 * t**2))


def window_errors(method, segment):
    k = window_indices(len(segment))
    predicted = method.predict_segment(segment).positions[k]
    return np.abs(predicted - truth_windows(segment.positions, k, 10)).max(axis=(1, 2))


def test_cv_exact_on_lines_not_on_parabolas():
    assert window_errors(ConstantVelocity(), LINE).max() < 1e-12
    assert window_errors(ConstantVelocity(), PARABOLA).min() > 0.1


def test_ca_exact_on_parabolas():
    assert window_errors(ConstantAcceleration(), PARABOLA).max() < 1e-9
    cubic = segment_of(lambda t: (t**3, t, t))
    assert window_errors(ConstantAcceleration(), cubic).min() > 1e-3


def test_kf_converges_on_parabolas_and_matches_a_plain_loop():
    errors = window_errors(KalmanCA(), PARABOLA)
    assert errors[0] < 0.05 and errors[-1] < 1e-6 and errors[-1] < errors[0]
    noisy = Segment(0.0, DT, PARABOLA.positions + np.random.default_rng(1).normal(0, 0.02, PARABOLA.positions.shape))
    kf = KalmanCA()
    prediction = kf.predict_segment(noisy)
    reference = reference_kalman(noisy.positions, *kf.params)
    assert np.abs(prediction.positions[1:] - reference[1:]).max() < 1e-9
    std = prediction.std[30]
    assert (std > 0).all() and (np.diff(std[:, 0]) > 0).all()      # uncertainty grows with lead time


def reference_kalman(z, q, r, p_vel, p_acc, horizon=10):
    """Textbook loop: per-axis constant-acceleration KF, white-jerk process noise."""
    F = np.array([[1, DT, DT * DT / 2], [0, 1, DT], [0, 0, 1]])
    Q = q * np.array([[DT**5 / 20, DT**4 / 8, DT**3 / 6],
                      [DT**4 / 8, DT**3 / 3, DT**2 / 2],
                      [DT**3 / 6, DT**2 / 2, DT]])
    x = np.zeros((3, 3))
    x[0] = z[0]
    P = np.diag([r, p_vel, p_acc])
    out = np.full((len(z), horizon, 3), np.nan)
    lead = np.arange(1, horizon + 1) * DT
    for k in range(len(z)):
        if k:
            x, P = F @ x, F @ P @ F.T + Q
            K = P[:, 0] / (P[0, 0] + r)
            x = x + np.outer(K, z[k] - x[0])
            P = P - np.outer(K, P[0])
        out[k] = x[0] + np.outer(lead, x[1]) + 0.5 * np.outer(lead**2, x[2])
    return out


@pytest.fixture
def fake_vector_dir(tmp_path):
    """Two small random VECTOR-layout checkpoints (max and white) with their statistics file."""
    torch.manual_seed(0)
    for kind in ("max", "white"):
        enc, dec = torch.nn.GRU(3, 8, 2, batch_first=True), torch.nn.GRU(8, 8, 2, batch_first=True)
        fc = torch.nn.Linear(8, 3)
        state = {f"gru1.{k}": v for k, v in enc.state_dict().items()}
        state |= {f"gru2.{k}": v for k, v in dec.state_dict().items()}
        state |= {f"fc.{k}": v for k, v in fc.state_dict().items()}
        torch.save(state, tmp_path / f"toy__toy_vel_{kind}_norm_8_2_0p5.pth")
    np.savez(tmp_path / "toy__vel_stats.npz", max_velocity=4.0, input_mean=np.array([0.1, -0.2, 0.05]),
             L_matrix=np.array([[0.5, 0, 0], [0.1, 0.6, 0], [-0.05, 0.02, 1.2]]))
    return tmp_path


def reference_vector(path, stats, kind, positions, k):
    """One window through explicitly built torch modules (the published protocol)."""
    state = torch.load(path, weights_only=True)
    enc, dec = torch.nn.GRU(3, 8, 2, batch_first=True), torch.nn.GRU(8, 8, 2, batch_first=True)
    fc = torch.nn.Linear(8, 3)
    enc.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("gru1.")})
    dec.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("gru2.")})
    fc.load_state_dict({k[3:]: v for k, v in state.items() if k.startswith("fc.")})
    v = np.diff(positions[k - 20:k + 1], axis=0) / DT
    L, mean = stats["L_matrix"], stats["input_mean"]
    x = v / 4.0 if kind == "max" else (v - mean) @ L.T
    with torch.no_grad():
        _, h = enc(torch.tensor(x[None], dtype=torch.float32))
        y = fc(dec(torch.zeros(1, 10, 8), h)[0])[0].double().numpy()
    out = y * 4.0 if kind == "max" else y @ np.linalg.inv(L.T) + mean
    return positions[k] + np.cumsum(out, axis=0) * DT


def test_vector_batched_equals_one_window_reference(fake_vector_dir):
    stats = np.load(fake_vector_dir / "toy__vel_stats.npz")
    found = vector_methods(fake_vector_dir)
    assert sorted(found) == ["vector:toy__toy_vel_max_norm_8_2_0p5", "vector:toy__toy_vel_white_norm_8_2_0p5"]
    for kind in ("max", "white"):
        method = found[f"vector:toy__toy_vel_{kind}_norm_8_2_0p5"]
        prediction = method.predict_segment(PARABOLA)
        assert np.isnan(prediction.positions[:20]).all() and np.isfinite(prediction.positions[20:]).all()
        for k in (20, 47, 79):
            expected = reference_vector(method.source, stats, kind, PARABOLA.positions, k)
            np.testing.assert_allclose(prediction.positions[k], expected, atol=1e-5)


def test_vector_bad_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "toy__toy_vel_max_norm_8_2.pth").write_bytes(b"not a checkpoint")
    np.savez(bad / "toy__vel_stats.npz", max_velocity=1.0, input_mean=np.zeros(3), L_matrix=np.eye(3))
    with pytest.raises(VectorFormatError, match="toy__toy_vel_max_norm_8_2.pth"):
        vector_methods(bad)
    (bad / "toy__vel_stats.npz").unlink()
    with pytest.raises(VectorFormatError, match="statistics"):
        VectorCheckpoint(bad / "toy__toy_vel_max_norm_8_2.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MethodUnavailable, match="no VECTOR"):
        vector_methods(tmp_path / "empty")
    with pytest.raises(MethodUnavailable, match="not a directory"):
        vector_methods(tmp_path / "missing")


@pytest.mark.parametrize("name", ["cv", "ca", "kf", "akf", "imm", "vector"])
def test_no_future_leak(name, fake_vector_dir):
    """Perturbing samples after k leaves every prediction made at or before k unchanged."""
    if name == "vector":
        method = vector_methods(fake_vector_dir)["vector:toy__toy_vel_white_norm_8_2_0p5"]
    else:
        method = build_methods([name])[name]
    base = method.predict_segment(PARABOLA).positions
    for k in (20, 35, 60):
        changed = PARABOLA.positions.copy()
        changed[k + 1:] += np.random.default_rng(k).normal(0, 1.0, changed[k + 1:].shape)
        moved = method.predict_segment(Segment(0.0, DT, changed)).positions
        np.testing.assert_array_equal(moved[:k + 1], base[:k + 1])
        assert not np.allclose(moved[k + 1:][np.isfinite(moved[k + 1:])], base[k + 1:][np.isfinite(base[k + 1:])])


def test_build_methods_names_patterns_and_missing_model(fake_vector_dir, monkeypatch):
    def no_checkpoint(horizon=None):
        raise MethodUnavailable("model: default checkpoint not found at nowhere")
    monkeypatch.setattr(methods_module, "default_checkpoint", no_checkpoint)
    notes = []
    built = build_methods(None, Protocol(), vector_dir=fake_vector_dir, notes=notes)
    assert list(built) == ["cv", "ca", "kf", "akf", "imm", "vector:toy__toy_vel_max_norm_8_2_0p5",
                           "vector:toy__toy_vel_white_norm_8_2_0p5"]
    assert any("skipping model" in note for note in notes)
    assert list(build_methods(["kf", "vector:*white*"], vector_dir=fake_vector_dir)) == \
        ["kf", "vector:toy__toy_vel_white_norm_8_2_0p5"]
    with pytest.raises(MethodUnavailable, match="default checkpoint not found"):
        build_methods(["model"])
    with pytest.raises(MethodUnavailable, match="--vector"):
        build_methods(["vector:*"])
    with pytest.raises(MethodUnavailable, match="unknown method 'lstm'"):
        build_methods(["lstm"])


class FakePredictor:
    """Stands in for model.StreamingPredictor: CV plus 0.01 m, std 0.02, 12 steps."""
    horizon_steps, min_history, rate, model_id = 12, 20, 10.0, "fake"

    def __init__(self, checkpoint=None, **options):
        self.checkpoint = checkpoint

    def predict_segment(self, segment):
        p = segment.positions
        out = np.full((len(p), 12, 3), np.nan)
        out[1:] = p[1:, None] + (p[1:] - p[:-1])[:, None] * np.arange(1, 13)[None, :, None] + 0.01
        return methods_module.SegmentPrediction(out, np.full(out.shape, 0.02))


def test_model_method_adapts_the_streaming_predictor(monkeypatch):
    import uav_traj_predictor.model as model_room
    monkeypatch.setattr(model_room, "StreamingPredictor", FakePredictor)
    built = build_methods(["model", "cv"], checkpoint="some.pt")
    prediction = built["model"].predict_segment(LINE)
    assert prediction.positions.shape == prediction.std.shape == (len(LINE), 10, 3)
    k = window_indices(len(LINE))
    np.testing.assert_allclose(prediction.positions[k], built["cv"].predict_segment(LINE).positions[k] + 0.01)
    monkeypatch.setattr(FakePredictor, "min_history", 30)
    with pytest.raises(MethodUnavailable, match="does not fit the protocol"):
        build_methods(["model"], checkpoint="some.pt")
