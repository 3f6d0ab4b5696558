"""Notebook 02 (PEFT cost): the method arms, learning-rate sweeps, the cost-model check, verdicts and plots.

Training policy: every arm (full, LoRA at each rank and target set, QLoRA) trains on the same examples
for the same number of epochs, hence the same optimizer steps (`training_steps`), with the same linear
schedule that decays to zero, so every run finishes its schedule.

Learning rates: every arm gets its own sweep (`sweep_arm`, on `lr_sweep.sweep_learning_rates`): at
least three rates of a common half-decade ladder, extended past an edge until the chosen rate is
interior. Rates are scored on a validation split that the verdicts never use; a rate still at an edge
is recorded (`SweepResult.edge`) and noted on the verdicts that depend on it. The run at the chosen rate
is kept and scored on the test split, not trained again.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core import cost_model, plots, stats
from ..core.cost_probe import logit_share, training_memory_mb
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.tasks import Example, Task
from ..core.training import TrainConfig, TrainRecord, finetune, merged_for_inference
from ..core.workload import FineTune, Generation, Workload
from . import verdict
from .arms import ArmResult, arm_summary, by_arm, paired_arms
from .forgetting import knowledge_scores
from .lr_sweep import SweepResult, sweep_keeping_best
from .nb01_data_size import (
    BANK_ANSWER_MAX_TOKENS,
    BANK_ANSWER_TOKENS,
    BANK_LABEL_MAX_TOKENS,
    BANK_MESSAGE_MAX_TOKENS,
    BANK_MESSAGE_TOKENS,
    bank_prompt_tokens,
    sweep_size,
)

GROUPS = {
    "full": "full fine-tune",
    "lora-all": "LoRA, all linear",
    "lora-attn": "LoRA, attention only",
    "qlora-all": "QLoRA, all linear",
}
GROUP_COLORS = {group: plots.PALETTE[i] for i, group in enumerate(GROUPS.values())}


@dataclass(frozen=True)
class MethodSpec:
    method: str  # "full" | "lora" | "qlora"
    lora_r: int = 0  # 0 for full
    targets: str = "all-linear"  # "all-linear" | "attention"

    @property
    def arm(self) -> str:
        if self.method == "full":
            return "full"
        return f"{self.method}-{'all' if self.targets == 'all-linear' else 'attn'}-r{self.lora_r}"

    @property
    def group(self) -> str:
        return GROUPS["full" if self.method == "full" else self.arm.rsplit("-r", 1)[0]]

    def train_config(
        self, learning_rate: float, steps: int, batch_size: int, seed: int, save: bool = True
    ) -> TrainConfig:
        target_modules = "all-linear" if self.targets == "all-linear" else list(cost_model.ATTENTION)
        rank = self.lora_r or 16
        # alpha = 2r keeps the adapter's scale (alpha / r) the same at every rank
        return TrainConfig(
            method=self.method,
            learning_rate=learning_rate,
            max_steps=steps,
            batch_size=batch_size,
            lora_r=rank,
            lora_alpha=2 * rank,
            target_modules=target_modules,
            seed=seed,
            save=save,
            logging_steps=max(1, steps // 6),
        )

    def setup(self, dtype: str, batch_tokens: int, logit_share: float = 1.0) -> cost_model.Setup:
        """The cost-model description of this arm for one batch of `batch_tokens` tokens, `logit_share`
        of whose positions are projected to the vocabulary."""
        return cost_model.Setup(
            method=self.method,
            dtype=dtype,
            lora_r=self.lora_r or 16,
            lora_targets=self.targets,
            batch_size=1,
            seq_len=batch_tokens,
            logit_share=logit_share,
        )


def training_steps(n_train: int, batch_size: int, epochs: float) -> int:
    """Optimizer steps for `epochs` passes over `n_train` examples in batches of `batch_size` (a last,
    partial batch is a step). Every arm trains exactly this many steps."""
    if n_train < 1 or batch_size < 1 or epochs <= 0:
        raise ValueError(f"need n_train >= 1, batch_size >= 1 and epochs > 0, got {n_train}, {batch_size}, {epochs}")
    return max(1, round(epochs * math.ceil(n_train / batch_size)))


def training_policy(n_train: int, batch_size: int, epochs: float) -> dict:
    """What every arm's training does, for the notebook and the result file."""
    steps = training_steps(n_train, batch_size, epochs)
    reference = TrainConfig()
    return {
        "n_train": n_train,
        "batch_size": batch_size,
        "epochs": epochs,
        "steps": steps,
        "lr_scheduler": reference.lr_scheduler,
        "warmup_ratio": reference.warmup_ratio,
        "rule": (
            f"every arm trains {epochs:g} epochs of the same {n_train} examples ({steps} optimizer steps of "
            f"{batch_size}), {reference.lr_scheduler} schedule with {reference.warmup_ratio:.0%} warmup decaying to "
            "zero, so every run ends its schedule; each arm's learning rate comes from its own sweep"
        ),
    }


