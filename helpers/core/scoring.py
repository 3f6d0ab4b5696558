"""Scorers: per-item metric arrays, so every metric gets a bootstrap interval and paired tests work."""

from __future__ import annotations

import json
import re
import string

import numpy as np

ABSTENTION_PATTERNS = [
    r"\bi (?:do not|don't|dont) know\b",
    r"\bi(?: am|'m) not sure\b",
    r"\b(?:cannot|can't|can not|unable to) (?:answer|say|determine|find)\b",
    r"\bnot (?:mentioned|stated|given|provided|available|in the (?:context|documents?|text))\b",
    r"\bno (?:information|answer|data)\b",
    r"^\s*unknown\s*\.?\s*$",
]
_ABSTAIN = re.compile("|".join(ABSTENTION_PATTERNS), re.IGNORECASE)
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse whitespace."""
    text = text.lower().translate(_PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(predictions: list[str], references: list[str]) -> np.ndarray:
    return np.array([normalize(p) == normalize(r) for p, r in zip(predictions, references)], dtype=float)


def first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0].strip() if stripped else ""


def extract_label(prediction: str, labels: list[str]) -> str | None:
    """The label a generation names: exact first line, else the longest label it starts with or contains."""
    line = first_line(prediction)
    key = line.strip().strip(".").strip().lower()
    by_lower = {label.lower(): label for label in labels}
    if key in by_lower:
        return by_lower[key]
    for label in sorted(labels, key=len, reverse=True):
        if key.startswith(label.lower()):
            return label
    for label in sorted(labels, key=len, reverse=True):
        if re.search(rf"\b{re.escape(label.lower())}\b", line.lower()):
            return label
    return None


def label_scores(predictions: list[str], references: list[str], labels: list[str]) -> dict[str, np.ndarray]:
    """Accuracy per item, plus the predicted labels (None when the output names no known label)."""
    predicted = [extract_label(p, labels) for p in predictions]
    return {
        "accuracy": np.array([p == r for p, r in zip(predicted, references)], dtype=float),
        "valid_label": np.array([p is not None for p in predicted], dtype=float),
        "predicted_label": np.array([p if p is not None else "" for p in predicted], dtype=object),
    }


def macro_f1(predicted: list[str], references: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(references, predicted, labels=labels, average="macro", zero_division=0))


def parse_json_object(text: str) -> dict | None:
    """The first JSON object in a generation (tolerates code fences and text around it)."""
    text = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _canonical(value) -> str:
    return normalize(str(value)) if not isinstance(value, (dict, list)) else json.dumps(value, sort_keys=True)


def json_field_scores(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """JSON validity, field-level F1 (key and normalized value must both match) and exact match."""
    valid, f1, exact = [], [], []
    for prediction, reference in zip(predictions, references):
        gold = parse_json_object(reference)
        if gold is None:
            raise ValueError(f"reference is not a JSON object: {reference[:80]!r}")
        got = parse_json_object(prediction)
        valid.append(got is not None)
        if got is None:
            f1.append(0.0)
            exact.append(False)
            continue
        gold_items = {(k, _canonical(v)) for k, v in gold.items()}
        got_items = {(k, _canonical(v)) for k, v in got.items()}
        hits = len(gold_items & got_items)
        precision = hits / len(got_items) if got_items else 0.0
        recall = hits / len(gold_items) if gold_items else 1.0
        f1.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        exact.append(gold_items == got_items)
    return {
        "json_valid": np.array(valid, dtype=float),
        "field_f1": np.array(f1, dtype=float),
        "exact_match": np.array(exact, dtype=float),
    }


def is_abstention(text: str) -> bool:
    return bool(_ABSTAIN.search(text.strip()))


def answer_matches(prediction: str, answers: list[str]) -> bool:
    """Tolerant match: a normalized gold answer appears in the prediction, or a short prediction
    appears in the gold answer and covers at least two thirds of its words (so "Labs" does not
    pass for "Zorvant Labs", while "Zorvant Labs" passes for "Zorvant Labs Inc")."""
    got = normalize(first_line(prediction) or prediction)
    if not got:
        return False
    for answer in answers:
        gold = normalize(answer)
        if not gold:
            continue
        if re.search(rf"\b{re.escape(gold)}\b", got):
            return True
        words = len(got.split())
        if words <= 4 and 3 * words >= 2 * len(gold.split()) and re.search(rf"\b{re.escape(got)}\b", gold):
            return True
    return False


def answer_outcomes(predictions: list[str], answers: list[list[str] | None]) -> dict[str, np.ndarray]:
    """Correct / hallucinated (answered and wrong) / abstained per item.

    An answers entry of None marks an unanswerable question: abstaining counts as correct there, and
    any answer counts as a hallucination. An empty output states nothing, so it counts as abstaining.
    """
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} questions")
    correct, wrong, abstained = [], [], []
    for prediction, gold in zip(predictions, answers):
        abstain = is_abstention(prediction) or not prediction.strip()
        if gold is None:
            ok = abstain
        else:
            ok = (not abstain) and answer_matches(prediction, gold)
        correct.append(ok)
        abstained.append(abstain)
        wrong.append(not ok and not abstain)
    return {
        "accuracy": np.array(correct, dtype=float),
        "hallucination_rate": np.array(wrong, dtype=float),
        "abstention_rate": np.array(abstained, dtype=float),
    }


def macro_f1_summary(predicted: list[str], references: list[str], labels: list[str], n_boot: int = 300) -> dict:
    """Macro-F1 with a bootstrap 95% interval over evaluation items."""
    from .stats import bootstrap_statistic_ci

    low, high = bootstrap_statistic_ci(
        len(references),
        lambda idx: macro_f1([predicted[i] for i in idx], [references[i] for i in idx], labels),
        n_boot=n_boot,
    )
    return {"mean": macro_f1(predicted, references, labels), "ci_low": low, "ci_high": high}
