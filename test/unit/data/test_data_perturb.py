"""data.perturb: measurement models applied to flights, seeded per flight, parsed from the CLI's text."""
import numpy as np
import pytest

from uav_traj_predictor.data import Flight
from uav_traj_predictor.data.perturb import Perturbation, perturb_flight


def flight(name="f", rate=200.0, seconds=30.0):
    t = np.arange(int(rate * seconds)) / rate
    p = np.column_stack([np.cos(t), np.sin(t), 0.1 * t])
    return Flight(name, f"/data/{name}.txt", t, p, v=np.gradient(p, t, axis=0))


def test_parse_round_trips_and_refuses_bad_text():
    spec = Perturbation.parse("rate=20,noise=0.01,dropout=0.05")
    assert (spec.rate, spec.noise, spec.dropout) == (20.0, 0.01, 0.05)
    assert Perturbation.parse(spec.label()) == spec and spec.label() == "rate=20,dropout=0.05,noise=0.01"
    assert Perturbation.parse("none").is_identity and Perturbation.parse("").label() == "clean"
    for bad, match in [("noise", "key=value"), ("sped=3", "key one of"), ("speed=0", "speed must be > 0"),
                       ("scale=-2", ">= 0"), ("scale=0", "scale must be > 0"), ("noise=abc", "not a number"),
                       ("noise=-1", ">= 0"), ("dropout=1", "probability"), ("rate=0", "> 0"),
                       ("noise=1,noise=2", "twice"), ("noise=nan", "finite")]:
        with pytest.raises(ValueError, match=match):
            Perturbation.parse(bad)


def test_same_seed_and_name_give_the_same_samples_in_any_order():
    spec = Perturbation.parse("rate=20,noise=0.01,dropout=0.1,outliers=0.01,gaps=2,drift=0.001,jitter=0.001")
    a, b = flight("a"), flight("b")
    first = perturb_flight(a, spec, seed=3)
    perturb_flight(b, spec, seed=3)                     # another flight in between changes nothing
    again = perturb_flight(a, spec, seed=3)
    np.testing.assert_array_equal(first.t, again.t)
    np.testing.assert_array_equal(first.p, again.p)
    other = perturb_flight(a, spec, seed=4)
    assert len(other.t) != len(first.t) or not np.array_equal(other.p, first.p)
    assert not np.array_equal(perturb_flight(b, spec, seed=3).p[:50], first.p[:50])   # per-flight streams
    assert "perturbed (" in first.report.notes[-1] and a.report.notes == []            # the input is left alone


def test_each_setting_does_what_it_says():
    base = flight(rate=200.0, seconds=60.0)
    thinned = perturb_flight(base, Perturbation(rate=20.0))
    assert abs(len(thinned.t) - 1200) <= 1 and np.allclose(np.diff(thinned.t), 0.05)
    np.testing.assert_array_equal(thinned.p, base.p[::10][:len(thinned.t)])        # samples kept, not moved
    np.testing.assert_array_equal(thinned.v, base.v[::10][:len(thinned.t)])        # velocities follow their rows
    assert len(perturb_flight(base, Perturbation(rate=1000.0)).t) == len(base.t)    # no upsampling
    noisy = perturb_flight(base, Perturbation(noise=0.01), seed=1)
    assert np.std(noisy.p - base.p) == pytest.approx(0.01, rel=0.03)
    dropped = perturb_flight(base, Perturbation(dropout=0.2), seed=1)
    assert len(dropped.t) / len(base.t) == pytest.approx(0.8, abs=0.02)
    outliers = perturb_flight(base, Perturbation(outliers=0.01, outlier_size=0.5), seed=1)
    moved = np.linalg.norm(outliers.p - base.p, axis=1) > 0
    assert moved.mean() == pytest.approx(0.01, abs=0.004) and np.abs(outliers.p - base.p).max() > 0.5
    gaps = perturb_flight(base, Perturbation(gaps=3.0, gap_len=5.0), seed=1)
    steps = np.diff(gaps.t)
    assert (steps > 0.45).sum() >= 1 and steps.max() <= 5.0 + 0.01
    drift = perturb_flight(base, Perturbation(drift=0.01), seed=1)
    offset = drift.p - base.p
    assert np.abs(offset[-1]).max() > np.abs(offset[10]).max()                     # a random walk grows
    jittered = perturb_flight(base, Perturbation(jitter=0.001), seed=1)
    assert (np.diff(jittered.t) >= 0).all() and not np.array_equal(jittered.t, base.t)