@dataclass
class Trained:
    """One fine-tune, ready to score: the model (LoRA merged), its training record and its validation score."""

    spec: MethodSpec
    learning_rate: float
    seed: int
    model: LoadedModel | None
    record: TrainRecord
    val_accuracy: float | None = None

    def point(self) -> dict:
        """What a sweep records per rate."""
        return {
            "learning_rate": self.learning_rate,
            "val_accuracy": self.val_accuracy,
            "final_loss": self.record.final_loss,
            "optimizer_steps": self.record.optimizer_steps,
            "train_seconds": self.record.train_seconds,
        }


def train_spec(
    model_name: str,
    train: list[Example],
    spec: MethodSpec,
    learning_rate: float,
    steps: int,
    batch_size: int,
    seed: int,
) -> Trained:
    """Fine-tune one arm at one rate and seed; LoRA adapters are merged (same function, faster generation)."""
    tuned, record = finetune(model_name, train, spec.train_config(learning_rate, steps, batch_size, seed, save=False))
    return Trained(spec, learning_rate, seed, merged_for_inference(tuned), record)


def validation_accuracy(
    tuned: LoadedModel, val_task: Task, max_new_tokens: int, batch_size: int, description: str = ""
) -> float:
    """Accuracy on the validation split: what a sweep chooses on (never the test split)."""
    predictions = generate(
        tuned, val_task.prompts(), max_new_tokens=max_new_tokens, batch_size=batch_size, description=description
    )
    return float(val_task.score(predictions)["accuracy"].mean())


def evaluate_trained(
    trained: Trained,
    task: Task,
    mmlu_questions: list[dict],
    base_choices: np.ndarray,
    max_new_tokens: int = 8,
    eval_batch_size: int = 64,
) -> ArmResult:
    """Score a fine-tune on the test split and the general-knowledge questions, then free its model."""
    spec, label = trained.spec, f"{trained.spec.arm} lr {trained.learning_rate:g} seed {trained.seed}"
    started = time.perf_counter()
    predictions = generate(
        trained.model,
        task.prompts(),
        max_new_tokens=max_new_tokens,
        batch_size=eval_batch_size,
        description=f"{label}: test",
    )
    knowledge = knowledge_scores(
        trained.model, mmlu_questions, base_choices, batch_size=eval_batch_size, description=f"{label}: MMLU-Redux"
    )
    seconds = time.perf_counter() - started
    trained.model = None
    gc.collect()
    scores = {
        **task.score(predictions),
        "mmlu_correct": knowledge["mmlu_correct"],
        "mmlu_changed": knowledge["mmlu_changed"],
    }
    info = {
        "spec": spec.arm,
        "method": spec.method,
        "lora_r": spec.lora_r,
        "targets": spec.targets,
        "learning_rate": trained.learning_rate,
        "val_accuracy": trained.val_accuracy,
    }
    return ArmResult(
        f"{spec.arm}@{trained.learning_rate:g}",
        spec.group,
        len(task.train),
        trained.seed,
        scores,
        predictions,
        seconds,
        trained.record,
        info,
    )


