"""Notebook 01 (data size and quality): the arms grid, the learning-rate sweeps, the learning-curve data
and the verdicts.

Learning rates (`run_arms`): one sweep per data group (clean, noisy, cleaned), on the group's largest arm,
scored on a validation split the verdicts never use (`split_validation`); every arm of the group trains at
the rate its sweep chose. A sweep whose chosen rate is still at an edge is recorded and noted on the
verdicts that compare its arms (`data_size_verdicts(..., sweeps=)`). The training recipe (steps or epochs)
is the caller's `config_for`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..core import plots
from ..core.tasks import Example, Task
from ..core.training import TrainConfig, finetune
from ..core.workload import FineTune, Generation, Workload
from ..data.intake_task import filter_noisy_examples, intake_task
from ..data.task_library import banking77_task
from . import verdict
from .arms import ArmResult, arm_summary, arm_values, by_arm, evaluate_finetuned, paired_arms, train_and_evaluate
from .lr_sweep import SweepResult, sweep_keeping_best


@dataclass
class ArmSpec:
    arm: str
    group: str  # "clean", "noisy 40%", "cleaned 40%"
    examples: list[Example] | dict[int, list[Example]]  # one set for every seed, or {seed: its set}
    info: dict = field(default_factory=dict)
    sweep: bool = False  # sweep this arm's own rate (else its group's rate, swept on the group's largest arm)
    rate_from: str | None = None  # train at the rate swept on this (swept) arm instead of its group's

    @property
    def rate_key(self) -> str:
        """The key of the rate this arm trains at: its own name when swept, the arm it borrows from, or its
        group."""
        return self.arm if self.sweep else self.rate_from or self.group

    def seeds(self, seeds: list[int]) -> list[int]:
        """The seeds this arm runs: all of them, or those a per-seed arm holds a set for."""
        return [s for s in seeds if not isinstance(self.examples, dict) or s in self.examples]

    def examples_for(self, seed: int) -> list[Example]:
        return self.examples[seed] if isinstance(self.examples, dict) else self.examples

    def size(self, seed: int) -> int:
        return len(self.examples_for(seed))


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


def banking_arms(
    clean_sizes: list[int], noisy_sizes: list[int], noise_rates: list[float], n_intents: int, data_seed: int = 1234
) -> list[ArmSpec]:
    specs = []
    for size in sorted(clean_sizes):
        specs.append(
            ArmSpec(f"clean-{size}", "clean", banking77_task(n_intents, size, 1 * n_intents, data_seed=data_seed).train)
        )
    for rate in noise_rates:
        for size in sorted(noisy_sizes):
            noisy = banking77_task(n_intents, size, 1 * n_intents, label_noise=rate, data_seed=data_seed).train
            specs.append(ArmSpec(f"noisy{rate:.0%}-{size}", f"noisy {rate:.0%}", noisy, {"noise_rate": rate}))
    return specs


def split_validation(task: Task, n_val: int) -> tuple[Task, Task]:
    """(test task, validation task) from `task`'s eval examples: `n_val` of them, spread evenly over the
    references (for a classification task, the same number per label), become the validation split that
    learning rates are chosen on; the rest are the test items the verdicts use. Never both."""
    if not 0 < n_val < len(task.eval):
        raise ValueError(
            f"n_val must be between 1 and {len(task.eval) - 1} (the task has {len(task.eval)} eval examples)"
        )
    seen: Counter = Counter()
    order = []
    for i, ex in enumerate(task.eval):
        order.append((seen[ex.reference], i))
        seen[ex.reference] += 1
    val_index = {i for _, i in sorted(order)[:n_val]}
    test = [ex for i, ex in enumerate(task.eval) if i not in val_index]
    val = [ex for i, ex in enumerate(task.eval) if i in val_index]
    return replace(task, eval=test), replace(task, eval=val)


def target_token_budget(tokenizer, examples: list[Example], margin: int = 16) -> int:
    """New tokens enough for the longest target among `examples` plus `margin`, so no answer is cut short.
    Pass training and validation examples only: the test targets must not set the budget."""
    return max(len(tokenizer(ex.reference, add_special_tokens=False)["input_ids"]) for ex in examples) + margin


def sweep_groups(specs: list[ArmSpec], seed: int | None = None) -> dict[str, ArmSpec]:
    """{rate key: the arm its learning rate is swept on}: an arm marked `sweep` for itself; otherwise the
    largest arm of each data group (by its set for `seed`) whose arms borrow from no named arm."""
    groups: dict[str, ArmSpec] = {spec.arm: spec for spec in specs if spec.sweep}
    for spec in specs:
        if spec.sweep or spec.rate_from:
            continue
        if spec.group not in groups or spec.size(seed) > groups[spec.group].size(seed):
            groups[spec.group] = spec
    missing = {spec.rate_from for spec in specs if spec.rate_from and spec.rate_from not in groups}
    if missing:
        raise ValueError(f"rate_from names no swept arm: {sorted(missing)}")
    return groups


def sweep_group(
    model_name: str,
    spec: ArmSpec,
    train_examples: list[Example],
    config_at: Callable[[float], TrainConfig],
    val_task: Task,
    test_task: Task,
    grid: list[float],
    max_extensions: int,
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[str], None] = print,
) -> tuple[SweepResult, ArmResult, list[dict]]:
    """Sweep the learning rate of `spec`'s group on `spec`'s examples: fine-tune at each rate (`config_at(rate)`,
    the first seed), score on `val_task`'s headline metric, extend past an edge. The fine-tune at the chosen
    rate is then scored on `test_task`, once, as the arm's first-seed run. Returns the sweep, that run and
    each rate's record (validation score, final loss, steps, whether every example was seen)."""
    points = []

    def fit(rate: float):
        tuned, record = finetune(model_name, train_examples, config_at(rate))
        validation = evaluate_finetuned(
            tuned, record, val_task, f"{spec.arm} lr {rate:g}: validation", spec.group, max_new_tokens, batch_size
        )
        score = float(np.mean(validation.scores[val_task.headline_metric]))
        points.append(
            {
                "learning_rate": rate,
                "validation_score": score,
                "final_loss": record.final_loss,
                "optimizer_steps": record.optimizer_steps,
                "train_seconds": record.train_seconds,
                "saw_every_example": saw_every_example(record),
            }
        )
        progress(
            f"{spec.arm:>16} lr {rate:<8.3g}: validation {val_task.headline_metric} {score:.1%}, "
            f"final loss {record.final_loss:.3f}, train {record.train_seconds:.0f} s"
        )
        return score, (tuned, record)

    sweep, (tuned, record) = sweep_keeping_best(fit, grid, max_extensions)
    run = evaluate_finetuned(
        tuned,
        record,
        test_task,
        spec.arm,
        spec.group,
        max_new_tokens,
        batch_size,
        {**spec.info, "learning_rate": sweep.chosen},
    )
    return sweep, run, sorted(points, key=lambda p: p["learning_rate"])


