"""Notebook 01 (data size and quality): the arms grid, the compute plan, the learning-rate sweep, the
learning-curve data and the verdicts.

Compute policy: every fine-tuned arm trains the same number of epochs over its own set, so each arm sees
every one of its examples (steps = ceil(epochs * examples / batch)); arms differ only in which data they
see and how much of it. The learning rate is chosen once per task on a validation split that no arm trains
on and no verdict scores, on one representative arm (the "small clean" arm of the headline, first seed),
and every arm of that task uses it.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..core import plots
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.tasks import Example, Task, replace_system_prompt
from ..core.training import TrainConfig, TrainRecord, finetune, merged_for_inference
from ..data.intake_task import filter_noisy_examples, intake_task
from ..data.task_library import banking77_task, relabel_examples
from . import verdict
from .arms import ArmResult, arm_summary, arm_values, by_arm, paired_arms
from .lr_sweep import SweepResult, sweep_learning_rates


@dataclass
class ArmSpec:
    arm: str
    group: str  # "clean", "noisy 40%", "cleaned 40%"
    examples: list[Example]
    info: dict = field(default_factory=dict)


@dataclass
class TaskData:
    """One task's evaluation set, its validation split (for the learning-rate sweep only) and its arms.
    The validation examples are disjoint from every arm's training set and from the evaluation set."""

    task: Task
    validation: list[Example]
    specs: list[ArmSpec]


def intake_data(
    clean_sizes: list[int],
    noisy_sizes: list[int],
    noise_rates: list[float],
    n_eval: int,
    n_val: int,
    data_seed: int = 1234,
) -> TaskData:
    """The intake arms, evaluation notes and validation notes. Validation notes are the generator's records
    just past the largest training set (records depend only on the seed and their index), so no arm trains
    on them; evaluation notes come from a separate generator and exclude every training note."""
    largest_set = max(clean_sizes + noisy_sizes)
    task = intake_task(n_train=largest_set + n_val, n_eval=n_eval, data_seed=data_seed)
    specs = intake_arms(clean_sizes, noisy_sizes, noise_rates, data_seed)
    return TaskData(replace(task, train=task.train[:largest_set]), task.train[largest_set:], specs)


def intake_arms(
    clean_sizes: list[int], noisy_sizes: list[int], noise_rates: list[float], data_seed: int = 1234
) -> list[ArmSpec]:
    """Clean subsets (nested: each is a prefix of the next), noisy sets, and the noisy sets after the
    rule-based cleaning filter. All draw on the same clean records, so arms differ only in size and noise."""
    specs = []
    pool = intake_task(n_train=max(clean_sizes + noisy_sizes), n_eval=1, data_seed=data_seed).train
    for size in sorted(clean_sizes):
        specs.append(ArmSpec(f"clean-{size}", "clean", pool[:size]))
    for rate in noise_rates:
        for size in sorted(noisy_sizes):
            noisy = intake_task(n_train=size, n_eval=1, noise_rate=rate, data_seed=data_seed).train
            kept, report = filter_noisy_examples(noisy)
            specs.append(ArmSpec(f"noisy{rate:.0%}-{size}", f"noisy {rate:.0%}", noisy, {"noise_rate": rate}))
            specs.append(
                ArmSpec(
                    f"cleaned{rate:.0%}-{size}",
                    f"cleaned {rate:.0%}",
                    kept,
                    {
                        "noise_rate": rate,
                        "filter": report,
                        "kept_noisy": sum(ex.meta["noise_kind"] is not None for ex in kept),
                    },
                )
            )
    return specs


