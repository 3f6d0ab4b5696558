"""Notebook 07: generators, the validation filter, diversity measures, the arms, the verdicts and the workload."""

import numpy as np
import pytest

from helpers.core.tasks import Example
from helpers.course.profiles import PROFILES, settings
from helpers.data.task_library import intent_example
from helpers.experiments import nb07_synthetic_data as sd
from helpers.experiments import verdict
from helpers.experiments.arms import ArmResult

LABELS = ["card_arrival", "change_pin", "exchange_rate"]
TEXTS = {
    "card_arrival": ["where is my new card", "my card has not arrived yet", "card delivery is late", "no card came"],
    "change_pin": ["how do I change my pin", "new pin please", "I want another pin code", "pin change in the app"],
    "exchange_rate": ["what exchange rate do you use", "rate for euros", "is the exchange rate fair", "dollar rate"],
}


def seed_set() -> list[Example]:
    return [intent_example(text, label, LABELS) for label in LABELS for text in TEXTS[label]]


def synthetic(text: str, label: str) -> Example:
    return sd.synthetic_example(text, label, LABELS, sd.COURSE, 0)


# --- generators --------------------------------------------------------------------------------------------


def test_the_rule_generator_needs_no_model_follows_its_seed_and_balances_the_intents():
    first, again, other = (sd.rule_generate(seed_set(), 12, s, LABELS) for s in (0, 0, 1))
    texts = [ex.last_user_message for ex in first.examples]
    assert texts == [ex.last_user_message for ex in again.examples]
    assert texts != [ex.last_user_message for ex in other.examples]
    assert sorted(ex.reference for ex in first.examples) == sorted(LABELS * 4)
    seed_words = {label: {w for t in TEXTS[label] for w in t.split()} for label in LABELS}
    for ex in first.examples:  # built from the seed messages of its own intent only
        assert set(ex.last_user_message.split()) <= seed_words[ex.reference], ex.last_user_message
        assert ex.meta["synthetic"] == sd.RULE


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  - My card never came.\nSecond line", ("My card never came.", "ok")),
        ('Message: "can I change my pin?"', ("can I change my pin?", "ok")),
        ("1. what rate do you give", ("what rate do you give", "ok")),
        ("", (None, "empty")),
        ("  \n - \n", (None, "empty")),
        ("12345 !!", (None, "no words")),
        ("I'm sorry, I can't help with that", (None, "refusal")),
    ],
)
def test_generator_outputs_are_cleaned_or_counted_as_unusable(raw, expected):
    assert sd.clean_generation(raw) == expected


def test_the_model_generator_follows_its_seed_sees_only_the_seed_set_and_counts_skips(tiny, monkeypatch):
    seen = []
    real = sd.generate

    def spy(loaded, prompts, **options):
        seen.extend(prompts)
        return real(loaded, prompts, **options)

    monkeypatch.setattr(sd, "generate", spy)
    runs = [sd.model_generate(tiny, seed_set(), 6, s, LABELS, 2, 1.0, 1.0, 8, 8) for s in (0, 0, 1)]
    assert [ex.last_user_message for ex in runs[0].examples] == [ex.last_user_message for ex in runs[1].examples]
    assert [ex.last_user_message for ex in runs[0].examples] != [ex.last_user_message for ex in runs[2].examples]
    for run in runs:
        assert len(run.examples) + sum(run.skipped.values()) == run.requested == 6
        assert str(run.requested) in run.skip_line()
    seeds = {t for ts in TEXTS.values() for t in ts}
    for prompt in seen:
        listed = [line[2:] for line in prompt[-1]["content"].splitlines() if line.startswith("- ")]
        assert listed and set(listed) <= seeds  # every example shown to the generator is a seed message


# --- the filter --------------------------------------------------------------------------------------------


def test_the_filter_removes_duplicates_length_outliers_and_label_disagreements():
    items = [
        synthetic("my new card has still not arrived", "card_arrival"),  # kept
        synthetic("where is my new card", "card_arrival"),  # a seed message: duplicate
        synthetic("I need to change the pin on my card", "change_pin"),  # kept
        synthetic("I need to change the pin on my card", "change_pin"),  # duplicate of the one before
        synthetic("pin", "change_pin"),  # too short
        synthetic(" ".join(["rate"] * 40), "exchange_rate"),  # too long
        synthetic("what exchange rate do you give for dollars", "card_arrival"),  # the seed classifier disagrees
    ]
    report = sd.validate(items, seed_set())
    assert [ex.last_user_message for ex in report.kept] == [items[0].last_user_message, items[2].last_user_message]
    assert report.removed == {"duplicate": 2, "too short": 1, "too long": 1, "label disagrees": 1}
    assert report.removed_share == pytest.approx(5 / 7)
    assert report.bounds == (2, 12)  # shortest seed message 2 words, longest 6


