"""The C twin of a raw sample's path (kernels/trackcore.c StreamCore, used by TrackBank.push where built) against
the Python reference (OnlineResampler + PositionJitter + TrackBank.push): the same events, queued grid samples,
noise levels and predictions, bit for bit, on faulty multi-track streams."""
import math

import numpy as np
import pytest

from uav_traj_predictor.core import TrackBank
from uav_traj_predictor.core.tracks import StreamCore
from uav_traj_predictor.data import PreprocessConfig
from uav_traj_predictor.model import StreamingPredictor

pytestmark = pytest.mark.skipif(StreamCore is None, reason="C extension _cstream not built")


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint):
    return random_checkpoint  # conftest: 10 Hz, horizon 10, min_history 5


def banks(checkpoint, **options):
    cfg = PreprocessConfig(rate=10.0, max_gap=options.pop("max_gap", 0.2))
    c_bank = TrackBank(StreamingPredictor(checkpoint), cfg, c_core=True, **options)
    py_bank = TrackBank(StreamingPredictor(checkpoint), cfg, c_core=False, **options)
    assert c_bank.c_core and not py_bank.c_core
    return c_bank, py_bank


def faulty_samples(seed, count=4000, tracks=5):
    """(track, stamp, position, noise, action) with every fault the push path handles: raw rates from 5 to
    200 Hz, duplicates, out-of-order and backwards stamps, gaps, NaN/inf, teleports, huge positions whose grid
    velocities exceed MAX_SPEED, supplied noise levels (valid and not), positions as tuples, lists, numpy rows,
    ints, and manual resets."""
    rng = np.random.default_rng(seed)
    stamps = {f"t{i}": 10.0 * i for i in range(tracks)}
    steps = {name: rng.choice([0.005, 0.02, 0.05, 0.1, 0.2]) for name in stamps}
    out = []
    for _ in range(count):
        name = f"t{rng.integers(tracks)}"
        fault = rng.random()
        step = steps[name] * rng.uniform(0.5, 1.5)
        if fault < 0.02:
            step = 0.0                                      # duplicate stamp
        elif fault < 0.04:
            step = -rng.uniform(0.001, 0.5)                 # out of order
        elif fault < 0.05:
            step = -rng.uniform(1.5, 5.0)                   # time jumped back
        elif fault < 0.07:
            step = rng.uniform(0.3, 3.0)                    # gap
        elif fault < 0.075:
            steps[name] = rng.choice([0.005, 0.02, 0.05, 0.1, 0.2, 0.3])   # the sensor's rate changes
        stamps[name] += step
        t = stamps[name]
        position = np.array([3 * math.cos(0.4 * t), 2 * math.sin(0.3 * t), 1 + 0.1 * t]) + rng.normal(0, 0.01, 3)
        if 0.08 <= fault < 0.09:
            position[rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf])
        elif 0.09 <= fault < 0.10:
            position += 200.0                               # a teleport
        elif 0.10 <= fault < 0.103:
            position *= 1e6                                 # grid velocities beyond MAX_SPEED
        elif 0.103 <= fault < 0.106:
            position = np.full(3, 1.7e308) * rng.choice([-1.0, 1.0], 3)
        noise = None
        if rng.random() < 0.2:
            noise = float(rng.choice([0.01, 0.05, 0.0, -1.0, np.nan, np.inf, 1e-4]))
        kind = rng.integers(5)
        with np.errstate(over="ignore"):
            position = (tuple(position.tolist()) if kind == 0 else position.tolist() if kind == 1 else
                        position if kind == 2 else position.astype(np.float32) if kind == 3 else
                        [int(v) if abs(v) < 1e9 else v for v in position.tolist()])
        action = "reset" if rng.random() < 0.003 else "tick" if rng.random() < 0.3 else None
        out.append((name, t, position, noise, action))
    return out


def state(track):
    return (track.queued_velocities, track.queued_samples, track.last_grid_stamp, track.last_grid_position,
            track.noise_level, track.supplied_noise, track.jitter.sigma, track.jitter.count,
            track.resampler.last_stamp, track.resampler.gap_limit, track.resampler.segment, track.history,
            track.samples, dict(track.resets), dict(track.ignored))