def test_attitude_noise_turns_the_orientations_only_and_draws_last():
    from scipy.spatial.transform import Rotation
    base = flight(rate=100.0, seconds=20.0)
    base.q = Rotation.from_euler("z", base.t[:, None]).as_quat()
    base.q[7] = (0.0, 0.0, 0.0, 0.0)                                  # no rotation: left as it is
    spec = Perturbation.parse("rate=20,noise=0.01")
    plain = perturb_flight(base, spec, seed=2)
    turned = perturb_flight(base, Perturbation.parse("rate=20,noise=0.01,attitude=2"), seed=2)
    np.testing.assert_array_equal(turned.p, plain.p)                  # the positions' stream is the same
    angles = (Rotation.from_quat(plain.q[1:]).inv() * Rotation.from_quat(turned.q[1:])).magnitude()
    assert np.degrees(np.sqrt(np.mean(angles ** 2))) == pytest.approx(2.0 * np.sqrt(3), rel=0.1)
    assert perturb_flight(base, Perturbation(attitude=2.0), seed=1).q[7].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert perturb_flight(flight(), Perturbation(attitude=2.0)).q is None
    assert Perturbation.parse("attitude=1").label() == "attitude=1" and not Perturbation(attitude=1).adds_error
    assert perturb_flight(base, Perturbation(positions_only=1)).q is None
    with pytest.raises(ValueError, match="0 or 1"):
        Perturbation(positions_only=0.5)


def test_speed_replays_the_same_path_faster_or_slower_before_the_sensor():
    base = flight(rate=200.0, seconds=20.0)
    faster = perturb_flight(base, Perturbation(speed=2.0))
    np.testing.assert_array_equal(faster.t, base.t / 2.0)                              # time runs twice as fast
    np.testing.assert_array_equal(faster.p, base.p)                                    # along the same path
    np.testing.assert_array_equal(faster.v, 2.0 * base.v)
    slower = perturb_flight(base, Perturbation(speed=0.5, rate=20.0))                  # then thinned in replay time
    assert np.allclose(np.diff(slower.t), 0.05) and abs(len(slower.t) - 800) <= 1
    np.testing.assert_array_equal(slower.p, base.p[::5][:len(slower.t)])
    assert Perturbation.parse("speed=2,rate=20").label() == "speed=2,rate=20"
    larger = perturb_flight(base, Perturbation(scale=3.0))                            # the same timing, 3x the path
    np.testing.assert_array_equal(larger.t, base.t)
    np.testing.assert_allclose(larger.p - larger.p[0], 3.0 * (base.p - base.p[0]))
    np.testing.assert_allclose(larger.p[0], base.p[0])
    both = perturb_flight(base, Perturbation(scale=3.0, dropout=0.5), seed=0)
    assert both.t[0] > base.t[0]                                                    # the first sample dropped,
    kept = np.searchsorted(base.t, both.t)                                          # the centre is still it
    np.testing.assert_allclose(both.p, base.p[0] + 3.0 * (base.p[kept] - base.p[0]))
    np.testing.assert_allclose(larger.v, 3.0 * base.v)


def test_a_supplied_covariance_follows_its_rows_unless_the_model_adds_error():
    base = flight(rate=200.0, seconds=20.0)
    base.noise = np.linspace(0.01, 0.02, len(base.t))
    thinned = perturb_flight(base, Perturbation(speed=2.0, rate=20.0, dropout=0.1), seed=1)
    kept = np.searchsorted(base.t / 2.0, thinned.t)
    np.testing.assert_array_equal(thinned.noise, base.noise[kept])                     # the same sensor, fewer rows
    np.testing.assert_allclose(perturb_flight(base, Perturbation(scale=2.0)).noise, 2.0 * base.noise)
    for spec in ("noise=0.01", "drift=0.001", "outliers=0.01", "jitter=0.001"):
        assert perturb_flight(base, Perturbation.parse(spec), seed=1).noise is None, spec


def test_evaluate_records_the_perturbation_and_the_sweep_prints_one_table(tmp_path, capsys):
    from uav_traj_predictor.evaluate.cli import main, perturbations_of
    from uav_traj_predictor.evaluate.runner import evaluate_flights
    path = tmp_path / "f.txt"
    base = flight(seconds=40.0)
    np.savetxt(path, np.column_stack([base.t, base.p, np.tile([0, 0, 0, 1.0], (len(base.t), 1))]))
    report = evaluate_flights(path, ["cv"], perturbation=Perturbation.parse("rate=20,noise=0.01"), seed=5)
    assert report["perturbation"]["label"] == "rate=20,noise=0.01" and report["perturbation"]["seed"] == 5
    again = evaluate_flights(path, ["cv"], perturbation=Perturbation.parse("rate=20,noise=0.01"), seed=5)
    assert report["pooled"]["cv"]["ade"] == again["pooled"]["cv"]["ade"]              # reproducible
    sweep = perturbations_of(["rate=20"], "noise=0,0.01")
    assert [p.label() for p in sweep] == ["rate=20", "rate=20,noise=0.01"]
    with pytest.raises(ValueError, match="already set"):
        perturbations_of(["rate=20"], "rate=10,30")
    assert main([str(path), "--methods", "cv", "ca", "--perturb", "rate=20", "--sweep", "noise=0,0.01",
                 "--quiet", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "over perturbations" in out and "rate=20,noise=0.01" in out
