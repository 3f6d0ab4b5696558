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


def test_proportion_intervals_are_never_zero_width_at_the_boundary():
    """24 of 24 correct: the percentile bootstrap says [1, 1]; Wilson's lower bound is about 86%."""
    for values in ([1.0] * 24, [[1.0] * 24] * 3):
        s = stats.summarize(values)
        assert s["ci_high"] == 1.0 and 0.85 < s["ci_low"] < 0.87, s
    zero = stats.summarize([0.0] * 24)
    assert zero["ci_low"] == pytest.approx(0.0, abs=1e-12) and 0.13 < zero["ci_high"] < 0.15
    assert stats.summarize([1.0] * 24)["interval_method"].startswith("Wilson")
    assert "Wilson" in stats.summarize([[1.0] * 24] * 3)["interval_method"]
    assert stats.wilson_interval(12, 24) == pytest.approx((0.314, 0.686), abs=1e-3)


def test_a_threshold_verdict_at_24_of_24_is_not_supported_over_95_percent():
    v = verdict.judge_threshold("00.x", "over 95%", [1.0] * 24, 0.95, "cpu", unit="%", scale=100)
    assert v.status == "inconclusive" and v.ci_low < 0.95 and v.p_value > 0.05
    clear = verdict.judge_threshold("00.y", "over 50%", [1.0] * 24, 0.5, "cpu")
    assert clear.status == "supported" and clear.p_value < 1e-6
    below = verdict.judge_threshold("00.z", "under 10%", [0.0] * 60, 0.10, "cpu", above=False)
    assert below.status == "supported"


def test_seed_variance_widens_the_interval():
    """The same items, seeds that disagree: the two-level interval is wider than any one seed's and than
    the item bootstrap of the seed-averaged items (which drops seed-to-seed variance)."""
    rng = np.random.default_rng(5)
    seeds = np.stack([rng.binomial(1, p, 80) for p in (0.3, 0.5, 0.7)]).astype(float)
    two_level = stats.summarize(seeds)
    averaged = stats.bootstrap_ci(seeds.mean(axis=0))
    assert two_level["n_seeds"] == 3 and two_level["n"] == 80
    assert (two_level["ci_high"] - two_level["ci_low"]) > (averaged[1] - averaged[0]) * 1.3
    base = rng.binomial(1, 0.4, 80).astype(float)
    several = stats.paired_comparison(seeds, base)
    one = stats.paired_comparison(seeds.mean(axis=0), base)
    assert several["interval_method"].startswith("two-level") and one["interval_method"].startswith("item")
    assert (several["ci_high"] - several["ci_low"]) > (one["ci_high"] - one["ci_low"])
    assert several["n_seeds"] == 3 and several["n"] == 80


def test_per_seed_effects_are_kept_when_both_arms_have_the_same_seeds():
    a = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], dtype=float)
    b = np.array([[0, 1, 0, 0], [0, 0, 0, 0]], dtype=float)
    result = stats.paired_comparison(a, b)
    assert result["per_seed_diff"] == pytest.approx([0.25, 0.75])
    assert "per_seed_diff" not in stats.paired_comparison(a, b[0])


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


def test_one_sided_test_against_a_margin():
    """Non-inferiority: H0 "A is worse by 5 points or more". Equal arms reject it on enough items."""
    rng = np.random.default_rng(2)
    b = rng.binomial(1, 0.6, 400).astype(float)
    a = b.copy()
    result = stats.paired_comparison(a, b, null=-0.05, alternative="greater")
    assert result["p_value"] < 0.01
    worse = np.where(rng.random(400) < 0.2, 0.0, b)  # A loses about 12 points
    assert stats.paired_comparison(worse, b, null=-0.05, alternative="greater")["p_value"] > 0.5
    with pytest.raises(ValueError):
        stats.paired_comparison(a, b, alternative="less")


def test_seed_summary_t_interval():
    summary = stats.seed_summary([0.5, 0.6, 0.7])
    assert summary["mean"] == pytest.approx(0.6)
    assert summary["ci_low"] == pytest.approx(0.6 - 4.303 * 0.1 / np.sqrt(3), abs=1e-3)


def _comparison(low, high, p=0.01, n=100):
    return {"mean_diff": (low + high) / 2, "ci_low": low, "ci_high": high, "p_value": p, "n": n}


@pytest.mark.parametrize(
    "low,high,expected", [(0.05, 0.2, "supported"), (-0.2, -0.01, "not supported"), (-0.05, 0.1, "inconclusive")]
)
def test_verdict_follows_the_interval(low, high, expected):
    v = verdict.judge_difference("00.a_beats_b", "A beats B", _comparison(low, high), "cpu")
    assert v.status == expected and expected.upper() in v.text and not v.text.startswith("[SMOKE")


