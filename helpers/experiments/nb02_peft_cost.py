"""Notebook 02 (PEFT cost): the method arms, learning-rate selection, the cost-model check, verdicts and plots.

Every arm trains on the same examples for the same number of optimizer steps. Learning rates are
chosen per method on a validation split, never on the test items the verdicts use.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import numpy as np

from ..core import cost_model, plots, stats
from ..core.cost_probe import logit_share, training_memory_mb
from ..core.generation import generate
from ..core.tasks import Task
from ..core.training import TrainConfig, finetune, merged_for_inference
from . import verdict
from .arms import ArmResult, arm_summary, by_arm, paired_arms
from .forgetting import knowledge_scores

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


def run_arm(
    model_name: str,
    task: Task,
    val_task: Task,
    spec: MethodSpec,
    learning_rate: float,
    steps: int,
    batch_size: int,
    seed: int,
    mmlu_questions: list[dict],
    base_choices: np.ndarray,
    max_new_tokens: int = 8,
    eval_batch_size: int = 64,
) -> ArmResult:
    """Fine-tune, then score on the validation split (for choosing the learning rate), the test split
    and the general-knowledge questions. LoRA adapters are merged before evaluation (same function,
    faster generation)."""
    tuned, record = finetune(
        model_name, task.train, spec.train_config(learning_rate, steps, batch_size, seed, save=False)
    )
    tuned = merged_for_inference(tuned)
    started = time.perf_counter()
    label = f"{spec.arm} lr {learning_rate:g} seed {seed}"
    val_predictions = generate(
        tuned,
        val_task.prompts(),
        max_new_tokens=max_new_tokens,
        batch_size=eval_batch_size,
        description=f"{label}: validation",
    )
    predictions = generate(
        tuned, task.prompts(), max_new_tokens=max_new_tokens, batch_size=eval_batch_size, description=f"{label}: test"
    )
    knowledge = knowledge_scores(
        tuned, mmlu_questions, base_choices, batch_size=eval_batch_size, description=f"{label}: MMLU-Redux"
    )
    seconds = time.perf_counter() - started
    del tuned
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
        "learning_rate": learning_rate,
        "val_accuracy": float(val_task.score(val_predictions)["accuracy"].mean()),
    }
    return ArmResult(
        f"{spec.arm}@{learning_rate:g}", spec.group, len(task.train), seed, scores, predictions, seconds, record, info
    )


def best_learning_rate(results: list[ArmResult], spec: MethodSpec) -> float:
    """The learning rate with the highest mean validation accuracy for this spec (ties: the smaller rate)."""
    by_lr: dict[float, list[float]] = {}
    for r in results:
        if r.info["spec"] == spec.arm:
            by_lr.setdefault(r.info["learning_rate"], []).append(r.info["val_accuracy"])
    if not by_lr:
        raise ValueError(f"no runs of {spec.arm} to choose a learning rate from")
    return max(sorted(by_lr), key=lambda lr: np.mean(by_lr[lr]))


def selected_runs(results: list[ArmResult], chosen_lr: dict[str, float]) -> dict[str, list[ArmResult]]:
    """{spec arm: its runs at the chosen learning rate}."""
    return {
        spec: [r for r in results if r.info["spec"] == spec and r.info["learning_rate"] == lr]
        for spec, lr in chosen_lr.items()
    }


def best_rank(results: list[ArmResult], chosen_lr: dict[str, float], prefix: str = "lora-all") -> int:
    """The LoRA rank (all linear layers) with the best validation accuracy at its chosen learning rate;
    ties: the smaller rank."""
    selected = selected_runs(results, chosen_lr)
    ranks = {
        runs[0].info["lora_r"]: np.mean([r.info["val_accuracy"] for r in runs])
        for spec, runs in selected.items()
        if spec.startswith(prefix) and runs
    }
    if not ranks:
        raise ValueError(f"no {prefix} runs to choose a rank from")
    return max(sorted(ranks), key=lambda r: ranks[r])


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
) -> list[verdict.Verdict]:
    """The sub-claims, each judged from the measurements (paired on the same test items for quality,
    every seed kept). chance: the test task's chance accuracy; quality verdicts flag arms whose interval
    includes it (and the forgetting verdict, MMLU's four-choice chance)."""
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
    for v in out:
        arms = {
            "02.lora_within_margin": (lora_arm, "full"),
            "02.qlora_within_margin": (qlora_arm, "full"),
            "02.all_linear_beats_attention": same_rank_pair or (),
        }.get(v.id)
        if arms is not None and chance is not None:
            verdict.flag_chance(v, chance, {arm: arm_summary(selected[arm], "accuracy") for arm in arms})
        if v.id == "02.lora_forgets_less":
            verdict.flag_chance(
                v, mmlu_chance, {arm: arm_summary(selected[arm], "mmlu_correct") for arm in (lora_arm, "full")}
            )
    return out


def plot_quality_vs_cost(
    selected: dict[str, list[ArmResult]],
    all_runs: list[ArmResult],
    probes: dict[str, dict],
    subtitle: str,
    profile: str,
    chance: float | None = None,
):
    """Left: test accuracy against trainable parameters. Middle: against measured training memory.
    Right: the learning-rate sweep on the validation split. Chance accuracy (where given) is dotted."""
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
    sweeps: dict[str, dict[float, list[float]]] = {}
    for r in all_runs:
        sweeps.setdefault(r.info["spec"], {}).setdefault(r.info["learning_rate"], []).append(r.info["val_accuracy"])
    for spec, points in sweeps.items():
        if len(points) > 1:
            lrs = sorted(points)
            axes[2].plot(
                lrs,
                [np.mean(points[lr]) * 100 for lr in lrs],
                "o-",
                label=spec,
                color=GROUP_COLORS[next(r.group for r in all_runs if r.info["spec"] == spec)],
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


def summarize_selected(selected: dict[str, list[ArmResult]]) -> dict:
    return {
        spec: {
            "group": runs[0].group,
            "learning_rate": runs[0].info["learning_rate"],
            "accuracy": arm_summary(runs, "accuracy"),
            "mmlu_correct": arm_summary(runs, "mmlu_correct"),
            "mmlu_changed": stats.summarize(np.mean([r.scores["mmlu_changed"] for r in runs], axis=0)),
            "val_accuracy": float(np.mean([r.info["val_accuracy"] for r in runs])),
            "trainable_params": runs[0].record.trainable_params,
            "trainable_percent": runs[0].record.trainable_percent,
            "train_seconds": float(np.mean([r.record.train_seconds for r in runs])),
            "tokens_per_second": float(np.mean([r.record.tokens_per_second for r in runs])),
        }
        for spec, runs in selected.items()
    }


__all__ = [
    "MethodSpec",
    "run_arm",
    "best_learning_rate",
    "best_rank",
    "selected_runs",
    "arm_table",
    "estimator_check",
    "peft_verdicts",
    "plot_quality_vs_cost",
    "plot_memory_model",
    "training_memory_mb",
    "summarize_selected",
    "by_arm",
]