def banking_data(
    clean_sizes: list[int],
    noisy_sizes: list[int],
    noise_rates: list[float],
    n_intents: int,
    n_eval: int,
    n_val: int,
    data_seed: int = 1234,
) -> TaskData:
    """banking77 arms from one balanced, shuffled pool of training messages: clean sets are prefixes of
    the pool (nested), a noisy set is a prefix with exactly round(rate * size) labels replaced by another
    intent, and the validation messages are the pool's last `n_val`, which no arm trains on."""
    largest_set = max(clean_sizes + noisy_sizes)
    task = banking77_task(n_intents, largest_set + n_val, n_eval, data_seed=data_seed)
    pool = task.train[:largest_set]
    specs = [ArmSpec(f"clean-{size}", "clean", pool[:size]) for size in sorted(clean_sizes)]
    for rate in noise_rates:
        for size in sorted(noisy_sizes):
            noisy = relabel_examples(pool[:size], rate, task.labels, seed=data_seed + size)
            specs.append(
                ArmSpec(
                    f"noisy{rate:.0%}-{size}",
                    f"noisy {rate:.0%}",
                    noisy,
                    {"noise_rate": rate, "relabelled": sum(ex.meta["label"] != ex.meta["true_label"] for ex in noisy)},
                )
            )
    return TaskData(replace(task, train=pool), task.train[largest_set:], specs)


def steps_for(n_examples: int, epochs: float, batch_size: int) -> int:
    """Optimizer steps for `epochs` passes over `n_examples` in batches of `batch_size`."""
    if n_examples < 1 or epochs <= 0 or batch_size < 1:
        raise ValueError(f"need examples, epochs and batch size above zero: {n_examples}, {epochs}, {batch_size}")
    return math.ceil(epochs * n_examples / batch_size)


def compute_plan(specs: list[ArmSpec], epochs: float, batch_size: int) -> list[dict]:
    """Per arm: examples, optimizer steps, sequences seen and whether the whole set is seen."""
    rows = []
    for spec in specs:
        steps = steps_for(len(spec.examples), epochs, batch_size)
        rows.append(
            {
                "arm": spec.arm,
                "examples": len(spec.examples),
                "epochs": epochs,
                "steps": steps,
                "batch_size": batch_size,
                "sequences_seen": steps * batch_size,
                "whole_set_seen": steps * batch_size >= len(spec.examples),
            }
        )
    return rows


def arm_config(base: TrainConfig, n_examples: int, epochs: float) -> TrainConfig:
    """`base` with the steps that give `n_examples` `epochs` passes (the same-epochs compute policy)."""
    return replace(base, max_steps=steps_for(n_examples, epochs, base.batch_size), epochs=epochs)


def seen_in_training(record: TrainRecord) -> dict:
    """What a fine-tune actually did: steps, sequences seen, and whether that covers every kept example."""
    per_step = (record.batch_size_used or record.config["batch_size"]) * (record.grad_accum_used or 1)
    seen = record.optimizer_steps * per_step
    kept = record.n_examples - record.n_dropped
    return {
        "steps": record.optimizer_steps,
        "sequences_seen": seen,
        "examples": record.n_examples,
        "dropped": record.n_dropped,
        "whole_set_seen": seen >= kept,
    }


def generation_budget(tokenizer, targets: list[str], margin: int) -> dict:
    """New tokens for an answer: the longest target in tokens plus `margin`, so that a model that has
    learned the format is never cut short by the budget (a cut JSON object is invalid and scores zero)."""
    lengths = [len(tokenizer(target, add_special_tokens=False)["input_ids"]) for target in targets]
    longest = max(lengths)
    return {"max_new_tokens": longest + margin, "longest_target": longest, "margin": margin}


def validation_task(task: Task, validation: list[Example]) -> Task:
    """The task with its validation examples in place of its evaluation set (same scorer and labels)."""
    return Task(
        f"{task.name} (validation)",
        task.train,
        validation,
        task.scorer,
        task.headline_metric,
        task.description,
        task.source,
        task.labels,
    )


@dataclass
class SweptArm:
    """A learning-rate sweep on one arm, and the fine-tune at the chosen rate (kept, so that the arm's
    run for the sweep's seed is not trained twice)."""

    sweep: SweepResult
    model: LoadedModel | None
    record: TrainRecord | None
    seconds: float