def test_interval_and_test_must_agree_before_a_claim_is_supported():
    """Few items: the bootstrap interval excludes zero, the exact sign-flip test does not."""
    replay, new_only = np.array([1] * 4 + [1] * 5 + [0] * 7), np.array([0] * 4 + [1] * 5 + [0] * 7)  # 4 against 0 of 16
    comparison = stats.paired_comparison(replay, new_only)
    assert comparison["ci_low"] > 0 and comparison["p_value"] > 0.1
    v = verdict.judge_difference("04.replay", "replay prevents forgetting", comparison, "cpu")
    assert v.status == "inconclusive" and "the test does not" in v.text
    clear = stats.paired_comparison(np.array([1] * 14 + [0] * 2), np.array([0] * 14 + [0] * 2))
    assert verdict.judge_difference("04.replay", "replay prevents forgetting", clear, "cpu").status == "supported"


def test_holm_adjusts_within_a_family():
    assert stats.holm([0.041, 0.01, None, 0.3]) == pytest.approx([0.082, 0.03, None, 0.3])
    assert stats.holm([0.01, 0.01, 0.01]) == pytest.approx([0.03, 0.03, 0.03])
    assert stats.holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])  # monotone: never below an earlier step
    assert stats.holm([]) == []


def test_family_correction_turns_a_marginal_supported_into_inconclusive_and_is_idempotent():
    """Notebook 01's "more clean data helps" (p = .041) among five verdicts: not significant after Holm."""
    verdicts = [
        verdict.judge_difference("01.a", "A", _comparison(0.013, 0.186, p=0.041, n=24), "cpu"),
        verdict.judge_difference("01.b", "B", _comparison(0.1, 0.3, p=0.0002), "cpu"),
        verdict.judge_difference("01.c", "C", _comparison(-0.03, 0.11, p=0.355), "cpu"),
        verdict.judge_measured("01.d", "D", [0.5], 0.1, "cpu"),
    ]
    assert verdicts[0].status == "supported"
    once = [v.to_dict() for v in verdict.family(verdicts, model={"parameters": 134_515_008})]
    twice = [v.to_dict() for v in verdict.family(verdicts, model={"parameters": 134_515_008})]
    assert once == twice
    a, b, c, d = once
    assert a["status"] == "inconclusive" and a["status_uncorrected"] == "supported"
    assert a["p_value"] == 0.041 and a["p_holm"] == pytest.approx(0.082) and "Holm-adjusted" in a["text"]
    assert b["status"] == "supported" and b["p_holm"] == pytest.approx(0.0006)
    assert d["p_holm"] is None and d["status"] == "supported"  # measured: no sampling, not in the family
    assert a["scale"] == "135M, 1 seed, n=24" and a["text"].endswith("[135M, 1 seed, n=24]")


def test_family_rejects_duplicate_ids_and_by_id_names_the_missing_one():
    v = verdict.judge_measured("02.x", "X", [1.0], 0.5, "cpu")
    with pytest.raises(ValueError, match="02.x"):
        verdict.family([v, v])
    with pytest.raises(KeyError, match="02.x"):
        verdict.by_id([v], "02.y")


def test_result_json_carries_the_acceptance_fields():
    v = verdict.judge_difference("00.q", "Q", stats.paired_comparison([1, 1, 0, 1] * 6, [0, 1, 0, 0] * 6), "cpu")
    verdict.flag_chance(v, 1 / 6, {"base": stats.summarize([0, 1, 0, 0] * 6)})
    record = verdict.family([v], model="135M")[0].to_dict()
    for key in ("id", "n_seeds", "n_items", "p_value", "p_holm", "interval_method", "chance", "scale", "text"):
        assert key in record, key
    assert record["n_seeds"] == 1 and record["n_items"] == 24 and record["chance"] == pytest.approx(1 / 6)
    assert "Chance (16.7%) is within the interval of: base" in record["text"]


def test_chance_is_flagged_only_where_an_interval_reaches_it():
    v = verdict.judge_difference("00.q", "Q", _comparison(0.1, 0.3), "cpu")
    verdict.flag_chance(v, 0.25, {"tuned": {"ci_low": 0.6, "ci_high": 0.8}})
    assert v.chance == 0.25 and not v.notes
    verdict.flag_chance(v, 0.25, {"noisy": {"ci_low": 0.04, "ci_high": 0.3}, "mute": {"ci_low": 0.0, "ci_high": 0.1}})
    assert "Chance (25.0%) is within the interval of: noisy" in v.text
    assert "Below chance (25.0%) by its whole interval: mute" in v.text


