"""Notebook 04 (one-and-done): maintenance strategies for a fine-tuned model over drifting periods.

A strategy owns a model and decides, each period, whether and on what to train it further. All
strategies start from the same period-0 fine-tune; continued training starts from the strategy's own
latest model (a copy, so strategies never share weights).

Design points (each checked by tests/test_one_and_done.py or tests/test_drift_world.py):
- evaluation questions are held-out wordings, never training questions word for word;
- decay is judged like for like: unchanged facts at period 0 against unchanged facts later, and the
  same changed-fact questions with their period-0 answers against their current ones;
- the monitored strategy decides from the label-free drift monitor and a labelled canary drawn from a
  separate pool of questions, never from an evaluated item;
- "with replay" and "new data only" retrain on the same number of examples (replay swaps part of the
  new examples for old ones that still hold), in the simulated business and on CLINC150;
- learning rates are swept per strategy before the seeds run (`sweep_world_rates`, `sweep_clinc_rates`):
  the period-0 fine-tune's on period-0 validation questions, each retraining strategy's at period 1 on its
  own retraining set and period-1 validation questions. Validation questions are never scored: the
  world's are in the canary's templates, CLINC150's come from its upstream val split.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..core import plots, stats
from ..core.drift_monitor import canary_check
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.scoring import answer_outcomes, label_scores
from ..core.tasks import Example
from ..core.training import TrainConfig, finetune, load_for_training, merged_for_inference
from ..core.workload import FineTune, Generation, Workload
from . import verdict
from .lr_sweep import SweepResult, sweep_keeping_best, sweep_learning_rates


@dataclass
class PeriodScores:
    """Per-item correctness of each strategy at each period, by evaluation kind."""

    scores: dict[str, dict[int, dict[str, np.ndarray]]] = field(
        default_factory=dict
    )  # strategy -> period -> kind -> items: (items,) for one run, (seeds, items) from stack_seeds

    def add(self, strategy: str, period: int, kind: str, correct: np.ndarray) -> None:
        self.scores.setdefault(strategy, {}).setdefault(period, {})[kind] = np.asarray(correct, dtype=float)

    def pooled(self, strategy: str, period: int, kinds: tuple[str, ...]) -> np.ndarray:
        by_kind = self.scores[strategy][period]
        return np.concatenate([by_kind[k] for k in kinds if k in by_kind], axis=-1)

    def summary(self, strategy: str, period: int, kinds: tuple[str, ...]) -> dict:
        return stats.summarize(self.pooled(strategy, period, kinds))

    def to_dict(self, kinds_for_all: tuple[str, ...]) -> dict:
        out = {}
        for strategy, periods in self.scores.items():
            out[strategy] = {}
            for period, by_kind in periods.items():
                out[strategy][str(period)] = {kind: stats.summarize(values) for kind, values in by_kind.items()}
                out[strategy][str(period)]["all"] = stats.summarize(self.pooled(strategy, period, kinds_for_all))
        return out


@dataclass
class Strategy:
    name: str
    model: LoadedModel
    retrains: list[int] = field(default_factory=list)  # periods in which it trained
    train_seconds: float = 0.0
    examples_used: int = 0
    retrain_sets: dict[int, dict] = field(default_factory=dict)  # period -> {"examples", "new", "replayed"}

    def continue_training(self, examples: list[Example], config: TrainConfig, period: int) -> None:
        """Train this strategy's own model further (a fresh copy, so no other strategy is affected)."""
        tuned, record = finetune(copy.deepcopy(self.model), examples, config, progress=False)
        self.model = tuned
        self.retrains.append(period)
        self.train_seconds += record.train_seconds
        self.examples_used += len(examples)
        self.retrain_sets[period] = composition(examples, period, config.learning_rate)

    def adopt(self, other: "Strategy", period: int, seconds: float, examples: int) -> None:
        """Take over another strategy's freshly trained model when this one would have trained the same
        model on the same data from the same start (saves the compute; the cost is still counted)."""
        self.model = other.model
        self.retrains.append(period)
        self.train_seconds += seconds
        self.examples_used += examples
        self.retrain_sets[period] = dict(other.retrain_sets[period])


def composition(examples: list[Example], period: int, learning_rate: float | None = None) -> dict:
    """How many examples a retraining set has, how many are new (from `period`) or replayed, and the learning
    rate it was trained at (None: the method's default)."""
    new = sum(ex.meta.get("period") == period for ex in examples)
    return {"examples": len(examples), "new": new, "replayed": len(examples) - new, "learning_rate": learning_rate}


def stack_seeds(runs: list[PeriodScores]) -> PeriodScores:
    """Every seed's per-item correctness as (seeds, items) arrays (the same questions in every run), so
    summaries and verdicts resample the seeds as well as the items. A strategy that ran in only some
    seeds (retrieval, which no verdict reads, may run in fewer to save time) stacks the seeds it ran in."""
    out = PeriodScores()
    strategies = list(dict.fromkeys(name for run in runs for name in run.scores))
    for strategy in strategies:
        ran = [run.scores[strategy] for run in runs if strategy in run.scores]
        for period, by_kind in ran[0].items():
            for kind in by_kind:
                out.add(strategy, period, kind, np.stack([periods[period][kind] for periods in ran]))
    return out


