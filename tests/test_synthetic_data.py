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
        ("I'm sorry, but I can't help with that", (None, "refusal")),
        ("I cannot assist with this request.", (None, "refusal")),
        ("As an AI, I do not have a bank account", (None, "refusal")),
        # customers who cannot do something are not refusals (banking77 holds such messages)
        ("I can't use my card because it is not working.", ("I can't use my card because it is not working.", "ok")),
        ("I cannot find my card", ("I cannot find my card", "ok")),
        ("I'm sorry to bother you, my card is stuck", ("I'm sorry to bother you, my card is stuck", "ok")),
        ("I am unable to top up", ("I am unable to top up", "ok")),
        # a lead-in on its own line is skipped: the message is the next line, or there is none
        ("Here's a new message with the same intent:\nMy card never arrived", ("My card never arrived", "ok")),
        ('Sure, here it is.\n"where is my refund"', ("where is my refund", "ok")),
        ("Here's the answer:", (None, "lead-in only")),
        ("Message:\n- why was I charged twice", ("why was I charged twice", "ok")),
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
    empty = sd.validate([], seed_set())
    assert empty.removed_share is None and empty.agreement is None and empty.to_dict()["removed_share"] is None


def test_the_filters_reference_is_the_real_messages_outside_the_seed():
    splits = sd.Splits(seed_set()[:6], seed_set(), None, None, LABELS)
    reference = sd.real_reference(splits)
    assert reference.n_in == 6 and 0 <= reference.removed_share <= 1
    assert sd.real_reference(sd.Splits(seed_set(), seed_set(), None, None, LABELS)) is None
    assert "BM25 3-nearest-neighbour vote over the 40 seed messages" in sd.filter_name(40, 3)


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
    assert sd.mean_over_seeds([{"x": None}, {"x": 3.0}]) == {"x": 3.0}
    many = [f"w{i} v{i}" for i in range(10)] + ["a b"] * 10
    row = sd.diversity(many, ["a b"], equal_n=5, seed=1)
    assert row["distinct_n_over"] == 5 and row["n"] == 20
    assert row == sd.diversity(many, ["a b"], equal_n=5, seed=1)  # the subsample follows its seed


# --- splits and arms ---------------------------------------------------------------------------------------


def test_splits_are_disjoint_and_nested():
    splits = sd.make_splits(4, 8, 16, 12, 8)
    assert splits.large[:8] == splits.seed
    assert sorted(ex.reference for ex in splits.seed) == sorted(splits.labels * 2)
    sd.check_disjoint(real=splits.large, validation=splits.validation.eval, test=splits.test.eval)
    with pytest.raises(ValueError, match="share"):
        sd.check_disjoint(a=splits.seed, b=splits.seed[:1])


def test_make_splits_drops_a_training_message_that_is_also_held_out(monkeypatch):
    real = sd.banking77_task

    def leaky(*args, **kwargs):
        task = real(*args, **kwargs)
        leaked = intent_example(task.eval[0].last_user_message, task.eval[0].reference, list(task.labels))
        task.train.insert(0, leaked)  # a training message that is also a validation or test message
        return task

    monkeypatch.setattr(sd, "banking77_task", leaky)
    splits = sd.make_splits(4, 8, 16, 12, 8)
    held_out = {ex.last_user_message for ex in splits.validation.eval + splits.test.eval}
    assert not held_out & {ex.last_user_message for ex in splits.large}


def test_settings_the_notebook_cannot_run_are_refused_in_one_line():
    sd.check_settings([sd.COURSE, sd.RULE], None, 40, 160, [1, 4])
    for generators, larger, n_large, match in [
        ([sd.COURSE, "gpt"], None, 160, "unknown"),
        ([sd.RULE], None, 160, "must include"),
        ([sd.COURSE, sd.LARGER], None, 160, "larger_generator"),
        ([sd.COURSE], None, 80, "n_large"),
    ]:
        with pytest.raises(ValueError, match=match) as error:
            sd.check_settings(generators, larger, 40, n_large, [1, 4])
        assert "\n" not in str(error.value)


def test_a_generator_with_no_usable_output_is_an_error(tiny, monkeypatch):
    monkeypatch.setattr(sd, "generate", lambda loaded, prompts, **_: [""] * len(prompts))
    with pytest.raises(ValueError, match="gen_max_new_tokens"):
        sd.model_generate(tiny, seed_set(), 6, 0, LABELS, 2, 1.0, 1.0, 8, 8)