def test_smoke_verdicts_are_labelled():
    v = verdict.judge_difference("00.a", "A beats B", _comparison(0.05, 0.2), "smoke")
    assert v.text.startswith("[SMOKE RUN")
    assert verdict.judge_threshold("00.t", "over 95%", [1.0] * 30 + [0.0], 0.95, "cpu").status == "inconclusive"


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
        "02.lora_within_margin",
        "LoRA within 5 points of full",
        {"mean_diff": (low + high) / 2, "ci_low": low, "ci_high": high, "n": 100},
        0.05,
        "cpu",
    )
    assert v.status == expected and "margin -5.0 points" in v.text


def test_non_inferiority_needs_its_one_sided_test_when_one_was_run():
    few = stats.paired_comparison([1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 1.0], null=-0.05, alternative="greater")
    v = verdict.judge_non_inferiority("02.x", "within 5", few, 0.05, "cpu")
    assert v.p_value == few["p_value"] and v.p_value >= 0.05 and v.status == "inconclusive"
    untested = stats.paired_comparison([1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 0.0, 1.0])  # null 0: not this test
    assert verdict.judge_non_inferiority("02.x", "within 5", untested, 0.05, "cpu").p_value is None


def test_measured_quantities_are_judged_against_the_threshold():
    assert (
        verdict.judge_measured("02.p", "under 1%", [0.035], 0.01, "cpu", above=False, unit="%", scale=100).status
        == "not supported"
    )
    assert verdict.judge_measured("02.p", "under 1%", [0.004, 0.005], 0.01, "cpu", above=False).status == "supported"
    mixed = verdict.judge_measured("02.m", "at least 2x", [1.8, 2.4], 2.0, "cpu", unit="x")
    assert mixed.status == "inconclusive" and "range over 2 runs" in mixed.text


def test_event_order_verdicts():
    assert verdict.judge_event_order("04.t", "in time", 1, 1, "cpu", "fired", "dropped").status == "supported"
    assert verdict.judge_event_order("04.t", "in time", 2, 1, "cpu", "fired", "dropped").status == "not supported"
    assert verdict.judge_event_order("04.t", "in time", None, 1, "cpu", "fired", "dropped").status == "not supported"
    assert verdict.judge_event_order("04.t", "in time", 1, None, "cpu", "fired", "dropped").status == "inconclusive"


def test_independent_comparison_for_different_items():
    rng = np.random.default_rng(3)
    before, after = rng.binomial(1, 0.8, 200), rng.binomial(1, 0.5, 150)  # different sizes: not pairable
    result = stats.independent_comparison(before, after)
    assert result["ci_low"] > 0.15 and result["p_value"] < 0.01 and result["n"] == 350
    same = stats.independent_comparison(before, before[:100])
    assert same["ci_low"] < 0 < same["ci_high"]
    text = verdict.judge_difference("04.d", "decays", result, "cpu").text
    assert "independent samples p=" in text and "paired" not in text
    seeds = stats.independent_comparison(np.stack([before, before[::-1]]), after)
    assert seeds["n_seeds"] == 2 and seeds["interval_method"].startswith("two-level")


def test_newcombe_paired_interval_matches_the_published_example():
    """Newcombe (1998), paired example with 36 both, 12 A only, 2 B only, 0 neither: 0.0569 to 0.3404."""
    a = [1] * 36 + [1] * 12 + [0] * 2
    b = [1] * 36 + [0] * 12 + [1] * 2
    assert stats.newcombe_paired_interval(a, b) == pytest.approx((0.0569, 0.3404), abs=5e-4)


def test_arms_that_agree_on_every_item_do_not_get_a_zero_width_interval_or_a_margin_verdict():
    """16 of 16 wrong in both arms: the item bootstrap says the difference is exactly 0, which made
    "LoRA within 5 points of full" supported at p = 0.0002 on a smoke run."""
    tied = stats.paired_comparison([0.0] * 16, [0.0] * 16, null=-0.05, alternative="greater")
    assert tied["ci_low"] < -0.15 and tied["ci_high"] > 0.15 and "Newcombe" in tied["interval_method"]
    assert tied["p_value"] > 0.05
    v = verdict.judge_non_inferiority("02.lora_within_margin", "within 5", tied, 0.05, "cpu")
    assert v.status == "inconclusive"
    many = stats.paired_comparison([1.0, 0.0] * 400, [1.0, 0.0] * 400, null=-0.05, alternative="greater")
    assert many["p_value"] < 0.01 and many["ci_low"] > -0.05  # agreement on 800 items does settle it