def answer(
    model: LoadedModel, examples: list[Example], max_new_tokens: int, batch_size: int, description: str
) -> list[str]:
    """Greedy answers from a merged copy of the model (the strategy keeps its adapters for later training)."""
    inference = merged_for_inference(copy.deepcopy(model))
    return generate(
        inference,
        [ex.prompt for ex in examples],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description=description,
    )


def qa_correct(predictions: list[str], examples: list[Example]) -> np.ndarray:
    return answer_outcomes(predictions, [ex.meta["answers"] for ex in examples])["accuracy"]


def label_correct(predictions: list[str], examples: list[Example], labels: list[str]) -> np.ndarray:
    return label_scores(predictions, [ex.meta["label"] for ex in examples], labels)["accuracy"]


def plot_over_time(
    period_scores: PeriodScores,
    kinds: tuple[str, ...],
    title: str,
    profile: str,
    period_names: list[str],
    firings: list[int] | None = None,
    ylabel: str = "accuracy (%)",
):
    """Accuracy per period, a line per strategy with 95% bands; monitor firings as vertical lines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6))
    for i, (strategy, periods) in enumerate(period_scores.scores.items()):
        xs = sorted(periods)
        plots.line_with_band(
            ax,
            xs,
            [period_scores.summary(strategy, p, kinds) for p in xs],
            label=strategy,
            color=plots.PALETTE[i % len(plots.PALETTE)],
        )
    for j, period in enumerate(firings or []):
        ax.axvline(period, color="grey", ls=":", lw=1.5, label="monitor fired" if j == 0 else None)
    ax.set_xticks(range(len(period_names)), period_names)
    ax.set_xlabel("period")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-2, 102)
    ax.set_title(title)
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig


def maintenance_verdicts(
    world_scores: PeriodScores,
    last: int,
    kinds_all: tuple[str, ...],
    profile: str,
    names: dict[str, str],
    drift_first: int | None,
    drop_period: int | None,
    clinc: PeriodScores | None = None,
    monitor_first: int | None = None,
    clinc_chance: float | None = None,
    sweeps: dict[str, dict[str, SweepResult]] | None = None,
) -> list[verdict.Verdict]:
    """The sub-claims. Decay compares like with like: unchanged facts at period 0 and at the last period
    (different questions, as each period's customers word them: an independent-samples comparison), and
    the same changed-fact questions at period 0 (kind CHANGED_AT_START, their answers then) and at the
    last period (paired). The strategy comparisons are paired on the same questions of the last period;
    replay and new-only retrain on equal numbers of examples.

    names maps roles to strategy names: once, new_only, replay, retrieval, monitored. sweeps: {"world" or
    "clinc150": {role: its learning-rate sweep}} (ChosenRates.sweeps); a verdict reading a strategy whose rate
    is still at an edge of its sweep says so (SWEEPS_READ).
    """
    once, new_only, replay = names["once"], names["new_only"], names["replay"]  # strategy names by role
    by_kind = world_scores.scores[once]
    out = [
        verdict.judge_difference(
            "04.once_trained_decays",
            "A model fine-tuned once decays even on facts that still hold: period-0 minus "
            f"period-{last} accuracy on unchanged facts (fine-tuned once; held-out wordings in each period's mix)",
            stats.independent_comparison(by_kind[0]["unchanged"], by_kind[last]["unchanged"]),
            profile,
        ),
    ]
    if CHANGED_AT_START in by_kind[0]:
        out.append(
            verdict.judge_difference(
                "04.once_trained_decays.changed_facts",
                "A model fine-tuned once goes stale on facts that changed: accuracy on the same questions "
                f"at period 0 (answers then) minus at period {last} (answers now), fine-tuned once",
                stats.paired_comparison(by_kind[0][CHANGED_AT_START], by_kind[last]["changed"]),
                profile,
            )
        )
    out += [
        verdict.judge_difference(
            "04.retraining_restores",
            f"Retraining restores accuracy (retrained with replay minus fine-tuned once, period {last})",
            stats.paired_comparison(
                world_scores.pooled(replay, last, kinds_all), world_scores.pooled(once, last, kinds_all)
            ),
            profile,
        ),
        verdict.judge_difference(
            "04.replay_prevents_forgetting",
            "Retraining on new data alone forgets what still holds; replay prevents it "
            f"(replay minus new-only at equal training examples, unchanged facts, period {last})",
            stats.paired_comparison(
                world_scores.scores[replay][last]["unchanged"], world_scores.scores[new_only][last]["unchanged"]
            ),
            profile,
        ),
    ]
    out.append(
        _timing_verdict(
            "04.drift_monitor_in_time",
            "The label-free drift monitor fires no later than the first measured accuracy drop",
            drift_first,
            drop_period,
            profile,
        )
    )
    out.append(
        _timing_verdict(
            "04.monitor_or_canary_in_time",
            "The drift monitor or the labelled canary (a separate pool of questions, never scored) fires no later "
            "than the first measured accuracy drop",
            monitor_first,
            drop_period,
            profile,
        )
    )
    if clinc is not None:
        periods = sorted(clinc.scores[replay])
        p = periods[-1]
        out.append(
            verdict.judge_difference(
                "04.clinc.replay_keeps_old_intents",
                "CLINC150: replay keeps earlier intents that new-data-only retraining forgets "
                f"(replay minus new-only at equal training examples, old intents, period {p})",
                stats.paired_comparison(clinc.scores[replay][p]["old"], clinc.scores[new_only][p]["old"]),
                profile,
            )
        )
        if clinc_chance is not None:
            verdict.flag_chance(
                out[-1],
                clinc_chance,
                {name: stats.summarize(clinc.scores[name][p]["old"]) for name in (replay, new_only)},
            )
    for v in out:
        for domain, role in SWEEPS_READ.get(v.id, ()):
            sweep = (sweeps or {}).get(domain, {}).get(role)
            note = sweep and sweep.edge_note(f"{'CLINC150 ' if domain == 'clinc150' else ''}{SWEPT[role]}")
            if note:
                v.notes.append(note)
    return out


# The swept rates each verdict's comparison depends on: (domain, role). The decay and timing verdicts read the
# once-trained model (the period-0 fine-tune); the comparisons read the strategies they compare.
_DECAY = (("world", "initial"),)
SWEEPS_READ: dict[str, tuple[tuple[str, str], ...]] = {
    "04.once_trained_decays": _DECAY,
    "04.once_trained_decays.changed_facts": _DECAY,
    "04.retraining_restores": (("world", "initial"), ("world", "replay")),
    "04.replay_prevents_forgetting": (("world", "new_only"), ("world", "replay")),
    "04.drift_monitor_in_time": _DECAY,
    "04.monitor_or_canary_in_time": _DECAY,
    "04.clinc.replay_keeps_old_intents": (("clinc150", "new_only"), ("clinc150", "replay")),
}


def _timing_verdict(
    verdict_id: str, claim: str, first_firing: int | None, drop_period: int | None, profile: str
) -> verdict.Verdict:
    """Supported when the signal fired at or before the first significant drop; not supported when the
    drop came first (or the signal never fired); inconclusive when no drop was measured."""
    return verdict.judge_event_order(
        verdict_id,
        claim,
        first_firing,
        drop_period,
        profile,
        what="First firing",
        by="first significant drop of the once-trained model",
    )


def first_significant_drop(period_scores: PeriodScores, strategy: str, kinds: tuple[str, ...]) -> int | None:
    """The first period whose accuracy is below period 0's by a 95% interval that excludes zero."""
    base = period_scores.pooled(strategy, 0, kinds)
    for period in sorted(period_scores.scores[strategy])[1:]:
        if stats.independent_comparison(base, period_scores.pooled(strategy, period, kinds))["ci_low"] > 0:
            return period
    return None


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


WORLD_STRATEGIES = {
    "once": "fine-tuned once",
    "new_only": "new data only",
    "replay": "with replay",
    "retrieval": "retrieval, no retraining",
    "monitored": "retrain when monitor fires",
}
WORLD_KINDS = ("changed", "unchanged", "new_products")
# The last period's changed-fact questions asked at period 0 with their answers then (drift_world.as_of):
# the like-for-like baseline of the changed facts. Scored at period 0, never pooled into WORLD_KINDS.
CHANGED_AT_START = "changed_at_period0"


def retrain_decision(drift_fires: bool, canary_accuracy: float, canary_baseline: float, n_canary: int) -> bool:
    """The monitored strategy retrains when the label-free monitor fires or its canary accuracy fell by
    more than chance since period 0. It sees only these signals, never an evaluated item."""
    return drift_fires or canary_check(canary_accuracy, canary_baseline, n_canary)


def first_firing(fires: dict[int, bool], canary: dict[int, dict]) -> int | None:
    """The first period after 0 in which the drift monitor or the canary fired."""
    return next((p for p in sorted(fires) if p > 0 and (fires[p] or canary[p]["fires"])), None)


def latest_firing(firings: list[int | None]) -> int | None:
    """The latest of the seeds' first firings (None when any seed never fired): the monitor is in time
    only if it is in time for every seed's deployed model."""
    return None if any(f is None for f in firings) else max(firings)


def question_pools(
    evals: dict[int, dict[str, list[Example]]],
    canaries: dict[int, list[Example]],
    validation: dict[int, list[Example]] | None = None,
) -> dict:
    """What the result file records about the question pools: per period, the evaluated questions per
    kind, the canary questions and how many canary questions are also evaluated (0 by design; a
    ValueError otherwise, so the monitored strategy can never decide on an evaluated item). With
    `validation` ({period: the questions a learning-rate sweep scores}), also their number and how many are
    evaluated in any period (0 by design; a ValueError otherwise, so no rate is chosen on a scored item)."""
    out = {}
    every_evaluated = {ex.last_user_message for by_kind in evals.values() for exs in by_kind.values() for ex in exs}
    for period, by_kind in evals.items():
        evaluated = {ex.last_user_message for exs in by_kind.values() for ex in exs}
        shared = sum(ex.last_user_message in evaluated for ex in canaries[period])
        if shared:
            raise ValueError(f"period {period}: {shared} canary question(s) are also evaluation questions")
        out[str(period)] = {
            "eval": {kind: len(exs) for kind, exs in by_kind.items()},
            "canary": len(canaries[period]),
            "canary_in_eval": shared,
        }
        if validation is not None and period in validation:
            leaked = sum(ex.last_user_message in every_evaluated for ex in validation[period])
            if leaked:
                raise ValueError(f"period {period}: {leaked} validation question(s) are also evaluation questions")
            out[str(period)] |= {"validation": len(validation[period]), "validation_in_eval": leaked}
    return out


class _Predictions:
    """Answers per (model, prompt set) within one period: strategies that hold the very same model
    (all of them at period 0; "retrain when monitor fires" after adopting "with replay"'s model; the
    once-trained model and retrieval's base) are not asked twice."""

    def __init__(self, max_new_tokens: int, batch_size: int):
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self._cache: dict[tuple, list[str]] = {}

    def __call__(self, model: LoadedModel, examples: list[Example], key: str, description: str) -> list[str]:
        cache_key = (id(model), key)
        if cache_key not in self._cache:
            self._cache[cache_key] = answer(model, examples, self.max_new_tokens, self.batch_size, description)
        return self._cache[cache_key]


# --- Learning rates: one sweep per strategy, on the first seed, scored on validation questions only ---------

RATE_ROLES = ("initial", "new_only", "replay")  # the period-0 fine-tune, then each retraining strategy
SWEPT = {"initial": "period-0 fine-tune", "new_only": "new data only", "replay": "with replay"}


@dataclass
class ChosenRates:
    """The learning rate each role trains at in every seed and period ("retrain when monitor fires" trains at
    "replay"'s: it does what replay does), the sweeps that chose them (none for a fixed rate) and their records
    for the result file. The sweeps' fine-tunes are not reused: every seed trains its own models (the first
    seed's period-0 fine-tune repeats the sweep's chosen one: one fine-tune per domain, for simplicity)."""

    rates: dict[str, float | None]
    sweeps: dict[str, SweepResult] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def fixed(cls, rate: float | None) -> "ChosenRates":
        return cls({role: rate for role in RATE_ROLES})

    def notes(self, domain: str) -> list[str]:
        return [f"{domain}: {record['note']}" for record in self.records.values()]


def period0_finetune(model_name: str, examples: list[Example], config: TrainConfig) -> tuple:
    """The period-0 fine-tune: (model, record, the base model's info() as loaded for it)."""
    base = load_for_training(model_name, config.method)  # as finetune would
    model_info = base.info()
    tuned, record = finetune(base, examples, config, progress=False)
    if base.quantization:  # info() counts 4-bit weights packed; peft counts them unpacked (and adds the adapter)
        model_info["parameters"] = record.total_params - record.trainable_params
    return tuned, record, model_info


def _point(rate: float, score: float, record) -> dict:
    return {
        "learning_rate": rate,
        "validation_accuracy": score,
        "final_loss": record.final_loss,
        "train_seconds": record.train_seconds,
    }


def sweep_roles(
    config: TrainConfig,
    train_initial: Callable[[TrainConfig], tuple],
    validate_initial: Callable[[LoadedModel], float],
    retrain_sets: dict[str, list[Example]],
    validate_retrained: Callable[[LoadedModel], float],
    grid: list[float],
    max_extensions: int,
    progress: Callable[[str], None] = print,
) -> ChosenRates:
    """Sweep the period-0 fine-tune's rate (`train_initial(config)` returns a tuple whose first two items are
    the model and its TrainRecord; scored by `validate_initial`), keep the chosen fine-tune, then sweep each
    role of `retrain_sets` ({role: its period-1 retraining set}) continuing from that fine-tune, scored by
    `validate_retrained`. Both scorers must read validation questions only."""
    chosen = ChosenRates({})

    def record(role: str, sweep: SweepResult, points: list[dict]) -> None:
        chosen.rates[role], chosen.sweeps[role] = sweep.chosen, sweep
        name = SWEPT[role]
        chosen.records[role] = {
            **sweep.to_dict(),
            "note": sweep.note(name),
            "points": sorted(points, key=lambda point: point["learning_rate"]),
        }

    points: list[dict] = []

    def fit_initial(rate: float):
        start = train_initial(replace(config, learning_rate=rate))
        score = validate_initial(start[0])
        points.append(_point(rate, score, start[1]))
        progress(f"{SWEPT['initial']:>18} lr {rate:<8.3g}: validation accuracy {score:.1%}")
        return score, start

    sweep, start = sweep_keeping_best(fit_initial, grid, max_extensions)
    record("initial", sweep, points)
    for role, examples in retrain_sets.items():
        sweep, points = _sweep_retrain(
            role, start[0], examples, config, validate_retrained, grid, max_extensions, progress
        )
        record(role, sweep, points)
    return chosen


def _sweep_retrain(role, start, examples, config, validate, grid, max_extensions, progress):
    points: list[dict] = []

    def score(rate: float) -> float:
        tuned, train_record = finetune(
            copy.deepcopy(start), examples, replace(config, learning_rate=rate), progress=False
        )
        value = validate(tuned)
        points.append(_point(rate, value, train_record))
        progress(f"{SWEPT[role]:>18} lr {rate:<8.3g}: validation accuracy {value:.1%}")
        return value

    return sweep_learning_rates(score, grid, max_extensions), points


def sweep_world_rates(
    model_name: str,
    world,
    config: TrainConfig,
    fixed_rate: float | None,
    grid: list[float],
    max_extensions: int,
    n_train0: int,
    n_new: int,
    replay_share: float,
    n_val: int,
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[str], None] = print,
) -> ChosenRates:
    """The simulated business's learning rates. With `fixed_rate` (a float) every role trains at it and
    nothing is swept. Otherwise, on `config`'s seed (the first): the period-0 fine-tune's rate on period-0
    validation questions (drift_world.validation_set), then from its chosen model "new data only"'s rate on
    its period-1 set and "with replay"'s on its mixed set, both on period-1 validation questions. The
    training sets are the ones simulate_world builds for that seed."""
    from ..data.drift_world import replay_mix, training_set, validation_set

    if fixed_rate is not None:
        return ChosenRates.fixed(fixed_rate)
    first = training_set(world, 0, n_train0, seed=config.seed)
    retrain_sets = {}
    if world.n_periods > 1:
        new = training_set(world, 1, n_new, seed=config.seed + 1, since=0)
        retrain_sets = {"new_only": new, "replay": replay_mix(new, first, replay_share, seed=config.seed + 1)}

    def validate(period: int) -> Callable[[LoadedModel], float]:
        questions = validation_set(world, period, n_val)
        description = f"validation, period {period}"
        return lambda model: float(
            qa_correct(answer(model, questions, max_new_tokens, batch_size, description), questions).mean()
        )

    return sweep_roles(
        config,
        lambda trial: period0_finetune(model_name, first, trial),
        validate(0),
        retrain_sets,
        validate(1) if world.n_periods > 1 else None,
        grid,
        max_extensions,
        progress,
    )


