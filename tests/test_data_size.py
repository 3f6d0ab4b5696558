import math

import numpy as np
import pytest

from helpers.core.training import TrainConfig, TrainRecord
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
            bank = data_size.banking_data(
                cfg.bank_clean_sizes,
                cfg.bank_noisy_sizes,
                cfg.bank_noise_rates,
                cfg.bank_intents,
                cfg.bank_n_eval,
                cfg.bank_n_val,
            )
            assert max(len(s.examples) for s in bank.specs) == max(cfg.bank_clean_sizes + cfg.bank_noisy_sizes)
            assert len(bank.validation) == cfg.bank_n_val


def test_every_arm_of_every_profile_sees_its_whole_set():
    from helpers.course.profiles import PROFILES, settings

    for profile in PROFILES:
        cfg = settings("data_size", profile)
        specs = data_size.intake_arms(cfg.clean_sizes, cfg.noisy_sizes, cfg.noise_rates)
        for row in data_size.compute_plan(specs, cfg.epochs, cfg.batch_size):
            assert row["whole_set_seen"] and row["sequences_seen"] >= row["examples"], (profile, row)
            assert row["steps"] == math.ceil(cfg.epochs * row["examples"] / cfg.batch_size)
        sizes = cfg.bank_clean_sizes + cfg.bank_noisy_sizes
        bank = [data_size.ArmSpec(f"arm-{n}", "clean", [None] * n) for n in sizes]
        assert all(r["whole_set_seen"] for r in data_size.compute_plan(bank, cfg.epochs, cfg.bank_batch_size))


def test_profiles_reach_the_claims_scale():
    from helpers.course.profiles import settings

    cpu = settings("data_size", "cpu")
    assert max(cpu.bank_noisy_sizes + cpu.noisy_sizes) >= 512  # the largest noisy set, seen in full
    assert len(cpu.seeds) >= 3
    gpu = settings("data_size", "gpu")
    for clean, noisy in ((gpu.clean_sizes, gpu.noisy_sizes), (gpu.bank_clean_sizes, gpu.bank_noisy_sizes)):
        assert 100 <= max(clean) < 1000 <= min(noisy)  # hundreds clean against thousands noisy
    for profile in ("cpu", "gpu"):
        assert settings("data_size", profile).max_new_tokens is None  # measured on the data, with a margin
        assert settings("data_size", profile).new_tokens_margin > 0


def test_steps_follow_the_epochs():
    assert data_size.steps_for(512, 1.0, 8) == 64
    assert data_size.steps_for(30, 1.0, 4) == 8  # a last, partial batch still counts
    assert data_size.steps_for(30, 2.0, 4) == 15
    with pytest.raises(ValueError):
        data_size.steps_for(0, 1.0, 4)
    config = data_size.arm_config(TrainConfig(batch_size=4), 30, 2.0)
    assert config.max_steps == 15


class WordTokenizer:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


def test_generation_budget_has_headroom_over_the_longest_target():
    targets = ["a b c", "a b c d e f g", "a"]
    budget = data_size.generation_budget(WordTokenizer(), targets, margin=5)
    assert budget == {"max_new_tokens": 12, "longest_target": 7, "margin": 5}


def test_generation_budget_on_the_intake_targets_clears_every_target():
    from transformers import AutoTokenizer

    from helpers.core.models import resolve

    tokenizer = AutoTokenizer.from_pretrained(str(resolve("tiny")[0]))
    data = data_size.intake_data([4, 8], [16], [0.5], n_eval=6, n_val=4)
    targets = [ex.reference for s in data.specs for ex in s.examples] + [ex.reference for ex in data.task.eval]
    budget = data_size.generation_budget(tokenizer, targets, margin=8)
    longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in targets)
    assert budget["max_new_tokens"] >= longest + 8


def test_intake_validation_notes_are_apart_from_training_and_evaluation():
    data = data_size.intake_data([4, 8], [16], [0.5], n_eval=6, n_val=4)
    validation = {ex.last_user_message for ex in data.validation}
    assert len(validation) == 4
    trained = {ex.last_user_message for s in data.specs for ex in s.examples}
    assert not validation & trained
    assert not validation & {ex.last_user_message for ex in data.task.eval}
    assert len(data.task.train) == 16  # the pool without the validation notes (few-shot demonstrations)


def test_banking_arms_are_nested_relabel_exactly_and_keep_validation_apart():
    from helpers.core.paths import data_dir

    if data_dir() is None:
        pytest.skip("no local banking77 data")
    data = data_size.banking_data([8, 16], [40], [0.25], n_intents=4, n_eval=8, n_val=8)
    specs = {s.arm: s for s in data.specs}
    assert specs["clean-16"].examples[:8] == specs["clean-8"].examples
    noisy = specs["noisy25%-40"].examples
    assert sum(ex.meta["label"] != ex.meta["true_label"] for ex in noisy) == 10
    assert [ex.last_user_message for ex in noisy[:16]] == [ex.last_user_message for ex in specs["clean-16"].examples]
    assert all(ex.reference == ex.meta["label"] for ex in noisy)
    validation = {ex.last_user_message for ex in data.validation}
    assert len(validation) == 8 and not validation & {ex.last_user_message for ex in noisy}


