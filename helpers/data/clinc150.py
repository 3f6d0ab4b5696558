"""CLINC150 (Larson et al., 2019): 150 intents of requests to a virtual assistant, with intents arriving over time.

The local copy is the upstream data_full.json: {split: [[text, intent], ...]} with splits train, val
and test (100 / 20 / 30 requests per intent) and oos_train, oos_val, oos_test (out-of-scope requests).
"""

from __future__ import annotations

import random
from pathlib import Path

from ..core.tasks import Example
from .sources import DatasetNotAvailableError, local_or_upstream, read_json_file

LICENSE = "CC BY 3.0"
FILE_NAME = "data_full.json"
REQUIRED_SPLITS = ("train", "val", "test")
OPTIONAL_SPLITS = ("oos_train", "oos_val", "oos_test")
SYSTEM_PROMPT = (
    "You classify requests to a virtual assistant. Answer with exactly one intent label from this list "
    "and nothing else: {labels}."
)


def _parse_split(rows, path: Path, split: str) -> list[dict]:
    if not isinstance(rows, list):
        raise ValueError(f"{path}: split '{split}': expected a list of [text, intent] rows, got {type(rows).__name__}")
    parsed = []
    for i, row in enumerate(rows):
        where = f"{path}, split '{split}', row {i}"
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            raise ValueError(f"{where}: field 'row': expected [text, intent], got {row!r:.80}")
        for field, value in zip(("text", "intent"), row):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where}: field '{field}': expected a non-empty string, got {value!r:.80}")
        parsed.append({"text": row[0], "label": row[1]})
    return parsed


def _read_local(folder: Path) -> dict:
    path = folder / FILE_NAME
    if not path.is_file():
        raise DatasetNotAvailableError(f"clinc150: {path} does not exist")
    raw = read_json_file(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected an object of splits, got {type(raw).__name__}")
    missing = [s for s in REQUIRED_SPLITS if s not in raw]
    if missing:
        raise ValueError(f"{path}: missing split(s) {missing}; found {sorted(raw)}")
    return {split: _parse_split(raw[split], path, split) for split in REQUIRED_SPLITS + OPTIONAL_SPLITS if split in raw}


def load_clinc150(folder: str | Path | None = None) -> dict:
    """CLINC150 as {"train": [{text, label}], "val", "test", "oos_train", "oos_val", "oos_test", "source"}.

    Reads data_full.json from `folder`, FT_COURSE_DATA/clinc150 or ../shared/datasets/clinc150;
    otherwise downloads the same file from the authors' repository at a pinned commit (checked by sha256).
    """
    local, origin = local_or_upstream("clinc150", folder, [FILE_NAME])
    return {**_read_local(local), "source": {"dataset": "clinc150", "origin": origin, "license": LICENSE}}


def clinc_example(text: str, label: str, labels: list[str], meta: dict | None = None) -> Example:
    """A classification-by-generation example; the system prompt lists `labels` (sorted)."""
    return Example(
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT.format(labels=", ".join(sorted(labels)))},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label},
        ],
        meta={"label": label, **(meta or {})},
    )


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def intents_over_time(
    data: dict,
    n_periods: int,
    intents_per_period: int,
    n_train_per_intent: int,
    n_eval_per_intent: int,
    seed: int = 0,
    n_val_per_intent: int = 0,
) -> list[dict]:
    """Periods in which new intents arrive: period p adds `intents_per_period` intents (seeded choice).

    Each period's dict: "period", "new_intents", "all_intents" (sorted, all intents so far), "train"
    (n_train_per_intent examples of each new intent, from the train split), "eval_new" and "eval_old"
    (n_eval_per_intent examples of each new / earlier intent, from the test split), "eval_all".

    The system prompt lists the intents known so far (all_intents), as a deployed classifier's
    instructions would: the label set is part of the product at that time, a base model can answer
    zero-shot, and scoring.label_scores needs the same list. So an intent's evaluation texts stay the
    same in every period (its sample is drawn once) while the prompt grows; a model fine-tuned in an
    earlier period meets a longer label list later, which is part of the drift. Test texts that also
    occur in the train split (compared lowercased, whitespace collapsed) are never used for evaluation.

    "val_new", "val_old" and "val_all" hold n_val_per_intent examples of each new / earlier / known intent from
    the upstream val split, minus any text that also occurs in the train or test split: the requests a
    learning-rate sweep is scored on, never a training or evaluation request. They are drawn with their own
    random stream, so the train and evaluation samples do not depend on n_val_per_intent.
    """
    labels = sorted({row["label"] for row in data["train"]})
    needed = n_periods * intents_per_period
    if n_periods < 1 or intents_per_period < 1 or needed > len(labels):
        raise ValueError(
            f"n_periods x intents_per_period must be between 1 and {len(labels)}; got {n_periods} x "
            f"{intents_per_period}"
        )
    rng = random.Random(seed)
    arriving = rng.sample(labels, needed)
    train_texts = {_key(row["text"]) for row in data["train"]}

    def pool(split: str, label: str, exclude: set[str]) -> list[str]:
        seen, texts = set(exclude), []
        for row in data[split]:
            if row["label"] == label and _key(row["text"]) not in seen:
                seen.add(_key(row["text"]))
                texts.append(row["text"])
        return texts

    train_sample, eval_sample, val_sample = {}, {}, {}
    val_rng = random.Random(f"{seed}:val")
    train_and_test = train_texts | {_key(row["text"]) for row in data["test"]}
    for label in arriving:
        train_pool, eval_pool = pool("train", label, set()), pool("test", label, train_texts)
        if n_train_per_intent > len(train_pool) or n_eval_per_intent > len(eval_pool):
            raise ValueError(
                f"intent {label!r} has {len(train_pool)} train and {len(eval_pool)} usable test texts; "
                f"asked for {n_train_per_intent} and {n_eval_per_intent}"
            )
        train_sample[label] = rng.sample(train_pool, n_train_per_intent)
        eval_sample[label] = rng.sample(eval_pool, n_eval_per_intent)
        val_pool = pool("val", label, train_and_test)
        if n_val_per_intent > len(val_pool):
            raise ValueError(f"intent {label!r} has {len(val_pool)} usable val texts; asked for {n_val_per_intent}")
        val_sample[label] = val_rng.sample(val_pool, n_val_per_intent)

    arrived = {label: i // intents_per_period for i, label in enumerate(arriving)}
    periods = []
    for p in range(n_periods):
        new = arriving[p * intents_per_period : (p + 1) * intents_per_period]
        known = sorted(arriving[: (p + 1) * intents_per_period])

        def examples(intents: list[str], sample: dict[str, list[str]], split: str) -> list[Example]:
            items = [(text, label) for label in intents for text in sample[label]]
            random.Random(f"{seed}:{p}:{split}:{','.join(intents)}").shuffle(items)
            return [
                clinc_example(text, label, known, {"intent_period": arrived[label], "period": p, "split": split})
                for text, label in items
            ]

        old = sorted(arriving[: p * intents_per_period])
        eval_new, eval_old = examples(new, eval_sample, "test"), examples(old, eval_sample, "test")
        val_new, val_old = examples(new, val_sample, "val"), examples(old, val_sample, "val")
        periods.append(
            {
                "period": p,
                "new_intents": sorted(new),
                "all_intents": known,
                "train": examples(new, train_sample, "train"),
                "eval_new": eval_new,
                "eval_old": eval_old,
                "eval_all": eval_old + eval_new,
                "val_new": val_new,
                "val_old": val_old,
                "val_all": val_old + val_new,
            }
        )
    return periods
