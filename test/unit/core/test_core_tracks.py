"""core.TrackBank: batching, warm-up, resets on bad input, stale removal, equality with the bare predictor."""
import numpy as np
import pytest

from uav_traj_predictor.core import TRACKING, WARMING_UP, TrackBank
from uav_traj_predictor.data import PreprocessConfig, preprocess
from uav_traj_predictor.model import StreamingPredictor

MIN_HISTORY = 5
HORIZON = 10
DT = 0.1


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint):
    return random_checkpoint  # conftest: 10 Hz, horizon 10, min_history 5


def make_bank(checkpoint, max_gap=0.2, **options):
    return TrackBank(StreamingPredictor(checkpoint), PreprocessConfig(rate=1 / DT, max_gap=max_gap), **options)


def flight(seed, n=120, rate=50.0, t_start=100.0):
    """A smooth curved flight sampled at `rate` Hz with slight stamp jitter."""
    rng = np.random.default_rng(seed)
    t = t_start + np.arange(n) / rate + rng.uniform(0, 0.002, n)
    w, r = rng.uniform(0.3, 1.0), rng.uniform(2, 6)
    p = np.column_stack([r * np.cos(w * t), r * np.sin(w * t), 2 + 0.3 * np.sin(0.5 * t)])
    p = p + rng.normal(0, 0.005, (n, 3))
    return t, p


def run(bank, streams, tick_every=1):
    """Push the streams {track: (t, p)} merged in stamp order, ticking after every `tick_every` samples."""
    samples = sorted((t[i], name, i) for name, (t, _) in streams.items() for i in range(len(t)))
    out, events = {}, []
    for count, (stamp, name, i) in enumerate(samples, 1):
        bank.push(name, stamp, streams[name][1][i], now=stamp)
        if count % tick_every == 0 or count == len(samples):
            result = bank.tick()
            events += result.events
            for prediction in result.predictions:
                out.setdefault(prediction.track_id, []).append(prediction)
    return out, events


