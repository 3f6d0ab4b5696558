"""The task interface: chat examples, a scorer, and loading a user's JSONL of examples.

An example is a list of chat messages that ends with the assistant's reference answer. Training
puts the loss on the assistant's tokens only; evaluation prompts with everything before the last
message and scores the generation against it.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROLES = {"system", "user", "assistant"}


class DataFileError(ValueError):
    """A data file cannot be used: missing, unreadable, not UTF-8 text, empty, or with malformed rows.

    The message names the file, and the line and field where one is at fault. `problems` holds one
    such line per bad row (empty when the whole file is at fault), so a caller can show just one.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class DataFormatError(DataFileError):
    """A dataset row is malformed. The message names the file, the line and the field."""


@dataclass
class Example:
    messages: list[dict[str, str]]
    meta: dict = field(default_factory=dict)

    @property
    def prompt(self) -> list[dict[str, str]]:
        return self.messages[:-1]

    @property
    def reference(self) -> str:
        return self.messages[-1]["content"]

    @property
    def last_user_message(self) -> str:
        """The content of the last user message: the request (question, note) the model answers."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    def to_json(self) -> dict:
        return {"messages": self.messages, **({"meta": self.meta} if self.meta else {})}


Scorer = Callable[[list[str], list[Example]], dict[str, np.ndarray]]


@dataclass
class Task:
    """A narrow task: train and eval examples, and a scorer giving per-item metric arrays."""

    name: str
    train: list[Example]
    eval: list[Example]
    scorer: Scorer
    headline_metric: str
    description: str = ""
    source: dict = field(default_factory=dict)
    labels: list[str] | None = None  # for classification tasks

    def score(self, predictions: list[str], examples: list[Example] | None = None) -> dict[str, np.ndarray]:
        examples = self.eval if examples is None else examples
        if len(predictions) != len(examples):
            raise ValueError(f"{len(predictions)} predictions for {len(examples)} examples")
        return self.scorer(predictions, examples)

    def prompts(self, examples: list[Example] | None = None, few_shot: int = 0, seed: int = 0) -> list[list[dict]]:
        """Prompts for generation; with few_shot > 0, k training examples go before each as chat turns."""
        examples = self.eval if examples is None else examples
        if few_shot == 0:
            return [ex.prompt for ex in examples]
        shots = random.Random(seed).sample(self.train, min(few_shot, len(self.train)))
        return [with_few_shot(ex, shots) for ex in examples]

    def with_system_prompt(self, text: str) -> "Task":
        """The same task with every example's system message replaced (or added).

        Fine-tuned arms often drop a long instruction prompt: the training teaches the format.
        """
        return Task(
            self.name,
            replace_system_prompt(self.train, text),
            replace_system_prompt(self.eval, text),
            self.scorer,
            self.headline_metric,
            self.description,
            {**self.source, "system_prompt": text},
            self.labels,
        )

    def baselines(self) -> dict | None:
        """Chance and trivial scores of a classification task on its eval set: uniform guessing over
        the labels (1/k) and always answering the eval set's most frequent label. None for other tasks."""
        if not self.labels:
            return None
        references = [ex.reference for ex in self.eval]
        majority = max(references.count(label) for label in set(references)) / len(references) if references else 0.0
        return {"chance": 1 / len(self.labels), "majority": majority, "n_labels": len(self.labels)}

    @property
    def chance_level(self) -> float | None:
        """The level a score must clear to differ from guessing: the larger of chance and majority."""
        found = self.baselines()
        return max(found["chance"], found["majority"]) if found else None

    def dataset_info(self) -> dict:
        return {
            "task": self.name,
            **self.source,
            **({"baselines": self.baselines()} if self.labels else {}),
            "n_train": len(self.train),
            "n_eval": len(self.eval),
            "train_sha256": fingerprint(self.train),
            "eval_sha256": fingerprint(self.eval),
        }


def balanced_order(examples: list[Example], key: Callable[[Example], str] | None = None) -> list[Example]:
    """The examples reordered round-robin over their labels (`key`, else meta["label"], else the reference),
    labels in sorted order, so any start of the list holds as equal a number per label as its length allows."""
    by_label: dict[str, list[Example]] = {}
    for ex in examples:
        by_label.setdefault(key(ex) if key else ex.meta.get("label", ex.reference), []).append(ex)
    ordered = []
    for i in range(max((len(group) for group in by_label.values()), default=0)):
        ordered += [group[i] for _, group in sorted(by_label.items()) if i < len(group)]
    return ordered


def replace_system_prompt(examples: list[Example], text: str) -> list[Example]:
    """Copies of the examples with their system message replaced (or added)."""
    return [
        Example(
            [{"role": "system", "content": text}] + [m for m in ex.messages if m["role"] != "system"], dict(ex.meta)
        )
        for ex in examples
    ]