def _drop_model(trained: Trained) -> None:
    trained.model = None


def sweep_arm(
    fit: Callable[[float], Trained], grid: list[float], max_extensions: int
) -> tuple[SweepResult, Trained, list[dict]]:
    """Sweep one arm's learning rate: `fit(rate)` trains at that rate (first seed) and sets its validation
    score. Returns the sweep (rates, scores, chosen, edge), the fine-tune at the chosen rate (model kept,
    to be scored on the test split) and every point's record (rate, validation score, final loss, steps)."""
    points = []

    def scored(rate: float) -> tuple[float, Trained]:
        trained = fit(rate)
        if trained.val_accuracy is None:
            raise ValueError(f"the fine-tune at rate {rate:g} has no validation score")
        points.append(trained.point())
        return trained.val_accuracy, trained

    sweep, chosen = sweep_keeping_best(scored, grid, max_extensions, release=_drop_model)
    return sweep, chosen, sorted(points, key=lambda p: p["learning_rate"])


def sweep_record(sweep: SweepResult, points: list[dict]) -> dict:
    """One sweep for the result file: rates, validation scores, chosen rate, interior or edge, and per point
    its final training loss and steps."""
    return {**sweep.to_dict(), "note": sweep.note(), "points": points}


def best_rank(sweeps: dict[str, SweepResult], specs: dict[str, MethodSpec], targets: str = "all-linear") -> int:
    """The LoRA rank (on `targets`) whose sweep reached the best validation score at its chosen rate;
    ties: the smaller rank."""
    ranks = {
        spec.lora_r: max(sweeps[arm].scores)
        for arm, spec in specs.items()
        if spec.method == "lora" and spec.targets == targets and arm in sweeps
    }
    if not ranks:
        raise ValueError(f"no LoRA sweep on {targets} to choose a rank from")
    return max(sorted(ranks), key=lambda r: ranks[r])


def selected_runs(results: list[ArmResult], chosen_lr: dict[str, float]) -> dict[str, list[ArmResult]]:
    """{spec arm: its runs at the chosen learning rate}, every seed."""
    return {
        spec: [r for r in results if r.info["spec"] == spec and r.info["learning_rate"] == lr]
        for spec, lr in chosen_lr.items()
    }


def edge_note(arm: str, sweep: SweepResult) -> str:
    """The note a verdict carries when an arm it compares was trained at the edge of its sweep."""
    return sweep.edge_note(arm) or ""


def rate_ratio(sweeps: dict[str, SweepResult], arm: str, reference: str = "full") -> dict:
    """The ratio of two arms' chosen rates, stated as measured only when both lie inside their sweeps;
    otherwise the note says it is a bound."""
    a, b = sweeps[arm], sweeps[reference]
    ratio = a.chosen / b.chosen
    if a.interior and b.interior:
        note = (
            f"{arm}'s chosen rate {a.chosen:g} is {ratio:.2g}x {reference}'s {b.chosen:g}, "
            "both inside their sweeps (measured on validation)"
        )
    else:
        edges = ", ".join(f"{name} at its {s.edge} edge" for name, s in ((arm, a), (reference, b)) if not s.interior)
        note = (
            f"{arm}'s rate {a.chosen:g} against {reference}'s {b.chosen:g} ({ratio:.2g}x) is no measured ratio: {edges}"
        )
    return {"arm": arm, "reference": reference, "ratio": ratio, "interior": a.interior and b.interior, "note": note}


