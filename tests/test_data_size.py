import numpy as np

from helpers.experiments import nb01_data_size as data_size
from helpers.experiments.arms import ArmResult


def fake(arm, group, n, scores, seed=0, rate=None):
    return ArmResult(
        arm,
        group,
        n,
        seed,
        {"field_f1": np.array(scores, float), "json_valid": np.array(scores, float)},
        [],
        0.0,
        info={"noise_rate": rate} if rate is not None else {},
    )


def grid(clean_big, noisy):
    base = [0.2] * 50
    return [
        fake("zero-shot", "baseline", 0, base),
        fake("clean-10", "clean", 10, [0.5] * 50),
        fake("clean-40", "clean", 40, clean_big),
        fake("noisy40%-80", "noisy 40%", 80, noisy, rate=0.4),
        fake("cleaned40%-80", "cleaned 40%", 55, clean_big, rate=0.4),
    ]


def test_verdicts_follow_the_data_in_both_directions():
    rng = np.random.default_rng(0)
    good = list(np.clip(0.8 + rng.normal(0, 0.05, 50), 0, 1))
    bad = list(np.clip(0.4 + rng.normal(0, 0.05, 50), 0, 1))
    clean_wins = data_size.data_size_verdicts(
        grid(good, bad), "field_f1", "cpu", format_metric="json_valid", format_threshold=0.95
    )
    assert [v.status for v in clean_wins[:3]] == ["supported", "supported", "supported"]
    assert "(40)" in clean_wins[0].claim and "(80, noisy 40%)" in clean_wins[0].claim
    assert clean_wins[3].status == "not supported"  # about 0.8 valid JSON is below 95%
    noisy_wins = data_size.data_size_verdicts(grid(bad, good), "field_f1", "cpu")
    assert noisy_wins[0].status == "not supported" and noisy_wins[1].status == "not supported"


def test_curve_data_groups_and_sorts_and_skips_baselines():
    curves = data_size.curve_data(grid([0.9] * 50, [0.1] * 50), "field_f1")
    assert set(curves) == {"clean", "noisy 40%", "cleaned 40%"}
    assert curves["clean"][0] == [10, 40]
    assert curves["clean"][1][1]["mean"] == 0.9


def test_intake_arms_are_nested_and_share_records():
    specs = {s.arm: s for s in data_size.intake_arms([4, 8], [12], [0.5])}
    assert specs["clean-8"].examples[:4] == specs["clean-4"].examples
    noisy = specs["noisy50%-12"].examples
    assert sum(ex.meta["noise_kind"] is not None for ex in noisy) == 6
    assert [ex.meta["clean_target"] for ex in noisy[:8]] == [ex.reference for ex in specs["clean-8"].examples]
    assert len(specs["cleaned50%-12"].examples) == specs["cleaned50%-12"].info["filter"]["kept"]


def test_every_profile_grid_can_be_built():
    # Catches grids the data cannot supply (e.g. more balanced banking77 examples per intent than exist).
    from helpers.core.paths import data_dir
    from helpers.course.profiles import PROFILES, settings

    for profile in PROFILES:
        cfg = settings("data_size", profile)
        specs = data_size.intake_arms(cfg.clean_sizes, cfg.noisy_sizes, cfg.noise_rates)
        assert len(specs) == len(cfg.clean_sizes) + 2 * len(cfg.noisy_sizes) * len(cfg.noise_rates)
        if data_dir() is not None:
            bank = data_size.banking_arms(
                cfg.bank_clean_sizes, cfg.bank_noisy_sizes, cfg.bank_noise_rates, cfg.bank_intents
            )
            assert max(len(s.examples) for s in bank) == max(cfg.bank_clean_sizes + cfg.bank_noisy_sizes)
