"""Ready-made tasks built on the public datasets."""

from __future__ import annotations

import random
from collections import defaultdict

from ..core import scoring
from ..core.tasks import Example, Task
from .sources import load_banking77

INTENT_SYSTEM_PROMPT = (
    "You classify customer messages for a bank. Answer with exactly one intent label from this list "
    "and nothing else: {labels}."
)


def _balanced_sample(rows: list[dict], labels: list[str], n: int, rng: random.Random) -> list[dict]:
    by_label = defaultdict(list)
    for row in rows:
        if row["label"] in labels:
            by_label[row["label"]].append(row)
    picked = []
    per_label, extra = divmod(n, len(labels))
    for i, label in enumerate(labels):
        pool = by_label[label]
        want = per_label + (1 if i < extra else 0)
        if want > len(pool):
            raise ValueError(f"asked for {want} examples of intent {label!r}; only {len(pool)} exist")
        picked += rng.sample(pool, want)
    rng.shuffle(picked)
    return picked


def intent_example(text: str, label: str, labels: list[str]) -> Example:
    return Example(
        messages=[
            {"role": "system", "content": INTENT_SYSTEM_PROMPT.format(labels=", ".join(labels))},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label},
        ],
        meta={"label": label},
    )


def banking77_task(
    n_intents: int = 6,
    n_train: int = 240,
    n_eval: int = 150,
    label_noise: float = 0.0,
    data_seed: int = 1234,
    folder=None,
) -> Task:
    """banking77 intent classification as generation of the label, on a subset of intents.

    The intents, the balanced train/eval samples and any injected label noise (a share of training
    labels replaced by another intent of the subset) all follow `data_seed`, not the training seed.
    """
    data = load_banking77(folder)
    rng = random.Random(data_seed)
    all_labels = sorted({row["label"] for row in data["train"]})
    labels = sorted(rng.sample(all_labels, n_intents)) if n_intents < len(all_labels) else all_labels
    train_rows = _balanced_sample(data["train"], labels, n_train, rng)
    eval_rows = _balanced_sample(data["test"], labels, n_eval, rng)
    noisy = set(rng.sample(range(len(train_rows)), round(label_noise * len(train_rows)))) if label_noise else set()
    train = []
    for i, row in enumerate(train_rows):
        label = rng.choice([other for other in labels if other != row["label"]]) if i in noisy else row["label"]
        example = intent_example(row["text"], label, labels)
        example.meta["true_label"] = row["label"]
        train.append(example)
    evaluation = [intent_example(row["text"], row["label"], labels) for row in eval_rows]

    def scorer(predictions, examples):
        return scoring.label_scores(predictions, [ex.meta["label"] for ex in examples], labels)

    return Task(
        name="banking77",
        train=train,
        eval=evaluation,
        scorer=scorer,
        headline_metric="accuracy",
        description=f"banking77 intent classification, {len(labels)} intents, label noise {label_noise:.0%}",
        source={**data["source"], "intents": labels, "data_seed": data_seed, "label_noise": label_noise},
        labels=labels,
    )


def label_token_budget(tokenizer, labels: list[str], margin: int = 2) -> int:
    """New tokens enough to generate the longest label (plus `margin`), so no label is cut short."""
    return max(len(tokenizer(label, add_special_tokens=False)["input_ids"]) for label in labels) + margin