def arm_table(selected: dict[str, list[ArmResult]], probes: dict[str, dict] | None = None) -> list[dict]:
    """One row per arm: quality (test accuracy, MMLU) and cost (trainable share, time, throughput, size, memory)."""
    rows = []
    for spec, runs in selected.items():
        record = runs[0].record
        acc, mmlu = arm_summary(runs, "accuracy"), arm_summary(runs, "mmlu_correct")
        row = {
            "arm": spec,
            "group": runs[0].group,
            "learning rate": runs[0].info["learning_rate"],
            "seeds": len(runs),
            "test accuracy": acc["mean"],
            "accuracy 95% CI": f"{acc['ci_low']:.3f} to {acc['ci_high']:.3f}",
            "MMLU accuracy": mmlu["mean"],
            "MMLU answers changed": float(np.mean([r.scores["mmlu_changed"].mean() for r in runs])),
            "trainable params": record.trainable_params,
            "trainable %": record.trainable_percent,
            "train seconds": float(np.mean([r.record.train_seconds for r in runs])),
            "tokens/s": float(np.mean([r.record.tokens_per_second for r in runs])),
        }
        if probes and spec in probes:  # the probes save their adapter or model: its size on disk
            row["peak training memory MB"] = training_memory_mb(probes[spec])
            row["saved MB"] = probes[spec]["saved_bytes"] / 1e6
        rows.append(row)
    return rows


def estimator_check(
    probes: dict[str, dict], specs: dict[str, MethodSpec], arch: cost_model.Architecture, dtype: str
) -> list[dict]:
    """Predicted against measured, per probed arm: training memory, and tokens/s relative to full
    fine-tuning (the cost model predicts ratios from FLOPs; absolute speed depends on the hardware)."""
    rows = []
    full_probe = probes.get("full")
    for arm, probe in probes.items():
        spec = specs[arm]
        setup = spec.setup(dtype, probe["max_batch_tokens"], logit_share(probe))
        predicted = cost_model.training_memory(arch, setup)
        measured = training_memory_mb(probe) * 2**20
        row = {
            "arm": arm,
            "predicted memory MB": predicted.total / 2**20,
            "measured memory MB": measured / 2**20,
            "memory error": cost_model.relative_error(predicted.total, measured),
            **{
                f"predicted {k} MB": getattr(predicted, k) / 2**20
                for k in ("weights", "gradients", "optimizer", "activations")
            },
        }
        if full_probe is not None:
            full_setup = specs["full"].setup(dtype, full_probe["max_batch_tokens"], logit_share(full_probe))
            predicted_speedup = cost_model.flops_per_token(arch, full_setup) / cost_model.flops_per_token(arch, setup)
            measured_speedup = probe["tokens_per_second"] / full_probe["tokens_per_second"]
            row.update(
                {
                    "predicted speed vs full": predicted_speedup,
                    "measured speed vs full": measured_speedup,
                    "speed error": cost_model.relative_error(predicted_speedup, measured_speedup),
                }
            )
        rows.append(row)
    return rows