def test_the_filters_classifier_knows_only_the_seed_set():
    classifier = sd.SeedClassifier(seed_set())
    assert sorted(classifier.documents.values()) == sorted(t for ts in TEXTS.values() for t in ts)
    assert classifier.predict("how do I change my pin") == "change_pin"
    assert classifier.predict("zzz qqq") is None  # no word in common with the seed set: no label
    other = [intent_example("the exchange rate for pounds", "change_pin", LABELS)] + seed_set()[4:]
    assert sd.SeedClassifier(other).predict("exchange rate for pounds") == "change_pin"  # it learns what it is given


# --- diversity ---------------------------------------------------------------------------------------------


def test_diversity_measures_on_hand_made_sets():
    assert sd.distinct_n(["a b a b"], 1) == 0.5
    assert sd.distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert sd.distinct_n(["a", "a"], 2) == 0.0
    assert sd.jaccard("a b c", "b c d") == 0.5
    row = sd.diversity(["a b c", "x y z", "A B C!"], ["a b c", "b c d"])
    assert row["exact_copy_share"] == pytest.approx(2 / 3)
    assert row["near_copy_share"] == pytest.approx(2 / 3)
    assert row["nn_similarity"] == pytest.approx((1 + 0 + 1) / 3)
    assert row["distinct_1"] == pytest.approx(6 / 9)
    assert sd.mean_over_seeds([{"x": 1.0}, {"x": 3.0}]) == {"x": 2.0}


# --- splits and arms ---------------------------------------------------------------------------------------


def test_splits_are_disjoint_and_nested():
    splits = sd.make_splits(4, 8, 16, 12, 8)
    assert splits.large[:8] == splits.seed
    assert sorted(ex.reference for ex in splits.seed) == sorted(splits.labels * 2)
    sd.check_disjoint(real=splits.large, validation=splits.validation.eval, test=splits.test.eval)
    with pytest.raises(ValueError, match="share"):
        sd.check_disjoint(a=splits.seed, b=splits.seed[:1])


def test_every_arm_holds_the_data_its_claim_names():
    splits = sd.Splits(seed_set()[:6], seed_set(), None, None, LABELS)
    generated = {
        sd.COURSE: {s: sd.rule_generate(splits.seed, 24, s + 10, LABELS) for s in (0, 1)},
        sd.RULE: {s: sd.rule_generate(splits.seed, 24, s, LABELS) for s in (0, 1)},
    }
    for s in (0, 1):
        for ex in generated[sd.COURSE][s].examples:
            ex.meta["synthetic"] = sd.COURSE
    validated = {s: sd.validate(sd.synthetic_set(generated[sd.COURSE][s], 24), splits.seed) for s in (0, 1)}
    arms = {arm.arm: arm for arm in sd.build_arms(splits, generated, validated, [1, 4], [0, 1])}
    assert list(arms) == [
        sd.REAL_SEED,
        sd.SYNTHETIC_ONLY,
        sd.mixed_arm(1),
        sd.mixed_arm(4),
        sd.validated_arm(4),
        sd.mixed_arm(4, sd.RULE),
        sd.REAL_LARGE,
    ]

    def real(arm, s):
        return [ex for ex in arms[arm].examples[s] if "synthetic" not in ex.meta]

    def made(arm, s):
        return [ex for ex in arms[arm].examples[s] if "synthetic" in ex.meta]

    for s in (0, 1):
        assert arms[sd.REAL_SEED].examples[s] == splits.seed and not made(sd.REAL_SEED, s)
        assert not real(sd.SYNTHETIC_ONLY, s) and len(made(sd.SYNTHETIC_ONLY, s)) == 24
        assert real(sd.mixed_arm(1), s) == splits.seed and len(made(sd.mixed_arm(1), s)) == 6
        assert made(sd.mixed_arm(1), s) == made(sd.mixed_arm(4), s)[:6]  # nested
        assert made(sd.validated_arm(4), s) == validated[s].kept
        assert {ex.meta["synthetic"] for ex in made(sd.mixed_arm(4, sd.RULE), s)} == {sd.RULE}
        assert {ex.meta["synthetic"] for ex in made(sd.mixed_arm(4), s)} == {sd.COURSE}
        assert arms[sd.REAL_LARGE].examples[s] == splits.large
    assert made(sd.mixed_arm(4), 0) != made(sd.mixed_arm(4), 1)  # synthetic data is regenerated per seed
    assert sd.matched_steps(list(arms.values()), 1.0, 4) == 8  # one pass over the largest arm (6 + 24)
    tampered = dict(validated)
    tampered[0] = sd.validate([synthetic("I want a new pin code now", "change_pin")], splits.seed)
    with pytest.raises(ValueError, match="largest ratio"):
        sd.build_arms(splits, generated, tampered, [1, 4], [0, 1])


# --- verdicts ----------------------------------------------------------------------------------------------


def runs_for(arm: str, group: str, n: int, correct_per_seed: list[list[int]]) -> list[ArmResult]:
    return [
        ArmResult(arm, group, n, seed, {"accuracy": np.array(c, dtype=float)}, [""] * len(c), 0.0)
        for seed, c in enumerate(correct_per_seed)
    ]


def fake_runs(seed_acc, mixed_acc, validated_acc, synthetic_acc, large_acc, items=120):
    def correct(share, seed):
        rng = np.random.default_rng(seed)
        row = np.zeros(items, dtype=int)
        row[rng.permutation(items)[: round(share * items)]] = 1
        return list(row)

    spec = [
        (sd.REAL_SEED, sd.REAL, 40, seed_acc),
        (sd.SYNTHETIC_ONLY, sd.SYNTHETIC, 160, synthetic_acc),
        (sd.mixed_arm(4), sd.MIXED, 200, mixed_acc),
        (sd.validated_arm(4), sd.MIXED, 170, validated_acc),
        (sd.REAL_LARGE, sd.REAL, 160, large_acc),
    ]
    return {arm: runs_for(arm, group, n, [correct(acc, s) for s in range(3)]) for arm, group, n, acc in spec}


def test_verdicts_say_yes_and_no_from_the_numbers():
    good = sd.synthetic_verdicts(
        "banking77", fake_runs(0.3, 0.8, 0.95, 0.95, 0.85), [1, 4], "accuracy", "cpu", 0.05, 0.1
    )
    good = verdict.family(good)
    assert [v.id for v in good] == [
        "07.banking77.synthetic_adds_to_real",
        "07.banking77.validation_matters",
        "07.banking77.synthetic_alone_matches_real",
    ]
    assert [v.status for v in good] == [verdict.SUPPORTED] * 3
    assert all(v.chance == 0.1 and v.n_seeds == 3 and v.n_items == 120 for v in good)
    bad = sd.synthetic_verdicts("banking77", fake_runs(0.8, 0.3, 0.1, 0.2, 0.9), [1, 4], "accuracy", "cpu", 0.05, 0.1)
    bad = verdict.family(bad)
    assert [v.status for v in bad] == [verdict.NOT_SUPPORTED] * 3
    assert any("Chance (10.0%)" in note for note in bad[1].notes)  # the validated arm sits at chance
    note = sd.closing_note(bad, "banking77", 0.25, 0.05)
    assert "did not improve" in note and "fell short" in note and "improved accuracy" not in note
    assert "improved accuracy at the same training steps" in sd.closing_note(good, "banking77", 0.25, 0.05)


def test_a_synthetic_set_within_the_margin_is_not_yet_a_match():
    runs = fake_runs(0.3, 0.8, 0.8, 0.87, 0.9, items=60)
    result = sd.synthetic_verdicts("banking77", runs, [1, 4], "accuracy", "cpu", 0.05)[2]
    assert result.status == verdict.INCONCLUSIVE  # 3 points behind, the interval reaches past -5
    assert "margin -5.0" in result.details


# --- settings and workload ---------------------------------------------------------------------------------


def test_cpu_sizes_hold_the_design():
    cfg = settings("synthetic_data", "cpu")
    assert len(cfg.seeds) >= 3 and len(cfg.lr_grid) >= 3 and cfg.learning_rate is None
    assert cfg.n_large == cfg.n_seed * max(cfg.ratios)  # synthetic alone is compared with as many real messages
    assert sd.LARGER not in cfg.generators and sd.RULE in cfg.generators


@pytest.mark.parametrize("profile", PROFILES)
def test_the_workload_counts_every_arm_and_seed(profile):
    cfg = settings("synthetic_data", profile)
    work = sd.workload(cfg)
    arms = len(sd.planned_sizes(cfg))
    sweeps = 3 * (len(set(cfg.lr_grid)) + cfg.max_extensions)
    assert work.n_finetunes == arms * len(cfg.seeds) - 3 + sweeps
    steps = {f.sequences for f in work.finetunes}
    assert len(steps) == 1  # matched compute: every fine-tune the same sequences
    larger = [g for g in work.generations if g.label.startswith(sd.LARGER)]
    assert bool(larger) == (sd.LARGER in cfg.generators)
