"""The shipped 3 s checkpoint (models/horizon3s.pt): chosen by horizon, 30 steps through the node's path
(core.TrackBank, the C path and the numpy calls, with the guard) equal to the offline segment pass; the guard's
C twin at H = 30."""
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.guard import apply_both, assert_same_state
from uav_traj_predictor.core import TrackBank
from uav_traj_predictor.data.flight import Flight
from uav_traj_predictor.data.preprocess import PreprocessConfig, segments_from_flight
from uav_traj_predictor.model import (TRACKING, CheckpointError, StreamingPredictor, default_checkpoint_path,
                                      load_checkpoint, shipped_checkpoint_for)
from uav_traj_predictor.model.guard import Guard

H, DT = 30, 0.1


def wandering_flight(seconds=90.0, seed=0):
    """A smooth 3-D path with speed changes (~1-3 m/s), exact at 200 Hz: (stamps, positions)."""
    t = np.arange(0, seconds, 0.005)
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, 4)
    x = 6 * np.sin(0.31 * t + phase[0]) + 2 * np.sin(0.9 * t + phase[1])
    y = 5 * np.cos(0.27 * t + phase[2]) + 1.5 * np.cos(1.1 * t)
    z = 2.0 + 0.6 * np.sin(0.4 * t + phase[3])
    return t, np.column_stack([x, y, z])


def test_the_shipped_checkpoint_is_chosen_by_horizon():
    default = default_checkpoint_path()
    assert shipped_checkpoint_for(None) == shipped_checkpoint_for(0) == shipped_checkpoint_for(10) == default
    for steps in (11, 20, 30):
        path = shipped_checkpoint_for(steps)
        assert path.name == "horizon3s.pt" and path.parent == default.parent
    model, meta = load_checkpoint(shipped_checkpoint_for(30))
    assert meta["horizon_steps"] == model.arch.horizon_steps == 30 and meta["rate"] == 10.0
    assert meta["model_id"].startswith("vgru-") and "-h30-" in meta["model_id"]
    assert meta["training"]["data"] and meta["metrics"]["calibration"] and len(meta["cv_std"]) == 30
    sources = [part["source"] for part in meta["training"]["data"]["parts"]]
    assert set(sources) <= {"sim", "kinematic"} and meta["training"]["init"] == ""          # simulation only
    with pytest.raises(CheckpointError, match="no shipped checkpoint predicts 31 steps"):
        shipped_checkpoint_for(31)


@pytest.mark.parametrize("fused", [True, False], ids=["c-path", "numpy"])
def test_horizon3s_streams_through_the_track_bank_like_its_segment_path(fused):
    """The node's path (TrackBank, a tick per raw sample of a 20 Hz stream with 5 mm noise, guard on) and the
    offline segment pass give the same 30-step predictions and stds; the network moves them off constant
    velocity."""
    t, exact = wandering_flight()
    keep = np.arange(0, len(t), 10)                                      # 20 Hz raw
    stamps, raw = t[keep], exact[keep] + np.random.default_rng(1).normal(0, 0.005, (len(keep), 3))
    predictor = StreamingPredictor(shipped_checkpoint_for(30), fused=fused)
    assert predictor.horizon_steps == H and predictor.guard > 0 and predictor.fused == (fused and predictor.fused)
    assert predictor.lead_calibration > 0 and StreamingPredictor().lead_calibration > 0   # every horizon
    assert StreamingPredictor(shipped_checkpoint_for(30), lead_calibration=0.0).lead_calibration == 0
    assert StreamingPredictor(lead_calibration=0.05).lead_calibration == 0.05
    with pytest.raises(ValueError, match="calibration"):
        StreamingPredictor(lead_calibration=1.5)
    bank = TrackBank(predictor, track_timeout=1e9)
    streamed = {}
    for stamp, position in zip(stamps, raw):
        bank.push("uav", stamp, position)
        for prediction in bank.tick().predictions:
            streamed[round(prediction.t0, 6)] = prediction
    segment, = segments_from_flight(Flight("uav", "test", stamps, raw), PreprocessConfig(rate=10.0))
    offline = StreamingPredictor(shipped_checkpoint_for(30)).predict_segment(segment)
    assert offline.positions.shape == (len(segment), H, 3)
    compared = 0
    for k in range(len(segment)):
        prediction = streamed.get(round(segment.t0 + k * segment.dt, 6))
        if prediction is None or prediction.status != TRACKING:
            continue
        assert prediction.positions.shape == prediction.position_std.shape == (H, 3)
        np.testing.assert_allclose(prediction.positions, offline.positions[k], atol=1e-4)
        np.testing.assert_allclose(prediction.position_std, offline.std[k], rtol=1e-4, atol=1e-6)
        compared += 1
    assert compared > 800
    rows = np.arange(20, len(segment) - 1)
    velocity = segment.positions[rows] - segment.positions[rows - 1]
    cv = segment.positions[rows, None] + velocity[:, None] * np.arange(1, H + 1)[None, :, None]
    assert np.abs(offline.positions[rows] - cv).max() > 0.1
    assert (np.diff(offline.std[rows], axis=1) >= -1e-9).mean() > 0.9      # the std grows with the lead