def peft_verdicts(
    selected: dict[str, list[ArmResult]],
    probes: dict[str, dict],
    lora_arm: str,
    qlora_arm: str,
    same_rank_pair: tuple[str, str] | None,
    quality_margin: float,
    memory_factor: float,
    profile: str,
    chance: float | None = None,
    mmlu_chance: float = 0.25,
    sweeps: dict[str, SweepResult] | None = None,
) -> list[verdict.Verdict]:
    """The sub-claims, each judged from the measurements (paired on the same test items for quality,
    every seed kept). chance: the test task's chance accuracy; quality verdicts flag arms whose interval
    includes it (and the forgetting verdict, MMLU's four-choice chance). sweeps: each arm's learning-rate
    sweep; a verdict comparing an arm whose chosen rate is still at an edge of its sweep says so."""
    out = []
    lora = selected[lora_arm]
    out.append(
        verdict.judge_measured(
            "02.lora_under_1pct_params",
            f"LoRA ({lora_arm}) trains under 1% of the parameters",
            [r.record.trainable_percent / 100 for r in lora],
            0.01,
            profile,
            above=False,
            unit="%",
            scale=100,
        )
    )
    for arm in (lora_arm, qlora_arm):
        if arm in probes and "full" in probes:
            ratio = training_memory_mb(probes["full"]) / training_memory_mb(probes[arm])
            out.append(
                verdict.judge_measured(
                    f"02.{'qlora' if arm == qlora_arm else 'lora'}_memory_saving",
                    f"{arm} needs at least {memory_factor:g}x less training memory than full fine-tuning",
                    [ratio],
                    memory_factor,
                    profile,
                    unit="x",
                )
            )
    for arm in (lora_arm, qlora_arm):
        out.append(
            verdict.judge_non_inferiority(
                f"02.{'qlora' if arm == qlora_arm else 'lora'}_within_margin",
                f"{arm} is within {quality_margin * 100:.0f} points of full fine-tuning on test accuracy",
                paired_arms(selected[arm], selected["full"], "accuracy", null=-quality_margin, alternative="greater"),
                quality_margin,
                profile,
            )
        )
    if same_rank_pair and all(arm in selected for arm in same_rank_pair):
        all_linear, attention = same_rank_pair
        out.append(
            verdict.judge_difference(
                "02.all_linear_beats_attention",
                f"At the same rank, LoRA on all linear layers ({all_linear}) beats attention-only ({attention}) on "
                "test accuracy",
                paired_arms(selected[all_linear], selected[attention], "accuracy"),
                profile,
            )
        )
    out.append(
        verdict.judge_difference(
            "02.lora_forgets_less",
            f"LoRA ({lora_arm}) forgets less general knowledge than full fine-tuning (MMLU-Redux accuracy after "
            "training)",
            paired_arms(lora, selected["full"], "mmlu_correct"),
            profile,
        )
    )
    compared = {  # the arms whose learning rates a verdict depends on
        "02.lora_within_margin": (lora_arm, "full"),
        "02.qlora_within_margin": (qlora_arm, "full"),
        "02.all_linear_beats_attention": same_rank_pair or (),
        "02.lora_forgets_less": (lora_arm, "full"),
    }
    for v in out:
        arms = compared.get(v.id)
        if arms is not None and chance is not None and v.id != "02.lora_forgets_less":
            verdict.flag_chance(v, chance, {arm: arm_summary(selected[arm], "accuracy") for arm in arms})
        for arm in arms or ():
            if sweeps and arm in sweeps and not sweeps[arm].interior:
                v.notes.append(edge_note(arm, sweeps[arm]))
        if v.id == "02.lora_forgets_less":
            verdict.flag_chance(
                v, mmlu_chance, {arm: arm_summary(selected[arm], "mmlu_correct") for arm in (lora_arm, "full")}
            )
    return out