def sweep_record(sweep: SweepResult, arm: str, points: list[dict]) -> dict:
    """One group's sweep for the result file: the arm it ran on, rates, validation scores, the chosen rate,
    interior or edge, and per rate its final loss and steps."""
    return {**sweep.to_dict(), "arm": arm, "note": sweep.note(arm), "points": points}


def run_arms(
    model_name: str,
    specs: list[ArmSpec],
    config_for: Callable[[int, float | None], TrainConfig],
    test_task: Task,
    val_task: Task,
    seeds: list[int],
    fixed_rate: float | None,
    grid: list[float],
    max_extensions: int,
    max_new_tokens: int,
    batch_size: int,
    prepare: Callable[[list[Example]], list[Example]] = lambda examples: examples,
    progress: Callable[[str], None] = print,
) -> tuple[list[ArmResult], dict[str, SweepResult], dict[str, dict]]:
    """Every arm of `specs`, every seed (a per-seed arm: the seeds it holds a set for), scored on `test_task`.
    With `fixed_rate` None, each rate is first swept (`sweep_groups`: an arm marked `sweep` on its own data,
    else each data group on its largest arm; first seed, scored on `val_task`), and that sweep's chosen
    fine-tune is the arm's first-seed run; every other arm trains at the rate of its `rate_key`.
    `config_for(seed, rate)` is the one recipe; `prepare` turns an arm's examples into its training examples.
    Returns the runs (in `specs` order, then seed), {rate key: sweep} and {rate key: the sweep's record}."""
    runs: dict[tuple[str, int], ArmResult] = {}
    sweeps: dict[str, SweepResult] = {}
    records: dict[str, dict] = {}
    rates = {spec.rate_key: fixed_rate for spec in specs}
    if fixed_rate is None:
        for key, spec in sweep_groups(specs, seeds[0]).items():
            sweep, run, points = sweep_group(
                model_name,
                spec,
                prepare(spec.examples_for(seeds[0])),
                lambda rate: config_for(seeds[0], rate),
                val_task,
                test_task,
                grid,
                max_extensions,
                max_new_tokens,
                batch_size,
                progress,
            )
            sweeps[key], records[key], rates[key] = sweep, sweep_record(sweep, spec.arm, points), sweep.chosen
            runs[(spec.arm, seeds[0])] = run
            progress("  " + sweep.note(f"{key} (swept on {spec.arm})"))
    for spec in specs:
        for seed in spec.seeds(seeds):
            if (spec.arm, seed) in runs:
                continue
            rate = rates[spec.rate_key]
            run = train_and_evaluate(
                model_name,
                test_task,
                prepare(spec.examples_for(seed)),
                config_for(seed, rate),
                spec.arm,
                spec.group,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                info={**spec.info, "learning_rate": rate},
            )
            runs[(spec.arm, seed)] = run
            progress(
                f"{spec.arm:>16} seed {seed} lr {rate:g}: {test_task.headline_metric} "
                f"{run.scores[test_task.headline_metric].mean():.1%} ({spec.size(seed)} examples), train "
                f"{run.record.train_seconds:.0f} s, final loss {run.record.final_loss:.3f}"
            )
    ordered = [runs[(spec.arm, seed)] for spec in specs for seed in spec.seeds(seeds)]
    return ordered, sweeps, records


