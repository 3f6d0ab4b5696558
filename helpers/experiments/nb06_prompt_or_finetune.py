"""Notebook 06 (prompt or fine-tune): a prompting ladder and a fine-tuning ladder on the same model and the same
labelled examples, the crossover n with its interval, what each arm costs per request, and the verdicts.

Every arm draws on a pool of n labelled training examples (nested: each pool is the start of the next, the
same number per label where n allows). Prompting arms: zero-shot with the label list, zero-shot with a
one-line description per label (both use no example), k demonstrations drawn at random from the pool (one
draw per seed), the k pool examples nearest to each query (BM25, never the query itself), and many-shot: as
many pool examples as fit a token budget. Fine-tuned arms: LoRA on the pool, one run per seed, at the
learning rate swept on the largest pool (`nb01_data_size.sweep_group`: a validation split no verdict scores).

Nothing scored chooses anything: the best prompt at each n is the strategy with the best score on the
validation split (`choose_best_prompt`), then that strategy's test score stands for prompting at that n.

Two tasks climb the same ladders with the same functions: banking77 intent classification (accuracy, with
chance beside it) and client-intake extraction (`helpers.data.intake_task`: a note to a JSON object with 8
fields, field-level F1; extraction has no chance level). For intake the label list is the field schema (the
intake system prompt), a label's description is a field's (`intake_task.described_system_prompt`), the pools
are spread over the matter types, and the fine-tunes train and answer under notebook 01's one-line prompt.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core import plots, stats
from ..core.generation import generate, prompt_token_ids
from ..core.models import LoadedModel
from ..core.retrieval import BM25Retriever
from ..core.scoring import normalize
from ..core.tasks import Example, Task, balanced_order, with_few_shot
from ..core.training import TrainConfig
from ..core.workload import FineTune, Generation, Workload
from . import verdict
from .arms import ArmResult, arm_summary, arm_values, paired_arms, train_and_evaluate
from .lr_sweep import SweepResult
from .nb01_data_size import ArmSpec, sweep_group, sweep_record

ZERO_SHOT = "zero-shot"
DESCRIBED = "zero-shot + descriptions"
RANDOM_K = "random k-shot"
RETRIEVED_K = "retrieved k-shot"
MANY_SHOT = "many-shot"
FINE_TUNED = "fine-tuned (LoRA)"
# The prompting strategies in order of cost (prompt tokens); a tie on validation goes to the earlier one.
STRATEGIES = (ZERO_SHOT, DESCRIBED, RANDOM_K, RETRIEVED_K, MANY_SHOT)
NO_EXAMPLES = (ZERO_SHOT, DESCRIBED)  # strategies that use none of the pool: one arm, the same at every n


# --- Pools and demonstrations ------------------------------------------------------------------------------


def nested_pools(
    train: list[Example], sizes: list[int], key: Callable[[Example], str] | None = None
) -> dict[int, list[Example]]:
    """{n: the first n examples} of `train` reordered round-robin over the labels (`key`, else meta["label"],
    else the reference), so every pool is the start of the next and holds as equal a number per label as n
    allows."""
    if max(sizes) > len(train):
        raise ValueError(f"a pool of {max(sizes)} needs that many training examples; there are {len(train)}")
    ordered = balanced_order(train, key)
    return {n: ordered[:n] for n in sorted(sizes)}


def matter_type(example: Example) -> str:
    """An intake note's matter type: intake pools are spread over the matter types as banking77's over intents."""
    return example.meta["fields"]["matter_type"]


def random_shots(pool: list[Example], k: int, seed: int) -> list[Example]:
    """k demonstrations drawn from the pool with `seed` (all of it when k is larger)."""
    return random.Random(seed).sample(pool, min(k, len(pool)))


class DemoRetriever:
    """BM25 over a pool's user messages: the k pool examples nearest to a query, nearest last (next to the
    query). A pool example whose message is the query's (after normalisation) is never returned."""

    def __init__(self, pool: list[Example]):
        self.pool = list(pool)
        self._retriever = BM25Retriever({f"{i:06d}": ex.last_user_message for i, ex in enumerate(self.pool)})

    def shots(self, query: Example, k: int) -> list[Example]:
        text = normalize(query.last_user_message)
        found = [
            self.pool[int(doc)]
            for doc in self._retriever.search(query.last_user_message, min(len(self.pool), k + 5))
            if normalize(self.pool[int(doc)].last_user_message) != text
        ][:k]
        return found[::-1]


def demo_token_costs(tokenizer, pool: list[Example], probe: Example) -> list[int]:
    """Tokens each pool example adds to `probe`'s prompt as a demonstration (its user and assistant turns)."""
    base = len(prompt_token_ids(tokenizer, [probe.prompt])[0])
    with_each = prompt_token_ids(tokenizer, [with_few_shot(probe, [ex]) for ex in pool])
    return [len(ids) - base for ids in with_each]


CONTEXT_MARGIN = 64  # tokens: the chat template's end of turn, and a test message longer than any measured


def context_budget(loaded: LoadedModel, examples: list[Example], max_new_tokens: int, cap: int | None) -> int:
    """Tokens available to many-shot demonstrations: the model's context minus the longest prompt without
    demonstrations among `examples` (training and validation messages: nothing scored sets the budget), the
    answer budget and a margin, and at most `cap` (a time budget; None: the context limit only)."""
    limit = int(getattr(loaded.model.config, "max_position_embeddings", 2048))
    longest = max(len(ids) for ids in prompt_token_ids(loaded.tokenizer, [ex.prompt for ex in examples]))
    room = limit - longest - max_new_tokens - CONTEXT_MARGIN
    return max(0, min(room, cap) if cap is not None else room)


