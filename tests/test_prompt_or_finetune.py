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
    assert work.n_finetunes == len(cfg.ft_sizes) * len(cfg.seeds) - 1 + sweep
    counts = {g.label: g.count for g in work.generations}
    assert counts[f"{pof.RANDOM_K}, test"] == len(cfg.seeds) * len(cfg.ft_sizes)
    assert counts[f"{pof.RANDOM_K}, validation"] == len(cfg.ft_sizes)
    assert counts[pof.RETRIEVED_K] == len(cfg.ft_sizes) and counts[pof.ZERO_SHOT] == 1
    assert sum(label.startswith(f"{pof.MANY_SHOT}, n=") for label in counts) == len(cfg.ft_sizes)
    assert all(job.model == cfg.model and 0 < job.answer_share < 1 for job in work.finetunes)