def test_relabel_examples_changes_exactly_the_share_to_other_labels():
    from helpers.data.task_library import intent_example, relabel_examples

    labels = ["a", "b", "c"]
    examples = [intent_example(f"message {i}", labels[i % 3], labels) for i in range(20)]
    noisy = relabel_examples(examples, 0.4, labels, seed=1)
    changed = [ex for ex in noisy if ex.meta["label"] != ex.meta["true_label"]]
    assert len(changed) == 8
    assert all(ex.reference in labels and ex.reference != ex.meta["true_label"] for ex in changed)
    assert relabel_examples(examples, 0.4, labels, seed=1)[0].messages == noisy[0].messages  # seeded


def record(steps, batch, n, dropped=0):
    return TrainRecord(
        "lora", 1, 2, 50.0, 1.0, 10, 10, 5, 10.0, 1.0, "rss", "fp32", True, 1, 0.0, 0.1, 0.2, steps, n, dropped, 0, "",
        {"batch_size": batch}, batch_size_used=batch, grad_accum_used=1,
    )  # fmt: skip


def test_seen_in_training_reads_what_the_fine_tune_did():
    assert data_size.seen_in_training(record(8, 4, 32))["whole_set_seen"]
    assert not data_size.seen_in_training(record(8, 4, 64))["whole_set_seen"]  # the old same-steps policy
    assert data_size.seen_in_training(record(7, 4, 30, dropped=2))["whole_set_seen"]


def test_sweep_scores_validation_only_and_its_model_is_the_first_seed_run(monkeypatch):
    """The sweep never sees the evaluation items; the fine-tune at the chosen rate is reused for the
    representative arm's first seed only, and every other run trains its whole set at the chosen rate."""
    from helpers.core.tasks import Example, Task

    def example(text):
        return Example([{"role": "user", "content": text}, {"role": "assistant", "content": text}])

    train = [example(f"t{i}") for i in range(6)]
    validation = [example(f"v{i}") for i in range(3)]
    task = Task("toy", train, [example(f"e{i}") for i in range(4)], lambda p, ex: {"score": np.zeros(len(ex))}, "score")
    trained, generated = [], []

    class Fake:
        def __init__(self, rate, seed):
            self.rate, self.seed = rate, seed

    def fake_finetune(name, examples, config):
        trained.append((len(examples), config.learning_rate, config.seed, config.max_steps))
        return Fake(config.learning_rate, config.seed), record(config.max_steps, config.batch_size, len(examples))

    def fake_generate(model, prompts, **kw):
        generated.append([p[-1]["content"] for p in prompts])
        best = 3e-3  # the validation score peaks inside the grid
        return ["x"] * len(prompts) if model.rate != best else ["best"] * len(prompts)

    monkeypatch.setattr(data_size, "finetune", fake_finetune)
    monkeypatch.setattr(data_size, "generate", fake_generate)
    monkeypatch.setattr(data_size, "merged_for_inference", lambda m: m)
    val_scorer = lambda p, ex: {"score": np.array([x == "best" for x in p], float)}  # noqa: E731
    task = Task("toy", train, task.eval, val_scorer, "score")
    config = data_size.arm_config(TrainConfig(batch_size=4, seed=0), 6, 1.0)
    swept = data_size.sweep_on_validation("m", train, validation, task, config, [1e-3, 3e-3, 1e-2], 8, 4, 2)
    assert swept.sweep.chosen == 3e-3 and swept.sweep.interior
    assert all(texts == ["v0", "v1", "v2"] for texts in generated)  # validation prompts only
    assert swept.model.rate == 3e-3
    specs = [data_size.ArmSpec("clean-6", "clean", train), data_size.ArmSpec("noisy-4", "noisy 40%", train[:4])]
    trained.clear()
    results = data_size.run_arms(
        "m", task, specs, TrainConfig(batch_size=4, learning_rate=3e-3), [0, 1], 1.0, 8, 4,
        swept=("clean-6", swept), report=lambda r: None,
    )  # fmt: skip
    assert (6, 3e-3, 0, 2) not in trained  # reused, not trained again
    assert sorted(trained) == [(4, 3e-3, 0, 1), (4, 3e-3, 1, 1), (6, 3e-3, 1, 2)]
    assert [r.seed for r in results] == [0, 1, 0, 1]
    assert all(r.info["seen"]["whole_set_seen"] for r in results)