def test_predictions_equal_running_the_predictor_over_the_same_grid_samples(checkpoint):
    t, p = flight(1)
    predictions, _ = run(make_bank(checkpoint), {"uav1": (t, p)})
    (segment,) = preprocess(t, p, PreprocessConfig(rate=1 / DT))
    reference, batched = StreamingPredictor(checkpoint), StreamingPredictor(checkpoint, fused=False)
    slot, batched_slot = reference.add_tracks(1), batched.add_tracks(1)
    expected = {}
    for k in range(1, len(segment)):
        # the call a tick makes (the C path where built) and the numpy step + predict calls
        # a grid sample: velocity, the raw-position noise estimate when it was completed (data.noise) and the
        # velocity between raw-sample interval means (data.preprocess.interval_velocities)
        sample = (*segment.velocities[k - 1].tolist(), float(segment.noise[k]),
                  *segment.interval_velocities[k - 1].tolist())
        positions, _, std, status = reference.advance(slot.tolist(), [[sample]], [tuple(segment.positions[k])])
        batched.step(batched_slot, segment.velocities[k - 1][None], segment.noise[k:k + 1],
                     segment.interval_velocities[k - 1][None])
        batched_positions, _, batched_std = batched.predict(batched_slot, segment.positions[k][None])
        assert status == batched.status(batched_slot)
        np.testing.assert_allclose(positions, batched_positions, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(std, batched_std, rtol=1e-5, atol=1e-7)
        expected[round(segment.times[k], 6)] = (positions[0], std[0], status[0])
    got = {round(pr.t0, 6): pr for pr in predictions["uav1"]}
    assert got.keys() == expected.keys()
    for t0, (positions, std, status) in expected.items():
        np.testing.assert_array_equal(got[t0].positions, positions)
        np.testing.assert_array_equal(got[t0].position_std, std)
        assert got[t0].status == status
    offline = reference.predict_segment(segment)   # the evaluation's sequence pass gives the same numbers
    for k in range(MIN_HISTORY, len(segment)):
        np.testing.assert_allclose(got[round(segment.times[k], 6)].positions, offline.positions[k], atol=1e-4)


def test_batched_ticks_equal_one_bank_per_track_and_low_rate_input_advances_in_rounds(checkpoint):
    streams = {f"uav{i}": flight(i, n=int(6 * rate), rate=rate) for i, rate in enumerate([50.0, 30.0, 7.0, 2.5])}
    batched, _ = run(make_bank(checkpoint, max_gap=0.5), streams, tick_every=3)
    for name, stream in streams.items():
        alone, _ = run(make_bank(checkpoint, max_gap=0.5), {name: stream})
        by_t0 = {round(pr.t0, 6): pr for pr in alone[name]}
        for prediction in batched[name]:           # batched ticks skip intermediate predictions only
            np.testing.assert_allclose(prediction.positions, by_t0[round(prediction.t0, 6)].positions, atol=1e-5)
        assert batched[name][-1].t0 == alone[name][-1].t0
    (segment,) = preprocess(*streams["uav3"], PreprocessConfig(rate=1 / DT, max_gap=0.5))
    assert batched["uav3"][-1].history == len(segment) - 1    # 4 grid samples per 2.5 Hz input, all stepped


def test_warm_up_is_flagged_constant_velocity_then_tracking(checkpoint):
    t, p = flight(2)
    predictions, _ = run(make_bank(checkpoint), {"uav1": (t, p)})
    first = predictions["uav1"]
    assert first[0].history == 1                     # no prediction from a single grid position
    for prediction in first:
        assert prediction.positions.shape == prediction.velocities.shape == (HORIZON, 3)
        assert np.isfinite(prediction.positions).all() and np.isfinite(prediction.position_std).all()
        np.testing.assert_allclose(prediction.times, prediction.t0 + DT * np.arange(1, HORIZON + 1))
        assert prediction.status == (WARMING_UP if prediction.history < MIN_HISTORY else TRACKING)
    warm = first[2]
    velocity = warm.velocities[0]
    np.testing.assert_allclose(np.diff(warm.positions, axis=0), np.tile(velocity * DT, (HORIZON - 1, 1)), atol=1e-12)
    np.testing.assert_allclose(warm.position_std[:, 0], 0.01 * np.arange(1, HORIZON + 1))   # the CV error std
    assert first[-1].model_id == "test-random"


def reasons(events, kind):
    return [(e.track_id, e.reason) for e in events if e.kind == kind]


def test_each_bad_input_is_ignored_or_resets_with_its_reason(checkpoint):
    bank = make_bank(checkpoint, max_speed=20.0)
    t, p = flight(3, n=60)
    for i in range(30):
        bank.push("a", t[i], p[i])
    history = bank.tick().predictions[-1].history
    bank.push("a", t[29] + 0.01, [np.nan, 0, 0])        # non-finite
    bank.push("a", t[29] + 0.01, [0, np.inf, 0])
    bank.push("a", t[29], p[29])                        # duplicate stamp
    bank.push("a", t[20], p[20])                        # older than the last sample (by < 1 s)
    result = bank.tick()
    assert reasons(result.events, "ignored") == [("a", "non_finite")] * 2 + [("a", "duplicate"), ("a", "out_of_order")]
    assert result.predictions == [] and bank.tracks["a"].history == history   # nothing was fed
    cases = [("gap", t[29] + 0.5, p[29]),
             ("time_backwards", t[29] - 5.0, p[29]),
             ("teleport", t[29] - 5.0 + 0.02, p[29] + [5.0, 0, 0])]     # 250 m/s
    for reason, stamp, position in cases:
        bank.push("a", stamp, position)
        result = bank.tick()
        assert reasons(result.events, "reset") == [("a", reason)]
        assert result.predictions == [] and bank.tracks["a"].history == 0
        assert bank.tracks["a"].last_reset == reason
    bank.push("a", t[29] - 5.0 + 0.12, p[29] + [5.01, 0, 0])   # the stream goes on from the new segment
    (prediction,) = bank.tick().predictions
    assert prediction.status == WARMING_UP and prediction.history == 1
    np.testing.assert_allclose(prediction.velocities[0], [0.1, 0, 0], atol=1e-9)


def test_float_max_stream_is_tracked_and_grid_overflow_resets(checkpoint, monkeypatch):
    bank = TrackBank(StreamingPredictor(checkpoint), PreprocessConfig(rate=1 / DT, smoothing="savgol"))
    for k in range(12):
        bank.push("huge", k * 0.05, [1.7e308, -1.7e308, 1.7e308])   # smoothing no longer overflows (R1)
    result = bank.tick()
    (prediction,) = result.predictions
    assert np.isfinite(prediction.positions).all() and not reasons(result.events, "reset")
    resampler = bank.tracks["huge"].resampler
    consume = resampler.consume          # what TrackBank.push calls

    def overflowing_consume(stamp, xyz, velocity=None):   # any overflow left in the grid arithmetic
        reset, ignored, samples = consume(stamp, xyz, velocity)
        return reset, ignored, tuple((t, (np.inf,) * 3, velocity, interval) for t, _, velocity, interval in samples)

    monkeypatch.setattr(resampler, "consume", overflowing_consume)
    bank.push("huge", 0.65, [1.7e308, -1.7e308, 1.7e308])
    result = bank.tick()
    assert ("huge", "non_finite") in reasons(result.events, "reset") and result.predictions == []


def test_velocity_beyond_max_speed_resets_instead_of_reaching_the_network(checkpoint):
    """R8: a finite grid velocity the float32 network cannot take is a reported reset, never a NaN state."""
    bank = make_bank(checkpoint, max_speed=np.inf)               # no teleport check in the way
    for k in range(3 * MIN_HISTORY):
        bank.push("fast", k * DT, [1e39 * k * DT, 0.0, 0.0])       # 1e39 m/s: beyond float32
        result = bank.tick()
        assert result.predictions == [] and bank.tracks["fast"].history == 0
    assert ("fast", "non_finite") in reasons(result.events, "reset")
    for k in range(3 * MIN_HISTORY):                                # the same track recovers at sane speed
        bank.push("fast", 10.0 + k * DT, [k * DT, 0.0, 0.0])
    (prediction,) = bank.tick().predictions
    assert prediction.status == TRACKING and np.isfinite(prediction.positions).all()


def test_stale_tracks_are_dropped_and_their_slots_reused(checkpoint):
    bank = make_bank(checkpoint, track_timeout=1.0)
    for name, t0 in (("a", 0.0), ("b", 0.0)):
        bank.push(name, t0, [0, 0, 1], now=10.0)
    bank.push("b", 0.1, [0.1, 0, 1], now=10.8)
    slot_a = bank.tracks["a"].slot
    assert reasons(bank.tick(now=10.9).events, "dropped") == []
    result = bank.tick(now=11.5)
    assert reasons(result.events, "dropped") == [("a", "timeout")]
    assert "a" not in bank and "b" in bank
    assert slot_a in bank.predictor.add_tracks(1)      # the freed predictor slot is handed out again
    assert reasons(bank.tick(now=12.0).events, "dropped") == [("b", "timeout")] and len(bank) == 0


def test_configuration_errors_are_clear(checkpoint):
    predictor = StreamingPredictor(checkpoint)
    with pytest.raises(ValueError, match="grid rate 20 Hz differs from the checkpoint's 10 Hz"):
        TrackBank(predictor, PreprocessConfig(rate=20.0))
    with pytest.raises(ValueError, match="horizon_steps must be in 1..10"):
        TrackBank(predictor, horizon_steps=11)
    short = TrackBank(predictor, horizon_steps=4)
    t, p = flight(4, n=20)
    predictions, _ = run(short, {"x": (t, p)})
    assert {pr.positions.shape for pr in predictions["x"]} == {(4, 3)}


def test_freeze_startup_heap_leaves_live_objects_out_of_later_collections():
    import gc

    from uav_traj_predictor.core import freeze_startup_heap
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 1000          # torch, numpy, the test session
        assert len(gc.get_objects()) < frozen                  # what a full collection still traverses
    finally:
        gc.unfreeze()


def test_twist_velocities_stream_exactly_like_the_offline_twist_segment(checkpoint):
    """velocity_source "twist": the bank steps the interval means of the pushed velocities, and the
    offline predict_segment over the twist segment gives the same predictions."""
    t, p = flight(3)
    v = np.gradient(p, t, axis=0) + np.random.default_rng(3).normal(0, 0.2, p.shape)   # noisy, not p's differences
    cfg = PreprocessConfig(rate=1 / DT, velocity_source="twist")
    bank = TrackBank(StreamingPredictor(checkpoint), cfg)
    got = {}
    for i in range(len(t)):
        bank.push("uav1", t[i], p[i], now=t[i], velocity=v[i])
        got.update({round(pr.t0, 6): pr for pr in bank.tick().predictions})
    (segment,) = preprocess(t, p, cfg, v=v)
    offline = StreamingPredictor(checkpoint).predict_segment(segment)
    pose_offline = StreamingPredictor(checkpoint).predict_segment(preprocess(t, p, PreprocessConfig(rate=1 / DT))[0])
    for k in range(MIN_HISTORY, len(segment)):
        np.testing.assert_allclose(got[round(segment.times[k], 6)].positions, offline.positions[k], atol=1e-4)
    assert not np.allclose(offline.positions[MIN_HISTORY:], pose_offline.positions[MIN_HISTORY:], atol=1e-3)
    with pytest.raises(ValueError, match="velocity"):
        bank.push("uav1", t[-1] + 0.05, p[-1])                      # twist mode: a sample needs its velocity


def test_c_path_and_batched_calls_give_the_same_ticks(checkpoint, monkeypatch):
    """Ticks with a few due tracks go through the predictor's C path (where built), larger ones through
    the batched numpy calls: same predictions, statuses and events on input with every kind of fault."""
    import uav_traj_predictor.kernels.dispatch as dispatch
    rng = np.random.default_rng(3)
    samples, stamps = [], {f"uav{i}": 10.0 for i in range(3)}
    for _ in range(900):
        name = f"uav{rng.integers(3)}"
        fault = rng.random()
        step = {fault < 0.02: 1.0, 0.02 <= fault < 0.04: -2.0, 0.04 <= fault < 0.06: 0.0}.get(True, 0.03)
        stamps[name] += step
        t = stamps[name]
        position = np.array([np.cos(t), np.sin(0.7 * t), 0.1 * t]) * 5
        if 0.06 <= fault < 0.08:
            position[rng.integers(3)] = np.nan
        elif 0.08 <= fault < 0.09:
            position += 100.0                                         # a teleport
        samples.append((name, t, position, rng.random() < 0.3))      # tick after ~30 % of the samples

    def replay(limit):
        monkeypatch.setattr(dispatch, "CPU_FUSED_UP_TO", limit)
        bank, out = make_bank(checkpoint, max_gap=0.5), []
        for name, t, position, tick in samples:
            bank.push(name, t, position, now=t)
            if tick:
                result = bank.tick()
                out.append((result.predictions, result.events))
        return out

    one_by_one, batched = replay(12), replay(0)
    counts = {status: 0 for status in (TRACKING, WARMING_UP)}
    for (got, got_events), (expected, expected_events) in zip(one_by_one, batched, strict=True):
        assert got_events == expected_events
        assert [(p.track_id, p.t0, p.status, p.history) for p in got] == \
            [(p.track_id, p.t0, p.status, p.history) for p in expected]
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a.positions, b.positions, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(a.velocities, b.velocities, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(a.position_std, b.position_std, rtol=1e-5, atol=1e-7)
            counts[a.status] += 1
    assert counts[TRACKING] > 50 and counts[WARMING_UP] > 10
    assert {e.reason for _, events in one_by_one for e in events} >= {"gap", "time_backwards", "teleport",
                                                                       "non_finite", "duplicate"}


def test_max_tracks_refuses_new_ids_without_allocating_and_reports_each_once(checkpoint):
    bank = make_bank(checkpoint, max_tracks=2)
    capacity = bank.predictor.capacity
    for stamp in np.arange(0, 3.0, 0.02):
        for name in ("a", "b", "intruder1", "intruder2"):
            bank.push(name, stamp, (stamp, 0.0, 1.0))
    events = bank.tick().events
    assert set(bank.tracks) == {"a", "b"}
    assert bank.predictor.active_tracks == 2 and bank.predictor.capacity == capacity
    refused = [e for e in events if e.reason == "track_limit"]
    assert sorted(e.track_id for e in refused) == ["intruder1", "intruder2"]
    assert all(e.kind == "ignored" for e in refused)
    assert bank.refused_samples == 2 * 150
    bank.remove("a")                        # a slot frees up: the next new id is taken
    bank.push("intruder1", 3.0, (0.0, 0.0, 1.0))
    assert "intruder1" in bank.tracks


def test_max_tracks_memory_stays_bounded_under_many_ids(checkpoint):
    from uav_traj_predictor.core.tracks import REFUSED_IDS_REMEMBERED
    bank = make_bank(checkpoint, max_tracks=1)
    for i in range(3 * REFUSED_IDS_REMEMBERED):
        bank.push(f"id{i}", 0.01 * i, (0.0, 0.0, 0.0))
    assert len(bank.tracks) == 1 and len(bank._refused_ids) <= REFUSED_IDS_REMEMBERED
    assert bank.refused_samples == 3 * REFUSED_IDS_REMEMBERED - 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_max_tracks_must_be_a_positive_integer(checkpoint, bad):
    with pytest.raises((ValueError, TypeError), match="max_tracks"):
        make_bank(checkpoint, max_tracks=bad)