def sweep_on_validation(
    model_name: str,
    train: list[Example],
    validation: list[Example],
    task: Task,
    config: TrainConfig,
    grid: list[float],
    max_new_tokens: int,
    batch_size: int,
    max_extensions: int,
) -> SweptArm:
    """Fine-tune on `train` at each rate of `grid` (extended past an edge by lr_sweep) and score each on
    the validation examples with the task's scorer and headline metric; never on the evaluation set."""
    started = time.perf_counter()
    val_task = validation_task(task, validation)
    kept: dict[float, tuple[float, LoadedModel | None, TrainRecord | None]] = {}

    def score(rate: float) -> float:
        tuned, record = finetune(model_name, train, replace(config, learning_rate=rate))
        predictions = generate(
            merged_for_inference(tuned),
            val_task.prompts(),
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            description=f"lr {rate:g}",
        )
        value = float(np.mean(val_task.score(predictions)[task.headline_metric]))
        kept[rate] = (value, tuned, record)
        best = max(v for v, _, _ in kept.values())
        for other, (v, _, _) in list(kept.items()):  # keep only the best model(s) in memory
            if v < best:
                kept[other] = (v, None, None)
        gc.collect()
        return value

    sweep = sweep_learning_rates(score, grid, max_extensions=max_extensions)
    _, model, record = kept[sweep.chosen]
    kept.clear()
    gc.collect()
    return SweptArm(sweep, model, record, time.perf_counter() - started)


def score_trained(
    tuned: LoadedModel,
    record: TrainRecord,
    task: Task,
    spec: ArmSpec,
    seed: int,
    max_new_tokens: int,
    batch_size: int,
) -> ArmResult:
    """Score an already fine-tuned model on the task's evaluation set, as the arm's run for `seed`."""
    started = time.perf_counter()
    tuned = merged_for_inference(tuned)  # the adapter folded into the weights: the same answers, faster
    predictions = generate(
        tuned, task.prompts(), max_new_tokens=max_new_tokens, batch_size=batch_size, description=f"{spec.arm} ({seed})"
    )
    seconds = time.perf_counter() - started
    info = {**spec.info, "seen": seen_in_training(record)}
    return ArmResult(
        spec.arm, spec.group, len(spec.examples), seed, task.score(predictions), predictions, seconds, record, info
    )


def run_arm(
    model_name: str,
    task: Task,
    spec: ArmSpec,
    config: TrainConfig,
    epochs: float,
    max_new_tokens: int,
    batch_size: int,
    trained: tuple[LoadedModel, TrainRecord] | None = None,
) -> ArmResult:
    """One arm, one seed (config.seed): fine-tune for `epochs` passes over the arm's set (or take the
    model `trained` at that seed, e.g. by the sweep), then score it on the evaluation set."""
    if trained is None:
        trained = finetune(model_name, spec.examples, arm_config(config, len(spec.examples), epochs))
    tuned, record = trained
    result = score_trained(tuned, record, task, spec, config.seed, max_new_tokens, batch_size)
    del tuned, trained
    gc.collect()
    return result


def with_prompt(specs: list[ArmSpec], system_prompt: str) -> list[ArmSpec]:
    """The arms with every training example's system message replaced (fine-tuned arms get a short
    prompt: the training, not the instruction, teaches the format)."""
    return [replace(spec, examples=replace_system_prompt(spec.examples, system_prompt)) for spec in specs]


def representative(specs: list[ArmSpec]) -> ArmSpec:
    """The arm the learning rate is swept on: the largest clean arm (the "small clean" side of the
    headline comparison)."""
    return max((s for s in specs if s.group == "clean"), key=lambda s: len(s.examples))


