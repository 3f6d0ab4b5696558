"""Experiment arms: evaluate a prompted model or fine-tune-then-evaluate, and aggregate over seeds.

An arm is one configuration (a baseline prompt, or a training set and method) run for one seed. Its
per-item scores are kept, so arms can be compared on the same evaluation items.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import stats
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.tasks import Example, Task
from ..core.training import TrainConfig, TrainRecord, finetune


@dataclass
class ArmResult:
    arm: str  # unique name, e.g. "clean-100"
    group: str  # what the arm belongs to on a plot, e.g. "clean", "noisy 40%", "baseline"
    n_train: int
    seed: int
    scores: dict[str, np.ndarray]
    predictions: list[str]
    eval_seconds: float
    record: TrainRecord | None = None
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "arm": self.arm,
            "group": self.group,
            "n_train": self.n_train,
            "seed": self.seed,
            "metrics": stats.summarize_metrics(self.scores),
            "eval_seconds": round(self.eval_seconds, 1),
            "training": self.record.to_dict() if self.record else None,
            **({"info": self.info} if self.info else {}),
        }


def evaluate_prompted(
    loaded: LoadedModel,
    task: Task,
    arm: str,
    few_shot: int = 0,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    seed: int = 0,
) -> ArmResult:
    """Score a model as it is, zero-shot or with k demonstrations from the training set."""
    started = time.perf_counter()
    predictions = generate(
        loaded,
        task.prompts(few_shot=few_shot, seed=seed),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description=arm,
    )
    return ArmResult(
        arm,
        "baseline",
        0,
        seed,
        task.score(predictions),
        predictions,
        time.perf_counter() - started,
        info={"few_shot": few_shot},
    )


def train_and_evaluate(
    model_name: str,
    task: Task,
    train_examples: list[Example],
    config: TrainConfig,
    arm: str,
    group: str,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    output_dir: str | Path | None = None,
    info: dict | None = None,
) -> ArmResult:
    """Fine-tune a fresh copy of `model_name` on `train_examples`, then score it on the task's eval set."""
    tuned, record = finetune(model_name, train_examples, config, output_dir=output_dir)
    return evaluate_finetuned(tuned, record, task, arm, group, max_new_tokens, batch_size, info)


def evaluate_finetuned(
    tuned: LoadedModel,
    record: TrainRecord,
    task: Task,
    arm: str,
    group: str,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    info: dict | None = None,
) -> ArmResult:
    """Score a model `finetune` returned on the task's eval set; the arm's seed is the one it trained with."""
    seed = record.config["seed"]
    started = time.perf_counter()
    predictions = generate(
        tuned,
        task.prompts(),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description=f"{arm} (seed {seed})",
    )
    seconds = time.perf_counter() - started
    del tuned
    gc.collect()
    return ArmResult(
        arm,
        group,
        record.n_examples + record.n_dropped,
        seed,
        task.score(predictions),
        predictions,
        seconds,
        record,
        info or {},
    )


def arm_values(results: list[ArmResult], metric: str) -> np.ndarray:
    """`metric` per item for every seed of one arm, as a (seeds, items) array."""
    if not results:
        raise ValueError("no results for this arm")
    return np.stack([np.asarray(r.scores[metric], dtype=float) for r in results])


def arm_summary(results: list[ArmResult], metric: str) -> dict:
    """Mean and 95% interval of `metric` for one arm: items for one seed (Wilson for proportions),
    seeds then items for several (stats.summarize)."""
    return stats.summarize(arm_values(results, metric))


def by_arm(results: list[ArmResult]) -> dict[str, list[ArmResult]]:
    grouped: dict[str, list[ArmResult]] = {}
    for result in results:
        grouped.setdefault(result.arm, []).append(result)
    return grouped


def paired_arms(a: list[ArmResult], b: list[ArmResult], metric: str, **options) -> dict:
    """Paired comparison of two arms on the same items, every seed kept (stats.paired_comparison):
    the interval resamples seeds as well as items. options: null, alternative (non-inferiority)."""
    return stats.paired_comparison(arm_values(a, metric), arm_values(b, metric), **options)
