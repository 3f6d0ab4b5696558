import numpy as np
import pytest

from helpers.core import stats
from helpers.experiments import verdict


def test_bootstrap_interval_covers_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = rng.binomial(1, 0.6, 50)
    large = rng.binomial(1, 0.6, 2000)
    s, big = stats.summarize(small), stats.summarize(large)
    assert s["ci_low"] <= s["mean"] <= s["ci_high"]
    assert (big["ci_high"] - big["ci_low"]) < (s["ci_high"] - s["ci_low"])
    assert big["ci_low"] < 0.6 < big["ci_high"]


def test_paired_comparison_detects_a_real_difference_and_not_a_fake_one():
    rng = np.random.default_rng(1)
    b = rng.binomial(1, 0.4, 300).astype(float)
    a = np.where(rng.random(300) < 0.3, 1.0, b)  # A fixes 30% of items
    real = stats.paired_comparison(a, b)
    assert real["mean_diff"] > 0 and real["ci_low"] > 0 and real["p_value"] < 0.01
    same = stats.paired_comparison(b, b)
    assert same["mean_diff"] == 0 and same["p_value"] == 1.0
    with pytest.raises(ValueError):
        stats.paired_comparison([1, 0], [1])


def test_seed_summary_t_interval():
    summary = stats.seed_summary([0.5, 0.6, 0.7])
    assert summary["mean"] == pytest.approx(0.6)
    assert summary["ci_low"] == pytest.approx(0.6 - 4.303 * 0.1 / np.sqrt(3), abs=1e-3)


@pytest.mark.parametrize(
    "low,high,expected", [(0.05, 0.2, "supported"), (-0.2, -0.01, "not supported"), (-0.05, 0.1, "inconclusive")]
)
def test_verdict_follows_the_interval(low, high, expected):
    v = verdict.judge_difference(
        "A beats B", {"mean_diff": (low + high) / 2, "ci_low": low, "ci_high": high, "p_value": 0.01, "n": 100}, "cpu"
    )
    assert v.status == expected and expected.upper() in v.text and not v.text.startswith("[SMOKE")


def test_interval_and_test_must_agree_before_a_claim_is_supported():
    """Few items: the bootstrap interval excludes zero, the exact sign-flip test does not."""
    replay, new_only = np.array([1] * 4 + [1] * 5 + [0] * 7), np.array([0] * 4 + [1] * 5 + [0] * 7)  # 4 against 0 of 16
    comparison = stats.paired_comparison(replay, new_only)
    assert comparison["ci_low"] > 0 and comparison["p_value"] > 0.1
    v = verdict.judge_difference("replay prevents forgetting", comparison, "cpu")
    assert v.status == "inconclusive" and "permutation test does not" in v.text
    clear = stats.paired_comparison(np.array([1] * 14 + [0] * 2), np.array([0] * 14 + [0] * 2))
    assert verdict.judge_difference("replay prevents forgetting", clear, "cpu").status == "supported"


def test_smoke_verdicts_are_labelled():
    v = verdict.judge_difference("A beats B", {"mean_diff": 0.1, "ci_low": 0.05, "ci_high": 0.2, "n": 10}, "smoke")
    assert v.text.startswith("[SMOKE RUN")
    t = verdict.judge_threshold("over 95%", {"mean": 0.97, "ci_low": 0.93, "ci_high": 0.99}, 0.95, "cpu")
    assert t.status == "inconclusive"


@pytest.mark.parametrize(
    "low,high,expected",
    [
        (-0.03, 0.02, "supported"),
        (-0.2, -0.08, "not supported"),
        (-0.08, 0.01, "inconclusive"),
        (-0.04, -0.01, "supported"),
    ],
)
def test_non_inferiority_uses_the_margin_not_zero(low, high, expected):
    v = verdict.judge_non_inferiority(
        "LoRA within 5 points of full",
        {"mean_diff": (low + high) / 2, "ci_low": low, "ci_high": high, "n": 100},
        0.05,
        "cpu",
    )
    assert v.status == expected and "margin -5.0 points" in v.text


def test_measured_quantities_are_judged_against_the_threshold():
    assert (
        verdict.judge_measured("under 1%", [0.035], 0.01, "cpu", above=False, unit="%", scale=100).status
        == "not supported"
    )
    assert verdict.judge_measured("under 1%", [0.004, 0.005], 0.01, "cpu", above=False).status == "supported"
    mixed = verdict.judge_measured("at least 2x", [1.8, 2.4], 2.0, "cpu", unit="x")
    assert mixed.status == "inconclusive" and "range over 2 runs" in mixed.text


def test_independent_comparison_for_different_items():
    rng = np.random.default_rng(3)
    before, after = rng.binomial(1, 0.8, 200), rng.binomial(1, 0.5, 150)  # different sizes: not pairable
    result = stats.independent_comparison(before, after)
    assert result["ci_low"] > 0.15 and result["p_value"] < 0.01 and result["n"] == 350
    same = stats.independent_comparison(before, before[:100])
    assert same["ci_low"] < 0 < same["ci_high"]
    text = verdict.judge_difference("decays", result, "cpu").text
    assert "independent samples p=" in text and "paired" not in text