def sweep_clinc_rates(
    model_name: str,
    periods: list[dict],
    config: TrainConfig,
    fixed_rate: float | None,
    grid: list[float],
    max_extensions: int,
    replay_share: float,
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[str], None] = print,
) -> ChosenRates:
    """CLINC150's learning rates, as sweep_world_rates: the period-0 fine-tune's on period 0's validation
    requests ("val_all", from the upstream val split), then "new data only"'s and "with replay"'s at
    period 1 on period 1's validation requests (every intent known then)."""
    if fixed_rate is not None:
        return ChosenRates.fixed(fixed_rate)
    retrain_sets = {}
    if len(periods) > 1:
        new = periods[1]["train"]
        mixed = clinc_replay_set(
            new, periods[0]["train"], periods[1]["all_intents"], replay_share, seed=config.seed + 1
        )
        retrain_sets = {"new_only": new, "replay": mixed}

    def validate(period: dict) -> Callable[[LoadedModel], float]:
        requests, labels = period["val_all"], period["all_intents"]
        if not requests:
            raise ValueError("CLINC150 sweeps need validation requests: pass n_val_per_intent to intents_over_time")
        description = f"validation, period {period['period']}"
        return lambda model: float(
            label_correct(answer(model, requests, max_new_tokens, batch_size, description), requests, labels).mean()
        )

    return sweep_roles(
        config,
        lambda trial: finetune(model_name, periods[0]["train"], trial, progress=False),
        validate(periods[0]),
        retrain_sets,
        validate(periods[1]) if len(periods) > 1 else None,
        grid,
        max_extensions,
        progress,
    )


