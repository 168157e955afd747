"""OnlineResampler: equal to preprocess on clean streams, robust (never raises) on messy ones."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uav_traj_predictor.core import OnlineResampler
from uav_traj_predictor.data import PreprocessConfig, preprocess
from uav_traj_predictor.data.preprocess import LOW_RATE_GAP_CAP, resample_segment

SMOOTH = PreprocessConfig(smoothing="savgol", savgol_window=5, savgol_order=2)


def run_stream(resampler, stamps, positions):
    """Push everything; return {segment: (stamps, positions, velocities, interval velocities)} and the outputs."""
    segments, outputs = {}, []
    for stamp, position in zip(stamps, positions):
        out = resampler.push(stamp, position)
        outputs.append(out)
        if len(out):
            s, p, v, u = segments.setdefault(out.segment, ([], [], [], []))
            s.extend(out.stamps)
            p.extend(out.positions)
            v.extend(out.velocities)
            u.extend(out.interval_velocities)
    return {k: tuple(map(np.asarray, val)) for k, val in segments.items()}, outputs


def clean_stream(seed, n=600, gap_every=150):
    rng = np.random.default_rng(seed)
    steps = rng.uniform(0.001, 0.15, n)
    steps[rng.integers(0, n, n // gap_every)] = rng.uniform(0.21, 2.0, n // gap_every)  # gaps
    stamps = 1.7e9 + rng.uniform(0, 100) + np.cumsum(steps)
    positions = np.cumsum(rng.normal(scale=0.3, size=(n, 3)), axis=0)
    return stamps, positions


def assert_same_as_preprocess(stamps, positions, cfg):
    online, _ = run_stream(OnlineResampler(cfg), stamps, positions)
    online = [val for val in online.values() if len(val[0]) >= 2]
    offline = preprocess(stamps, positions, cfg)
    assert len(online) == len(offline) >= 1
    for (times, grid, velocities, interval), segment in zip(online, offline):
        assert times[0] == segment.t0
        np.testing.assert_array_equal(times, segment.times)
        np.testing.assert_allclose(grid, segment.positions, atol=1e-9, rtol=0)
        np.testing.assert_allclose(velocities[1:], segment.velocities, atol=1e-7, rtol=0)
        np.testing.assert_array_equal(interval[1:], segment.interval_velocities)   # same sums, same order
        assert np.isnan(velocities[0]).all() and np.isnan(interval[0]).all()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("cfg", [PreprocessConfig(), SMOOTH, PreprocessConfig(rate=30.0, max_gap=0.05)],
                         ids=["default", "savgol", "30Hz"])
def test_equal_to_preprocess_on_clean_random_streams(seed, cfg):
    stamps, positions = clean_stream(seed)
    assert_same_as_preprocess(stamps, positions, cfg)


def test_equal_to_preprocess_on_a_real_flight(flights_dir):
    from uav_traj_predictor.data import read_flight
    (path,) = (flights_dir / "blackbird").glob("*_test_*.txt")
    flight = read_flight(path)
    assert_same_as_preprocess(flight.t, flight.p, PreprocessConfig())


def test_first_sample_is_grid_sample_zero_and_interpolation_is_linear():
    resampler = OnlineResampler()
    first = resampler.push(10.0, [0, 0, 0])
    assert first.stamps.tolist() == [10.0] and first.reset is None and first.segment == 0
    assert len(resampler.push(10.05, [0.5, 0, 0])) == 0
    out = resampler.push(10.25, [2.5, 0, 0])
    np.testing.assert_allclose(out.stamps, [10.1, 10.2])
    np.testing.assert_allclose(out.positions[:, 0], [1.0, 2.0])
    np.testing.assert_allclose(out.velocities[:, 0], [10.0, 10.0])


def test_reasons_for_bad_samples_and_resets():
    resampler = OnlineResampler()
    resampler.push(5.0, [0, 0, 0])
    resampler.push(5.1, [1, 0, 0])
    assert resampler.push(5.15, [np.nan, 0, 0]).ignored == "non_finite"
    assert resampler.push(np.inf, [0, 0, 0]).ignored == "non_finite"
    assert resampler.push(5.1, [9, 9, 9]).ignored == "duplicate"
    assert resampler.push(4.5, [9, 9, 9]).ignored == "out_of_order"
    gap = resampler.push(5.5, [2, 0, 0])
    assert gap.reset == "gap" and gap.segment == 1 and gap.stamps.tolist() == [5.5]
    back = resampler.push(1.0, [0, 0, 0])
    assert back.reset == "time_backwards" and back.reason == "time_backwards" and back.segment == 2
    assert resampler.push(1.05, [0, 0, 0]).reason is None
    resampler.reset()
    assert resampler.push(1.06, [0, 0, 0]).reset == "manual"


def test_wrong_position_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="3-vector"):
        OnlineResampler().push(0.0, [1.0, 2.0])


def test_ignored_samples_do_not_disturb_the_grid():
    stamps, positions = clean_stream(7, n=200)
    resampler = OnlineResampler()
    clean, _ = run_stream(OnlineResampler(), stamps, positions)
    noisy_stamps, noisy_positions = [], []
    for stamp, position in zip(stamps, positions):
        noisy_stamps += [stamp, stamp, stamp - 0.01, stamp]
        noisy_positions += [position, position + 5, position - 5, [np.nan] * 3]
    noisy, _ = run_stream(resampler, noisy_stamps, noisy_positions)
    assert clean.keys() == noisy.keys()
    for key in clean:
        np.testing.assert_array_equal(clean[key][1], noisy[key][1])


# --- property-based: messy streams ----------------------------------------------------------
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
value = st.one_of(finite, finite, finite, finite, st.just(np.nan), st.just(np.inf))
step = st.one_of(st.floats(0.0, 0.12), st.floats(0.0, 0.12), st.just(0.0),  # dense, duplicates
                 st.floats(0.2, 3.0),                                       # gaps
                 st.floats(-5.0, -0.001))                                   # reordering / jumps back
streams = st.lists(st.tuples(step, value, finite, finite), min_size=0, max_size=120)
configs = st.sampled_from([PreprocessConfig(), SMOOTH, PreprocessConfig(rate=50.0, max_gap=0.5)])


def to_arrays(stream):
    stamps = 100.0 + np.cumsum([s for s, *_ in stream]) if stream else np.zeros(0)
    positions = np.array([p for _, *p in stream], dtype=float).reshape(-1, 3)
    return stamps, positions


@settings(max_examples=150, deadline=None)
@given(streams, configs)
def test_preprocess_never_raises_and_gives_finite_uniform_segments(stream, cfg):
    stamps, positions = to_arrays(stream)
    segments = preprocess(stamps, positions, cfg)
    good = np.isfinite(stamps) & np.isfinite(positions).all(axis=1)
    previous_end = -np.inf
    for segment in segments:
        assert len(segment) >= 2 and np.isfinite(segment.positions).all()
        assert segment.dt == cfg.dt
        np.testing.assert_array_equal(segment.times, segment.t0 + np.arange(len(segment)) * cfg.dt)
        assert segment.t0 in stamps[good] and segment.t0 > previous_end + cfg.max_gap - 1e-9
        inside = good & (stamps >= segment.t0) & (stamps <= segment.times[-1] + cfg.max_gap)
        assert segment.times[-1] <= stamps[inside].max()
        if cfg.smoothing is None:  # linear interpolation stays inside the raw samples' box
            assert (segment.positions >= positions[inside].min(axis=0) - 1e-9).all()
            assert (segment.positions <= positions[inside].max(axis=0) + 1e-9).all()
        previous_end = segment.times[-1]


@settings(max_examples=150, deadline=None)
@given(streams, configs)
def test_online_never_raises_and_matches_preprocess_on_the_samples_it_accepted(stream, cfg):
    stamps, positions = to_arrays(stream)
    resampler = OnlineResampler(cfg)
    online, outputs = run_stream(resampler, stamps, positions)
    accepted = {}
    for stamp, position, out in zip(stamps, positions, outputs):
        if out.ignored is None:
            accepted.setdefault(out.segment, []).append((stamp, position))
        else:
            assert len(out) == 0 and out.reset is None
    for key, (times, grid, velocities, interval) in online.items():
        assert np.isfinite(grid).all() and np.isfinite(velocities[1:]).all()
        np.testing.assert_array_equal(times, times[0] + np.arange(len(times)) * cfg.dt)
        t, p = map(np.asarray, zip(*accepted[key]))
        assert (np.diff(t) > 0).all() and (np.diff(t) <= max(cfg.max_gap, LOW_RATE_GAP_CAP)).all()
        # the segmentation is the stream's (its gap limit remembers earlier steps, data.preprocess.gap_limits);
        # within it, the grid is preprocess's resampling of the accepted samples
        segment = resample_segment(t, p, cfg)
        expected = [] if segment is None else [segment]
        if len(times) >= 2:
            np.testing.assert_allclose(grid, segment.positions, atol=1e-9, rtol=0)
            np.testing.assert_array_equal(interval[1:], segment.interval_velocities)
        else:
            assert expected == []


# ---- measured velocities (velocity_source "twist") ------------------------------------------------
TWIST = PreprocessConfig(velocity_source="twist")


def run_twist_stream(resampler, stamps, positions, velocities):
    segments = {}
    for stamp, position, velocity in zip(stamps, positions, velocities):
        out = resampler.push(stamp, position, velocity)
        if len(out):
            s, p, v = segments.setdefault(out.segment, ([], [], []))
            s.extend(out.stamps)
            p.extend(out.positions)
            v.extend(out.velocities)
    return [tuple(map(np.asarray, val)) for val in segments.values() if len(val[0]) >= 2]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cfg", [TWIST, PreprocessConfig(rate=30.0, max_gap=0.05, velocity_source="twist"),
                                 PreprocessConfig(smoothing="savgol", velocity_source="twist")],
                         ids=["default", "30Hz", "savgol"])
def test_twist_grid_velocities_equal_preprocess(seed, cfg):
    stamps, positions = clean_stream(seed)
    velocities = np.random.default_rng(seed + 100).normal(scale=2.0, size=positions.shape)
    online = run_twist_stream(OnlineResampler(cfg), stamps, positions, velocities)
    offline = preprocess(stamps, positions, cfg, v=velocities)
    assert len(online) == len(offline) >= 1
    for (times, grid, measured), segment in zip(online, offline):
        np.testing.assert_array_equal(times, segment.times)
        np.testing.assert_allclose(grid, segment.positions, atol=1e-9, rtol=0)
        assert np.isnan(measured[0]).all()
        np.testing.assert_allclose(measured[1:], segment.velocities, atol=1e-9, rtol=0)
        assert not np.allclose(segment.velocities, np.diff(segment.positions, axis=0) / segment.dt)


def test_twist_samples_need_a_finite_velocity():
    resampler = OnlineResampler(TWIST)
    resampler.push(0.0, [0, 0, 0], [1, 0, 0])
    assert resampler.push(0.05, [0.05, 0, 0], [np.nan, 0, 0]).ignored == "non_finite"
    out = resampler.push(0.1, [0.1, 0, 0], [1, 0, 0])
    np.testing.assert_allclose(out.velocities, [[1.0, 0, 0]])
    with pytest.raises(ValueError, match="3-vector velocity"):
        resampler.push(0.2, [0.2, 0, 0])
    assert len(OnlineResampler().push(0.0, [0, 0, 0], [np.nan] * 3)) == 1   # pose source: velocity unused


@pytest.mark.parametrize("rate,jitter", [(200.0, 0.0), (20.0, 0.3), (10.0, 0.0), (7.0, 0.3)])
def test_interval_velocities_average_every_raw_sample(rate, jitter):
    """u_k (data.preprocess.interval_velocities) uses all raw samples: online == offline (also with raw
    stamps exactly on grid stamps, at 10 Hz), and with white noise at 200 Hz it is several times less noisy
    than the one-difference grid velocity v_k; for clean linear motion both are the velocity."""
    rng = np.random.default_rng(int(rate))
    n = int(rate * 40)
    stamps = 100.0 + np.arange(n) / rate + rng.uniform(0, jitter / rate, n)
    line = np.column_stack([1.5 * stamps, -0.5 * stamps, 0.2 * stamps])
    noisy = line + rng.normal(0, 0.01, (n, 3))
    assert_same_as_preprocess(stamps, noisy, PreprocessConfig())
    (clean,) = preprocess(stamps, line, PreprocessConfig())
    np.testing.assert_allclose(clean.interval_velocities, np.tile([1.5, -0.5, 0.2], (len(clean) - 1, 1)), atol=1e-6)
    (segment,) = preprocess(stamps, noisy, PreprocessConfig())
    truth = np.array([1.5, -0.5, 0.2])
    ratio = np.std(segment.velocities - truth) / np.std(segment.interval_velocities - truth)
    assert ratio > (3.0 if rate == 200.0 else 1.0 - 1e-9)
    if rate <= 10.0:                          # at most one raw sample per grid interval: u_k is v_k
        np.testing.assert_allclose(segment.interval_velocities, segment.velocities, atol=1e-9)


def test_low_rate_streams_keep_their_segments_and_long_outages_still_split():
    """A 5 Hz sensor (steps 0.2 s, jittered, above the default max_gap of 0.2 s) is one segment, online
    as offline; an outage splits it; at 20 Hz the limit stays max_gap."""
    rng = np.random.default_rng(3)
    stamps = 50.0 + np.cumsum(rng.uniform(0.19, 0.23, 300))
    stamps[150:] += 5.0                                          # a 5 s outage
    positions = np.column_stack([np.sin(0.3 * stamps), np.cos(0.3 * stamps), 0.05 * stamps])
    segments = preprocess(stamps, positions, PreprocessConfig())
    assert len(segments) == 2 and sum(len(s) for s in segments) > 0.95 * (stamps[-1] - stamps[0] - 5.0) * 10
    assert_same_as_preprocess(stamps, positions, PreprocessConfig())
    fast = 10.0 + np.arange(400) * 0.05
    fast = np.delete(fast, np.arange(100, 105))                  # 0.3 s without samples at 20 Hz: a gap
    assert len(preprocess(fast, np.zeros((len(fast), 3)), PreprocessConfig())) == 2