def plot_quality_vs_cost(
    selected: dict[str, list[ArmResult]],
    sweeps: dict[str, SweepResult],
    probes: dict[str, dict],
    subtitle: str,
    profile: str,
    chance: float | None = None,
):
    """Left: test accuracy against trainable parameters. Middle: against measured training memory.
    Right: every arm's learning-rate sweep on the validation split, the chosen rate ringed (hollow when it
    is still at an edge of its sweep). Chance accuracy (where given) is dotted."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    for spec, runs in selected.items():
        s = arm_summary(runs, "accuracy")
        color = GROUP_COLORS[runs[0].group]
        y, err = s["mean"] * 100, [[(s["mean"] - s["ci_low"]) * 100], [(s["ci_high"] - s["mean"]) * 100]]
        axes[0].errorbar(runs[0].record.trainable_params, y, yerr=err, fmt="o", color=color, capsize=3)
        axes[0].annotate(
            spec, (runs[0].record.trainable_params, y), textcoords="offset points", xytext=(5, 4), fontsize=8
        )
        if spec in probes:
            axes[1].errorbar(training_memory_mb(probes[spec]) / 1024, y, yerr=err, fmt="o", color=color, capsize=3)
            axes[1].annotate(
                spec,
                (training_memory_mb(probes[spec]) / 1024, y),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
            )
    axes[0].set_xscale("log")
    axes[0].set_xlabel("trainable parameters (log scale)")
    axes[1].set_xlabel("measured training memory (GB, peak minus before loading)")
    for ax in axes:
        plots.chance_line(ax, chance)
    for ax in axes[:2]:
        ax.margins(x=0.2)  # room for the arm labels
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(-2, 102)
    for group, color in GROUP_COLORS.items():
        axes[0].plot([], [], "o", color=color, label=group)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title(f"Quality vs trainable parameters: {subtitle}")
    axes[1].set_title("Quality vs memory")
    groups = {spec: runs[0].group for spec, runs in selected.items()}
    styles = ["o-", "s--", "^-.", "d:"]
    for i, (spec, sweep) in enumerate(sweeps.items()):
        color = GROUP_COLORS.get(groups.get(spec, ""), "grey")
        axes[2].plot(sweep.rates, [v * 100 for v in sweep.scores], styles[i % len(styles)], label=spec, color=color)
        chosen = sweep.scores[sweep.rates.index(sweep.chosen)] * 100
        axes[2].plot(
            [sweep.chosen], [chosen], "o", ms=13, mfc="none" if not sweep.interior else color, alpha=0.35, color=color
        )
    axes[2].set_xscale("log")
    axes[2].set_xlabel("learning rate (log scale)")
    axes[2].set_ylabel("validation accuracy (%)")
    axes[2].set_ylim(-2, 102)
    axes[2].set_title("Learning-rate sweep (validation split)")
    axes[2].legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig


def plot_memory_model(
    check_rows: list[dict], architectures, setups: dict[str, cost_model.Setup], profile: str, model_label: str
):
    """Left: the estimate's parts per probed arm, with the measured value. Right: estimated memory
    for models from 0.5B to 70B per method, against common GPU sizes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    ax = axes[0]
    parts = ("weights", "gradients", "optimizer", "activations")
    x = np.arange(len(check_rows))
    bottom = np.zeros(len(check_rows))
    for i, part in enumerate(parts):
        values = np.array([row[f"predicted {part} MB"] / 1024 for row in check_rows])
        ax.bar(x, values, bottom=bottom, color=plots.PALETTE[i], alpha=0.75, label=f"estimate: {part}")
        bottom += values
    ax.plot(x, [row["measured memory MB"] / 1024 for row in check_rows], "k_", markersize=28, mew=2.5, label="measured")
    ax.set_xticks(x, [row["arm"] for row in check_rows], rotation=15)
    ax.set_ylim(
        0, 1.45 * max(max(bottom), max(row["measured memory MB"] / 1024 for row in check_rows))
    )  # room for the legend
    ax.set_ylabel("training memory (GB)")
    ax.set_title(f"Cost model vs measured: {model_label}")
    ax.legend(fontsize=8)
    ax = axes[1]
    sizes = [arch.params() / 1e9 for arch in architectures]
    for i, (label, setup) in enumerate(setups.items()):
        ax.plot(
            sizes,
            [cost_model.training_memory(arch, setup).total_gb for arch in architectures],
            "o-",
            label=label,
            color=plots.PALETTE[i],
        )
    for gpu in cost_model.COMMON_GPUS:
        ax.axhline(gpu.memory_gb, ls="--", lw=1, color="grey")
        ax.annotate(
            f"{gpu.memory_gb:g} GB",
            (sizes[0], gpu.memory_gb),
            textcoords="offset points",
            xytext=(0, 3),
            fontsize=8,
            color="grey",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    plots.plain_log_ticks(ax, [round(s, 1) for s in sizes])
    ax.set_xlabel("model parameters (billions, log scale)")
    ax.set_ylabel("estimated training memory (GB, log scale)")
    first = next(iter(setups.values()))
    ax.set_title(f"Estimated memory by size (batch {first.batch_size} x {first.seq_len} tokens)")
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig


def seeds_note(selected: dict[str, list[ArmResult]]) -> str:
    n = {len(runs) for runs in selected.values()}
    return f"{min(n)} seed(s) per arm" if len(n) == 1 else f"{min(n)} to {max(n)} seeds per arm"


def _mean_or_none(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarize_selected(selected: dict[str, list[ArmResult]]) -> dict:
    return {
        spec: {
            "group": runs[0].group,
            "learning_rate": runs[0].info["learning_rate"],
            "accuracy": arm_summary(runs, "accuracy"),
            "mmlu_correct": arm_summary(runs, "mmlu_correct"),
            "mmlu_changed": stats.summarize(np.mean([r.scores["mmlu_changed"] for r in runs], axis=0)),
            "val_accuracy": _mean_or_none([r.info.get("val_accuracy") for r in runs]),  # the sweep's seed
            "optimizer_steps": sorted({r.record.optimizer_steps for r in runs}),
            "final_train_loss": float(np.mean([r.record.final_loss for r in runs])),
            "trainable_params": runs[0].record.trainable_params,
            "trainable_percent": runs[0].record.trainable_percent,
            "train_seconds": float(np.mean([r.record.train_seconds for r in runs])),
            "tokens_per_second": float(np.mean([r.record.tokens_per_second for r in runs])),
        }
        for spec, runs in selected.items()
    }


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer with its chat template, measured on the notebook's data. The banking77
# message and label lengths, and the label-list prompt of the zero-shot baseline, are notebook 01's
# (nb01_data_size.BANK_*, bank_prompt_tokens); the fine-tuned arms use the one-line FINETUNED_PROMPT.
SHORT_PROMPT_TOKENS = 24  # the one-line prompt with an empty message: template and instruction
# Mean MMLU-Redux prompt (question, four options, instruction, SmolLM2's default system prompt) over the questions
# mmlu_sample keeps: 93 at mmlu_max_chars 300, 101 at 400, 106 at 500, 112 at 700, 117 at 1000 (fit within 2%).
MMLU_TOKENS_PER_LOG_CHAR, MMLU_TOKENS_OFFSET = 19.5, -16.7


def mmlu_prompt_tokens(max_chars: int) -> int:
    return round(MMLU_TOKENS_OFFSET + MMLU_TOKENS_PER_LOG_CHAR * math.log(max_chars))


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 02 under the settings `cfg` (upper bounds: every sweep
    runs its grid and all max_extensions rates; the best LoRA rank, which QLoRA uses, is taken as the largest).

    Every arm trains training_steps(n_train, batch_size, epochs) steps of batch_size sequences. Each sweep
    fine-tune scores the validation split; each sweep's chosen fine-tune, and each verdict arm's rerun on every
    other seed, scores the test split and the MMLU-Redux questions (one forward pass each). The prompted base
    model scores the test split (label-list prompt) and MMLU-Redux once; four memory probes train probe_steps
    steps each in a child process.
    """
    sequences = training_steps(cfg.n_train, cfg.batch_size, cfg.epochs) * cfg.batch_size
    seq_len = SHORT_PROMPT_TOKENS + BANK_MESSAGE_MAX_TOKENS + BANK_ANSWER_MAX_TOKENS  # the longest message and label
    train = dict(model=cfg.model, batch_size=cfg.batch_size, seq_len=seq_len, answer_share=BANK_ANSWER_TOKENS / seq_len)
    best = max(cfg.ranks)
    arms = {
        "full": MethodSpec("full"),
        **{spec.arm: spec for spec in (MethodSpec("lora", r, "all-linear") for r in cfg.ranks)},
        **{spec.arm: spec for spec in (MethodSpec("lora", r, "attention") for r in cfg.attention_ranks)},
        f"qlora-all-r{best}": MethodSpec("qlora", best, "all-linear"),
    }
    grids = {"full": cfg.full_lrs, "lora": cfg.lora_lrs, "qlora": cfg.qlora_lrs}

    def job(label: str, spec: MethodSpec, count: int, n: int = sequences) -> FineTune:
        return FineTune(
            label,
            method=spec.method,
            sequences=n,
            lora_r=spec.lora_r or 16,
            lora_targets=spec.targets,
            count=count,
            **train,
        )

    sweeps = [
        job(f"{arm} sweep", spec, sweep_size(grids[spec.method], cfg.max_extensions)) for arm, spec in arms.items()
    ]
    # the arms the verdicts compare, rerun on the other seeds: full, QLoRA, LoRA at the best rank and both
    # placements at placement_rank (the best rank counted apart from the placement rank where it can differ)
    lora_best = max([r for r in cfg.ranks if r != cfg.placement_rank] or cfg.ranks)
    seeded = {"full", f"qlora-all-r{best}", f"lora-all-r{lora_best}"}
    seeded |= {f"lora-all-r{cfg.placement_rank}", f"lora-attn-r{cfg.placement_rank}"} & set(arms)
    reruns = [job(f"{arm}, other seeds", arms[arm], len(cfg.seeds) - 1) for arm in sorted(seeded) if len(cfg.seeds) > 1]
    probed = ["full", f"lora-all-r{best}", f"lora-attn-r{cfg.placement_rank}", f"qlora-all-r{best}"]
    probe_specs = {**arms, f"lora-attn-r{cfg.placement_rank}": MethodSpec("lora", cfg.placement_rank, "attention")}
    probes = [job(f"{arm} memory probe", probe_specs[arm], 1, cfg.probe_steps * cfg.batch_size) for arm in probed]

    scored = len(arms) + sum(f.count for f in reruns)  # fine-tunes scored on the test split and MMLU-Redux
    new_tokens = cfg.max_new_tokens or BANK_LABEL_MAX_TOKENS + 2  # label_token_budget: longest label plus 2
    short = dict(model=cfg.model, prompt_tokens=SHORT_PROMPT_TOKENS + BANK_MESSAGE_TOKENS, new_tokens=new_tokens)
    mmlu = dict(
        model=cfg.model,
        prompts=cfg.mmlu_n,
        prompt_tokens=mmlu_prompt_tokens(cfg.mmlu_max_chars),
        new_tokens=1,
        batch_size=cfg.eval_batch_size,
    )
    generations = [
        Generation(
            "zero-shot baseline (label list)",
            model=cfg.model,
            prompts=cfg.n_eval,
            prompt_tokens=bank_prompt_tokens(cfg.n_intents),
            new_tokens=new_tokens,
            batch_size=cfg.eval_batch_size,
        ),
        Generation("MMLU-Redux, base model", **mmlu),
        Generation(
            "sweep validation",
            prompts=cfg.n_val,
            batch_size=cfg.eval_batch_size,
            count=sum(f.count for f in sweeps),
            **short,
        ),
        Generation(
            "test, chosen rates and other seeds",
            prompts=cfg.n_eval,
            batch_size=cfg.eval_batch_size,
            count=scored,
            **short,
        ),
        Generation("MMLU-Redux after fine-tuning", count=scored, **mmlu),
    ]
    notes = [
        "sweeps are counted at their full first grid plus max_extensions rates; the best LoRA rank (QLoRA's rank) "
        "is counted as the largest, and apart from placement_rank, so the verdict arms rerun on other seeds are "
        "an upper bound too",
        "the four memory probes are counted as fine-tunes of probe_steps x batch_size sequences; each runs in a "
        "fresh Python process (start, imports and model load beyond a fine-tune's usual set-up) and saves its "
        "model or adapter",
        "sequence length is the longest banking77 message and label under the one-line prompt, so the training "
        f"tokens bound the padded tokens (the mean sequence is about {SHORT_PROMPT_TOKENS + 22} tokens)",
        "generation budgets are upper bounds: labels stop at the end of turn (about 8 tokens); prompt tokens are "
        "whole prompts, though generate computes the shared prefix once",
        "not counted: the base-model load, the cost-model tables and the project cell (config only, no weights)",
    ]
    return Workload("peft_cost", sweeps + reruns + probes, generations, notes)


__all__ = [
    "MethodSpec",
    "Trained",
    "training_steps",
    "training_policy",
    "train_spec",
    "validation_accuracy",
    "evaluate_trained",
    "sweep_arm",
    "sweep_record",
    "best_rank",
    "selected_runs",
    "edge_note",
    "rate_ratio",
    "arm_table",
    "estimator_check",
    "peft_verdicts",
    "plot_quality_vs_cost",
    "plot_memory_model",
    "training_memory_mb",
    "summarize_selected",
    "by_arm",
    "workload",
]
