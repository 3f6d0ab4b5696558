"""The learning-rate sweep extends past an edge until its choice is interior, and says when it could not."""

import math

import pytest

from helpers.experiments.lr_sweep import grid_step, sweep_learning_rates


def _peaked(best: float):
    """A validation score that peaks at `best` (log scale) and records every rate asked for."""
    asked = []

    def score(rate: float) -> float:
        asked.append(rate)
        return -abs(math.log10(rate) - math.log10(best))

    return score, asked


def test_interior_best_needs_no_extension():
    score, asked = _peaked(1e-3)
    result = sweep_learning_rates(score, [3e-4, 1e-3, 3e-3])
    assert result.chosen == pytest.approx(1e-3)
    assert result.interior and result.extensions == 0
    assert len(asked) == 3


def test_best_at_low_edge_extends_downwards_until_interior():
    score, asked = _peaked(1e-5)
    result = sweep_learning_rates(score, [1e-4, 1e-3, 1e-2], max_extensions=4)
    assert result.chosen == pytest.approx(1e-5)
    assert result.interior
    assert min(result.rates) == pytest.approx(1e-6)  # one step beyond the best, to show it is interior
    assert result.extensions == 2


def test_best_at_high_edge_extends_upwards():
    score, _ = _peaked(3e-2)
    result = sweep_learning_rates(score, [1e-3, 3e-3, 1e-2])
    assert result.interior
    assert result.chosen > 1e-2 and max(result.rates) > result.chosen


def test_extensions_run_out_and_the_edge_is_recorded():
    score, _ = _peaked(1e-9)
    result = sweep_learning_rates(score, [1e-4, 1e-3, 1e-2], max_extensions=2)
    assert not result.interior and result.edge == "low"
    assert result.chosen == min(result.rates)
    assert result.to_dict()["interior"] is False
    assert "may lie beyond" in result.note("lora")


def test_diverged_runs_count_as_worst():
    def score(rate):
        return float("nan") if rate > 5e-3 else rate  # higher is better until it diverges

    result = sweep_learning_rates(score, [1e-3, 3e-3, 1e-2])
    assert result.chosen == pytest.approx(3e-3) and result.interior
    assert result.scores[-1] == -math.inf


def test_ties_prefer_the_interior_rate():
    result = sweep_learning_rates(lambda rate: 1.0 if rate <= 1e-3 else 0.0, [3e-4, 1e-3, 3e-3], max_extensions=0)
    assert result.chosen == pytest.approx(1e-3) and result.interior


def test_a_sweep_needs_three_rates():
    with pytest.raises(ValueError, match="at least 3"):
        sweep_learning_rates(lambda rate: 0.0, [1e-3, 3e-3])


def test_grid_step_is_the_median_ratio():
    assert grid_step([1e-4, 1e-3, 1e-2]) == pytest.approx(10)
    assert grid_step([3e-4, 1e-3, 3e-3]) == pytest.approx((10 / 3 + 3) / 2)


def test_extensions_stay_on_the_ladder_that_the_grid_uses():
    score, _ = _peaked(3e-2)
    result = sweep_learning_rates(score, [3e-4, 1e-3, 3e-3], max_extensions=3)
    assert result.rates[3:] == pytest.approx([1e-2, 3e-2, 1e-1])  # not 3e-3 x 3.17 = 9.5e-3
    score, _ = _peaked(1e-5)
    result = sweep_learning_rates(score, [3e-4, 1e-3, 3e-3], max_extensions=1)
    assert min(result.rates) == pytest.approx(1e-4) and result.edge == "low"
    score, _ = _peaked(2.5e-5)
    result = sweep_learning_rates(score, [2e-4, 5e-4, 1.25e-3], max_extensions=1)  # off the ladder: the grid's ratio
    assert min(result.rates) == pytest.approx(8e-5)


def test_keeping_the_best_fit_returns_the_chosen_rates_fit_and_releases_every_other():
    from helpers.experiments.lr_sweep import sweep_keeping_best

    released = []
    scores = {1e-3: 0.2, 3e-3: 0.6, 1e-2: 0.6, 3e-2: 0.1}
    sweep, fitted = sweep_keeping_best(
        lambda rate: (scores[rate], f"model at {rate:g}"), [1e-3, 3e-3, 1e-2], max_extensions=2, release=released.append
    )
    # 3e-3 and 1e-2 tie: both are kept until the sweep ends; the tie goes to the rate nearer the middle
    assert sweep.chosen == 3e-3 and sweep.interior and fitted == "model at 0.003"
    assert sorted(released) == ["model at 0.001", "model at 0.01"]  # the worse one at once, the tied one at the end


def test_extended_rates_are_the_floats_their_decimal_names_hold():
    score, _ = _peaked(1e-5)
    result = sweep_learning_rates(score, [1e-3, 3e-3, 1e-2], max_extensions=2)
    assert result.rates[:2] == [1e-4, 3e-4]  # exactly, not 0.00030000000000000003
    assert repr(result.rates[1]) == "0.0003"