def run_arms(
    model_name: str,
    task: Task,
    specs: list[ArmSpec],
    config: TrainConfig,
    seeds: list[int],
    epochs: float,
    max_new_tokens: int,
    batch_size: int,
    swept: tuple[str, SweptArm] | None = None,
    report=print,
) -> list[ArmResult]:
    """Every arm for every seed, at config's learning rate. swept: (arm, SweptArm) whose kept fine-tune is
    that arm's run for the first seed (the sweep trained it with the same data, seed and chosen rate)."""
    results = []
    for spec in specs:
        for seed in seeds:
            trained = None
            if swept and spec.arm == swept[0] and seed == seeds[0] and swept[1].model is not None:
                trained = (swept[1].model, swept[1].record)
                swept[1].model = None  # handed over: freed once scored
            result = run_arm(
                model_name, task, spec, replace(config, seed=seed), epochs, max_new_tokens, batch_size, trained
            )
            results.append(result)
            report(result)
    return results


def compute_rows(results: list[ArmResult]) -> list[dict]:
    """Per fine-tuned run: steps and sequences seen, as recorded by the training (for the result file)."""
    return [
        {"arm": r.arm, "seed": r.seed, "examples": r.n_train, **r.info["seen"]}
        for r in results
        if r.record is not None and "seen" in r.info
    ]


def curve_data(results: list[ArmResult], metric: str) -> dict[str, tuple[list[int], list[dict]]]:
    """{group: (training-set sizes, summaries)} for the learning-curve plot (baselines excluded)."""
    curves: dict[str, list[tuple[int, dict]]] = {}
    for arm, runs in by_arm(results).items():
        if runs[0].group == "baseline":
            continue
        curves.setdefault(runs[0].group, []).append((runs[0].n_train, arm_summary(runs, metric)))
    return {
        group: ([n for n, _ in sorted(points, key=lambda p: p[0])], [s for _, s in sorted(points, key=lambda p: p[0])])
        for group, points in curves.items()
    }


def results_table(results: list[ArmResult], metrics: list[str]) -> list[dict]:
    rows = []
    for arm, runs in by_arm(results).items():
        row = {"arm": arm, "group": runs[0].group, "n_train": runs[0].n_train, "seeds": len(runs)}
        for metric in metrics:
            s = arm_summary(runs, metric)
            row[metric] = s["mean"]
            row[f"{metric} 95% CI"] = f"{s['ci_low']:.3f} to {s['ci_high']:.3f}"
        if runs[0].record is not None:
            row["train_seconds"] = sum(r.record.train_seconds for r in runs) / len(runs)
        rows.append(row)
    return rows


def largest(results: list[ArmResult], group: str) -> str | None:
    """The arm with the most training examples in `group` ("clean" or "noisy", any noise rate);
    ties go to the highest noise rate."""
    candidates = [(r.n_train, r.info.get("noise_rate", 0.0), r.arm) for r in results if r.group.split(" ")[0] == group]
    return max(candidates)[2] if candidates else None


def roles(results: list[ArmResult]) -> dict[str, str | None]:
    """Which arm plays which part in the verdicts (the playbook cites arms by role, not by size):
    small_clean (the largest clean arm), large_noisy, cleaned (its filtered version), smallest_clean."""
    arms = by_arm(results)
    noisy = largest(results, "noisy")
    cleaned = noisy.replace("noisy", "cleaned") if noisy else None
    clean = sorted((runs[0].n_train, arm) for arm, runs in arms.items() if runs[0].group == "clean")
    return {
        "small_clean": largest(results, "clean"),
        "large_noisy": noisy,
        "cleaned": cleaned if cleaned in arms else None,
        "smallest_clean": clean[0][1] if clean else None,
    }