def generated_per_seed(splits, seeds=(0, 1)):
    generated = {
        sd.COURSE: {s: sd.rule_generate(splits.seed, 24, s + 10, LABELS) for s in seeds},
        sd.RULE: {s: sd.rule_generate(splits.seed, 24, s, LABELS) for s in seeds},
    }
    for s in seeds:
        generated[sd.COURSE][s].generator = sd.COURSE
        for ex in generated[sd.COURSE][s].examples:
            ex.meta.update({"synthetic": sd.COURSE, "generator_seed": s})
    return generated


def test_every_arm_holds_the_data_its_claim_names_with_each_seeds_own_generations():
    splits = sd.Splits(seed_set()[:6], seed_set(), None, None, LABELS)
    generated = generated_per_seed(splits)
    validated = {s: sd.validate(sd.synthetic_set(generated[sd.COURSE][s], 24), splits.seed) for s in (0, 1)}
    arms = {arm.arm: arm for arm in sd.build_arms(splits, generated, validated, [1, 4], [0, 1])}
    assert list(arms) == [
        sd.REAL_SEED,
        sd.SYNTHETIC_ONLY,
        sd.mixed_arm(1),
        sd.mixed_arm(4),
        sd.validated_arm(),
        sd.size_matched_arm(),
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
        assert made(sd.validated_arm(), s) == validated[s].kept
        matched = made(sd.size_matched_arm(), s)  # as many, drawn from the same set, not filtered
        assert len(matched) == len(validated[s].kept) and real(sd.size_matched_arm(), s) == splits.seed
        assert {id(ex) for ex in matched} <= {id(ex) for ex in made(sd.mixed_arm(4), s)}
        assert {ex.meta["synthetic"] for ex in made(sd.mixed_arm(4, sd.RULE), s)} == {sd.RULE}
        for arm in (sd.SYNTHETIC_ONLY, sd.mixed_arm(4), sd.validated_arm(), sd.size_matched_arm()):
            assert {ex.meta["generator_seed"] for ex in made(arm, s)} == {s}  # seed s trains on seed s's generations
            assert {id(ex) for ex in made(arm, s)} <= {id(ex) for ex in generated[sd.COURSE][s].examples}
        assert arms[sd.REAL_LARGE].examples[s] == splits.large
    assert sd.matched_steps(list(arms.values()), 1.0, 4) == 8  # one pass over the largest arm (6 + 24)
    tampered = dict(validated)
    tampered[0] = sd.validate([synthetic("I want a new pin code now", "change_pin")], splits.seed)
    with pytest.raises(ValueError, match="largest ratio"):
        sd.build_arms(splits, generated, tampered, [1, 4], [0, 1])


def test_verdict_arms_sweep_their_own_rate_and_the_others_borrow_one_with_fewer_seeds():
    splits = sd.Splits(seed_set()[:6], seed_set(), None, None, LABELS)
    generated = generated_per_seed(splits, (0, 1, 2))
    validated = {s: sd.validate(sd.synthetic_set(generated[sd.COURSE][s], 24), splits.seed) for s in (0, 1, 2)}
    arms = sd.build_arms(splits, generated, validated, [1, 4], [0, 1, 2], descriptive_seeds=1)
    verdict_arms = set(sd.verdict_arms(sd.COURSE, 4))
    for arm in arms:
        if arm.arm in verdict_arms:
            assert arm.sweep and arm.rate_key == arm.arm and list(arm.examples) == [0, 1, 2]
        else:
            assert not arm.sweep and arm.rate_key == sd.mixed_arm(4) and list(arm.examples) == [0]
            assert sd.rate_label(arm, None) == f"borrowed from {sd.mixed_arm(4)}"
    # the sweep arms are chosen by name: the rule arm (same size as real + course 1:4, or larger) is never swept
    from helpers.experiments.nb01_data_size import sweep_groups

    assert set(sweep_groups(arms, 0)) == verdict_arms


def test_the_runner_sweeps_each_verdict_arm_on_its_own_data_and_trains_the_rest_at_a_borrowed_rate(monkeypatch):
    from types import SimpleNamespace

    from helpers.core.training import TrainConfig
    from helpers.experiments import arms as arms_module
    from helpers.experiments import nb01_data_size

    splits = sd.Splits(seed_set()[:6], seed_set(), None, None, LABELS)
    generated = generated_per_seed(splits)
    validated = {s: sd.validate(sd.synthetic_set(generated[sd.COURSE][s], 24), splits.seed) for s in (0, 1)}
    arms = sd.build_arms(splits, generated, validated, [1, 4], [0, 1], descriptive_seeds=1)
    by_id = {id(ex): arm.arm for arm in arms for ex in arm.examples[0] if "synthetic" in ex.meta}
    trained = []

    def finetune(model_name, examples, config, output_dir=None):
        trained.append((len(examples), config.seed, config.learning_rate))
        record = SimpleNamespace(
            n_examples=len(examples),
            n_dropped=0,
            config={"seed": config.seed},
            final_loss=0.0,
            optimizer_steps=1,
            train_seconds=0.0,
            config_batch_size=4,
        )
        return SimpleNamespace(rate=config.learning_rate), record

    def generate(tuned, prompts, **_):
        return [prompt[-1]["content"] for prompt in prompts]

    from helpers.core.tasks import task_from_examples

    test = task_from_examples("t", seed_set(), seed_set()[:3])
    monkeypatch.setattr(nb01_data_size, "finetune", finetune)
    monkeypatch.setattr(arms_module, "finetune", finetune)
    monkeypatch.setattr(arms_module, "generate", generate)
    monkeypatch.setattr(nb01_data_size, "saw_every_example", lambda record: True)
    config_for = lambda seed, rate: TrainConfig(method="lora", learning_rate=rate, batch_size=4, seed=seed)  # noqa: E731
    arm_runs, sweeps, records = nb01_data_size.run_arms(
        "fake", arms, config_for, test, test, [0, 1], None, [1e-3, 3e-3, 1e-2], 0, 4, 8, progress=lambda _: None
    )
    runs = arms_module.by_arm(arm_runs)
    assert set(sweeps) == set(sd.verdict_arms(sd.COURSE, 4)) == set(records)
    assert all(records[arm]["arm"] == arm for arm in records)  # each swept on its own data
    for arm, arm_runs in runs.items():
        expected_seeds = [0, 1] if arm in sweeps else [0]
        assert [r.seed for r in arm_runs] == expected_seeds
        source = arm if arm in sweeps else sd.mixed_arm(4)
        assert all(r.info["learning_rate"] == sweeps[source].chosen for r in arm_runs)
        assert all(r.info["learning_rate_from"] == source for r in arm_runs)
    assert len(trained) == 6 * 3 + 6 * 1 + 2  # six sweeps of 3, their second seeds, two borrowed arms once
    assert by_id  # the synthetic arms held generated examples


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
        (sd.validated_arm(), sd.MIXED, 170, validated_acc),
        (sd.size_matched_arm(), sd.MIXED, 170, mixed_acc),
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
    note = sd.closing_note(bad, "banking77", 0.25, 0.05, "160", "160", 0.3)
    assert "did not improve" in note and "fell short" in note and "improved accuracy" not in note
    assert (
        "by more than 5 points" in note
        and "more than 5%" not in note
        and "30% of real messages outside the seed" in note
    )
    good_note = sd.closing_note(good, "banking77", None, 0.05, "150-160", "160")
    assert "improved accuracy at the same training steps" in good_note and "n/a" in good_note
    assert "150-160 synthetic examples alone came within 5 points of 160 real ones" in good_note


def test_claims_state_the_passes_each_arm_makes_and_the_filter():
    runs = fake_runs(0.3, 0.8, 0.95, 0.95, 0.85)
    adds, checked, alone = sd.synthetic_verdicts(
        "banking77", runs, [1, 4], "accuracy", "cpu", 0.05, steps=25, batch_size=8, filter_text="BM25 vote"
    )
    assert "5.0 passes over 40 examples" in adds.claim and "1.0 passes over 200 examples" in adds.claim
    assert "BM25 vote" in checked.claim and sd.size_matched_arm() not in checked.claim
    assert "5 points" in alone.claim and "distinct" not in adds.claim + checked.claim + alone.claim


def test_a_filter_that_keeps_too_little_is_not_judged():
    runs = fake_runs(0.3, 0.8, 0.95, 0.95, 0.85)
    for r in runs[sd.validated_arm()]:
        r.n_train = 42  # the 40 real messages and 2 synthetic ones
    checked = sd.synthetic_verdicts("banking77", runs, [1, 4], "accuracy", "cpu", 0.05, min_kept=10)[1]
    assert checked.status == verdict.NOT_RUN and "kept 2" in checked.details


def test_a_synthetic_set_within_the_margin_is_not_yet_a_match():
    runs = fake_runs(0.3, 0.8, 0.8, 0.87, 0.9, items=60)
    result = sd.synthetic_verdicts("banking77", runs, [1, 4], "accuracy", "cpu", 0.05)[2]
    assert result.status == verdict.INCONCLUSIVE  # 3 points behind, the interval reaches past -5
    assert "margin -5.0" in result.details


# --- settings and workload ---------------------------------------------------------------------------------


def test_cpu_sizes_hold_the_design():
    cfg = settings("synthetic_data", "cpu")
    assert len(cfg.seeds) >= 3 and len(cfg.lr_grid) >= 3 and cfg.learning_rate is None
    sd.check_settings(cfg.generators, cfg.larger_generator, cfg.n_seed, cfg.n_large, cfg.ratios)
    assert sd.LARGER not in cfg.generators and sd.RULE in cfg.generators
    assert cfg.gen_max_new_tokens <= 32 and cfg.descriptive_seeds == 1


def expected_finetunes(cfg, planned) -> int:
    side = len(cfg.seeds) if cfg.descriptive_seeds is None else cfg.descriptive_seeds
    others = len(planned) - 6
    sweeps = 6 * (len(set(cfg.lr_grid)) + cfg.max_extensions)
    return 6 * (len(cfg.seeds) - 1) + sweeps + others * side


@pytest.mark.parametrize("profile", PROFILES)
def test_the_workload_counts_every_arm_and_seed(profile):
    cfg = settings("synthetic_data", profile)
    work = sd.workload(cfg)
    planned = sd.planned_sizes(cfg)
    verdict_arms = sd.verdict_arms(sd.COURSE, max(cfg.ratios))
    assert [arm for arm, *_ in planned if arm in verdict_arms] == [
        a for a in [arm for arm, *_ in planned] if a in verdict_arms
    ] and len(verdict_arms) == 6
    bank = [f for f in work.finetunes if not f.label.startswith("intake ")]
    assert sum(f.count for f in bank) == expected_finetunes(cfg, planned)
    largest = max(size for _, _, size, _, _ in planned)
    steps = -(-int(largest * cfg.epochs) // cfg.batch_size)
    assert {f.sequences for f in bank} == {steps * cfg.batch_size}  # one pass over the largest arm
    larger = [g for g in work.generations if g.label.startswith(sd.LARGER)]
    assert bool(larger) == (sd.LARGER in cfg.generators)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_workload_counts_the_intake_arms_only_when_they_are_on(profile):
    cfg = settings("synthetic_data", profile)
    work = sd.workload(cfg)
    intake = [f for f in work.finetunes if f.label.startswith("intake ")]
    intake_generations = [g for g in work.generations if g.label.startswith("intake ")]
    if not sd.intake_on(cfg):
        assert not intake and not intake_generations and not sd.planned_intake_sizes(cfg)
        return
    planned = sd.planned_intake_sizes(cfg)
    assert sum(f.count for f in intake) == expected_finetunes(cfg, planned)
    largest = max(size for _, _, size, _, _ in planned)
    steps = -(-int(largest * cfg.intake_epochs) // cfg.batch_size)
    assert {f.sequences for f in intake} == {steps * cfg.batch_size}
    assert min(f.seq_len for f in intake) >= 275  # nb01's longest intake sequence
    generators = {g.label: g for g in intake_generations if "generator" in g.label}
    assert {g.prompts for g in generators.values()} == {cfg.intake_n_seed * max(cfg.intake_ratios)}
    assert bool([g for g in generators if sd.LARGER in g]) == (sd.LARGER in cfg.generators)
    runs = sum(n for *_, n in planned)
    test = next(g for g in intake_generations if g.label == "intake arms, test")
    assert test.count == runs and test.prompts == cfg.intake_n_test
    off = settings("synthetic_data", profile, intake_n_seed=0)
    before = sd.workload(off)
    assert before.n_finetunes == work.n_finetunes - sum(f.count for f in intake)


def test_profiles_share_their_keys_and_every_profile_runs_intake():
    from helpers.course.profiles import ADDED_AFTER_PUBLICATION, NOTEBOOK_DEFAULTS

    keys = {profile: set(NOTEBOOK_DEFAULTS["synthetic_data"][profile]) for profile in PROFILES}
    assert all(k == keys["smoke"] for k in keys.values())
    intake_keys = {k for k in keys["smoke"] if k.startswith("intake_")}
    assert "intake_n_seed" in intake_keys and len(intake_keys) >= 8
    off = ADDED_AFTER_PUBLICATION["synthetic_data"]  # what the runs before intake had
    assert set(off) == intake_keys and off["intake_n_seed"] == 0
    for profile in ("smoke", "cpu", "t4", "gpu", "full"):
        cfg = settings("synthetic_data", profile)
        assert sd.intake_on(cfg), profile
        sd.check_sizes(cfg.intake_n_seed, cfg.intake_n_large, cfg.intake_ratios, "intake_")


def test_a_rehearsal_keeps_intake_off_where_its_tier_has_it_off():
    from helpers.course import profiles, rehearsal

    defaults = profiles.NOTEBOOK_DEFAULTS["synthetic_data"]
    on = rehearsal.rehearsal_defaults(defaults["t4"], defaults["smoke"])
    assert on["intake_n_seed"] == defaults["smoke"]["intake_n_seed"] > 0  # on, at the smoke size
    off = rehearsal.rehearsal_defaults({**defaults["t4"], "intake_n_seed": 0}, defaults["smoke"])
    assert off["intake_n_seed"] == 0


# --- the intake task -----------------------------------------------------------------------------------------


def intake_splits(n_seed=6, n_large=24, n_test=8, n_val=6):
    return sd.make_intake_splits(n_seed, n_large, n_test, n_val)


def test_intake_splits_are_nested_and_disjoint():
    splits = intake_splits()
    assert splits.large[:6] == splits.seed and len(splits.large) == 24 and splits.labels == []
    assert len(splits.test.eval) == 8 and len(splits.validation.eval) == 6
    notes = [ex.last_user_message for ex in splits.large + splits.test.eval + splits.validation.eval]
    assert len(set(notes)) == len(notes)
    assert splits.test.headline_metric == "field_f1"
    with pytest.raises(ValueError, match="intake_n_seed"):
        sd.make_intake_splits(0, 24, 8, 6)


def test_intake_settings_must_compare_synthetic_alone_with_as_many_real_notes():
    sd.check_sizes(8, 32, [1, 4], "intake_")
    with pytest.raises(ValueError, match="intake_n_large"):
        sd.check_sizes(8, 24, [1, 4], "intake_")


def test_the_intake_rule_generator_writes_notes_whose_labels_are_exact():
    import json

    from helpers.data.intake_task import FIELDS, filter_noisy_examples

    splits = intake_splits(8, 24)
    first, again, other = (sd.rule_generate_intake(splits.seed, 40, s) for s in (0, 0, 1))
    assert [ex.last_user_message for ex in first.examples] == [ex.last_user_message for ex in again.examples]
    assert [ex.last_user_message for ex in first.examples] != [ex.last_user_message for ex in other.examples]
    assert len(first.examples) + sum(first.skipped.values()) == 40 and len(first.examples) >= 30
    kept, report = filter_noisy_examples(first.examples)
    assert report["removed"] == 0  # every label is consistent with its note
    seed_values = {key: {ex.meta["fields"][key] for ex in splits.seed} for key in FIELDS}
    changed = 0
    for i, ex in enumerate(first.examples):
        label = json.loads(ex.reference)
        assert label == ex.meta["fields"] and list(label) == list(FIELDS)
        assert all(label[key] in seed_values[key] for key in FIELDS)  # values from the seed set only
        for key in ("client_name", "email", "opposing_party"):
            assert label[key] in ex.last_user_message
        changed += ex.last_user_message not in {s.last_user_message for s in splits.seed}
    assert changed >= len(first.examples) // 2


def test_a_detail_swap_is_exact_or_refused():
    import json

    from helpers.data.intake_task import target_problem

    splits = intake_splits(4, 16)
    a, b = (ex.meta["fields"] for ex in splits.seed[:2])
    note = splits.seed[0].last_user_message
    new_note, fields = sd.swap_details(note, a, b, ("client_name", "email", "phone"))
    assert a["client_name"] not in new_note and b["client_name"] in new_note and a["email"] not in new_note
    assert fields == {**a, "client_name": b["client_name"], "email": b["email"], "phone": b["phone"]}
    assert target_problem(new_note, json.dumps(fields)) is None
    assert target_problem(new_note, json.dumps(a)) is not None  # the old label no longer fits the note
    assert sd.swap_details("a note without the details", a, b, ("client_name",)) is None


def test_the_course_model_intake_generator_labels_each_note_with_its_target(tiny, monkeypatch):
    import json

    splits = intake_splits(6, 24)
    seed_notes = {ex.last_user_message for ex in splits.seed}
    seen = []

    def fake_generate(loaded, prompts, **options):
        assert options["temperature"] == 0.7 and options["seed"] in (0, 1) and options["max_new_tokens"] == 40
        seen.extend(prompts)
        out = []
        for i, prompt in enumerate(prompts):
            target = json.loads(prompt[-1]["content"].split("Details: ")[-1].split("\n")[0])
            if i % 3 == 2:
                out.append("I'm sorry, but I can't write that.")
            else:
                out.append(f"Note: Client {target['client_name']} called, email {target['email']}.\nmore")
        return out

    monkeypatch.setattr(sd, "generate", fake_generate)
    made = sd.model_generate_intake(tiny, splits.seed, 9, 0, 2, 0.7, 0.95, 40, 4)
    assert made.requested == 9 and made.skipped == {"refusal": 3} and len(made.examples) == 6
    seed_values = {key: {ex.meta["fields"][key] for ex in splits.seed} for key in sd.FIELDS}
    for ex in made.examples:
        label = json.loads(ex.reference)
        assert ex.last_user_message == f"Client {label['client_name']} called, email {label['email']}."
        assert all(label[key] in seed_values[key] for key in sd.FIELDS)  # recombined from seed records
        assert ex.meta["synthetic"] == sd.COURSE and ex.meta["generator_seed"] == 0
    for prompt in seen:
        shown = [line[len("Note: ") :] for line in prompt[-1]["content"].splitlines() if line.startswith("Note: ")]
        assert len(shown) == 2 and set(shown) <= seed_notes  # only seed notes are shown
    again = sd.model_generate_intake(tiny, splits.seed, 9, 0, 2, 0.7, 0.95, 40, 4)
    assert [ex.reference for ex in again.examples] == [ex.reference for ex in made.examples]
    other = sd.model_generate_intake(tiny, splits.seed, 9, 1, 2, 0.7, 0.95, 40, 4)
    assert [ex.reference for ex in other.examples] != [ex.reference for ex in made.examples]
    # the notes hold only two of the eight details: the intake filter removes every one, naming the check
    report = sd.validate_intake(made.examples, splits.seed)
    assert not report.kept and report.agreement == 0.0
    assert set(report.removed) <= {"too short", "date of birth not in note", "phone not in note"}


def test_the_intake_filter_removes_inconsistent_duplicate_and_out_of_range_notes():
    import json

    from helpers.data.intake_task import intake_example

    splits = intake_splits(6, 24)
    real = splits.large[6:12]
    fields = [ex.meta["fields"] for ex in real]
    wrong = dict(fields[1], email="someone.else@example.com")
    items = [
        sd.intake_synthetic(real[0].last_user_message, fields[0], sd.COURSE, 0),  # kept
        sd.intake_synthetic(splits.seed[0].last_user_message, splits.seed[0].meta["fields"], sd.COURSE, 0),  # dup
        sd.intake_synthetic(real[0].last_user_message, fields[0], sd.COURSE, 0),  # duplicate of the first
        sd.intake_synthetic(real[1].last_user_message, wrong, sd.COURSE, 0),  # email not in the note
        sd.intake_synthetic("Client called.", fields[2], sd.COURSE, 0),  # too short
        sd.intake_synthetic(real[3].last_user_message * 6, fields[3], sd.COURSE, 0),  # too long
    ]
    broken = intake_example(real[4].last_user_message, fields[4])
    broken.messages[-1]["content"] = json.dumps(fields[4])[:-10]  # a truncated target
    items.append(broken)
    report = sd.validate_intake(items, splits.seed)
    assert [ex.last_user_message for ex in report.kept] == [real[0].last_user_message]
    assert report.removed == {
        "duplicate": 2,
        "email not in note": 1,
        "too short": 1,
        "too long": 1,
        "invalid json": 1,
    }
    assert report.removed_share == pytest.approx(6 / 7)
    reference = sd.real_reference(splits, check=sd.validate_intake)
    assert reference.n_in == 18 and reference.agreement == 1.0  # real targets are consistent with their notes
    name = sd.intake_filter_name(6)
    assert "filter_noisy_examples" in name and "6 seed notes" in name


def test_intake_arms_hold_the_data_their_claims_name():
    splits = intake_splits(6, 24)
    generated = {
        sd.COURSE: {s: sd.rule_generate_intake(splits.seed, 24, s + 10) for s in (0, 1)},
        sd.RULE: {s: sd.rule_generate_intake(splits.seed, 24, s) for s in (0, 1)},
    }
    for s in (0, 1):
        generated[sd.COURSE][s].generator = sd.COURSE
    validated = {s: sd.validate_intake(sd.synthetic_set(generated[sd.COURSE][s], 24), splits.seed) for s in (0, 1)}
    arms = {arm.arm: arm for arm in sd.build_arms(splits, generated, validated, [1, 4], [0, 1])}
    assert set(sd.verdict_arms(sd.COURSE, 4)) <= set(arms) and sd.mixed_arm(4, sd.RULE) in arms
    for s in (0, 1):
        course = generated[sd.COURSE][s].examples
        assert sd.synthetic_set(generated[sd.COURSE][s], 6) == course[:6]  # the order generated: nested sets
        assert arms[sd.mixed_arm(1)].examples[s] == splits.seed + course[:6]
        assert arms[sd.validated_arm()].examples[s] == splits.seed + validated[s].kept
        assert len(arms[sd.size_matched_arm()].examples[s]) == len(arms[sd.validated_arm()].examples[s])
        assert arms[sd.REAL_LARGE].examples[s] == splits.large
    assert 0 < len(validated[0].kept) < 24  # the duplicates went


def test_intake_verdicts_use_field_f1_and_no_chance_line():
    runs = fake_runs(0.3, 0.8, 0.95, 0.95, 0.85)
    for arm_runs in runs.values():
        for r in arm_runs:
            r.scores = {"field_f1": r.scores.pop("accuracy")}
    verdicts = sd.synthetic_verdicts(
        "intake", runs, [1, 4], "field_f1", "t4", 0.05, chance=None, margin_reason=sd.INTAKE_MARGIN_REASON
    )
    verdicts = verdict.family(verdicts)
    assert [v.id for v in verdicts] == [
        "07.intake.synthetic_adds_to_real",
        "07.intake.validation_matters",
        "07.intake.synthetic_alone_matches_real",
    ]
    assert [v.status for v in verdicts] == [verdict.SUPPORTED] * 3
    assert all(v.chance is None and not any("Chance" in n for n in v.notes) for v in verdicts)
    assert "field F1 a team would accept losing" in verdicts[2].claim
    note = sd.closing_note(verdicts, "intake", 0.5, 0.05, "160", "160", 0.0, score="field F1", items="notes")
    assert "improved field F1" in note and "0% of real notes outside the seed" in note and "accuracy" not in note


def test_the_playbook_chapter_renders_the_intake_verdicts_only_for_a_run_that_has_them(monkeypatch, tmp_path):
    import json
    import shutil

    from helpers.course import playbook

    record = json.loads((playbook.RESULTS_DIR / "cpu" / "07_synthetic_data.json").read_text())
    assert "intake" in record["metrics"]  # the published cpu run has intake
    page = playbook.render_page("synthetic.md")
    assert "## The same test on client-intake extraction" in page.text
    assert {f"07.intake.{name}" for name in ("synthetic_adds_to_real", "synthetic_alone_matches_real")} <= page.cited
    assert "cpu/07_synthetic_data_intake_arms.png" in page.figures

    # a run with intake off (every run before it was added): the chapter shows banking77 alone
    del record["metrics"]["intake"]
    record["verdicts"] = [v for v in record["verdicts"] if ".intake." not in v["id"]]
    (tmp_path / "cpu").mkdir()
    for name in ("07_synthetic_data_arms.png", "07_synthetic_data_diversity.png"):
        shutil.copy(playbook.RESULTS_DIR / "cpu" / name, tmp_path / "cpu" / name)
    (tmp_path / "cpu" / "07_synthetic_data.json").write_text(json.dumps(record))
    monkeypatch.setattr(playbook, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(
        playbook, "_load", lambda result, template: json.loads((tmp_path / f"{result}.json").read_text())
    )
    page = playbook.render_page("synthetic.md")
    assert "client-intake extraction" not in page.text and "07.banking77.validation_matters" in page.cited
    assert not any(".intake." in cited for cited in page.cited)
