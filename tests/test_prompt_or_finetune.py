"""Notebook 06: pools, demonstrations, the prompt chosen on validation, the crossover and its interval, the
verdicts and the workload."""

import math

import numpy as np
import pytest

from helpers.core.generation import prompt_token_ids
from helpers.core.tasks import Example
from helpers.course.profiles import PROFILES, settings
from helpers.data.banking77_descriptions import DESCRIPTIONS, described_system_prompt
from helpers.data.task_library import intent_example
from helpers.experiments import nb06_prompt_or_finetune as pof
from helpers.experiments.arms import ArmResult

LABELS = ["card_arrival", "change_pin", "exchange_rate"]
TEXTS = {
    "card_arrival": ["where is my new card", "my card has not arrived yet", "card delivery is late", "no card came"],
    "change_pin": ["how do I change my pin", "new pin please", "I want another pin code", "pin change in the app"],
    "exchange_rate": ["what exchange rate do you use", "rate for euros", "is the exchange rate fair", "dollar rate"],
}


def bank_examples() -> list[Example]:
    return [intent_example(text, label, LABELS) for label in LABELS for text in TEXTS[label]]


def run(strategy: str, split: str, correct: list[int], seed: int = 0, n: int = 8) -> ArmResult:
    scores = {"accuracy": np.array(correct, dtype=float)}
    return ArmResult(
        pof.arm_name(strategy, n), strategy, n, seed, scores, [""] * len(correct), 0.0, info={"split": split}
    )


# --- pools and demonstrations ------------------------------------------------------------------------------


def test_pools_are_nested_and_spread_over_the_labels():
    pools = pof.nested_pools(bank_examples(), [3, 6, 12])
    assert pools[3] == pools[6][:3] == pools[12][:3] and pools[6] == pools[12][:6]
    assert sorted(ex.reference for ex in pools[3]) == LABELS
    assert sorted(ex.reference for ex in pools[6]) == sorted(LABELS * 2)
    with pytest.raises(ValueError, match="needs that many"):
        pof.nested_pools(bank_examples(), [13])


def test_retrieved_demonstrations_never_include_the_query_and_put_the_nearest_last():
    pool = bank_examples()
    query = intent_example("My card has NOT arrived yet!", "card_arrival", LABELS)  # the same text as a pool example
    shots = pof.DemoRetriever(pool).shots(query, 3)
    assert len(shots) == 3
    assert all(ex.last_user_message != "my card has not arrived yet" for ex in shots)
    assert shots[-1].reference == "card_arrival"  # nearest last, next to the query
    prompt = pof.strategy_prompts(pof.RETRIEVED_K, [query], pool, 3, 0).prompts[0]
    assert [m["content"] for m in prompt if m["role"] == "user"].count("my card has not arrived yet") == 0


def test_random_demonstrations_follow_the_seed_and_come_from_the_pool():
    pool = bank_examples()
    first, again, other = (pof.random_shots(pool, 4, seed) for seed in (0, 0, 1))
    assert first == again and first != other and all(ex in pool for ex in first)
    assert len(pof.random_shots(pool[:2], 4, 0)) == 2


def test_many_shot_selection_stays_within_its_budget():
    costs = [30, 25, 40, 25, 10]
    for budget in (0, 24, 50, 95, 1000):
        chosen = pof.many_shot_selection(costs, budget)
        assert sum(costs[i] for i in chosen) <= budget and len(set(chosen)) == len(chosen)
    assert pof.many_shot_selection(costs, 1000) == list(range(5))


def test_many_shot_prompt_fits_the_models_context(tiny):
    pool = bank_examples() * 40  # far more demonstrations than the context holds
    queries = bank_examples()[:3]
    budget = pof.context_budget(tiny, queries, max_new_tokens=8, cap=None)
    limit = tiny.model.config.max_position_embeddings
    assert 0 < budget < limit
    assert pof.context_budget(tiny, queries, 8, cap=50) == 50
    costs = pof.demo_token_costs(tiny.tokenizer, pool, queries[0])
    many = [pool[i] for i in pof.many_shot_selection(costs, budget)]
    assert 0 < len(many) < len(pool)
    prompts = pof.strategy_prompts(pof.MANY_SHOT, queries, pool, 2, 0, many_shot=many).prompts
    assert max(len(ids) for ids in prompt_token_ids(tiny.tokenizer, prompts)) + 8 <= limit