def simulate_world(
    model_name: str,
    world,
    evals: dict[int, dict[str, list[Example]]],
    canaries: dict[int, list[Example]],
    fires: dict[int, bool],
    config: TrainConfig,
    n_train0: int,
    n_new: int,
    replay_share: float,
    top_k: int,
    max_new_tokens: int,
    batch_size: int,
    with_retrieval: bool = True,
    rates: dict[str, float | None] | None = None,
):
    """Run every strategy through the periods of a drift world; return (PeriodScores, strategies, canary,
    model_info), model_info being the base model's info() as loaded for the period-0 fine-tune.

    Period 0: one fine-tune on that period's facts, shared by all strategies. Each later period:
    "new data only" trains on n_new examples about what changed; "with replay" on as many examples, a
    replay_share of them older examples that still hold (replay_mix); "retrain when monitor fires" does
    what "with replay" does, but only in periods where retrain_decision says so; "fine-tuned once" and
    "retrieval" never train (retrieval answers with the period's catalog documents in the prompt).

    evals: {period: {kind: examples}} are scored, every kind present (e.g. "changed_at_period0" next to
    WORLD_KINDS); retrieval is scored on WORLD_KINDS only. canaries: {period: examples}, a pool disjoint
    from evals, answered by the monitored strategy's deployed model before it decides whether to retrain;
    its period-0 accuracy is the baseline. canary: {period: {"accuracy", "n", "fires"}}.
    with_retrieval=False skips scoring the retrieval strategy (it feeds no verdict; saves its long prompts).
    rates: {role: learning rate} for RATE_ROLES (ChosenRates.rates; None: config's rate for all); the
    monitored strategy retrains at "replay"'s.
    """
    from ..data.drift_world import replay_mix, training_set, with_catalog_context

    names = WORLD_STRATEGIES
    at = _configs(config, rates)
    first = training_set(world, 0, n_train0, seed=config.seed)
    base0, record, model_info = period0_finetune(model_name, first, at["initial"])
    strategies = {role: Strategy(name, base0, [0], record.train_seconds, len(first)) for role, name in names.items()}
    for strategy in strategies.values():
        strategy.retrain_sets[0] = composition(first, 0, at["initial"].learning_rate)
    old_pool = list(first)
    scores = PeriodScores()
    canary: dict[int, dict] = {}
    for period in range(world.n_periods):
        predict = _Predictions(max_new_tokens, batch_size)
        monitored = strategies["monitored"]
        questions = canaries[period]
        accuracy = float(
            qa_correct(predict(monitored.model, questions, "canary", f"canary, period {period}"), questions).mean()
        )
        fired = period > 0 and retrain_decision(fires[period], accuracy, canary[0]["accuracy"], len(questions))
        canary[period] = {
            "accuracy": accuracy,
            "n": len(questions),
            "fires": period > 0 and canary_check(accuracy, canary[0]["accuracy"], len(questions)),
        }
        if period > 0:
            new = training_set(world, period, n_new, seed=config.seed + period, since=period - 1)
            mixed = replay_mix(new, old_pool, replay_share, seed=config.seed + period)
            strategies["new_only"].continue_training(new, at["new_only"], period)
            replay = strategies["replay"]
            before = replay.train_seconds
            replay.continue_training(mixed, at["replay"], period)
            if fired:  # same start, same data, same seed, same rate: the same model
                if monitored.retrains == replay.retrains[:-1]:
                    monitored.adopt(replay, period, replay.train_seconds - before, len(mixed))
                else:
                    monitored.continue_training(mixed, at["replay"], period)
            old_pool += new
        kinds = list(evals[period])
        for role, strategy in strategies.items():
            if role == "retrieval" and not with_retrieval:
                continue
            scored = [k for k in kinds if k in WORLD_KINDS] if role == "retrieval" else kinds
            examples = [ex for kind in scored for ex in evals[period][kind]]
            if not examples:
                continue
            prompts = with_catalog_context(world, period, examples, top_k) if role == "retrieval" else examples
            predictions = predict(
                strategy.model, prompts, "retrieval" if role == "retrieval" else "eval", f"{strategy.name}, {period}"
            )
            correct, start = qa_correct(predictions, examples), 0
            for kind in scored:
                n = len(evals[period][kind])
                if n:
                    scores.add(strategy.name, period, kind, correct[start : start + n])
                start += n
    return scores, strategies, canary, model_info


