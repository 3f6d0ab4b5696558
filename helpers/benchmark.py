"""Training throughput benchmark: the course's default training configuration against a naive
baseline on the same model and data, for full fine-tuning, LoRA and QLoRA.

The naive baseline is what the transformers Trainer does by default: examples in random order, each
batch padded to its longest sequence, fp32 (the Trainer's default precision), logits at every
position. The course default adds what measured faster (the profile's `default_levers`), and each
lever is also measured alone. Every configuration trains alone in a fresh process
(`cost_probe.measure_training_cost`), so memory and speed are not disturbed by earlier runs.

Throughput counts real tokens (not padding) per second: padding is work that teaches nothing.
On a GPU, model FLOPs utilisation is 6 x parameters x tokens/s (full) or 4 x (adapters: no weight
gradients for the frozen base) over the card's bf16 peak.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .cost_probe import measure_training_cost
from .peft_cost import training_memory_mb
from .tasks import Example
from .training import TrainConfig

LOSS_TOLERANCE = 0.10  # "the same training loss": mean training loss within 10% of the baseline's


@dataclass(frozen=True)
class BenchArm:
    name: str
    changes: dict  # TrainConfig fields that differ from the naive baseline

    def config(self, base: TrainConfig) -> TrainConfig:
        return replace(base, **self.changes)


NAIVE = BenchArm("naive (Trainer defaults)", {"group_by_length": False, "precision": "fp32", "answer_logits_only": False})
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
    chosen = [NAIVE] + [BenchArm(f"+ {name}", {**NAIVE.changes, **LEVERS[name]}) for name in levers]
    default = {**NAIVE.changes}
    for name in default_levers:
        default.update(LEVERS[name])
    chosen.append(BenchArm("course default", default))
    return chosen


def run_benchmark(model: str, examples: list[Example], methods: list[str], bench_arms: list[BenchArm], steps: int, batch_size: int,
                  learning_rates: dict[str, float], seed: int = 0, progress=print) -> list[dict]:
    """Train every (method, arm) for `steps` optimizer steps in a fresh process; one row each."""
    rows = []
    for method in methods:
        base = TrainConfig(method=method, learning_rate=learning_rates[method], max_steps=steps, batch_size=batch_size, seed=seed,
                           save=False, logging_steps=1)
        measured: dict[tuple, dict] = {}
        for arm in bench_arms:
            key = tuple(sorted(arm.changes.items()))
            if key in measured:  # the same configuration under another name (the default may equal one lever)
                rows.append({**measured[key], "arm": arm.name, "same_as": measured[key]["arm"]})
                continue
            started = time.perf_counter()
            record = measure_training_cost(model, examples, arm.config(base), steps)
            rows.append({"method": method, "arm": arm.name, "changes": arm.changes, **_row(record)})
            measured[key] = rows[-1]
            progress(f"{method:>5} {arm.name:<26} {record['tokens_per_second']:7.1f} tokens/s, peak {rows[-1]['training_memory_mb']:7.0f} MB, "
                     f"mean loss {record['mean_train_loss']:.3f} ({time.perf_counter() - started:.0f} s)")
    return rows


def _row(record: dict) -> dict:
    return {
        "tokens_per_second": record["tokens_per_second"],
        "train_seconds": record["train_seconds"],
        "tokens_seen": record["tokens_seen"],
        "padding_share": 1 - record["tokens_seen"] / record["padded_tokens_seen"] if record["padded_tokens_seen"] else 0.0,
        "training_memory_mb": training_memory_mb(record),
        "mean_train_loss": record["mean_train_loss"],
        "final_loss": record["final_loss"],
        "trainable_params": record["trainable_params"],
        "total_params": record["total_params"],
    }


def compare(rows: list[dict], baseline: str = NAIVE.name) -> list[dict]:
    """Each arm against the naive baseline of its method: speed-up, memory ratio, loss change."""
    base = {row["method"]: row for row in rows if row["arm"] == baseline}
    out = []
    for row in rows:
        ref = base[row["method"]]
        loss_change = (row["mean_train_loss"] - ref["mean_train_loss"]) / ref["mean_train_loss"]
        out.append({
            "method": row["method"],
            "arm": row["arm"],
            "tokens/s": row["tokens_per_second"],
            "speed-up": row["tokens_per_second"] / ref["tokens_per_second"],
            "memory ratio": row["training_memory_mb"] / ref["training_memory_mb"],
            "loss change": loss_change,
            "same loss": abs(loss_change) <= LOSS_TOLERANCE,
            "padding share": row["padding_share"],
        })
    return out


def goal_met(row: dict, speed_up: float = 1.5) -> bool:
    """The issue's goal for the default: at least `speed_up` times the baseline's tokens/s, at equal or lower memory, same loss."""
    return row["speed-up"] >= speed_up and row["memory ratio"] <= 1.0 and row["same loss"]


def mfu(tokens_per_second: float, parameters: int, peak_tflops: float, method: str) -> float:
    """Model FLOPs utilisation: training FLOPs per second over the card's peak."""
    flops_per_token = (6 if method == "full" else 4) * parameters
    return tokens_per_second * flops_per_token / (peak_tflops * 1e12)


def plot(comparison: list[dict], profile: str, subtitle: str):
    """Tokens per second and memory ratio per method, one bar per arm."""
    import matplotlib.pyplot as plt
    import numpy as np

    from . import plots

    methods = list(dict.fromkeys(row["method"] for row in comparison))
    arm_names = list(dict.fromkeys(row["arm"] for row in comparison))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    width = 0.8 / len(arm_names)
    for i, arm in enumerate(arm_names):
        rows = [next(r for r in comparison if r["method"] == m and r["arm"] == arm) for m in methods]
        x = np.arange(len(methods)) + i * width
        axes[0].bar(x, [r["tokens/s"] for r in rows], width, label=arm, color=plots.PALETTE[i % len(plots.PALETTE)])
        axes[1].bar(x, [r["memory ratio"] for r in rows], width, color=plots.PALETTE[i % len(plots.PALETTE)])
        for xi, r in zip(x, rows):
            axes[0].annotate(f"{r['speed-up']:.2f}x", (xi, r["tokens/s"]), ha="center", va="bottom", fontsize=8)
    for ax in axes:
        ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods)
    axes[0].set_ylabel("real tokens per second (padding excluded)")
    axes[0].set_title(f"Training throughput: {subtitle}")
    axes[1].axhline(1.0, color="black", linewidth=0.8)
    axes[1].set_ylabel("peak training memory / naive baseline's")
    axes[1].set_title("Memory against the naive baseline")
    axes[0].legend(fontsize=8, loc="lower left")
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


def run(profile: str, run_dir=None, publish: bool = False) -> int:
    """`python -m helpers benchmark`: measure, compare, write a result record and a figure."""
    import shutil
    from datetime import datetime
    from pathlib import Path

    from . import plots, profiles, results
    from .intake_task import intake_task
    from .paths import RESULTS_DIR, RUNS_DIR

    cfg = profiles.settings("benchmark", profile)
    run_dir = Path(run_dir or RUNS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-benchmark-{cfg.profile}")
    out = run_dir / "results"
    out.mkdir(parents=True, exist_ok=True)
    plots.apply_style()
    started = time.perf_counter()
    task = intake_task(n_train=cfg.n_examples, n_eval=1)
    bench_arms = arms(cfg.levers, cfg.default_levers)
    print(f"Benchmark ({cfg.profile}): {cfg.model}, {cfg.n_examples} client-intake examples, {cfg.steps} steps of {cfg.batch_size}")
    rows = run_benchmark(cfg.model, task.train, cfg.methods, bench_arms, cfg.steps, cfg.batch_size, cfg.learning_rates, cfg.seeds[0])
    comparison = compare(rows)
    defaults = [row for row in comparison if row["arm"] == "course default"]
    for row in comparison:
        print(f"{row['method']:>5} {row['arm']:<26} speed-up {row['speed-up']:.2f}x, memory {row['memory ratio']:.2f}x, "
              f"loss change {row['loss change']:+.1%}")
    figure = plots.save_figure(plot(comparison, cfg.profile, f"{cfg.model}, {cfg.profile} profile"), out / "benchmark_training.png")
    record = results.build_record(
        experiment="benchmark_training", profile=cfg.profile, parameters=vars(cfg),
        models=[{"name": cfg.model, "content_hash": _model_hash(cfg.model)}], datasets=[task.dataset_info()], seeds=cfg.seeds,
        metrics={"runs": rows, "comparison": comparison, "goal_met": {row["method"]: goal_met(row) for row in defaults}},
        timings={"benchmark_seconds": round(time.perf_counter() - started, 1)},
        headline={"label": "course default vs naive, tokens/s", "value": ", ".join(f"{r['method']} {r['speed-up']:.2f}x" for r in defaults)},
        extra={"figures": [figure.name], "levers": {name: LEVERS[name] for name in cfg.levers}, "default_levers": cfg.default_levers},
    )
    path = results.write_record(record, out, "benchmark_training")
    print(f"wrote {path}")
    if publish:
        target = RESULTS_DIR / cfg.profile
        target.mkdir(parents=True, exist_ok=True)
        for item in (path, figure):
            shutil.copy2(item, target / item.name)
        print(f"published to {target}")
    return 0


def _model_hash(name: str) -> str:
    from .models import folder_hash, resolve

    return folder_hash(resolve(name)[0])