def test_the_described_prompt_lists_every_label_with_its_description():
    text = described_system_prompt(LABELS)
    assert all(f"- {label}: {DESCRIPTIONS[label]}" in text for label in LABELS)
    with pytest.raises(KeyError, match="no_such_intent"):
        described_system_prompt(["no_such_intent"])
    assert len(DESCRIPTIONS) == 77
    prompt = pof.strategy_prompts(pof.DESCRIBED, bank_examples()[:1], [], 2, 0, described_system=text).prompts[0]
    assert prompt[0] == {"role": "system", "content": text} and prompt[-1]["role"] == "user"


# --- the prompt is chosen on validation --------------------------------------------------------------------


def test_the_best_prompt_is_chosen_on_validation_even_when_the_test_items_favour_another():
    validation = {
        pof.ZERO_SHOT: [run(pof.ZERO_SHOT, "validation", [1, 0, 0, 0])],
        pof.RETRIEVED_K: [run(pof.RETRIEVED_K, "validation", [1, 1, 1, 0])],
        pof.RANDOM_K: [run(pof.RANDOM_K, "validation", [1, 1, 0, 0], seed=s) for s in (0, 1)],
    }
    best, scores = pof.choose_best_prompt(validation, "accuracy")
    assert best == pof.RETRIEVED_K and scores[pof.RANDOM_K] == 0.5
    leaked = {**validation, pof.ZERO_SHOT: [run(pof.ZERO_SHOT, "test", [1, 1, 1, 1])]}
    with pytest.raises(ValueError, match="validation runs only"):
        pof.choose_best_prompt(leaked, "accuracy")


def test_a_tie_on_validation_goes_to_the_cheaper_prompt():
    tied = {s: [run(s, "validation", [1, 0])] for s in (pof.MANY_SHOT, pof.RANDOM_K, pof.DESCRIBED)}
    assert pof.choose_best_prompt(tied, "accuracy")[0] == pof.DESCRIBED


# --- the crossover -----------------------------------------------------------------------------------------


def test_crossover_interpolates_on_log_n_where_fine_tuning_stays_ahead():
    ns = [10, 20, 40, 80]
    assert pof.crossover(ns, [-0.1, -0.05, 0.05, 0.1]) == pytest.approx(math.sqrt(20 * 40))
    assert pof.crossover(ns, [0.1, 0.2, 0.2, 0.3]) == 10  # ahead from the smallest pool
    assert pof.crossover(ns, [-0.1, 0.1, 0.2, -0.01]) is None  # behind at the largest: no crossover
    assert pof.crossover(ns, [0.1, -0.1, 0.1, 0.1]) == pytest.approx(math.sqrt(20 * 40))  # must stay ahead
    assert pof.crossover(list(reversed(ns)), [0.1, 0.05, -0.05, -0.1]) == pytest.approx(math.sqrt(20 * 40))
    assert pof.crossover(ns, [-0.1, 0.0, 0.0, 0.3]) == pytest.approx(40)  # zero is not ahead
    assert pof.crossover(ns, [0.2, -1e-17, 0.3, 0.3]) == pof.crossover(ns, [0.2, 1e-17, 0.3, 0.3]) == 20