CLINC_STRATEGIES = {"once": "fine-tuned once", "new_only": "new data only", "replay": "with replay"}


def simulate_clinc(
    model_name: str,
    periods: list[dict],
    config: TrainConfig,
    replay_share: float,
    max_new_tokens: int,
    batch_size: int,
    rates: dict[str, float | None] | None = None,
):
    """Intents arriving over time: fine-tune on the first period's intents, then per period train
    "new data only" on the new intents' examples and "with replay" on as many examples, a
    replay_share of them old ones (clinc_replay_set). Scores on old and new intents. rates as in
    simulate_world."""
    at = _configs(config, rates)
    base0, record = finetune(model_name, periods[0]["train"], at["initial"], progress=False)
    strategies = {
        role: Strategy(name, base0, [0], record.train_seconds, len(periods[0]["train"]))
        for role, name in CLINC_STRATEGIES.items()
    }
    for strategy in strategies.values():
        strategy.retrain_sets[0] = composition(periods[0]["train"], 0, at["initial"].learning_rate)
    old_pool = list(periods[0]["train"])
    scores = PeriodScores()
    for period in periods:
        p, labels = period["period"], period["all_intents"]
        if p > 0:
            new = period["train"]
            mixed = clinc_replay_set(new, old_pool, labels, replay_share, seed=config.seed + p)
            strategies["new_only"].continue_training(new, at["new_only"], p)
            strategies["replay"].continue_training(mixed, at["replay"], p)
            old_pool += new
        predict = _Predictions(max_new_tokens, batch_size)
        for role, strategy in strategies.items():
            for kind, examples in (("old", period["eval_old"]), ("new", period["eval_new"])):
                if examples:
                    predictions = predict(strategy.model, examples, kind, f"{strategy.name}, period {p}, {kind}")
                    scores.add(strategy.name, p, kind, label_correct(predictions, examples, labels))
    return scores, strategies


