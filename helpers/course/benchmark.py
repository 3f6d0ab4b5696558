"""Training throughput benchmark: the course's default training configuration against a naive
baseline on the same model and data, for full fine-tuning, LoRA and QLoRA.

The naive baseline is what the transformers Trainer does by default: examples in random order, each
batch padded to its longest sequence, fp32 (the Trainer's default precision), logits at every
position. The course default adds what measured faster (the profile's `default_levers`), and each
lever is also measured alone. Every configuration trains alone in a fresh process
(`cost_probe.measure_training_cost`), so memory and speed are not disturbed by earlier runs.

Throughput counts real tokens (not padding) per second: padding is work that teaches nothing.
On a GPU, model FLOPs utilisation is the training FLOPs per token of the cost model (about 6 x
parameters for full fine-tuning, 4 x for adapters, whose frozen base needs no weight gradients; the
output head only where logits are taken) times tokens/s, over the card's dense bf16 peak.
Models may be `random:<architecture>` names (published shapes, random weights): speed and memory
depend on shapes only, so sizes that cannot be downloaded can still be measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ..core import cost_model, gpus
from ..core.cost_probe import CostProbeError, logit_share, measure_training_cost, training_memory_mb
from ..core.models import folder_hash, resolve
from ..core.tasks import Example
from ..core.training import TrainConfig

LOSS_TOLERANCE = 0.10  # "the same training loss": mean training loss within 10% of the baseline's


@dataclass(frozen=True)
class BenchArm:
    name: str
    changes: dict  # TrainConfig fields that differ from the naive baseline
    trainer: str = "course"  # "course": helpers.core.training.finetune; "sft": TRL's SFTTrainer (sft_baseline)

    def config(self, base: TrainConfig) -> TrainConfig:
        return replace(base, **self.changes)


NAIVE = BenchArm(
    "naive (Trainer defaults)", {"group_by_length": False, "precision": "fp32", "answer_logits_only": False}
)
# The anchor a practitioner would pick: TRL's SFTTrainer as its documentation recommends (bf16 where the
# hardware has it, loss on the completion only); the same adapters, rate, schedule, batch and steps.
ANCHOR = BenchArm("TRL SFTTrainer (recommended)", {}, trainer="sft")
LEVERS = {
    "length grouping": {"group_by_length": True},
    "bf16 autocast": {"precision": "bf16"},
    "answer-only logits": {"answer_logits_only": True},
}


def arms(levers: list[str], default_levers: list[str]) -> list[BenchArm]:
    """The naive baseline, each lever alone, and the course default (its levers together)."""
    unknown = [name for name in [*levers, *default_levers] if name not in LEVERS]
    if unknown:
        raise ValueError(f"unknown lever(s) {unknown}; known: {sorted(LEVERS)}")
    chosen = [NAIVE, ANCHOR] + [BenchArm(f"+ {name}", {**NAIVE.changes, **LEVERS[name]}) for name in levers]
    default = {**NAIVE.changes}
    for name in default_levers:
        default.update(LEVERS[name])
    chosen.append(BenchArm("course default", default))
    return chosen


def run_benchmark(
    model: str,
    examples: list[Example],
    methods: list[str],
    bench_arms: list[BenchArm],
    steps: int,
    batch_size: int,
    learning_rates: dict[str, float],
    seed: int = 0,
    progress=print,
) -> list[dict]:
    """Train every (method, arm) for `steps` optimizer steps in a fresh process; one row each."""
    rows = []
    for method in methods:
        base = TrainConfig(
            method=method,
            learning_rate=learning_rates[method],
            max_steps=steps,
            batch_size=batch_size,
            seed=seed,
            save=False,
            logging_steps=1,
        )
        measured: dict[tuple, dict] = {}
        for arm in bench_arms:
            key = (arm.trainer, *sorted(arm.changes.items()))
            if key in measured:  # the same configuration under another name (the default may equal one lever)
                rows.append({**measured[key], "arm": arm.name, "same_as": measured[key]["arm"]})
                continue
            started = time.perf_counter()
            try:
                record = measure_training_cost(model, examples, arm.config(base), steps, trainer=arm.trainer)
            except CostProbeError as err:
                if "TrainingOutOfMemoryError" not in str(err):
                    raise
                rows.append(
                    {"model": model, "method": method, "arm": arm.name, "changes": arm.changes, "out_of_memory": True}
                )
                measured[key] = rows[-1]
                progress(f"{model} {method:>5} {arm.name:<26} out of memory")
                continue
            rows.append({"model": model, "method": method, "arm": arm.name, "changes": arm.changes, **_row(record)})
            measured[key] = rows[-1]
            progress(
                f"{model} {method:>5} {arm.name:<26} {record['tokens_per_second']:7.1f} tokens/s, "
                f"peak {rows[-1]['training_memory_mb']:7.0f} MB, "
                f"answer loss after training {record['answer_loss']:.3f} ({time.perf_counter() - started:.0f} s)"
            )
    return rows


def _row(record: dict) -> dict:
    return {
        "tokens_per_second": record["tokens_per_second"],
        "train_seconds": record["train_seconds"],
        "tokens_seen": record["tokens_seen"],
        "padding_share": 1 - record["tokens_seen"] / record["padded_tokens_seen"]
        if record["padded_tokens_seen"]
        else 0.0,
        "logit_share": logit_share(record),
        "mean_sequence_tokens": record["padded_tokens_seen"]
        / max(1, record["optimizer_steps"] * record["config"]["batch_size"]),
        "peak_memory_kind": record["peak_memory_kind"],
        "training_memory_mb": training_memory_mb(record),
        "mean_train_loss": record["mean_train_loss"],
        "final_loss": record["final_loss"],
        "answer_loss": record.get("answer_loss"),  # sft_baseline.answer_loss: the same function for every arm
        "trainer": record.get("trainer", "course"),
        "trainable_params": record["trainable_params"],
        "total_params": record["total_params"],
    }


def loss_of(row: dict) -> float:
    """The loss arms are compared on: the answer loss every arm's model is scored on after training
    (sft_baseline.answer_loss), else (older result files) the mean training loss the trainer reported."""
    return row["answer_loss"] if row.get("answer_loss") is not None else row["mean_train_loss"]


def compare(rows: list[dict], baseline: str = NAIVE.name, anchor: str = ANCHOR.name) -> list[dict]:
    """Each arm against the naive baseline of its model and method: speed-up, memory ratio, loss change; and
    against the anchor (TRL's SFTTrainer) where it ran: its tokens/s and memory ratios. A configuration that
    ran out of memory, or whose baseline did, is listed without ratios."""
    base = {(row.get("model"), row["method"]): row for row in rows if row["arm"] == baseline}
    anchors = {
        (row.get("model"), row["method"]): row for row in rows if row["arm"] == anchor and not row.get("out_of_memory")
    }
    out = []
    for row in rows:
        ref = base[(row.get("model"), row["method"])]
        if row.get("out_of_memory") or ref.get("out_of_memory"):
            out.append(
                {
                    "model": row.get("model"),
                    "method": row["method"],
                    "arm": row["arm"],
                    "out of memory": bool(row.get("out_of_memory")),
                    "baseline out of memory": bool(ref.get("out_of_memory")),
                    **({} if row.get("out_of_memory") else {"tokens/s": row["tokens_per_second"]}),
                }
            )
            continue
        loss_change = (loss_of(row) - loss_of(ref)) / loss_of(ref)
        sft = anchors.get((row.get("model"), row["method"]))
        versus_anchor = (
            {
                "vs SFTTrainer": row["tokens_per_second"] / sft["tokens_per_second"],
                "memory vs SFTTrainer": row["training_memory_mb"] / sft["training_memory_mb"],
                "loss vs SFTTrainer": (loss_of(row) - loss_of(sft)) / loss_of(sft),
            }
            if sft
            else {}
        )
        out.append(
            {
                "model": row.get("model"),
                "method": row["method"],
                "arm": row["arm"],
                "tokens/s": row["tokens_per_second"],
                "speed-up": row["tokens_per_second"] / ref["tokens_per_second"],
                "memory ratio": row["training_memory_mb"] / ref["training_memory_mb"],
                "loss change": loss_change,
                "same loss": abs(loss_change) <= LOSS_TOLERANCE,
                "padding share": row["padding_share"],
                **versus_anchor,
                **({"MFU": row["mfu"]} if row.get("mfu") is not None else {}),
            }
        )
    return out


def goal_met(row: dict, speed_up: float = 1.5) -> bool:
    """The goal for the default: at least `speed_up` times the baseline's tokens/s, at equal or lower
    memory, same loss."""
    if "speed-up" not in row:
        return False  # out of memory, or no baseline to compare with
    return row["speed-up"] >= speed_up and row["memory ratio"] <= 1.0 and row["same loss"]


def goal_met_vs_anchor(row: dict, speed_up: float = 1.5) -> bool | None:
    """The goal against TRL's SFTTrainer: at least `speed_up` times its tokens/s, no more memory, the same
    answer loss (within LOSS_TOLERANCE). None where the anchor did not run."""
    if "vs SFTTrainer" not in row:
        return None
    return (
        row["vs SFTTrainer"] >= speed_up
        and row["memory vs SFTTrainer"] <= 1.0
        and abs(row["loss vs SFTTrainer"]) <= LOSS_TOLERANCE
    )


def peak_bf16_tflops(device_name: str) -> float | None:
    """The card's dense bf16 peak (helpers.core.gpus), or None for a card not in that table or without bf16."""
    card = gpus.for_device(device_name)
    return card.bf16_tflops if card else None


def training_flops_per_token(arch: cost_model.Architecture, row: dict, lora_r: int = 16) -> float:
    """The cost model's training FLOPs per real token for this run's method, sequence length and logit share."""
    setup = cost_model.Setup(
        method=row["method"],
        dtype="bf16",
        lora_r=lora_r,
        seq_len=max(1, round(row["mean_sequence_tokens"])),
        logit_share=min(1.0, max(row["logit_share"], 1e-6)),
    )
    return cost_model.flops_per_token(arch, setup)


def mfu(tokens_per_second: float, flops_per_token: float, peak_tflops: float) -> float:
    """Model FLOPs utilisation: the training FLOPs done per second over the card's peak."""
    return tokens_per_second * flops_per_token / (peak_tflops * 1e12)


def add_mfu(rows: list[dict], architectures: dict[str, cost_model.Architecture], peak_tflops: float | None) -> None:
    """Each row's MFU (None without a known peak, i.e. on CPU or an unlisted card)."""
    for row in rows:
        if row.get("out_of_memory"):
            continue
        arch = architectures.get(row["model"])
        row["mfu"] = (
            mfu(row["tokens_per_second"], training_flops_per_token(arch, row), peak_tflops)
            if peak_tflops and arch
            else None
        )


def _group(row: dict, several_models: bool) -> str:
    return f"{row['model'].split('/')[-1]}\n{row['method']}" if several_models else row["method"]


def plot(comparison: list[dict], profile: str, subtitle: str):
    """Tokens per second and memory ratio per model and method, one bar per arm."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ..core import plots

    comparison = [row for row in comparison if "speed-up" in row]
    several_models = len({row.get("model") for row in comparison}) > 1
    groups = list(dict.fromkeys(_group(row, several_models) for row in comparison))
    arm_names = list(dict.fromkeys(row["arm"] for row in comparison))
    fig, axes = plt.subplots(1, 2, figsize=(max(13, 2.2 * len(groups) + 6), 4.2))
    width = 0.8 / len(arm_names)
    for i, arm in enumerate(arm_names):
        measured = {_group(r, several_models): r for r in comparison if r["arm"] == arm}
        x = [gi + i * width for gi, g in enumerate(groups) if g in measured]
        rows = [measured[g] for g in groups if g in measured]
        axes[0].bar(x, [r["tokens/s"] for r in rows], width, label=arm, color=plots.PALETTE[i % len(plots.PALETTE)])
        axes[1].bar(x, [r["memory ratio"] for r in rows], width, color=plots.PALETTE[i % len(plots.PALETTE)])
        for xi, r in zip(x, rows):
            axes[0].annotate(f"{r['speed-up']:.2f}x", (xi, r["tokens/s"]), ha="center", va="bottom", fontsize=8)
    for ax in axes:
        ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups)
    axes[0].set_ylabel("real tokens per second (padding excluded)")
    if several_models:
        axes[0].set_yscale("log")
    axes[0].set_title(f"Training throughput: {subtitle}")
    axes[1].axhline(1.0, color="black", linewidth=0.8)
    axes[1].set_ylabel("peak training memory / naive baseline's")
    axes[1].set_title("Memory against the naive baseline")
    axes[0].legend(fontsize=8, loc="lower left")
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


def run(profile: str, run_dir=None, publish: bool = False, models: list[str] | None = None) -> int:
    """`python -m helpers benchmark`: measure, compare, write a result record and a figure."""
    from datetime import datetime
    from pathlib import Path

    import torch

    from ..core import plots, records
    from ..core.paths import RUNS_DIR
    from ..data.intake_task import intake_task
    from . import profiles
    from .runner import publish_results

    cfg = profiles.settings("benchmark", profile, models=models)
    run_dir = Path(run_dir or RUNS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-benchmark-{cfg.profile}")
    out = run_dir / "results"
    out.mkdir(parents=True, exist_ok=True)
    plots.apply_style()
    started = time.perf_counter()
    task = intake_task(n_train=cfg.n_examples, n_eval=1)
    bench_arms = arms(cfg.levers, cfg.default_levers)
    peak = peak_bf16_tflops(torch.cuda.get_device_name()) if torch.cuda.is_available() else None
    rows, models, architectures = [], [], {}
    for model in cfg.models:
        print(
            f"Benchmark ({cfg.profile}): {model}, {cfg.n_examples} client-intake examples, "
            f"{cfg.steps} steps of {cfg.batch_size}"
        )
        rows += run_benchmark(
            model, task.train, cfg.methods, bench_arms, cfg.steps, cfg.batch_size, cfg.learning_rates, cfg.seeds[0]
        )
        folder = resolve(model)[0]
        architectures[model] = _architecture(folder, model)
        models.append({"name": model, "content_hash": folder_hash(folder), "parameters": architectures[model].params()})
    add_mfu(rows, architectures, peak)
    comparison = compare(rows)
    defaults = [row for row in comparison if row["arm"] == "course default"]
    for row in comparison:
        if "speed-up" not in row:
            print(
                f"{row['model']} {row['method']:>5} {row['arm']:<26} "
                f"{'out of memory' if row['out of memory'] else 'baseline out of memory'}"
            )
            continue
        mfu_text = f", MFU {row['MFU']:.1%}" if "MFU" in row else ""
        if "vs SFTTrainer" in row:
            mfu_text += f", {row['vs SFTTrainer']:.2f}x SFTTrainer's tokens/s"
        print(
            f"{row['model']} {row['method']:>5} {row['arm']:<26} speed-up {row['speed-up']:.2f}x, "
            f"memory {row['memory ratio']:.2f}x, "
            f"loss change {row['loss change']:+.1%}{mfu_text}"
        )
    figure = plots.save_figure(
        plot(comparison, cfg.profile, f"{', '.join(cfg.models)}, {cfg.profile} profile"), out / "benchmark_training.png"
    )
    several = len(cfg.models) > 1
    record = records.build_record(
        experiment="benchmark_training",
        profile=cfg.profile,
        parameters=vars(cfg),
        models=models,
        datasets=[task.dataset_info()],
        seeds=cfg.seeds,
        metrics={
            "runs": rows,
            "comparison": comparison,
            "goal_met": {
                f"{row['model']} {row['method']}" if several else row["method"]: goal_met(row) for row in defaults
            },
            "goal_met_vs_sft_trainer": {
                f"{row['model']} {row['method']}" if several else row["method"]: goal_met_vs_anchor(row)
                for row in defaults
            },
            "loss_compared": "answer loss after training: mean cross-entropy over the answer tokens of the training "
            "examples, the same function for every arm (helpers.core.sft_baseline.answer_loss)",
            "peak_bf16_tflops": peak,
        },
        timings={"benchmark_seconds": round(time.perf_counter() - started, 1)},
        headline={
            "label": "course default vs naive and vs TRL SFTTrainer, tokens/s",
            "value": ", ".join(
                f"{_group(r, several).replace(chr(10), ' ')} {r['speed-up']:.2f}x"
                + (f" ({r['vs SFTTrainer']:.2f}x SFTTrainer)" if "vs SFTTrainer" in r else "")
                for r in defaults
                if "speed-up" in r
            ),
        },
        extra={
            "figures": [figure.name],
            "levers": {name: LEVERS[name] for name in cfg.levers},
            "default_levers": cfg.default_levers,
        },
    )
    path = records.write_record(record, out, "benchmark_training")
    print(f"wrote {path}")
    if publish:
        target = publish_results([path, figure], cfg.profile)
        print(f"published to {target}")
    return 0


def _architecture(folder, name: str) -> cost_model.Architecture:
    import json

    return cost_model.Architecture.from_config(json.loads((folder / "config.json").read_text()), name)