def test_crossover_interval_brackets_a_clear_crossover_and_says_when_there_is_none():
    rng = np.random.default_rng(0)
    ns, items = [10, 20, 40, 80], 200
    prompt = (rng.random((1, items)) < 0.5).astype(float)
    rates = {10: 0.2, 20: 0.35, 40: 0.65, 80: 0.85}
    tuned = [(rng.random((3, items)) < rates[n]).astype(float) for n in ns]
    found = pof.crossover_interval(ns, tuned, [prompt] * 4, n_boot=400)
    assert 20 < found["estimate"] < 40 and found["ci_low"] <= found["estimate"] <= found["ci_high"]
    assert 10 <= found["ci_low"] and found["ci_high"] <= 80 and found["share_beyond_grid"] == 0
    assert found["text"].startswith("point estimate: crossover at n = ")
    never = pof.crossover_interval(ns, [prompt * 0] * 4, [prompt] * 4, n_boot=200)
    assert never["estimate"] is None and never["ci_high"] is None and never["share_beyond_grid"] == 1
    assert never["text"].startswith("point estimate: no crossover within the grid (10 to 80 examples)")
    assert never["text"].endswith("not located within the grid")


# --- verdicts, steps, cost and workload --------------------------------------------------------------------


def test_verdicts_compare_the_arms_fixed_in_advance():
    items = 60
    good, poor = [1] * 50 + [0] * 10, [1] * 20 + [0] * 40
    tuned = {n: [run(pof.FINE_TUNED, "test", good if n == 80 else poor, seed=s, n=n) for s in (0, 1)] for n in (10, 80)}
    best = {
        10: (pof.RETRIEVED_K, [run(pof.RETRIEVED_K, "test", good, n=10)]),
        80: (pof.ZERO_SHOT, [run(pof.ZERO_SHOT, "test", poor, n=80)]),
    }
    random_runs = {80: [run(pof.RANDOM_K, "test", poor, seed=s, n=80) for s in (0, 1)]}
    retrieved = {80: [run(pof.RETRIEVED_K, "test", good, n=80)]}
    verdicts = pof.prompt_or_finetune_verdicts(
        "banking77", tuned, best, random_runs, retrieved, "accuracy", "cpu", chance=0.1
    )
    found = {v.id: v for v in verdicts}
    assert set(found) == {
        "06.banking77.finetune_beats_best_prompt",
        "06.banking77.finetune_beats_best_prompt_fewest",
        "06.banking77.retrieved_beats_random",
    }
    assert found["06.banking77.finetune_beats_best_prompt"].status == "supported"
    assert found["06.banking77.finetune_beats_best_prompt_fewest"].status == "not supported"
    assert found["06.banking77.retrieved_beats_random"].status == "supported"
    assert all(v.chance == 0.1 and v.n_items == items for v in verdicts)
    assert "n=80" in found["06.banking77.finetune_beats_best_prompt"].claim


def test_small_pools_train_at_least_min_steps():
    assert pof.finetune_steps(10, 2.0, 8, 10) == 10
    assert pof.finetune_steps(80, 2.0, 8, 10) == 20
    assert pof.finetune_steps(81, 1.0, 8, 1) == 11


def test_break_even_and_total_cost():
    assert pof.break_even(1.0, 0.1, 1.1) == pytest.approx(1000)
    assert pof.break_even(1.0, 0.2, 0.2) is None
    assert list(pof.total_cost(np.array([0, 1000]), 0.5, 2.0)) == [0.5, 2.5]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_workload_counts_every_pool_seed_and_strategy(profile):
    cfg = settings("prompt_or_finetune", profile)
    work = pof.workload(cfg)
    sweep = len(cfg.lr_grid) + cfg.max_extensions
    bank = sum(f.count for f in work.finetunes if not f.label.startswith("intake "))  # banking77's; intake below
    assert bank == len(cfg.ft_sizes) * len(cfg.seeds) - 1 + sweep
    counts = {g.label: g.count for g in work.generations}
    assert counts[f"{pof.RANDOM_K}, test"] == len(cfg.seeds) * len(cfg.ft_sizes)
    assert counts[f"{pof.RANDOM_K}, validation"] == len(cfg.ft_sizes)
    assert counts[pof.RETRIEVED_K] == len(cfg.ft_sizes) and counts[pof.ZERO_SHOT] == 1
    assert sum(label.startswith(f"{pof.MANY_SHOT}, n=") for label in counts) == len(cfg.ft_sizes)
    assert all(job.model == cfg.model and 0 < job.answer_share < 1 for job in work.finetunes)