def data_size_verdicts(
    results: list[ArmResult],
    metric: str,
    profile: str,
    format_metric: str | None = None,
    format_threshold: float = 0.95,
    task_key: str = "intake",
    chance: float | None = None,
) -> list[verdict.Verdict]:
    """The notebook's claims, judged from paired comparisons on the same evaluation items, every seed
    kept. Ids are "01.<task_key>.<claim>". chance: the task's chance score, flagged where an arm's
    interval includes it (classification tasks).

    The "small clean" arm is fixed in advance as the largest clean arm (no picking the best on the
    test set); the "large noisy" arm is the largest set at the highest noise rate.
    """
    arms = by_arm(results)
    clean, noisy = largest(results, "clean"), largest(results, "noisy")
    verdicts = []
    if clean and noisy:
        verdicts.append(
            verdict.judge_difference(
                f"01.{task_key}.small_clean_beats_large_noisy",
                f"A small clean set ({arms[clean][0].n_train}) beats a larger noisy set ({arms[noisy][0].n_train}, "
                f"{arms[noisy][0].group}) on {metric}",
                paired_arms(arms[clean], arms[noisy], metric),
                profile,
            )
        )
    cleaned = noisy and noisy.replace("noisy", "cleaned")
    if cleaned in arms:
        verdicts.append(
            verdict.judge_difference(
                f"01.{task_key}.filtering_beats_all_noisy",
                f"Filtering the noisy set ({arms[cleaned][0].n_train} of {arms[noisy][0].n_train} kept) beats "
                f"training on all of it, on {metric}",
                paired_arms(arms[cleaned], arms[noisy], metric),
                profile,
            )
        )
    clean_sizes = sorted({r.n_train for r in results if r.group == "clean"})
    if len(clean_sizes) > 1:
        small, big = f"clean-{clean_sizes[0]}", f"clean-{clean_sizes[-1]}"
        verdicts.append(
            verdict.judge_difference(
                f"01.{task_key}.more_clean_data_helps",
                f"More clean data helps: {clean_sizes[-1]} clean examples beat {clean_sizes[0]} on {metric}",
                paired_arms(arms[big], arms[small], metric),
                profile,
            )
        )
    if format_metric and clean:
        verdicts.append(
            verdict.judge_threshold(
                f"01.{task_key}.format_adherence",
                f"{arms[clean][0].n_train} clean examples give over {format_threshold:.0%} format adherence "
                f"({format_metric})",
                arm_values(arms[clean], format_metric),
                format_threshold,
                profile,
                unit="%",
                scale=100,
            )
        )
    if chance is not None:
        compared = {
            f"01.{task_key}.small_clean_beats_large_noisy": (clean, noisy),
            f"01.{task_key}.filtering_beats_all_noisy": (cleaned, noisy),
            f"01.{task_key}.more_clean_data_helps": (f"clean-{clean_sizes[-1]}", f"clean-{clean_sizes[0]}")
            if len(clean_sizes) > 1
            else (),
        }
        for v in verdicts:
            if v.id in compared:
                verdict.flag_chance(v, chance, {name: arm_summary(arms[name], metric) for name in compared[v.id]})
    return verdicts


def plot_learning_curves(
    results: list[ArmResult],
    metrics: list[str],
    titles: list[str],
    subtitle: str,
    profile: str,
    chance: float | None = None,
):
    """One panel per metric: a line per data group with 95% bands, prompted baselines as dashed lines,
    and chance (where given, for a classification accuracy) as a dotted line."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.2), squeeze=False)
    baselines = {arm: runs for arm, runs in by_arm(results).items() if runs[0].group == "baseline"}
    for ax, metric, title in zip(axes[0], metrics, titles):
        for i, (group, (xs, summaries)) in enumerate(curve_data(results, metric).items()):
            plots.line_with_band(
                ax,
                xs,
                summaries,
                label=group,
                color=plots.PALETTE[i % len(plots.PALETTE)],
                marker="o" if group == "clean" else "s",
            )
        for j, (arm, runs) in enumerate(baselines.items()):
            ax.axhline(
                arm_summary(runs, metric)["mean"] * 100,
                ls="--",
                lw=1,
                color=plots.PALETTE[-1 - j],
                label=f"base, {arm}",
            )
        if metric == "accuracy":
            plots.chance_line(ax, chance)
        plots.plain_log_ticks(ax, [r.n_train for r in results if r.group != "baseline"])
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(f"{title} (%)")
        ax.set_ylim(-2, 102)
        ax.set_title(f"{title}: {subtitle}")
        ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig
