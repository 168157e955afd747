"""Reliability of the prediction core under adversarial input streams (issue 9, fuzzing part).

Property-based: hypothesis draws operation lists in the language of bench/fuzz.py (normal 20 Hz samples
mixed with NaN/Inf, extreme values, duplicate/reversed stamps, clock jumps, gaps, teleports, bursts,
frame changes, silence) and plays them through a TrackBank over a real StreamingPredictor (tiny random
checkpoint). bench/fuzz.py checks the invariants: no exception escapes, every published value is finite,
every reset is reported, slots and queues stay bounded. bench/fuzz.py runs >= 10,000 such cases.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import load_bench
from helpers.checkpoints import TINY, random_checkpoint
from uav_traj_predictor.core import OnlineResampler, TrackBank
from uav_traj_predictor.core.prediction import EVENT_DROPPED, EVENT_IGNORED, EVENT_NEW, EVENT_RESET
from uav_traj_predictor.data.preprocess import PreprocessConfig
from uav_traj_predictor.model import StreamingPredictor

# adversarial values overflow numpy arithmetic on purpose; the invariants are what is checked
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")


fuzz = load_bench("fuzz")

FUZZ_SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return StreamingPredictor(random_checkpoint(tmp_path_factory.mktemp("fuzz") / "tiny.pt", **TINY))


def operation(kinds):
    return st.tuples(st.sampled_from(kinds), st.integers(0, 2),
                     st.floats(0.0, 1.0, exclude_max=True, allow_nan=False))


# mostly normal samples so that tracks get past warm-up between faults
WEIGHTED_KINDS = ("normal",) * 10 + ("tick",) + fuzz.ADVERSARIAL
operations = st.lists(operation(WEIGHTED_KINDS), min_size=1, max_size=160)


def play(predictor, ops, smoothing=None, seed=0, velocity_source="pose") -> "fuzz.Counts":
    counts = fuzz.Counts()
    fuzz.CaseRunner(predictor, counts, smoothing=smoothing, velocity_source=velocity_source).run(ops, seed=seed)
    return counts


@FUZZ_SETTINGS
@given(ops=operations, seed=st.integers(0, 2**16))
def test_adversarial_streams_keep_every_invariant(predictor, ops, seed):
    counts = play(predictor, ops, seed=seed)
    pushes = sum(kind not in ("tick", "silence", "frame_change") for kind, _, _ in ops)
    assert (counts.cases, counts.operations, counts.samples) == (1, len(ops), pushes)   # every operation played
    assert counts.ticks == 1 + sum(kind in ("tick", "silence") for kind, _, _ in ops)   # + the final tick
    assert sum(counts.statuses.values()) == counts.predictions
    assert set(counts.statuses) <= {"tracking", "warming_up", "fallback_cv"}
    assert (counts.new_tracks > 0) == (pushes > 0)          # every pushed id became a reported track
    assert not counts.exceptions and not counts.violations


@FUZZ_SETTINGS
@given(ops=operations, seed=st.integers(0, 2**16))
def test_adversarial_streams_with_causal_smoothing(predictor, ops, seed):
    play(predictor, ops, smoothing="savgol", seed=seed)


@FUZZ_SETTINGS
@given(ops=operations, seed=st.integers(0, 2**16))
def test_adversarial_streams_with_measured_velocities(predictor, ops, seed):
    """velocity_source twist: every sample carries the vehicle's velocity; NaN/Inf and extreme
    velocities are ignored or reset, never published."""
    play(predictor, ops, seed=seed, velocity_source="twist")


def test_float_max_positions_with_smoothing_stay_finite(predictor):
    """Regression for R1 (found by bench/fuzz.py): a stream at 1.7e308 m is smoothed without overflow
    (fixed in the resampler), so the track predicts (play checks: finite) with no reset."""
    ops = [("extreme_position", 1, 0.81)] + [("normal", 1, 0.5)] * 8 + [("tick", 1, 0.0)]
    counts = play(predictor, ops, smoothing="savgol")
    assert counts.predictions == 1 and not counts.resets


def test_resampler_savgol_constant_float_max_stream_is_finite():
    resampler = OnlineResampler(PreprocessConfig(smoothing="savgol"))
    for k in range(8):
        out = resampler.push(k * 0.1, [1.7e308, -1.7e308, 1.7e308])
        assert np.isfinite(out.positions).all(), f"sample {k}: {out.positions}"


@settings(max_examples=150, deadline=None, derandomize=True)
@given(samples=st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True, width=64),
                                  st.lists(st.floats(-1e12, 1e12) | st.sampled_from([np.nan, np.inf, -np.inf]),
                                           min_size=3, max_size=3)), max_size=60),
       smoothing=st.sampled_from([None, "savgol"]))
def test_resampler_never_raises_and_reports_every_break(samples, smoothing):
    """Arbitrary stamps (any float), positions up to 1e12 m or non-finite: finite output, monotone grid
    within a segment, and every push either emits, is ignored with a reason, or lies between grid stamps."""
    resampler = OnlineResampler(PreprocessConfig(smoothing=smoothing))
    last_stamp, segment = None, -1
    for stamp, position in samples:
        out = resampler.push(stamp, position)
        assert np.isfinite(out.positions).all() and np.isfinite(out.stamps).all()
        finite_v = out.velocities[1:] if out.reset is not None or out.segment != segment else out.velocities
        assert np.isfinite(finite_v).all()
        if out.ignored:
            assert len(out) == 0 and out.reset is None
            continue
        if out.segment != segment:
            segment, last_stamp = out.segment, None
        for t in out.stamps:
            assert last_stamp is None or t > last_stamp, "grid stamps went back without a reset"
            last_stamp = t


def test_fuzz_bench_smoke_counts_everything(predictor):
    """bench/fuzz.py's driver: a few random cases give counts of every kind, no escapes, no violations."""
    counts = fuzz.Counts()
    fuzz.run_cases(predictor, cases=40, seed=1, max_ops=200, tracks=2, counts=counts)
    assert counts.cases == 40 and not counts.exceptions and not counts.violations, fuzz.report(counts, 0)
    assert counts.predictions > 100 and {"gap", "teleport", "time_backwards", "frame_change"} <= set(counts.resets)
    assert {"non_finite", "duplicate"} <= set(counts.ignored) and counts.dropped > 0