def many_shot_selection(costs: list[int], budget: int) -> list[int]:
    """Indices of pool examples for the many-shot prompt: the pool in its own order (nested_pools: round-robin
    over the labels, so any start of it is label-balanced), taken while their demonstration tokens fit
    `budget` (an example that does not fit is skipped, later ones may). Deterministic, like the retrieved
    arm: a draw that changed with the seed would need its own seeds for its interval to hold that variance."""
    chosen, used = [], 0
    for i, cost in enumerate(costs):
        if used + cost <= budget:
            chosen.append(i)
            used += cost
    return chosen


@dataclass
class PromptSet:
    """A strategy's prompts for one split at one pool size and seed, with what they cost in tokens."""

    strategy: str
    n: int  # pool size drawn from (0: none)
    seed: int
    prompts: list[list[dict]]
    shots: int  # demonstrations per prompt (mean, for retrieved ones)


def strategy_prompts(
    strategy: str,
    examples: list[Example],
    pool: list[Example],
    k: int,
    seed: int,
    described_system: str | None = None,
    many_shot: list[Example] | None = None,
) -> PromptSet:
    """The prompts of `strategy` for `examples` (validation or test). The zero-shot strategies ignore the pool;
    many-shot takes its demonstrations (`many_shot`, chosen by `many_shot_selection`)."""
    if strategy == ZERO_SHOT:
        return PromptSet(strategy, 0, 0, [ex.prompt for ex in examples], 0)
    if strategy == DESCRIBED:
        if described_system is None:
            raise ValueError("the described strategy needs its system prompt")
        prompts = [[{"role": "system", "content": described_system}] + ex.prompt[1:] for ex in examples]
        return PromptSet(strategy, 0, 0, prompts, 0)
    if strategy == RANDOM_K:
        shots = random_shots(pool, k, seed)
        return PromptSet(strategy, len(pool), seed, [with_few_shot(ex, shots) for ex in examples], len(shots))
    if strategy == RETRIEVED_K:
        retriever = DemoRetriever(pool)
        chosen = [retriever.shots(ex, k) for ex in examples]
        prompts = [with_few_shot(ex, shots) for ex, shots in zip(examples, chosen)]
        return PromptSet(strategy, len(pool), 0, prompts, round(float(np.mean([len(c) for c in chosen])), 2))
    if strategy == MANY_SHOT:
        shots = list(many_shot or [])
        return PromptSet(strategy, len(pool), seed, [with_few_shot(ex, shots) for ex in examples], len(shots))
    raise ValueError(f"unknown strategy {strategy!r}: one of {STRATEGIES}")


def score_prompt_set(
    loaded: LoadedModel,
    task: Task,
    examples: list[Example],
    prompt_set: PromptSet,
    split: str,
    max_new_tokens: int,
    batch_size: int,
) -> ArmResult:
    """Generate and score one PromptSet on `examples` (the split's items)."""
    import time

    started = time.perf_counter()
    predictions = generate(
        loaded,
        prompt_set.prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description=f"{prompt_set.strategy} n={prompt_set.n} ({split})",
    )
    tokens = prompt_token_ids(loaded.tokenizer, prompt_set.prompts)
    return ArmResult(
        arm_name(prompt_set.strategy, prompt_set.n),
        prompt_set.strategy,
        prompt_set.n,
        prompt_set.seed,
        task.score(predictions, examples),
        predictions,
        time.perf_counter() - started,
        info={
            "strategy": prompt_set.strategy,
            "n": prompt_set.n,
            "split": split,
            "shots": prompt_set.shots,
            "prompt_tokens": float(np.mean([len(ids) for ids in tokens])),
        },
    )


def arm_name(strategy: str, n: int) -> str:
    return strategy if strategy in NO_EXAMPLES else f"{strategy}, n={n}"


def run_prompting_ladder(
    loaded: LoadedModel,
    task: Task,
    validation: Task,
    pools: dict[int, list[Example]],
    shots: int,
    seeds: list[int],
    described_system: str,
    many_budget: int,
    max_new_tokens: int,
    batch_size: int,
    many_shot_batch_size: int,
    progress: Callable[[str], None] = print,
) -> tuple[dict[str, dict[int, list[ArmResult]]], dict[str, dict[int, list[ArmResult]]], dict[int, list[Example]]]:
    """Every strategy on the validation items and on the test items (`validation.eval`, `task.eval`):
    ({strategy: {n: test runs}}, {strategy: {n: validation runs}}, {n: the many-shot demonstrations}).
    The zero-shot strategies run once (n = 0). Random demonstrations: one draw per seed on the test items,
    the first seed's draw on validation. Many-shot: the pool in its own order while it fits `many_budget`."""
    metric = task.headline_metric
    prompted: dict[str, dict[int, list[ArmResult]]] = {s: {} for s in STRATEGIES}
    validated: dict[str, dict[int, list[ArmResult]]] = {s: {} for s in STRATEGIES}
    splits = {"validation": validation, "test": task}
    many_sets: dict[int, list[Example]] = {}
    for n, pool in [(0, [])] + list(pools.items()):
        costs = demo_token_costs(loaded.tokenizer, pool, task.train[0]) if pool else []
        many = many_sets[n] = [pool[i] for i in many_shot_selection(costs, many_budget)] if pool else []
        for strategy in NO_EXAMPLES if n == 0 else STRATEGIES[2:]:
            batch = many_shot_batch_size if strategy == MANY_SHOT else batch_size
            for split, split_task in splits.items():
                draws = (seeds if split == "test" else seeds[:1]) if strategy == RANDOM_K else [0]
                runs = [
                    score_prompt_set(
                        loaded,
                        task,
                        split_task.eval,
                        strategy_prompts(strategy, split_task.eval, pool, shots, seed, described_system, many),
                        split,
                        max_new_tokens,
                        batch,
                    )
                    for seed in draws
                ]
                (validated if split == "validation" else prompted)[strategy][n] = runs
            test_runs = prompted[strategy][n]
            progress(
                f"{arm_name(strategy, n):>28}: test {metric} {arm_summary(test_runs, metric)['mean']:.1%}, "
                f"validation {arm_summary(validated[strategy][n], metric)['mean']:.1%}, "
                f"{test_runs[0].info['prompt_tokens']:.0f} prompt tokens, {test_runs[0].info['shots']} demonstrations"
            )
    return prompted, validated, many_sets