def _configs(config: TrainConfig, rates: dict[str, float | None] | None) -> dict[str, TrainConfig]:
    """{role: config at that role's rate} for RATE_ROLES; rates None keeps config's rate for every role, and a
    role without a swept rate (no later period to sweep a retrain on) keeps config's."""
    if rates is None:
        return {role: config for role in RATE_ROLES}
    return {role: replace(config, learning_rate=rates.get(role, config.learning_rate)) for role in RATE_ROLES}


def clinc_replay_set(
    new: list[Example], old_pool: list[Example], labels: list[str], replay_share: float, seed: int
) -> list[Example]:
    """A CLINC150 retraining set as large as `new`: round(replay_share * len(new)) old examples (relabelled
    with the current label list in the prompt) and the rest new ones, taken round-robin over the new
    intents so that each keeps an equal share; shuffled."""
    from ..data.clinc150 import clinc_example

    if not 0.0 <= replay_share < 1.0:
        raise ValueError(f"replay_share must be in [0, 1); got {replay_share}")
    n_old = min(round(replay_share * len(new)), len(old_pool))
    by_intent: dict[str, list[Example]] = {}
    for ex in new:
        by_intent.setdefault(ex.meta["label"], []).append(ex)
    round_robin = [
        ex
        for i in range(max(map(len, by_intent.values())))
        for exs in by_intent.values()
        if i < len(exs)
        for ex in exs[i : i + 1]
    ]
    rng = random.Random(seed)
    replayed = [
        clinc_example(ex.last_user_message, ex.meta["label"], labels, ex.meta) for ex in rng.sample(old_pool, n_old)
    ]
    mixed = round_robin[: len(new) - n_old] + replayed
    rng.shuffle(mixed)
    return mixed


