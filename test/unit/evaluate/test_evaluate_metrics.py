"""Metrics against hand-computed values (evaluate.metrics, evaluate.runner.score_predictions)."""
import numpy as np
import pytest

from uav_traj_predictor.evaluate import Protocol, WindowScores, score_predictions, score_windows, summarise


def constant_offset(n=4, horizon=10, offset=(3.0, 4.0, 0.0)):
    truth = np.random.default_rng(0).normal(size=(n, horizon, 3))
    return truth + np.asarray(offset), truth


def test_constant_offset_gives_its_length_everywhere():
    predicted, truth = constant_offset()
    summary = summarise(score_windows(predicted, truth))
    assert summary["windows"] == 4
    assert summary["ade"] == pytest.approx(5.0)
    assert summary["fde"] == pytest.approx(5.0)
    assert summary["ade_0p5"] == pytest.approx(5.0)
    assert summary["err_by_step"] == pytest.approx([5.0] * 10)
    assert "coverage_1sigma" not in summary and "nll" not in summary


def test_error_growing_with_step():
    truth = np.zeros((2, 10, 3))
    predicted = truth.copy()
    predicted[:, :, 0] = np.arange(1, 11) * 0.1          # error 0.1 j at step j
    predicted[1, :, 0] *= 3.0                            # second window three times larger
    summary = summarise(score_windows(predicted, truth), short_steps=5)
    steps = np.arange(1, 11) * 0.1
    assert summary["err_by_step"] == pytest.approx(list(2.0 * steps))      # mean of 1x and 3x
    assert summary["ade"] == pytest.approx(2.0 * steps.mean())
    assert summary["fde"] == pytest.approx(2.0)
    assert summary["ade_0p5"] == pytest.approx(2.0 * steps[:5].mean())


def test_coverage_and_nll_by_hand():
    truth = np.zeros((1, 2, 3))
    predicted = np.array([[[0.5, 1.5, 2.5], [-0.5, -1.0, 3.0]]])   # |e| / std with std = 1
    std = np.ones_like(predicted)
    summary = summarise(score_windows(predicted, truth, std), short_steps=1)
    # |z| = .5 1.5 2.5 .5 1 3 -> within 1: 3 of 6, within 2: 4 of 6
    assert summary["coverage_1sigma"] == pytest.approx(0.5)
    assert summary["coverage_2sigma"] == pytest.approx(4 / 6)
    z2 = np.array([0.25, 2.25, 6.25, 0.25, 1.0, 9.0])
    assert summary["nll"] == pytest.approx(0.5 * np.log(2 * np.pi) + 0.5 * z2.mean())
    wider = summarise(score_windows(predicted, truth, 2 * std), short_steps=1)
    assert wider["nll"] == pytest.approx(0.5 * np.log(2 * np.pi) + np.log(2.0) + 0.5 * z2.mean() / 4)


def test_pooling_is_window_weighted():
    one, _ = constant_offset(n=1, offset=(1.0, 0, 0))
    three, _ = constant_offset(n=3, offset=(3.0, 0, 0))
    a = score_windows(one, one - np.array([1.0, 0, 0]))
    b = score_windows(three, three - np.array([3.0, 0, 0]))
    pooled = summarise(WindowScores.concat([a, b]))
    assert pooled["windows"] == 4
    assert pooled["ade"] == pytest.approx((1 + 3 * 3) / 4)


def test_empty_parts_keep_std_metrics():
    predicted, truth = constant_offset(n=2)
    with_std = score_windows(predicted, truth, np.ones_like(truth))
    empty = WindowScores(np.zeros((0, 10)), None, None, None)
    assert "nll" in summarise(WindowScores.concat([empty, with_std]))
    assert summarise(empty) == {"windows": 0}


def test_bad_predictions_are_rejected_with_a_reason():
    predicted, truth = constant_offset()
    with pytest.raises(ValueError, match="shape|must"):
        score_windows(predicted[:, :5], truth)
    predicted[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite predicted positions .*window 1"):
        score_windows(predicted, truth)
    with pytest.raises(ValueError, match="std"):
        score_windows(truth, truth, np.zeros_like(truth))


def test_score_predictions_of_recorded_windows():
    grid = np.cumsum(np.ones((40, 3)) * 0.1, axis=0)            # straight line, 1 m/s per axis at 10 Hz
    indices = np.array([20, 25, 29])
    exact = grid[indices[:, None] + np.arange(1, 11)]
    shifted = exact + np.array([0.0, 0.0, 0.15])
    longer = np.concatenate([shifted, shifted[:, :2]], axis=1)     # extra steps beyond the horizon ignored
    summary = score_predictions(grid, indices, longer, std=np.full(longer.shape, 0.1))
    assert summary["windows"] == 3
    assert summary["ade"] == pytest.approx(0.15)
    assert summary["coverage_1sigma"] == pytest.approx(2 / 3)    # x, y exact; z at 1.5 sigma
    assert summary["coverage_2sigma"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="indices"):
        score_predictions(grid, np.array([30]), exact[:1])
    short = Protocol(horizon=5)
    assert score_predictions(grid, np.array([34]), exact[:1, :5] * 0 + grid[35:40][None], protocol=short)["ade"] == 0


def test_miss_rates_nees_and_coverage_per_step():
    """Final errors of 0.3 / 0.7 / 1.5 m give miss rates 2/3 (0.5 m) and 1/3 (1 m); a std equal to
    the per-axis error gives NEES 3 and coverage 1 (|e| <= std) at every step."""
    import numpy as np
    from uav_traj_predictor.evaluate.metrics import score_windows, summarise
    truth = np.zeros((3, 4, 3))
    predicted = np.zeros((3, 4, 3))
    predicted[:, :, 0] = np.array([0.3, 0.7, 1.5])[:, None]
    summary = summarise(score_windows(predicted, truth, np.full((3, 4, 3), 0.5)), short_steps=2)
    assert summary["miss_rate_0p5m"] == pytest.approx(2 / 3) and summary["miss_rate_1m"] == pytest.approx(1 / 3)
    assert len(summary["nees_by_step"]) == 4 and len(summary["coverage_1sigma_by_step"]) == 4
    expected = np.mean([(0.3 / 0.5) ** 2, (0.7 / 0.5) ** 2, (1.5 / 0.5) ** 2])
    assert summary["nees"] == pytest.approx(expected)
    assert summary["coverage_1sigma_by_step"] == pytest.approx([7 / 9] * 4)     # x: 0.3 in, 0.7 and 1.5 out