def plot_sweeps(records: dict[str, dict[str, dict]], metric_names: dict[str, str], profile: str):
    """One panel per task: each data group's learning-rate sweep, validation score against rate.
    records: {task: {group: sweep record}}; metric_names: {task: the validation metric's name}."""
    import matplotlib.pyplot as plt

    tasks = [task for task in records if records[task]]
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(5.5 * max(1, len(tasks)), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for i, (group, record) in enumerate(records[task].items()):
            plots.sweep_curve(
                ax,
                record["rates"],
                record["scores"],
                record["chosen"],
                f"{group} ({record['arm']})",
                color=plots.PALETTE[i % len(plots.PALETTE)],
            )
        ax.set_ylabel(f"validation {metric_names[task]} (%)")
        ax.set_title(f"{task}: learning-rate sweeps")
        ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig


def saw_every_example(record) -> bool:
    """Whether a fine-tune trained on every example it was given, at least once (none dropped for length,
    and at least one epoch's worth of sequences)."""
    per_step = record.batch_size_used * max(1, record.grad_accum_used)
    return record.n_dropped == 0 and record.optimizer_steps * per_step >= record.n_examples


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


def data_size_verdicts(
    results: list[ArmResult],
    metric: str,
    profile: str,
    format_metric: str | None = None,
    format_threshold: float = 0.95,
    task_key: str = "intake",
    chance: float | None = None,
    sweeps: dict[str, SweepResult] | None = None,
) -> list[verdict.Verdict]:
    """The notebook's claims, judged from paired comparisons on the same evaluation items, every seed
    kept. Ids are "01.<task_key>.<claim>". chance: the task's chance score, flagged where an arm's
    interval includes it (classification tasks). sweeps: {data group: its learning-rate sweep}; a verdict
    comparing an arm whose group's rate is still at an edge of its sweep says so.

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
    compared = {
        f"01.{task_key}.small_clean_beats_large_noisy": (clean, noisy),
        f"01.{task_key}.filtering_beats_all_noisy": (cleaned, noisy),
        f"01.{task_key}.more_clean_data_helps": (f"clean-{clean_sizes[-1]}", f"clean-{clean_sizes[0]}")
        if len(clean_sizes) > 1
        else (),
        f"01.{task_key}.format_adherence": (clean,),
    }
    for v in verdicts:
        names = compared.get(v.id, ())
        if chance is not None and v.id != f"01.{task_key}.format_adherence":
            verdict.flag_chance(v, chance, {name: arm_summary(arms[name], metric) for name in names})
        for group in dict.fromkeys(arms[name][0].group for name in names):
            note = sweeps and group in sweeps and sweeps[group].edge_note(f"the {group} arms")
            if note:
                v.notes.append(note)
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


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer with its chat template (tokenize_chat for training sequences, render_chat
# with the assistant turn opened for prompts), measured on the notebook's own data. "Answer" tokens are the
# target plus the end of turn: the positions answer-only logits (TrainConfig default) project to the vocabulary.
# Client intake (intake_task), fine-tuned arms under the one-line FINETUNED_PROMPT the notebook trains with:
INTAKE_SEQ_TOKENS = 275  # longest training sequence over 5,000 clean and 5,000 noisy (20%, 40%) records (262 at 64)
INTAKE_ANSWER_TOKENS = 111  # mean JSON target (110.3 at 64 records, 110.9 at 5,000)
INTAKE_TARGET_MAX_TOKENS = 122  # longest target, no template (115 at 64 records): target_token_budget adds 16
INTAKE_FINETUNED_PROMPT_TOKENS = 131  # mean test prompt under the one-line prompt (300 notes)
INTAKE_PROMPT_TOKENS = 247  # mean zero-shot prompt: the full instruction (keys, formats, allowed values)
INTAKE_SHOT_TOKENS = 224  # each few-shot demonstration (a note and its JSON answer; 219 to 226 over 1 to 5 shots)
# banking77 (banking77_task): the system prompt lists every intent kept, so prompts grow with n_intents.
BANK_LIST_TOKENS = 36  # the label-list prompt with no label and an empty message: template and instruction
BANK_TOKENS_PER_INTENT = 7.04  # each listed intent ("card_arrival, "): mean over all 77 labels
BANK_MESSAGE_TOKENS = 13  # mean customer message (test split 12.7, train split 13.9)
BANK_MESSAGE_MAX_TOKENS = 96  # longest message of the train split (99.9th percentile: 75)
BANK_ANSWER_TOKENS = 8.25  # mean label plus end of turn, over the 77 labels
# Fine-tuned banking77 arms train and answer under BANK_FINETUNED_PROMPT, without the label list:
BANK_FINETUNED_LEAD_TOKENS = 27  # template and the one-line prompt, empty message (mean prompt 39.9, 770 test)
BANK_ANSWER_MAX_TOKENS = 19  # the longest label (17 tokens) plus end of turn
BANK_LABEL_MAX_TOKENS = 17  # the longest label, no template (label_token_budget adds 2)
# The closing "Use this in your project" cell: LoRA r16 on the demo file (12 short notes) with the same model.
PROJECT_SEQ_TOKENS = 100  # a demo row (default system prompt, note, JSON): 99
PROJECT_PROMPT_TOKENS = 66


BANK_FINETUNED_PROMPT = "Classify the customer message: answer with its banking intent label."
# The one-line system prompt fine-tuned intake arms train and answer under (notebook 01's FINETUNED_PROMPT; notebook 06
# uses it too): INTAKE_FINETUNED_PROMPT_TOKENS and INTAKE_SEQ_TOKENS were measured with it.
INTAKE_FINETUNED_PROMPT = "Extract the client-intake fields from the note as a JSON object."


def bank_finetuned_prompt_tokens() -> int:
    """Mean banking77 prompt under BANK_FINETUNED_PROMPT (measured: 39.9 over 770 test messages, 77 intents)."""
    return BANK_FINETUNED_LEAD_TOKENS + BANK_MESSAGE_TOKENS


def bank_finetuned_seq_tokens() -> int:
    """The longest banking77 training sequence under BANK_FINETUNED_PROMPT: the longest message and label (the
    longest measured in a sample of 1,540 training messages over 77 intents: 106; mean 48.5)."""
    return BANK_FINETUNED_LEAD_TOKENS + BANK_MESSAGE_MAX_TOKENS + BANK_ANSWER_MAX_TOKENS


def bank_prompt_tokens(n_intents: int) -> int:
    """Mean banking77 prompt with the label list (measured: 6 intents 93, 20: 181, 40: 331, 77: 591)."""
    return round(BANK_LIST_TOKENS + BANK_TOKENS_PER_INTENT * n_intents + BANK_MESSAGE_TOKENS)


def bank_seq_tokens(n_intents: int) -> int:
    """The longest banking77 training sequence with the label list: the longest message and label (the longest
    measured in samples: 6 intents, 300 examples: 150; 20 and 1,000: 250; 40 and 1,200: 399; 77 and 2,310: 684)."""
    return math.ceil(
        BANK_LIST_TOKENS + BANK_TOKENS_PER_INTENT * n_intents + BANK_MESSAGE_MAX_TOKENS + BANK_ANSWER_MAX_TOKENS
    )


def sweep_size(grid: list[float], max_extensions: int) -> int:
    """Fine-tunes one learning-rate sweep may run: its first grid and every extension."""
    return len(set(grid)) + max_extensions


def arm_finetunes(cfg, task: str, specs: list[tuple[str, str, int]], epochs: float, train: dict) -> list[FineTune]:
    """The fine-tunes of `run_arms`; specs are (arm, group, training examples). With no fixed rate, each group's
    sweep runs on its largest arm (first seed) and its chosen fine-tune is that arm's first-seed run; every other
    (arm, seed) trains once. Sweep jobs are labelled "... sweep (arm)"."""
    largest: dict[str, tuple[str, int]] = {}
    if cfg.learning_rate is None:
        for arm, group, size in specs:
            if group not in largest or size > largest[group][1]:
                largest[group] = (arm, size)
    finetunes = [
        FineTune(
            f"{task} {group} sweep ({arm})",
            sequences=math.ceil(size * epochs),
            count=sweep_size(cfg.lr_grid, cfg.max_extensions),
            **train,
        )
        for group, (arm, size) in largest.items()
    ]
    swept = {arm for arm, _ in largest.values()}
    for arm, _, size in specs:
        count = len(cfg.seeds) - (arm in swept)
        if count:
            finetunes.append(FineTune(f"{task} {arm}", sequences=math.ceil(size * epochs), count=count, **train))
    return finetunes


def sweep_finetunes(finetunes: list[FineTune]) -> int:
    """How many of `finetunes` are sweep fine-tunes (each scores the validation split)."""
    return sum(f.count for f in finetunes if " sweep (" in f.label)


def intake_arm_sizes(cfg) -> list[tuple[str, str, int]]:
    """(arm, group, training examples) as intake_arms names them; a cleaned arm counted at its noisy set's size."""
    specs = [(f"clean-{n}", "clean", n) for n in sorted(cfg.clean_sizes)]
    for rate in cfg.noise_rates:
        for n in sorted(cfg.noisy_sizes):
            specs += [
                (f"noisy{rate:.0%}-{n}", f"noisy {rate:.0%}", n),
                (f"cleaned{rate:.0%}-{n}", f"cleaned {rate:.0%}", n),
            ]
    return specs


def bank_arm_sizes(cfg) -> list[tuple[str, str, int]]:
    specs = [(f"clean-{n}", "clean", n) for n in sorted(cfg.bank_clean_sizes)]
    for rate in cfg.bank_noise_rates:
        specs += [(f"noisy{rate:.0%}-{n}", f"noisy {rate:.0%}", n) for n in sorted(cfg.bank_noisy_sizes)]
    return specs


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 01 under the settings `cfg` (upper bounds: every sweep
    runs its grid and all max_extensions rates).

    Per task: the prompted baselines score the test set; each data group's sweep fine-tunes its largest arm at
    every rate and scores each on the validation split; the chosen fine-tune scores the test set once as that
    arm's first seed; every other arm and seed fine-tunes once (examples x epochs) and scores the test set.
    """
    seeds = len(cfg.seeds)
    lora = dict(model=cfg.model, method=cfg.method, lora_r=cfg.lora_r, batch_size=cfg.batch_size)
    intake_specs = intake_arm_sizes(cfg)
    intake_train = arm_finetunes(
        cfg,
        "intake",
        intake_specs,
        cfg.epochs,
        dict(seq_len=INTAKE_SEQ_TOKENS, answer_share=INTAKE_ANSWER_TOKENS / INTAKE_SEQ_TOKENS, **lora),
    )
    bank_seq = bank_finetuned_seq_tokens()
    bank_specs = bank_arm_sizes(cfg)
    bank_train = arm_finetunes(
        cfg,
        "banking77",
        bank_specs,
        cfg.bank_epochs,
        dict(seq_len=bank_seq, answer_share=BANK_ANSWER_TOKENS / bank_seq, **lora),
    )
    budget = cfg.max_new_tokens or INTAKE_TARGET_MAX_TOKENS + 16  # target_token_budget over train and validation
    intake = dict(model=cfg.model, new_tokens=budget, batch_size=cfg.eval_batch_size)
    bank = dict(
        model=cfg.model,
        prompt_tokens=bank_finetuned_prompt_tokens(),  # fine-tuned arms: the one-line prompt
        new_tokens=cfg.bank_max_new_tokens,
        batch_size=2 * cfg.eval_batch_size,
    )
    generations = [
        Generation("intake zero-shot", prompts=cfg.n_eval, prompt_tokens=INTAKE_PROMPT_TOKENS, **intake),
        Generation(
            f"intake {cfg.few_shot}-shot",
            prompts=cfg.n_eval,
            prompt_tokens=INTAKE_PROMPT_TOKENS + cfg.few_shot * INTAKE_SHOT_TOKENS,
            **intake,
        ),
        Generation(
            "intake sweep validation",
            prompts=cfg.n_val,
            prompt_tokens=INTAKE_FINETUNED_PROMPT_TOKENS,
            count=sweep_finetunes(intake_train),
            **intake,
        ),
        Generation(
            "intake fine-tuned arms, test",
            prompts=cfg.n_eval,
            prompt_tokens=INTAKE_FINETUNED_PROMPT_TOKENS,
            count=len(intake_specs) * seeds,
            **intake,
        ),
        Generation(
            "banking77 zero-shot",
            prompts=cfg.bank_n_eval,
            **{**bank, "prompt_tokens": bank_prompt_tokens(cfg.bank_intents)},  # the label-list prompt
        ),
        Generation("banking77 sweep validation", prompts=cfg.bank_n_val, count=sweep_finetunes(bank_train), **bank),
        Generation("banking77 fine-tuned arms, test", prompts=cfg.bank_n_eval, count=len(bank_specs) * seeds, **bank),
        Generation(
            "project cell: demo evaluation",
            model=cfg.model,
            prompts=4,
            prompt_tokens=PROJECT_PROMPT_TOKENS,
            new_tokens=64,
            batch_size=4,
            count=2,
        ),
    ]
    project = FineTune(
        "project cell: learning curve on the demo file (4 and 8 rows, 2 epochs)",
        model=cfg.model,
        method="lora",
        sequences=16,
        batch_size=4,
        seq_len=PROJECT_SEQ_TOKENS,
        count=2,
    )
    notes = [
        "sweeps are counted at their full first grid plus max_extensions rates; a sweep that settles inside its "
        "grid runs fewer",
        "a cleaned arm is counted at its noisy set's size: the filter keeps fewer examples (40 of 64 in the cpu run)",
        "sequence lengths are each task's longest training sequence, so the training tokens bound the padded tokens "
        f"(the mean intake sequence is 242 tokens, banking77's {bank_finetuned_prompt_tokens() + 8})",
        "generation budgets are upper bounds: answers stop at the end of turn (about 111 tokens for an intake "
        "JSON, 8 for a banking77 label); prompt tokens are whole prompts, though generate computes the shared "
        "prefix (the system prompt) once",
        "the two base-model loads for the baselines are not counted; the project cell's two fine-tunes (a plain "
        "Trainer on the same model) compute every position's logits",
    ]
    return Workload("data_size", intake_train + bank_train + [project], generations, notes)