# --- client intake -----------------------------------------------------------------------------------------


def intake_notes(n_train: int = 16, n_eval: int = 8):
    from helpers.data.intake_task import intake_task

    return intake_task(n_train=n_train, n_eval=n_eval)


def test_the_described_intake_prompt_describes_every_field_of_the_schema():
    from helpers.data.intake_task import FIELD_DESCRIPTIONS, FIELDS, described_system_prompt

    assert set(FIELD_DESCRIPTIONS) == set(FIELDS)
    text = described_system_prompt()
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines == [f"- {name}: {FIELD_DESCRIPTIONS[name]}" for name in FIELDS]  # every field, in schema order
    assert all(len(description.split()) >= 5 for description in FIELD_DESCRIPTIONS.values())
    with pytest.raises(KeyError, match="no_such_field"):
        described_system_prompt(FIELDS + ("no_such_field",))
    task = intake_notes(4, 2)
    prompt = pof.strategy_prompts(pof.DESCRIBED, task.eval[:1], [], 1, 0, described_system=text).prompts[0]
    assert prompt[0]["content"] == text and prompt[-1]["content"] == task.eval[0].last_user_message


def test_intake_pools_are_nested_and_spread_over_the_matter_types():
    from helpers.data.intake_task import MATTER_TYPES

    train = intake_notes(64, 2).train
    pools = pof.nested_pools(train, [8, 16, 32], key=pof.matter_type)
    assert pools[8] == pools[16][:8] == pools[32][:8] and pools[16] == pools[32][:16]
    counts = {m: sum(pof.matter_type(ex) == m for ex in pools[16]) for m in MATTER_TYPES}
    present = [c for c in counts.values() if c]
    assert max(present) - min(present) <= 1 and len(present) >= 6  # as even as the generated notes allow


def test_retrieved_intake_demonstrations_never_include_the_query_note():
    task = intake_notes(12, 4)
    query = task.eval[0]
    pool = task.train[:8] + [query]  # the query's own note is in the pool: it must not come back
    shots = pof.DemoRetriever(pool).shots(query, 3)
    assert len(shots) == 3 and query not in shots
    assert all(ex.last_user_message != query.last_user_message for ex in shots)
    prompt = pof.strategy_prompts(pof.RETRIEVED_K, [query], pool, 3, 0).prompts[0]
    users = [m["content"] for m in prompt if m["role"] == "user"]
    assert users.count(query.last_user_message) == 1 and users[-1] == query.last_user_message


def fake_intake_model(monkeypatch, answer_with_demos: bool = True):
    """generate answers every note with its gold JSON when the prompt holds a demonstration, else with text
    that is no JSON; token counts are characters / 4."""
    from types import SimpleNamespace

    def fake_generate(loaded, prompts, **kwargs):
        out = []
        for prompt in prompts:
            has_demo = any(m["role"] == "assistant" for m in prompt)
            out.append(gold[prompt[-1]["content"]] if has_demo == answer_with_demos else "no json here")
        return out

    def fake_tokens(tokenizer, prompts):
        return [[0] * (sum(len(m["content"]) for m in prompt) // 4) for prompt in prompts]

    gold: dict[str, str] = {}
    monkeypatch.setattr(pof, "generate", fake_generate)
    monkeypatch.setattr(pof, "prompt_token_ids", fake_tokens)
    return SimpleNamespace(tokenizer=None), gold


def test_the_intake_prompting_ladder_chooses_on_validation_and_feeds_the_verdicts(monkeypatch):
    from helpers.experiments.nb01_data_size import split_validation

    loaded, gold = fake_intake_model(monkeypatch)
    task, validation = split_validation(intake_notes(16, 10), 4)
    gold.update({ex.last_user_message: ex.meta["clean_target"] for ex in task.eval + validation.eval})
    pools = pof.nested_pools(task.train, [4, 8, 16], key=pof.matter_type)
    seeds = [0, 1, 2]
    prompted, validated, many = pof.run_prompting_ladder(
        loaded, task, validation, pools, 2, seeds, "described", 400, 32, 8, 4, progress=lambda _: None
    )
    assert set(prompted[pof.ZERO_SHOT]) == {0} and set(prompted[pof.RANDOM_K]) == {4, 8, 16}
    assert all(len(prompted[pof.RANDOM_K][n]) == 3 and len(validated[pof.RANDOM_K][n]) == 1 for n in pools)
    assert {r.info["split"] for runs in validated[pof.RETRIEVED_K].values() for r in runs} == {"validation"}
    assert 0 < len(many[16]) < 16  # the budget holds a few notes
    assert prompted[pof.ZERO_SHOT][0][0].scores["field_f1"].mean() == 0
    assert prompted[pof.RETRIEVED_K][16][0].scores["field_f1"].mean() == 1
    best, rows = pof.best_prompts(validated, prompted, sorted(pools), "field_f1")
    assert [best[n][0] for n in sorted(pools)] == [pof.RANDOM_K] * 3  # a tie goes to the cheaper prompt
    assert [r.info["split"] for r in best[16][1]] == ["test"] * 3 and rows[0]["val zero-shot"] == 0


def fake_finetune(monkeypatch, field_f1_by_n: dict[int, float], n_items: int):
    """train_and_evaluate returns, per pool size, a run whose every item scores field_f1_by_n[n] (0 or 1)."""
    from types import SimpleNamespace

    calls = []

    def fake(model, task, examples, config, arm, group, max_new_tokens, batch_size, info):
        calls.append((len(examples), config.seed, config.learning_rate, task.eval[0].prompt[0]["content"]))
        correct = np.full(n_items, field_f1_by_n[len(examples)])
        record = SimpleNamespace(optimizer_steps=config.max_steps, train_seconds=1.0)
        return ArmResult(arm, group, 0, config.seed, {"field_f1": correct}, [], 0.0, record=record, info=info)

    monkeypatch.setattr(pof, "train_and_evaluate", fake)
    return calls


def test_the_intake_ladders_give_verdicts_that_can_say_no(monkeypatch):
    from helpers.core.training import TrainConfig
    from helpers.experiments.nb01_data_size import INTAKE_FINETUNED_PROMPT, split_validation

    loaded, gold = fake_intake_model(monkeypatch, answer_with_demos=False)  # only zero-shot answers
    task, validation = split_validation(intake_notes(16, 44), 4)
    # zero-shot gets every other note right: the best prompt scores 0.5, fine-tuning 0 at n=4 and 1 at n=16
    gold.update(
        {ex.last_user_message: ex.meta["clean_target"] if i % 2 else "{}" for i, ex in enumerate(task.eval)}
        | {ex.last_user_message: ex.meta["clean_target"] for ex in validation.eval}
    )
    pools = pof.nested_pools(task.train, [4, 16], key=pof.matter_type)
    prompted, validated, _ = pof.run_prompting_ladder(
        loaded, task, validation, pools, 1, [0, 1], "described", 400, 32, 8, 4, progress=lambda _: None
    )
    best, _ = pof.best_prompts(validated, prompted, [4, 16], "field_f1")
    assert best[4][0] == pof.ZERO_SHOT and best[16][0] == pof.ZERO_SHOT
    calls = fake_finetune(monkeypatch, {4: 0.0, 16: 1.0}, len(task.eval))
    short = task.with_system_prompt(INTAKE_FINETUNED_PROMPT)
    finetuned, sweep, record = pof.run_finetune_ladder(
        "tiny",
        pools,
        lambda n, seed, rate: TrainConfig(max_steps=2, learning_rate=rate, seed=seed),
        short,
        validation.with_system_prompt(INTAKE_FINETUNED_PROMPT),
        [0, 1],
        3e-3,
        [1e-3, 3e-3],
        0,
        32,
        8,
        prepare=lambda examples: examples,
        progress=lambda _: None,
    )
    assert sweep is None and sorted((n, s) for n, s, _, _ in calls) == [(4, 0), (4, 1), (16, 0), (16, 1)]
    assert {c[3] for c in calls} == {INTAKE_FINETUNED_PROMPT}  # trained and scored under the one-line prompt
    verdicts = pof.prompt_or_finetune_verdicts(
        "intake", finetuned, best, prompted[pof.RANDOM_K], prompted[pof.RETRIEVED_K], "field_f1", "cpu"
    )
    found = {v.id: v for v in verdicts}
    assert set(found) == {
        "06.intake.finetune_beats_best_prompt",
        "06.intake.finetune_beats_best_prompt_fewest",
        "06.intake.retrieved_beats_random",
    }
    assert found["06.intake.finetune_beats_best_prompt"].status == "supported"
    assert found["06.intake.finetune_beats_best_prompt_fewest"].status == "not supported"  # it can say no
    assert all(v.chance is None for v in verdicts)  # extraction has no chance level
    note = pof.closing_note(verdicts, "intake")
    assert "**supported** (06.intake.finetune_beats_best_prompt): at the largest pool, fine-tuning beat" in note
    assert "**not supported** (06.intake.finetune_beats_best_prompt_fewest): at the smallest pool" in note
    cross = pof.crossover_interval(
        [4, 16], [arm_values_of(finetuned[n]) for n in (4, 16)], [arm_values_of(best[n][1]) for n in (4, 16)], 200
    )
    assert 4 < cross["estimate"] <= 16


def arm_values_of(runs):
    from helpers.experiments.arms import arm_values

    return arm_values(runs, "field_f1")


def test_the_closing_note_asserts_nothing_it_could_not_tell():
    from helpers.experiments import verdict

    verdicts = [
        verdict.Verdict(f"06.intake.{name}", "claim", status, 0.0, -0.1, 0.1, "+0.0 points")
        for name, status in (
            ("finetune_beats_best_prompt", verdict.INCONCLUSIVE),
            ("finetune_beats_best_prompt_fewest", verdict.SUPPORTED),
            ("retrieved_beats_random", verdict.NOT_SUPPORTED),
        )
    ]
    lines = pof.closing_note(verdicts, "intake").splitlines()
    assert "cannot tell" in lines[0] and "at the largest pool, fine-tuning beat" not in lines[0]
    assert "even at the smallest pool, fine-tuning beat" in lines[1]
    assert "did not beat" in lines[2]


# --- profiles and workload with intake ---------------------------------------------------------------------

INTAKE_KEYS = {
    "intake_ft_sizes",
    "intake_n_test",
    "intake_n_val",
    "intake_shots",
    "intake_many_shot_tokens",
    "intake_max_new_tokens",
}


def test_every_profile_has_the_same_keys_and_runs_intake():
    from helpers.course import profiles, rehearsal

    by_profile = profiles.NOTEBOOK_DEFAULTS["prompt_or_finetune"]
    keys = set(by_profile["cpu"])
    assert INTAKE_KEYS <= keys and all(set(by_profile[p]) == keys for p in PROFILES)
    off = profiles.ADDED_AFTER_PUBLICATION["prompt_or_finetune"]  # what the runs before intake had
    assert set(off) == INTAKE_KEYS and off["intake_ft_sizes"] == []
    for profile in ("smoke", "cpu", "t4", "gpu", "full", rehearsal.profile_name("t4"), rehearsal.profile_name("gpu")):
        cfg = settings("prompt_or_finetune", profile)
        assert cfg.intake_ft_sizes and cfg.intake_n_test > 0 and cfg.intake_n_val > 0 and cfg.intake_shots > 0


def test_the_workload_counts_intake_only_when_it_is_on():
    on = settings("prompt_or_finetune", "smoke")
    off = settings("prompt_or_finetune", "smoke", intake_ft_sizes=[])
    with_intake, without = pof.workload(on), pof.workload(off)
    assert not any(g.label.startswith("intake ") for g in without.generations + without.finetunes)
    intake_tunes = [f for f in with_intake.finetunes if f.label.startswith("intake ")]
    sweep = len(on.lr_grid) + on.max_extensions
    assert sum(f.count for f in intake_tunes) == len(on.intake_ft_sizes) * len(on.seeds) - 1 + sweep
    assert with_intake.n_finetunes == without.n_finetunes + sum(f.count for f in intake_tunes)
    counts = {g.label: g for g in with_intake.generations}
    assert counts[f"intake {pof.RANDOM_K}, test"].count == len(on.seeds) * len(on.intake_ft_sizes)
    assert counts[f"intake {pof.RANDOM_K}, test"].prompts == on.intake_n_test
    assert counts[f"intake {pof.ZERO_SHOT}"].new_tokens == on.intake_max_new_tokens
    assert counts["intake fine-tuned, test"].count == len(on.seeds) * len(on.intake_ft_sizes)
    assert sum(label.startswith(f"intake {pof.MANY_SHOT}, n=") for label in counts) == len(on.intake_ft_sizes)
    assert all(f.seq_len == 275 for f in intake_tunes)
    cpu = settings("prompt_or_finetune", "cpu")
    cpu_counts = {g.label: g for g in pof.workload(cpu).generations}
    assert cpu_counts["intake fine-tuned, test"].count == len(cpu.seeds) * len(cpu.intake_ft_sizes)


def test_the_intake_answer_budget_defaults_to_the_longest_target():
    cfg = settings("prompt_or_finetune", "full")
    assert cfg.intake_max_new_tokens is None
    from helpers.experiments.nb01_data_size import INTAKE_TARGET_MAX_TOKENS

    assert pof.intake_shape(cfg).new_tokens == INTAKE_TARGET_MAX_TOKENS + 16


def test_notebook_01_trains_intake_under_the_same_one_line_prompt():
    from helpers.core.paths import REPO_ROOT
    from helpers.experiments.nb01_data_size import INTAKE_FINETUNED_PROMPT

    source = (REPO_ROOT / "notebooks" / "01_data_size.ipynb").read_text()
    assert f'FINETUNED_PROMPT = \\"{INTAKE_FINETUNED_PROMPT}\\"' in source


def test_the_playbook_chapter_renders_the_intake_verdicts_when_a_run_has_them(monkeypatch, tmp_path):
    import json
    import shutil

    from helpers.course import playbook

    published = playbook.RESULTS_DIR / "cpu" / "06_prompt_or_finetune.json"
    record = json.loads(published.read_text())
    intake = record["metrics"]["intake"]  # the published cpu run has intake
    for status in ("supported", "not supported", "inconclusive"):
        page = playbook.render_page("prompt.md", forced_status={"06.intake.finetune_beats_best_prompt_fewest": status})
        assert {f"06.intake.{name}" for name in ("finetune_beats_best_prompt", "retrieved_beats_random")} <= page.cited
        assert "## Client intake" in page.text and "cpu/06_prompt_or_finetune_intake_quality.png" in page.figures
        fewest = next(c for c in page.findings.calls if c.verdict_id == "06.intake.finetune_beats_best_prompt_fewest")
        assert fewest.shown == fewest.texts[status]
    assert "extraction has none" in page.text and f"| {intake['best_prompt'].popitem()[0]} |" in page.text

    # a run with intake off (every run before it was added): the chapter shows banking77 alone
    del record["metrics"]["intake"]
    record["verdicts"] = [v for v in record["verdicts"] if ".intake." not in v["id"]]
    (tmp_path / "cpu").mkdir()
    for name in ("06_prompt_or_finetune_quality.png", "06_prompt_or_finetune_cost.png"):
        shutil.copy(playbook.RESULTS_DIR / "cpu" / name, tmp_path / "cpu" / name)
    (tmp_path / "cpu" / "06_prompt_or_finetune.json").write_text(json.dumps(record))
    monkeypatch.setattr(playbook, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(
        playbook, "_load", lambda result, template: json.loads((tmp_path / f"{result}.json").read_text())
    )
    page = playbook.render_page("prompt.md")
    assert "## Client intake" not in page.text and "06.banking77.retrieved_beats_random" in page.cited