def test_horizon3s_batched_tracks_equal_single_tracks():
    """Several tracks per tick (the batched numpy path) give each track's own single-track predictions."""
    checkpoint = shipped_checkpoint_for(30)
    flights = [wandering_flight(30.0, seed) for seed in range(3)]
    batched = StreamingPredictor(checkpoint, guard=0.0)
    ids = batched.add_tracks(3)
    singles = [StreamingPredictor(checkpoint, guard=0.0) for _ in flights]
    single_ids = [p.add_tracks(1) for p in singles]
    grid = [p[::20] for _, p in flights]                                   # 10 Hz grid positions
    for k in range(1, 200):
        velocities = np.array([(g[k] - g[k - 1]) / DT for g in grid])
        last = np.array([g[k] for g in grid])
        batched.step(ids, velocities)
        got = batched.predict(ids, last)
        for i, (predictor, index) in enumerate(zip(singles, single_ids)):
            predictor.step(index, velocities[i:i + 1])
            want = predictor.predict(index, last[i:i + 1])
            for x, y in zip(got, want):
                np.testing.assert_allclose(x[i], y[0], atol=1e-4)          # float32 GRU, batched vs one row
    assert got[0].shape == (3, H, 3)


def test_the_guard_c_twin_equals_numpy_at_30_steps():
    """kernels/cstream.c GuardState against Guard's numpy arithmetic at H = 30 (its compile-time limit is
    64, longer horizons take the numpy path) with the per-lead calibration the 3 s checkpoint runs: several
    tracks, skipped grid steps, rows not the network's; outputs and state agree to ~1e-12."""
    fused, reference = Guard(3, H, DT, calibration=0.02), Guard(3, H, DT, fused=False, calibration=0.02)
    if not fused.fused:
        pytest.skip("C extension _cstream not built")
    assert fused._model.shape == (3, H, H, 3)                              # per track: H leads x H targets
    assert Guard(1, 64, DT).fused and not Guard(1, 65, DT).fused           # beyond GUARD_MAX_H: the numpy path
    rng = np.random.default_rng(3)
    t, exact = wandering_flight(120.0)
    path = exact[::20]
    grid = np.zeros(3, np.int64)
    for _ in range(400):
        tracks = rng.choice(3, size=rng.integers(1, 4), replace=False)
        grid[tracks] += rng.choice([1, 1, 1, 1, 2], size=len(tracks))
        steps = np.minimum(grid[tracks], len(path) - H - 1)
        last = path[steps] + rng.normal(0, 0.01, (len(tracks), 3))
        predicted = np.stack([path[s + 1:s + 1 + H] for s in steps]) + rng.normal(0, 0.3, (len(tracks), H, 3))
        std = rng.uniform(0.05, 1.0, predicted.shape)
        network = rng.random(len(tracks)) < 0.9
        noise = rng.uniform(0, 0.02, len(tracks))
        apply_both(fused, reference, tracks, grid[tracks], last, noise, predicted, std, network)
    assert_same_state(fused, reference)
    assert fused.weight(np.arange(3)).max() > 0


def test_horizon3s_segment_rows_see_no_future():
    """Perturbing positions after k leaves the 3 s prediction made at k unchanged (guard included)."""
    predictor = StreamingPredictor(shipped_checkpoint_for(30))
    _, exact = wandering_flight(30.0)
    positions = exact[::20]
    base = predictor.predict_segment(SimpleNamespace(positions=positions, dt=DT)).positions
    k = 150
    changed = positions.copy()
    changed[k + 1:] += 1.0
    moved = predictor.predict_segment(SimpleNamespace(positions=changed, dt=DT)).positions
    np.testing.assert_array_equal(moved[:k + 1], base[:k + 1])