def cost_table(strategies: dict[str, Strategy]) -> list[dict]:
    return [
        {
            "strategy": s.name,
            "trained in periods": s.retrains,
            "examples used": s.examples_used,
            "examples per retrain": {str(p): c["examples"] for p, c in s.retrain_sets.items() if p > 0},
            "replayed per retrain": {str(p): c["replayed"] for p, c in s.retrain_sets.items() if p > 0},
            "learning rate per training": {str(p): c.get("learning_rate") for p, c in s.retrain_sets.items()},
            "training seconds": round(s.train_seconds, 1),
        }
        for s in strategies.values()
    ]


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer with its chat template, on the notebook's own sets (drift world seed 0
# with the cpu and gpu sizes: every training, evaluation and canary set of every period; CLINC150 with 2 to
# 150 intents in the prompt). "Answer" tokens are the value plus the end of turn: what answer-only logits keep.
WORLD_PROMPT_TOKENS = 37  # mean evaluation question prompt (36.4 and 36.8; canary questions 35.9)
WORLD_SEQ_TOKENS = 48  # longest training sequence (47 and 48; mean 42)
WORLD_ANSWER_TOKENS = 6  # mean answer (6.0 and 6.2)
CLINC_ANSWER_TOKENS = 5  # mean answer: the intent label (4.5 to 6.5)


def catalog_prompt_tokens(top_k: int) -> int:
    """Mean question prompt with top_k catalog documents (measured at k = 1, 2, 3: 80-82, 105-107, 134-136)."""
    return 53 + 27 * top_k


def clinc_prompt_tokens(intents: int) -> int:
    """Mean CLINC150 prompt, which lists every intent known so far (measured: 10 intents 81, 20: 123,
    40: 206, 100: 469, 150: 670; 2 intents 53)."""
    return round(40 + 4.2 * intents)