# ---- named faults: exact behaviour ----------------------------------------------------------------
def feed(bank, track, t0, count, velocity=(1.0, 0.5, 0.0), start=(0.0, 0.0, 10.0), rate=20.0):
    stamps = t0 + np.arange(count) / rate
    for t in stamps:
        bank.push(track, t, np.asarray(start) + np.asarray(velocity) * (t - t0), now=t)
    return stamps[-1]


def events_of(result, kind):
    return [(event.track_id, event.reason) for event in result.events if event.kind == kind]


def test_clock_jump_back_resets_and_recovers(predictor):
    bank = TrackBank(predictor)
    t = feed(bank, "a", 100.0, 40)
    first = bank.tick(t)
    assert [p.track_id for p in first.predictions] == ["a"] and ("a", None) in events_of(first, EVENT_NEW)
    t = feed(bank, "a", 50.0, 40)                         # the publisher restarted its clock 50 s earlier
    result = bank.tick(t)
    assert ("a", "time_backwards") in events_of(result, EVENT_RESET)
    (prediction,) = result.predictions
    assert prediction.t0 < 52.0 and np.isfinite(prediction.positions).all()
    bank.remove("a")


def test_non_finite_samples_are_ignored_without_breaking_the_track(predictor):
    bank = TrackBank(predictor)
    t = feed(bank, "a", 0.0, 30)
    history = bank.tick(t).predictions[0].history
    for bad in ([np.nan, 0, 0], [0, np.inf, 0], [0, 0, -np.inf]):
        bank.push("a", t + 0.01, bad, now=t + 0.01)
    bank.push("a", np.nan, [0, 0, 0], now=t + 0.02)
    t = feed(bank, "a", t + 0.05, 10)
    result = bank.tick(t)
    assert sorted(reason for _, reason in events_of(result, EVENT_IGNORED)) == ["non_finite"] * 4
    assert not events_of(result, EVENT_RESET)
    assert result.predictions[0].history > history
    bank.remove("a")


def test_silent_vehicle_is_dropped_and_its_slot_freed(predictor):
    bank = TrackBank(predictor, track_timeout=1.0)
    t = feed(bank, "quiet", 0.0, 20)
    feed(bank, "busy", 0.0, 20)
    bank.tick(t)
    active = predictor.active_tracks
    t = feed(bank, "busy", t + 0.05, 30)                   # 1.5 s of "busy" only
    result = bank.tick(t)
    assert ("quiet", "timeout") in events_of(result, EVENT_DROPPED)
    assert "quiet" not in bank and predictor.active_tracks == active - 1
    bank.remove("busy")


def test_burst_of_ten_times_the_rate_keeps_queues_bounded(predictor):
    """A 200 Hz burst between two ticks becomes at most (burst duration x grid rate) steps, then drains."""
    bank = TrackBank(predictor)
    t = feed(bank, "a", 0.0, 2000, rate=200.0)             # 10 s at 10x the nominal 20 Hz, no tick
    track = bank.tracks["a"]
    assert len(track.queued_velocities) <= 10.0 * predictor.rate + 1
    result = bank.tick(t)
    # grid 0..9.9 s: 99 velocities
    assert len(result.predictions) == 1 and result.predictions[0].history == int(t * predictor.rate)
    assert not track.queued_velocities and track.queued_samples == 0
    bank.remove("a")


def test_velocity_beyond_float32_is_refused_and_the_track_stays_usable(predictor):
    """A grid velocity beyond float32 (and beyond MAX_SPEED) is refused with a ValueError naming the limit,
    leaves the track's state untouched, and the track predicts normally afterwards; MAX_SPEED itself is fed."""
    slot = predictor.add_tracks(1)
    try:
        for _ in range(3):
            predictor.step(slot, [[1.0, 0.0, 0.0]])
        history = predictor.history(slot)
        for bad in ([1e39, 0.0, 0.0], [predictor.MAX_SPEED * 1.01, 0.0, 0.0], [np.nan, 0.0, 0.0]):
            with pytest.raises(ValueError, match="non-finite or above MAX_SPEED"):
                predictor.step(slot, [bad])
            assert predictor.history(slot) == history, "a refused velocity changed the track"
        predictor.step(slot, [[predictor.MAX_SPEED, 0.0, 0.0]])          # the limit itself is usable
        for _ in range(2 * predictor.min_history):
            predictor.step(slot, [[1.0, 0.0, 0.0]])
        positions, _, std = predictor.predict(slot, [[0.0, 0.0, 0.0]])
        assert predictor.status(slot) == ["tracking"]
        assert np.isfinite(positions).all() and np.isfinite(std).all()
    finally:
        predictor.remove_tracks(slot)