def task_from_examples(name: str, train: list[Example], evaluation: list[Example], metric: str = "exact_match") -> Task:
    """A Task for your own examples. metric: "exact_match" (normalized text) or "json_fields"
    (JSON validity, field-level F1 and exact match against JSON reference answers)."""
    from . import scoring

    if metric == "exact_match":

        def scorer(predictions, examples):
            return {"exact_match": scoring.exact_match(predictions, [ex.reference for ex in examples])}

        headline = "exact_match"
    elif metric == "json_fields":

        def scorer(predictions, examples):
            return scoring.json_field_scores(predictions, [ex.reference for ex in examples])

        headline = "field_f1"
    else:
        raise ValueError(f"unknown metric {metric!r}: use 'exact_match' or 'json_fields'")
    return Task(name, train, evaluation, scorer, headline, source={"dataset": name})


def with_few_shot(example: Example, shots: list[Example]) -> list[dict]:
    """Insert demonstrations as earlier user/assistant turns, after the system message if any."""
    system = [m for m in example.prompt[:1] if m["role"] == "system"]
    demos = []
    for shot in shots:
        demos += [m for m in shot.messages if m["role"] != "system"]
    return system + demos + example.prompt[len(system) :]


def fingerprint(examples: list[Example]) -> str:
    """sha256 of the examples' canonical JSON: the same data gives the same hash anywhere."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps(ex.to_json(), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def validate_messages(messages, where: str) -> list[dict[str, str]]:
    """Check a message list; `where` names the file and line for the error message."""
    if not isinstance(messages, list) or not messages:
        raise DataFormatError(f"{where}: field 'messages': expected a non-empty list of {{role, content}} objects")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise DataFormatError(f"{where}: field 'messages[{i}]': expected an object with 'role' and 'content'")
        for key in ("role", "content"):
            if key not in message:
                raise DataFormatError(f"{where}: field 'messages[{i}].{key}' is missing")
            if not isinstance(message[key], str):
                raise DataFormatError(
                    f"{where}: field 'messages[{i}].{key}': expected a string, got {type(message[key]).__name__}"
                )
        if message["role"] not in ROLES:
            raise DataFormatError(
                f"{where}: field 'messages[{i}].role': {message['role']!r} is not one of {sorted(ROLES)}"
            )
    if messages[-1]["role"] != "assistant":
        raise DataFormatError(
            f"{where}: field 'messages[{len(messages) - 1}].role': the last message must be the assistant's answer"
        )
    if not any(m["role"] == "user" for m in messages):
        raise DataFormatError(f"{where}: field 'messages': needs at least one 'user' message")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _row_to_example(row, where: str) -> Example:
    if not isinstance(row, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    meta = row.get("meta", {})
    if "messages" in row:
        return Example(validate_messages(row["messages"], where), meta)
    if "prompt" in row or "completion" in row:
        for key in ("prompt", "completion"):
            if key not in row:
                raise DataFormatError(
                    f"{where}: field '{key}' is missing (rows need 'messages', or 'prompt' and 'completion')"
                )
            if not isinstance(row[key], str):
                raise DataFormatError(f"{where}: field '{key}': expected a string, got {type(row[key]).__name__}")
        messages = [{"role": "system", "content": row["system"]}] if isinstance(row.get("system"), str) else []
        messages += [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]
        return Example(messages, meta)
    raise DataFormatError(f"{where}: field 'messages' is missing (rows need 'messages', or 'prompt' and 'completion')")


def load_jsonl_examples(path: str | Path, on_error: str = "raise") -> list[Example]:
    """Read examples from JSONL (UTF-8): one object per line with `messages`, or `prompt` and `completion`.

    on_error="raise" (default) reads the whole file first and raises one DataFormatError that lists
    every bad line (file, line, field); on_error="skip" keeps the good rows and warns about the rest.
    A file that is missing, unreadable, not UTF-8 text, or without any example raises DataFileError
    (DataFormatError is one kind of it) in both modes.
    """
    import warnings

    if on_error not in ("raise", "skip"):
        raise ValueError(f"unknown on_error {on_error!r}: use 'raise' or 'skip'")
    path = Path(path)
    examples, problems = [], []
    try:
        handle = open(path, "rb")  # decoded line by line, so that a bad byte is reported with its line
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: is a folder, not a JSONL file") from None
    except OSError as err:
        raise DataFileError(f"{path}: cannot be read ({err.strerror or err})") from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            where = f"{path}, line {line_no}"
            if line_no == 1 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise DataFileError(f"{where}: the file is UTF-16 text; save it as UTF-8")
            try:
                try:
                    line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")  # tolerate a byte-order mark
                except UnicodeDecodeError as err:
                    raise DataFormatError(
                        f"{where}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
                        "save the file as UTF-8"
                    ) from None
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataFormatError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
                examples.append(_row_to_example(row, where))
            except DataFormatError as err:
                problems.append(str(err))
    if problems and on_error == "raise":
        shown = "\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise DataFormatError(f"{len(problems)} malformed row(s) in {path}:\n{shown}", problems)
    for problem in problems:
        warnings.warn(f"skipped {problem}", stacklevel=2)
    if not examples:
        if problems:
            raise DataFormatError(f"{path}: no usable example: all {len(problems)} row(s) are malformed", problems)
        raise DataFileError(f"{path}: no examples (the file is empty or has only blank lines)")
    return examples


def save_jsonl_examples(examples: list[Example], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for ex in examples:
            handle.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