def clinc_seq_tokens(intents: int) -> int:
    """Longest CLINC150 training sequence with that many intents in the prompt (measured: 4 intents 89,
    10: 117, 20: 150, 40: 233, 100: 496, 150: 688)."""
    return round(76 + 4.2 * intents)


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 04 under the settings `cfg` (upper bounds).

    Per seed the simulated business runs one period-0 fine-tune, then in each later period "new data only"
    and "with replay" retrain on n_new examples each; "retrain when monitor fires" adopts replay's model
    when it fires from the same start, else trains its own (at most n_periods - 2 times, counted in full).
    Each period every distinct model answers the evaluation questions (period 0: one model, the unchanged
    facts and the changed facts as of then; later: fine-tuned once, new data only, with replay, monitored),
    the deployed monitored model answers the canaries, and in the first retrieval_seeds seeds the base0 model
    answers the same questions with catalog documents. CLINC150: per seed one fine-tune on the first
    period's intents, then two retrains per period, each model scored on all intents known so far.

    With learning_rate None, three sweeps per domain run first (the period-0 fine-tune's, then "new data only"'s
    and "with replay"'s at period 1), each counted at its full grid plus max_extensions rates, each fine-tune
    scoring the validation questions once; the seeds then train as they would at a fixed rate.
    """
    seeds, later = len(cfg.seeds), cfg.n_periods - 1
    train = dict(model=cfg.model, method=cfg.method, batch_size=cfg.batch_size)
    world = dict(seq_len=WORLD_SEQ_TOKENS, answer_share=WORLD_ANSWER_TOKENS / WORLD_SEQ_TOKENS, **train)
    retrain = math.ceil(cfg.n_new * cfg.epochs)
    swept = cfg.learning_rate is None
    sweep = sweep_size(cfg.lr_grid, cfg.max_extensions) if swept else 0
    finetunes = [
        FineTune("period-0 fine-tune", sequences=math.ceil(cfg.n_train0 * cfg.epochs), count=seeds, **world),
        FineTune("new data only", sequences=retrain, count=later * seeds, **world),
        FineTune("with replay", sequences=retrain, count=later * seeds, **world),
        FineTune("retrain when monitor fires", sequences=retrain, count=max(0, later - 1) * seeds, **world),
    ]
    generate = dict(model=cfg.model, new_tokens=cfg.max_new_tokens, batch_size=cfg.eval_batch_size)
    world_prompts = dict(prompt_tokens=WORLD_PROMPT_TOKENS, **generate)
    generations = [
        Generation("canary", prompts=cfg.n_canary, count=cfg.n_periods * seeds, **world_prompts),
        Generation("evaluation, period 0", prompts=2 * cfg.n_eval, count=seeds, **world_prompts),
        Generation("evaluation, later periods", prompts=3 * cfg.n_eval, count=4 * later * seeds, **world_prompts),
        Generation(
            "retrieval, no retraining",
            prompts=cfg.n_eval * (1 + 3 * later),
            prompt_tokens=catalog_prompt_tokens(cfg.top_k),
            count=min(cfg.retrieval_seeds, seeds),
            **generate,
        ),
    ]
    per_period = cfg.clinc_intents_per_period
    clinc_train = math.ceil(per_period * cfg.clinc_train_per_intent * cfg.epochs)
    clinc_generate = dict(generate, new_tokens=cfg.max_new_tokens + 4)
    if sweep:
        retrain_sweeps = ("new data only", "with replay") if later else ()
        finetunes += [
            FineTune(
                "world sweep (period-0 fine-tune)", sequences=math.ceil(cfg.n_train0 * cfg.epochs), count=sweep, **world
            ),
            *(FineTune(f"world sweep ({name})", sequences=retrain, count=sweep, **world) for name in retrain_sweeps),
        ]
        generations += [
            Generation("world sweep validation, period 0", prompts=cfg.n_val, count=sweep, **world_prompts),
            *(
                [Generation("world sweep validation, period 1", prompts=cfg.n_val, count=2 * sweep, **world_prompts)]
                if later
                else []
            ),
        ]
        for p in range(min(2, cfg.clinc_periods)):
            known = (p + 1) * per_period
            for name in ("new data only", "with replay") if p else ("period-0 fine-tune",):
                finetunes.append(
                    FineTune(
                        f"CLINC150 sweep ({name})",
                        sequences=clinc_train,
                        seq_len=clinc_seq_tokens(known),
                        count=sweep,
                        answer_share=CLINC_ANSWER_TOKENS / clinc_seq_tokens(known),
                        **train,
                    )
                )
            generations.append(
                Generation(
                    f"CLINC150 sweep validation, period {p}",
                    prompts=known * cfg.clinc_val_per_intent,
                    prompt_tokens=clinc_prompt_tokens(known),
                    count=(2 if p else 1) * sweep,
                    **clinc_generate,
                )
            )
    for p in range(cfg.clinc_periods):
        known = (p + 1) * per_period  # intents listed in this period's prompts
        finetunes.append(
            FineTune(
                f"CLINC150 period {p}" + (": new data only, with replay" if p else ": fine-tune"),
                sequences=clinc_train,
                seq_len=clinc_seq_tokens(known),
                count=(2 if p else 1) * seeds,
                answer_share=CLINC_ANSWER_TOKENS / clinc_seq_tokens(known),
                **train,
            )
        )
        generations.append(
            Generation(  # period 0: one model, new intents only; later: three models, old and new intents
                f"CLINC150 period {p}",
                prompts=known * cfg.clinc_eval_per_intent if p else per_period * cfg.clinc_eval_per_intent,
                prompt_tokens=clinc_prompt_tokens(known),
                count=(3 if p else 1) * seeds,
                **clinc_generate,
            )
        )
    notes = [
        "sweeps are counted at their full first grid plus max_extensions rates; a sweep that settles inside its "
        "grid runs fewer",
        "the monitored strategy's own retrains are counted at their most (n_periods - 2 per seed); it trains none "
        "when the monitor fires in period 1 and every period after (it adopts replay's model)",
        "evaluation counts n_eval questions per kind; early periods may have fewer (few changed facts, few new "
        "products), and the monitored model is counted as a fourth model even when it is replay's",
        "not counted: the deep copy and LoRA merge before each evaluation, the drift monitor (n-gram statistics, "
        "no model), BM25 retrieval, the closing cell's demo (no model)",
    ]
    return Workload("one_and_done", finetunes, generations, notes)


def sweep_size(grid: list[float], max_extensions: int) -> int:
    """Fine-tunes one learning-rate sweep may run: its first grid and every extension."""
    return len(set(grid)) + max_extensions