# --- Choosing the prompt on validation, and the crossover --------------------------------------------------


def choose_best_prompt(validation: dict[str, list[ArmResult]], metric: str) -> tuple[str, dict[str, float]]:
    """The strategy with the best mean validation score (over its seeds), and every strategy's score. A tie
    goes to the strategy listed first in STRATEGIES (the cheaper prompt). Only validation runs may be passed:
    a run scored on another split is an error, so test items can never choose the prompt."""
    for strategy, runs in validation.items():
        splits = {r.info.get("split") for r in runs}
        if splits != {"validation"}:
            raise ValueError(f"{strategy}: the best prompt is chosen on validation runs only, got splits {splits}")
    scores = {s: float(arm_values(runs, metric).mean()) for s, runs in validation.items()}
    order = {s: i for i, s in enumerate(STRATEGIES)}
    best = max(scores, key=lambda s: (scores[s], -order.get(s, len(order))))
    return best, scores


def runs_at(store: dict[str, dict[int, list[ArmResult]]], strategy: str, n: int) -> list[ArmResult]:
    """A strategy's runs at pool size n; a zero-shot strategy's single arm (n = 0) at every n."""
    return store[strategy][0] if strategy in NO_EXAMPLES else store[strategy][n]


def best_prompts(
    validated: dict[str, dict[int, list[ArmResult]]],
    prompted: dict[str, dict[int, list[ArmResult]]],
    ns: list[int],
    metric: str,
) -> tuple[dict[int, tuple[str, list[ArmResult]]], list[dict]]:
    """At each n the strategy chosen on validation (`choose_best_prompt`) with its test runs, and one row per n
    with every strategy's validation score."""
    best_prompt, rows = {}, []
    for n in sorted(ns):
        best, scores = choose_best_prompt({s: runs_at(validated, s, n) for s in STRATEGIES}, metric)
        best_prompt[n] = (best, runs_at(prompted, best, n))
        rows.append({"n": n, "chosen": best, **{f"val {s}": round(v, 3) for s, v in scores.items()}})
    return best_prompt, rows


def difference_rows(
    finetuned: dict[int, list[ArmResult]],
    best_prompt: dict[int, tuple[str, list[ArmResult]]],
    differences: dict[int, dict],
    metric: str,
    chance: float | None,
) -> list[dict]:
    """One row per n: the best prompt (chosen on validation), both test scores, their paired difference and
    interval, and chance ("none" for a task without one, such as extraction)."""
    return [
        {
            "n": n,
            "best prompt (validation)": best_prompt[n][0],
            "best prompt, test": arm_summary(best_prompt[n][1], metric)["mean"],
            "fine-tuned, test": arm_summary(finetuned[n], metric)["mean"],
            "difference": d["mean_diff"],
            "95% CI": f"{d['ci_low']:+.3f} to {d['ci_high']:+.3f}",
            "chance": chance if chance is not None else "none (extraction)",
        }
        for n, d in differences.items()
    ]


def crossover(ns: list[int], differences: list[float]) -> float | None:
    """The pool size where fine-tuning overtakes prompting, from the difference (fine-tuned minus best prompt)
    at each n of the grid: the smallest n from which every difference is positive, interpolated on log n
    between it and the grid point before (where the difference was not positive). The smallest n when
    fine-tuning is ahead from the start (read "at or below"); None when it is not ahead at the largest n."""
    if len(ns) != len(differences) or not ns:
        raise ValueError("one difference per pool size")
    pairs = sorted((n, round(float(d), 12)) for n, d in zip(ns, differences))  # a tie read through rounding is a tie
    if pairs[-1][1] <= 0:
        return None
    j = len(pairs) - 1
    while j > 0 and pairs[j - 1][1] > 0:
        j -= 1
    if j == 0:
        return float(pairs[0][0])
    (n0, d0), (n1, d1) = pairs[j - 1], pairs[j]
    share = (0 - d0) / (d1 - d0)
    if share == 0:  # a tie at n0: fine-tuning is ahead from the next point on, and level at n0
        return float(n0)
    return float(math.exp(math.log(n0) + share * (math.log(n1) - math.log(n0))))


def crossover_interval(
    ns: list[int], finetuned: list[np.ndarray], prompted: list[np.ndarray], n_boot: int = 2000, seed: int = 0
) -> dict:
    """The crossover (see `crossover`) with a 95% bootstrap interval. finetuned, prompted: per pool size a
    (seeds, items) matrix of the same test items. Each replicate resamples the items once for every pool size
    and arm (the same test set throughout), then each arm's seeds (stats.two_level_means), and computes the
    replicate's crossover; a replicate with no crossover counts as beyond the grid."""
    matrices = [(stats.seed_matrix(a), stats.seed_matrix(b)) for a, b in zip(finetuned, prompted)]
    n_items = matrices[0][0].shape[1]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_items, size=(n_boot, n_items))
    diffs = np.stack([stats.two_level_means(a, draws, rng) - stats.two_level_means(b, draws, rng) for a, b in matrices])
    replicates = [crossover(ns, list(diffs[:, i])) for i in range(n_boot)]
    values = np.array([math.inf if r is None else r for r in replicates])
    observed = crossover(ns, [float(a.mean() - b.mean()) for a, b in matrices])
    low, high = (float(np.quantile(values, q, method="lower" if q < 0.5 else "higher")) for q in (0.025, 0.975))
    smallest, largest = min(ns), max(ns)
    return {
        "estimate": observed,
        "ci_low": low if math.isfinite(low) else None,
        "ci_high": high if math.isfinite(high) else None,
        "share_beyond_grid": float(np.mean(~np.isfinite(values))),
        "share_at_or_below_smallest": float(np.mean(values <= smallest)),
        "grid": sorted(ns),
        "text": crossover_text(observed, low, high, smallest, largest),
        "n_boot": n_boot,
        "interval_method": "bootstrap over items (shared by every pool size) and each arm's seeds",
    }


def crossover_text(estimate: float | None, low: float, high: float, smallest: int, largest: int) -> str:
    """The crossover as an estimate with its interval; an interval that reaches either end of the grid is
    said not to locate the crossover (the verdicts, not this sentence, say whether fine-tuning wins)."""

    def bound(x: float) -> str:
        if not math.isfinite(x):
            return f"beyond the grid (> {largest})"
        return f"at or below {smallest}" if x <= smallest else f"{x:.0f}"

    if estimate is None:
        head = f"point estimate: no crossover within the grid ({smallest} to {largest} examples)"
    elif estimate <= smallest:
        head = f"point estimate: fine-tuning ahead from the smallest pool (n = {smallest})"
    else:
        head = f"point estimate: crossover at n = {estimate:.0f}"
    located = math.isfinite(high) and low > smallest
    return f"{head}; 95% interval {bound(low)} to {bound(high)}" + ("" if located else ", not located within the grid")


# --- Fine-tuning ladder ------------------------------------------------------------------------------------


def finetune_steps(n: int, epochs: float, batch_size: int, min_steps: int) -> int:
    """Optimizer steps for a pool of n: `epochs` passes over it, and at least `min_steps` (a pool of a few
    examples still trains long enough to learn the format)."""
    return max(min_steps, math.ceil(n * epochs / batch_size))


def run_finetune_ladder(
    model_name: str,
    pools: dict[int, list[Example]],
    config_for: Callable[[int, int, float | None], TrainConfig],
    test_task: Task,
    val_task: Task,
    seeds: list[int],
    fixed_rate: float | None,
    grid: list[float],
    max_extensions: int,
    max_new_tokens: int,
    batch_size: int,
    prepare: Callable[[list[Example]], list[Example]],
    progress: Callable[[str], None] = print,
) -> tuple[dict[int, list[ArmResult]], SweepResult | None, dict | None]:
    """LoRA on every pool, every seed, scored on `test_task`. With `fixed_rate` None the rate is first swept on
    the largest pool (first seed, scored on `val_task`; nb01_data_size.sweep_group), whose chosen fine-tune is
    that pool's first-seed run; every pool then trains at the chosen rate. config_for(n, seed, rate)."""
    largest = max(pools)
    runs: dict[tuple[int, int], ArmResult] = {}
    sweep, record, rate = None, None, fixed_rate
    if fixed_rate is None:
        spec = ArmSpec(arm_name(FINE_TUNED, largest), FINE_TUNED, pools[largest], {"n": largest})
        sweep, run, points = sweep_group(
            model_name,
            spec,
            prepare(pools[largest]),
            lambda r: config_for(largest, seeds[0], r),
            val_task,
            test_task,
            grid,
            max_extensions,
            max_new_tokens,
            batch_size,
            progress,
        )
        record, rate = sweep_record(sweep, spec.arm, points), sweep.chosen
        run.n_train = largest
        runs[(largest, seeds[0])] = run
        progress("  " + sweep.note(f"LoRA (swept on n={largest})"))
    for n in sorted(pools):
        for seed in seeds:
            if (n, seed) in runs:
                continue
            run = train_and_evaluate(
                model_name,
                test_task,
                prepare(pools[n]),
                config_for(n, seed, rate),
                arm_name(FINE_TUNED, n),
                FINE_TUNED,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                info={"n": n, "learning_rate": rate},
            )
            run.n_train = n
            runs[(n, seed)] = run
            progress(
                f"LoRA n={n:>4} seed {seed}: {test_task.headline_metric} "
                f"{run.scores[test_task.headline_metric].mean():.1%}, {run.record.optimizer_steps} steps, "
                f"train {run.record.train_seconds:.0f} s"
            )
    return {n: [runs[(n, seed)] for seed in seeds] for n in sorted(pools)}, sweep, record


# --- Verdicts ----------------------------------------------------------------------------------------------


def prompt_or_finetune_verdicts(
    task_key: str,
    finetuned: dict[int, list[ArmResult]],
    best_prompt: dict[int, tuple[str, list[ArmResult]]],
    random_runs: dict[int, list[ArmResult]],
    retrieved_runs: dict[int, list[ArmResult]],
    metric: str,
    profile: str,
    chance: float | None = None,
    sweep: SweepResult | None = None,
) -> list[verdict.Verdict]:
    """Three paired comparisons on the test items, each fixed in advance:

    - "06.<task>.finetune_beats_best_prompt": LoRA on the largest pool beats the best prompt (chosen on
      validation) drawing on the same pool;
    - "06.<task>.finetune_beats_best_prompt_fewest": the same at the smallest pool ("fine-tuning always wins");
    - "06.<task>.retrieved_beats_random": k retrieved demonstrations beat k random ones, on the largest pool.
    """
    ns = sorted(finetuned)
    verdicts = []
    for n, suffix, what in ((ns[-1], "", "largest"), (ns[0], "_fewest", "smallest")):
        strategy, prompt_runs = best_prompt[n]
        claim = (
            f"{task_key}: LoRA on n={n} examples (the {what} pool) beats the best prompt chosen on validation "
            f"({arm_name(strategy, n)})" + (f"; learning rate swept on n={ns[-1]}" if n != ns[-1] else "")
        )
        result = _paired_verdict(
            f"06.{task_key}.finetune_beats_best_prompt{suffix}",
            claim,
            (arm_name(FINE_TUNED, n), finetuned[n]),
            (arm_name(strategy, n), prompt_runs),
            metric,
            profile,
            chance,
        )
        note = sweep.edge_note("the LoRA arms") if sweep is not None else None
        if note:
            result.notes.append(note)
        verdicts.append(result)
    n = max(random_runs)
    claim = f"{task_key}: k demonstrations retrieved per query (BM25) beat k random ones, drawing on n={n} examples"
    result = _paired_verdict(
        f"06.{task_key}.retrieved_beats_random",
        claim,
        (arm_name(RETRIEVED_K, n), retrieved_runs[n]),
        (arm_name(RANDOM_K, n), random_runs[n]),
        metric,
        profile,
        chance,
    )
    verdicts.append(result)
    return verdicts


def _paired_verdict(
    verdict_id: str,
    claim: str,
    better: tuple[str, list[ArmResult]],
    other: tuple[str, list[ArmResult]],
    metric: str,
    profile: str,
    chance: float | None,
) -> verdict.Verdict:
    """ "(name, runs) `better` beats `other`" judged on their paired test items, with both arms flagged where
    chance lies within their interval."""
    result = verdict.judge_difference(verdict_id, claim, paired_arms(better[1], other[1], metric), profile)
    if chance is not None:
        verdict.flag_chance(result, chance, {name: arm_summary(runs, metric) for name, runs in (better, other)})
    return result


def closing_note(verdicts: list[verdict.Verdict], task_key: str) -> str:
    """One line per verdict of `task_key` whose wording follows its status: a finding is asserted only when its
    verdict is supported or not supported; otherwise the line says the run cannot tell. Each line ends with
    the verdict's measured numbers and scale."""

    def line(name: str, *wordings: str) -> str:
        return verdict.status_line(verdict.by_id(verdicts, f"06.{task_key}.{name}"), *wordings)

    return "\n".join(
        [
            line(
                "finetune_beats_best_prompt",
                "at the largest pool, fine-tuning beat the best prompt drawing on the same examples.",
                "at the largest pool, the best prompt was at least as good as fine-tuning.",
                "this run cannot tell whether fine-tuning beats the best prompt at the largest pool.",
            ),
            line(
                "finetune_beats_best_prompt_fewest",
                "even at the smallest pool, fine-tuning beat the best prompt.",
                "at the smallest pool, fine-tuning did not beat the best prompt.",
                "this run cannot tell whether fine-tuning beats the best prompt at the smallest pool.",
            ),
            line(
                "retrieved_beats_random",
                "demonstrations retrieved per query beat as many random ones.",
                "retrieved demonstrations did not beat as many random ones.",
                "this run cannot tell whether retrieved demonstrations beat random ones.",
            ),
        ]
    )


# --- Cost --------------------------------------------------------------------------------------------------


def total_cost(requests: np.ndarray, training_usd: float, usd_per_1k: float) -> np.ndarray:
    """What serving `requests` costs in all: the one-time training cost plus the price per request."""
    return training_usd + np.asarray(requests, dtype=float) * usd_per_1k / 1000


def break_even(training_usd: float, finetuned_per_1k: float, prompted_per_1k: float) -> float | None:
    """Requests after which the fine-tune's cheaper requests have repaid its training; None if they never do."""
    saving = (prompted_per_1k - finetuned_per_1k) / 1000
    return training_usd / saving if saving > 0 else None


def serving_costs(
    model: str,
    test_examples: list[Example],
    finetuned_prompts: list[list[dict]],
    pool: list[Example],
    many_shot: list[Example],
    shots: int,
    seed: int,
    described_system: str,
    new_tokens: int,
    n_latency: int,
    serve_batch_size: int,
    many_shot_batch_size: int,
    price_per_hour: float,
) -> dict[str, dict]:
    """Each strategy's test prompts drawing on `pool` (random demonstrations: the draw of `seed`), and the
    fine-tuned arm's short prompts on the base model (a merged adapter serves at its base's cost), timed on
    `model` (helpers.core.inference_cost.measure): {arm: prompt tokens, latency p50/p95, requests per
    second, USD per 1,000 requests at `price_per_hour`}. Many-shot is served at `many_shot_batch_size`
    when that is smaller."""
    from ..core.inference_cost import REAL, InferenceSpec, cost_per_1k_requests, measure

    costs = {}
    for name in list(STRATEGIES) + [FINE_TUNED]:
        prompts = (
            finetuned_prompts
            if name == FINE_TUNED
            else strategy_prompts(name, test_examples, pool, shots, seed, described_system, many_shot).prompts
        )
        batch = min(serve_batch_size, many_shot_batch_size) if name == MANY_SHOT else serve_batch_size
        probe = measure(InferenceSpec(model, REAL, prompts, new_tokens, n_latency, batch, model))
        costs[name] = {
            "prompt_tokens": probe["mean_prompt_tokens"],
            "latency_p50_s": probe["latency_p50_s"],
            "latency_p95_s": probe["latency_p95_s"],
            "requests_per_second": probe["requests_per_second"],
            "usd_per_1k": cost_per_1k_requests(probe["requests_per_second"], price_per_hour),
        }
    return costs


def training_costs(
    finetuned: dict[int, list[ArmResult]], sweep_points: dict | None, price_per_hour: float
) -> tuple[dict[int, float], dict[int, float], float]:
    """({n: mean training seconds over the seeds}, {n: those seconds in USD}, the sweep's seconds in all)."""
    seconds = {n: sum(r.record.train_seconds for r in runs) / len(runs) for n, runs in finetuned.items()}
    sweep = sum(p["train_seconds"] for p in sweep_points["points"]) if sweep_points else 0.0
    return seconds, {n: s / 3600 * price_per_hour for n, s in seconds.items()}, sweep


def cost_table_rows(costs: dict[str, dict], training_seconds: float) -> list[dict]:
    """One row per arm: prompt tokens, latency, throughput, USD per 1,000 requests, one-time training seconds."""
    return [
        {
            "arm": name,
            "prompt tokens / request": c["prompt_tokens"],
            "latency p50 (s)": c["latency_p50_s"],
            "latency p95 (s)": c["latency_p95_s"],
            "requests/s": c["requests_per_second"],
            "USD per 1k requests": c["usd_per_1k"],
            "training (s, once)": training_seconds if name == FINE_TUNED else 0.0,
        }
        for name, c in costs.items()
    ]


def cost_lines(costs: dict[str, dict], n: int, training_usd: float) -> dict[str, tuple[float, float]]:
    """plot_total_cost's lines: every strategy at no training cost, and the fine-tune (pool n) with its training."""
    lines = {f"{s} (n={n})" if s not in NO_EXAMPLES else s: (0.0, costs[s]["usd_per_1k"]) for s in STRATEGIES}
    lines[f"{FINE_TUNED} (n={n}, training included)"] = (training_usd, costs[FINE_TUNED]["usd_per_1k"])
    return lines


def break_even_note(
    n: int, train_seconds: float, training_usd: float, requests: float | None, against: str, sweep_seconds: float
) -> str:
    """The break-even in words: after how many requests the fine-tune on pool n repays its training against
    the best prompt (`against`), or that it never does."""
    return (
        f"on cost alone, the fine-tune (n={n}, {train_seconds:.0f} s, {training_usd:.5f} USD) is "
        + (
            f"repaid after {requests:,.0f} requests against the best prompt ({against})"
            if requests
            else f"never repaid against the best prompt ({against}), which is as cheap or cheaper per request"
        )
        + (f"; the learning-rate sweep cost {sweep_seconds:.0f} s more, once" if sweep_seconds else "")
    )


# --- The result record -------------------------------------------------------------------------------------


def prompt_summaries(store: dict[str, dict[int, list[ArmResult]]], metrics: tuple[str, ...]) -> dict[str, dict]:
    """{arm: strategy, n, seeds, each metric's summary, prompt tokens, demonstrations} for a prompting store."""
    return {
        arm_name(s, n): {
            "strategy": s,
            "n": n,
            "seeds": len(runs),
            **{m: arm_summary(runs, m) for m in metrics},
            "prompt_tokens": runs[0].info["prompt_tokens"],
            "shots": runs[0].info["shots"],
        }
        for s, by_n in store.items()
        for n, runs in by_n.items()
    }


def ladder_metrics(
    metrics: tuple[str, ...],
    chance: float | None,
    prompted: dict[str, dict[int, list[ArmResult]]],
    validated: dict[str, dict[int, list[ArmResult]]],
    finetuned: dict[int, list[ArmResult]],
    train_seconds: dict[int, float],
    training_usd: dict[int, float],
    best_prompt: dict[int, tuple[str, list[ArmResult]]],
    choice_rows: list[dict],
    differences: dict[int, dict],
    cross: dict,
) -> dict:
    """One task's metrics for the result record: both ladders, the choices on validation, the differences and
    the crossover (the first of `metrics` is the headline)."""
    return {
        "chance": chance,
        "prompted": prompt_summaries(prompted, metrics),
        "validation": prompt_summaries(validated, metrics),
        "finetuned": {
            str(n): {
                **{m: arm_summary(runs, m) for m in metrics},
                "train_seconds": train_seconds[n],
                "train_usd": training_usd[n],
                "optimizer_steps": runs[0].record.optimizer_steps,
            }
            for n, runs in finetuned.items()
        },
        "best_prompt": {
            str(n): {"strategy": s, "validation": row, metrics[0]: arm_summary(runs, metrics[0])}
            for (n, (s, runs)), row in zip(best_prompt.items(), choice_rows)
        },
        "differences": {str(n): d for n, d in differences.items()},
        "crossover": cross,
    }


def plot_quality_vs_n(
    finetuned: dict[int, list[ArmResult]],
    prompted: dict[str, dict[int, list[ArmResult]]],
    best: dict[int, str],
    metric: str,
    title: str,
    profile: str,
    chance: float | None = None,
    cross: dict | None = None,
):
    """Test score against the pool size n (log axis): the fine-tuning ladder and each prompting strategy (drawn
    at the n it draws from; the zero-shot ones as flat lines), the best prompt at each n (chosen on validation)
    ringed, chance dotted, and the crossover with its interval shaded."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 5.0))
    ns = sorted(finetuned)
    for i, strategy in enumerate(STRATEGIES):
        runs = prompted.get(strategy)
        if not runs:
            continue
        color = plots.PALETTE[(i + 1) % len(plots.PALETTE)]
        if strategy in NO_EXAMPLES:
            s = arm_summary(next(iter(runs.values())), metric)
            ax.axhline(s["mean"] * 100, ls="--", lw=1.2, color=color, label=f"{strategy} (no examples)")
            ax.axhspan(s["ci_low"] * 100, s["ci_high"] * 100, color=color, alpha=0.08)
            continue
        xs = sorted(runs)
        plots.line_with_band(ax, xs, [arm_summary(runs[n], metric) for n in xs], strategy, color=color, marker="s")
    plots.line_with_band(
        ax, ns, [arm_summary(finetuned[n], metric) for n in ns], FINE_TUNED, color=plots.PALETTE[0], marker="o"
    )
    for n, strategy in best.items():
        runs = prompted[strategy]
        s = arm_summary(runs[n] if n in runs else next(iter(runs.values())), metric)
        ax.plot([n], [s["mean"] * 100], "o", ms=14, mfc="none", mec="black", alpha=0.7)
    ax.plot([], [], "o", ms=12, mfc="none", mec="black", label="best prompt at n (chosen on validation)")
    plots.chance_line(ax, chance)
    if cross and cross.get("estimate") is not None:
        ax.axvline(cross["estimate"], color="black", lw=1, ls="-.", label="crossover")
        low = cross["ci_low"] or min(ns)
        high = cross["ci_high"] or max(ns)
        ax.axvspan(low, high, color="black", alpha=0.06)
    plots.plain_log_ticks(ax, ns)
    ax.set_xlabel("labelled examples drawn on, n (log scale)")
    ax.set_ylabel(f"{metric.replace('_', ' ')} on the test items (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


def plot_total_cost(lines: dict[str, tuple[float, float]], title: str, profile: str, max_requests: float = 1e7):
    """Total cost (training once, then per request) against the requests served, log-log: lines is
    {arm: (one-time USD, USD per 1,000 requests)}."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    requests = np.logspace(2, math.log10(max_requests), 200)
    for i, (arm, (once, per_1k)) in enumerate(lines.items()):
        ax.plot(
            requests,
            total_cost(requests, once, per_1k),
            label=arm,
            color=plots.PALETTE[i % len(plots.PALETTE)],
            ls="-" if once else "--",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requests served (log scale)")
    ax.set_ylabel("total USD: training once, then per request (log scale)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer with its chat template on banking77_task's prompts (nb01 and nb05 hold
# the label-list prompt, the demonstrations, the short fine-tuned prompt and the answers) and on intake_task's
# (nb01 holds the schema prompt, the demonstrations, the one-line fine-tuned prompt, the targets).
DESCRIPTION_TOKENS_PER_INTENT = 9.0  # what a label's one-line description adds to the label list (8.4 to 9.3)
DEMO_TOKENS = 25  # one banking77 demonstration (user and assistant turns): nb05_model_size.BANK_FEW_SHOT_TOKENS
INTAKE_DESCRIPTION_TOKENS = 126  # the 8 field descriptions added to the schema prompt (247.5 -> 373.5, 100 notes)


@dataclass
class LadderShape:
    """One task's two ladders as the workload counts them: the sizes from the settings, the token lengths
    measured on the task's prompts."""

    prefix: str  # job labels start with it: "" for banking77, "intake " for client intake
    sizes: list[int]  # the pool sizes n
    n_val: int
    n_test: int
    shots: int
    many_shot_tokens: int | None  # the many-shot demonstrations' token budget (None: the context limit)
    base_tokens: int  # the zero-shot prompt (label list or field schema, and the message)
    described_tokens: int  # the zero-shot prompt with a description per label or field
    demo_tokens: int  # one demonstration (user and assistant turns)
    finetuned_prompt_tokens: int  # the fine-tuned arm's prompt (a one-line instruction and the message)
    new_tokens: int  # the generation budget
    seq_len: int  # the longest fine-tuning sequence
    answer_tokens: float  # the mean answer plus the end of turn


def bank_shape(cfg) -> LadderShape:
    """The banking77 ladders under the settings `cfg`."""
    from .nb01_data_size import BANK_ANSWER_TOKENS
    from .nb05_model_size import (
        BANK_FINETUNED_PROMPT_TOKENS,
        BANK_LABEL_BUDGET,
        BANK_LABEL_BUDGET_MAX,
        BANK_SEQ_TOKENS,
        bank_prompt_tokens,
    )

    base = bank_prompt_tokens(cfg.n_intents)
    return LadderShape(
        "",
        sorted(cfg.ft_sizes),
        cfg.n_val,
        cfg.n_test,
        cfg.shots,
        cfg.many_shot_tokens,
        base,
        round(base + DESCRIPTION_TOKENS_PER_INTENT * cfg.n_intents),
        DEMO_TOKENS,
        BANK_FINETUNED_PROMPT_TOKENS,
        BANK_LABEL_BUDGET.get(cfg.n_intents, BANK_LABEL_BUDGET_MAX),
        BANK_SEQ_TOKENS,
        BANK_ANSWER_TOKENS,
    )


def intake_shape(cfg) -> LadderShape:
    """The client-intake ladders under the settings `cfg` (intake_ft_sizes empty: no intake ladders)."""
    from .nb01_data_size import (
        INTAKE_ANSWER_TOKENS,
        INTAKE_FINETUNED_PROMPT_TOKENS,
        INTAKE_PROMPT_TOKENS,
        INTAKE_SEQ_TOKENS,
        INTAKE_SHOT_TOKENS,
        INTAKE_TARGET_MAX_TOKENS,
    )

    return LadderShape(
        "intake ",
        sorted(cfg.intake_ft_sizes),
        cfg.intake_n_val,
        cfg.intake_n_test,
        cfg.intake_shots,
        cfg.intake_many_shot_tokens,
        INTAKE_PROMPT_TOKENS,
        INTAKE_PROMPT_TOKENS + INTAKE_DESCRIPTION_TOKENS,
        INTAKE_SHOT_TOKENS,
        INTAKE_FINETUNED_PROMPT_TOKENS,
        cfg.intake_max_new_tokens or INTAKE_TARGET_MAX_TOKENS + 16,  # target_token_budget's margin
        INTAKE_SEQ_TOKENS,
        INTAKE_ANSWER_TOKENS,
    )


def prompting_generations(cfg, shape: LadderShape) -> list[Generation]:
    """The prompting ladder's passes: each zero-shot strategy scores the validation and test items once;
    random k-shot the test items once per seed and pool (the validation items once per pool, with the first
    seed's draw), retrieved k-shot and many-shot both splits once per pool."""
    seeds, pools, p = len(cfg.seeds), shape.sizes, shape.prefix
    items = shape.n_val + shape.n_test
    gen = dict(model=cfg.model, new_tokens=shape.new_tokens, batch_size=cfg.eval_batch_size)
    k_shot = shape.base_tokens + shape.demo_tokens * shape.shots
    generations = [
        Generation(f"{p}{ZERO_SHOT}", prompts=items, prompt_tokens=shape.base_tokens, **gen),
        Generation(f"{p}{DESCRIBED}", prompts=items, prompt_tokens=shape.described_tokens, **gen),
        Generation(f"{p}{RANDOM_K}, validation", prompts=shape.n_val, prompt_tokens=k_shot, count=len(pools), **gen),
        Generation(f"{p}{RANDOM_K}, test", prompts=shape.n_test, prompt_tokens=k_shot, count=seeds * len(pools), **gen),
        Generation(f"{p}{RETRIEVED_K}", prompts=items, prompt_tokens=k_shot, count=len(pools), **gen),
    ]
    for n in pools:
        generations.append(
            Generation(
                f"{p}{MANY_SHOT}, n={n}",
                model=cfg.model,
                prompts=items,
                prompt_tokens=shape.base_tokens + many_shot_tokens(shape, n),
                new_tokens=shape.new_tokens,
                batch_size=cfg.many_shot_batch_size,
            )
        )
    return generations


def many_shot_tokens(shape: LadderShape, n: int) -> int:
    """The many-shot demonstrations' tokens at pool n: the whole pool, or the budget when it is smaller."""
    return min(n * shape.demo_tokens, shape.many_shot_tokens or 10**9)


def finetuning_jobs(cfg, shape: LadderShape) -> tuple[list[FineTune], list[Generation]]:
    """The fine-tuning ladder: the sweep on the largest pool (each rate scores the validation items), every
    other (pool, seed) once, each scoring the test items."""
    from .nb01_data_size import sweep_size

    seeds, pools, p = len(cfg.seeds), shape.sizes, shape.prefix
    swept = cfg.learning_rate is None
    sweeps = sweep_size(cfg.lr_grid, cfg.max_extensions) if swept else 0
    gen = dict(
        model=cfg.model,
        prompt_tokens=shape.finetuned_prompt_tokens,
        new_tokens=shape.new_tokens,
        batch_size=cfg.eval_batch_size,
    )
    generations = [
        Generation(f"{p}fine-tuned sweep validation", prompts=shape.n_val, count=sweeps, **gen),
        Generation(f"{p}fine-tuned, test", prompts=shape.n_test, count=len(pools) * seeds, **gen),
    ]
    train = dict(
        model=cfg.model,
        method=cfg.method,
        lora_r=cfg.lora_r,
        batch_size=cfg.batch_size,
        seq_len=shape.seq_len,
        answer_share=shape.answer_tokens / shape.seq_len,
    )
    finetunes = []
    if swept:
        steps = finetune_steps(pools[-1], cfg.epochs, cfg.batch_size, cfg.min_steps)
        finetunes.append(
            FineTune(f"{p}{FINE_TUNED} sweep (n={pools[-1]})", sequences=steps * cfg.batch_size, count=sweeps, **train)
        )
    for n in pools:
        count = seeds - (swept and n == pools[-1])
        if count:
            steps = finetune_steps(n, cfg.epochs, cfg.batch_size, cfg.min_steps)
            finetunes.append(FineTune(f"{p}{FINE_TUNED} n={n}", sequences=steps * cfg.batch_size, count=count, **train))
    return finetunes, generations


def serving_generations(cfg, shape: LadderShape) -> list[Generation]:
    """One timed probe per strategy and one for the fine-tuned prompt, at the largest pool: a warm-up,
    n_latency requests one at a time, a batch of serve_batch_size."""
    k_shot = shape.base_tokens + shape.demo_tokens * shape.shots
    generations = []
    for label, tokens in (
        (ZERO_SHOT, shape.base_tokens),
        (DESCRIBED, shape.described_tokens),
        (RANDOM_K, k_shot),
        (RETRIEVED_K, k_shot),
        (MANY_SHOT, shape.base_tokens + many_shot_tokens(shape, shape.sizes[-1])),
        (FINE_TUNED, shape.finetuned_prompt_tokens),
    ):
        serve = dict(model=cfg.model, prompt_tokens=tokens, new_tokens=shape.new_tokens)
        generations += [
            Generation(f"{shape.prefix}{label} serving latency", prompts=cfg.n_latency + 1, batch_size=1, **serve),
            Generation(
                f"{shape.prefix}{label} serving throughput",
                prompts=cfg.serve_batch_size,
                batch_size=min(cfg.serve_batch_size, cfg.many_shot_batch_size if label == MANY_SHOT else 10**6),
                **serve,
            ),
        ]
    return generations


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 06 under the settings `cfg`, for banking77 and, when
    intake_ft_sizes is not empty, for client intake (upper bounds: the sweep runs its grid and every extension;
    many-shot prompts are counted whole at their token budget, though generate computes their shared
    demonstrations once). Each task: its prompting ladder (`prompting_generations`), its fine-tuning ladder
    (`finetuning_jobs`) and its serving probes (`serving_generations`)."""
    shapes = [bank_shape(cfg)] + ([intake_shape(cfg)] if cfg.intake_ft_sizes else [])
    finetunes, generations = [], []
    for shape in shapes:
        tuned, scored = finetuning_jobs(cfg, shape)
        finetunes += tuned
        generations += prompting_generations(cfg, shape) + scored + serving_generations(cfg, shape)
    generations = [g for g in generations if g.count > 0]
    notes = [
        "prompts are counted whole, though generate computes the prompts' shared start (system prompt and fixed "
        "demonstrations) once: the random k-shot and many-shot passes cost less than counted",
        "the sweep is counted at its full grid plus max_extensions rates",
        "fine-tuning sequences are counted at the task's longest (96 tokens at 77 intents); the mean is about 45",
        "not counted: the closing cell's demo on the learner's own model",
    ]
    if cfg.intake_ft_sizes:
        notes.append(
            "client intake: sequences at the longest (275 tokens, the mean is about 242), answers at the generation "
            "budget (a JSON answer stops at about 111 tokens)"
        )
    return Workload("prompt_or_finetune", finetunes, generations, notes)