@pytest.mark.parametrize("seed,max_speed", [(0, 60.0), (1, 60.0), (2, 1e12)])
def test_c_core_equals_the_python_path_on_faulty_streams(checkpoint, seed, max_speed):
    """max_speed 60 (the default): huge jumps are teleports; 1e12: they pass that check and their grid samples
    are rejected as beyond MAX_SPEED or non-finite instead (a "non_finite" reset)."""
    c_bank, py_bank = banks(checkpoint, max_speed=max_speed)
    counts, reasons = {"tick": 0, "queued": 0}, set()
    for name, t, position, noise, action in faulty_samples(seed):
        got = c_bank.push(name, t, position, noise=noise)
        expected = py_bank.push(name, t, position, noise=noise)
        assert got == expected
        assert state(c_bank.tracks[name]) == state(py_bank.tracks[name])
        counts["queued"] += got
        if action == "reset":
            c_bank.reset(name, "frame_changed")
            py_bank.reset(name, "frame_changed")
        elif action == "tick":
            a, b = c_bank.tick(), py_bank.tick()
            assert a.events == b.events
            reasons |= {(e.kind, e.reason) for e in a.events}
            assert [(p.track_id, p.t0, p.status, p.history) for p in a.predictions] == \
                [(p.track_id, p.t0, p.status, p.history) for p in b.predictions]
            for p, q in zip(a.predictions, b.predictions):
                np.testing.assert_array_equal(p.positions, q.positions)
                np.testing.assert_array_equal(p.position_std, q.position_std)
            counts["tick"] += 1
    # the streams exercised every path
    jumps = "teleport" if max_speed == 60.0 else "non_finite"
    assert {("reset", r) for r in ("gap", "time_backwards", jumps, "frame_changed")} <= reasons
    assert {("ignored", r) for r in ("non_finite", "duplicate", "out_of_order")} <= reasons
    assert counts["tick"] > 500 and counts["queued"] > 1000


def test_supplied_noise_and_estimate_reach_the_queue_alike(checkpoint):
    c_bank, py_bank = banks(checkpoint)
    rng = np.random.default_rng(3)
    for k in range(300):
        t = 0.05 * k
        position = (math.cos(t), math.sin(t), 1.0 + rng.normal(0, 0.02))
        noise = 0.03 if 100 <= k < 200 else None
        assert c_bank.push("a", t, position, noise=noise) == py_bank.push("a", t, position, noise=noise)
    a, b = c_bank.tracks["a"], py_bank.tracks["a"]
    assert a.queued_velocities == b.queued_velocities and len(a.queued_velocities) > 100
    assert a.supplied_noise == b.supplied_noise == 0.03 and a.noise_level == 0.03   # kept until a reset
    assert a.jitter.sigma == b.jitter.sigma and a.jitter.sigma is not None


def test_bad_positions_raise_as_the_python_path(checkpoint):
    c_bank, py_bank = banks(checkpoint)
    for bank in (c_bank, py_bank):
        with pytest.raises(ValueError, match="3-vector"):
            bank.push("a", 0.0, [1.0, 2.0])
        with pytest.raises(ValueError):
            bank.push("a", 0.0, ["x", 1.0, 2.0])
    assert state(c_bank.tracks["a"]) == state(py_bank.tracks["a"])


def test_the_python_path_where_the_core_does_not_apply(checkpoint):
    """Smoothing, measured velocities ("twist") or c_core=False keep the Python reference."""
    for cfg in (PreprocessConfig(rate=10.0, smoothing="savgol"), PreprocessConfig(rate=10.0, velocity_source="twist")):
        bank = TrackBank(StreamingPredictor(checkpoint), cfg)
        assert not bank.c_core
    bank = TrackBank(StreamingPredictor(checkpoint), PreprocessConfig(rate=10.0))
    bank.push("a", 0.0, (0.0, 0.0, 0.0))
    assert bank.c_core and bank.tracks["a"].core is not None
