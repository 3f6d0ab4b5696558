"""Scorers: per-item metric arrays, so every metric gets a bootstrap interval and paired tests work."""

from __future__ import annotations

import json
import re
import string

import numpy as np

# Refusal phrasings that is_abstention accepts, by family. Each family lists regular expressions,
# searched case-insensitively in the whole output (typographic apostrophes read as "'"). A refusal
# must say that the answer is unknown, unavailable or nonexistent: a "not", "no", "none", "unknown"
# or "cannot" alone is no refusal ("Nobel Prize", "It is not Paris but Lyon.", "Unknown Pleasures",
# "The answer is no.", "There is no doubt it was 1990."). tests/test_scoring.py lists the phrasings
# that must and must not count.
_SOURCE = r"(?:context|documents?|texts?|passages?|sources?|information|data|knowledge base|records?|articles?)"
_INFO = r"(?:information|info|records?|mention|answer|data|details|knowledge|evidence)"
_NEG = r"(?:does not|doesn't|doesnt|do not|don't|dont|did not|didn't|didnt)"
_CANT = r"(?:cannot|can't|cant|can not|could not|couldn't|couldnt|am unable to|was unable to|unable to|not able to)"
ABSTENTION_FAMILIES: dict[str, list[str]] = {
    # The speaker does not know: "I don't know", "I'm not sure", "I have no idea", "I'm not aware of
    # any ...", "I have no record of ...", "I'm not familiar with ...", "Nobody knows".
    "ignorance": [
        rf"\bi (?:really |simply )?{_NEG} know\b",
        r"\bi(?: am|'m|m)(?: not(?: \w+)? (?:sure|certain|aware|familiar)| unsure| uncertain| unaware)\b",
        r"\bnot sure\b",
        r"\bno (?:idea|clue)\b",
        r"\bi have no (?:\w+ )?(?:idea|clue|knowledge|records?|information|data|details)\b",
        r"\b(?:nobody|no one|no-one) knows\b",
        r"\bnever heard of\b",
    ],
    # The speaker cannot find or give the answer: "I couldn't find any information about ...",
    # "I cannot find that in the provided context", "Unable to determine", "It cannot be determined".
    "cannot answer": [
        rf"\b{_CANT}(?: \w+)? (?:find|locate|answer|determine|say|tell|confirm|verify|identify|provide|know)\b",
        r"\b(?:cannot|can't|can not|could not|couldn't) be (?:determined|answered|found|known|confirmed|verified)\b",
        r"\b(?:unanswerable|not answerable)\b",
    ],
    # The speaker lacks the information: "I don't have that information", "I do not have enough
    # information", "There is not enough context".
    "lacks information": [
        rf"\b{_NEG} have (?:\w+ ){{0,2}}?(?:{_INFO}|access)\b",
        r"(?:\bnot enough|n't enough|\binsufficient) (?:information|info|context|data|details|evidence)\b",
    ],
    # The sources do not hold the answer, as the course's RAG instruction words it ("If the context
    # does not contain the answer, ..."): "The context does not contain the answer", "The documents do
    # not say", "The answer is not in the context", "That is not mentioned", "There is no information
    # about X in the documents", "No answer is available", "The founding year is unknown".
    "source lacks the answer": [
        rf"\b{_SOURCE} {_NEG} (?:say|mention|state|specify|contain|include|provide|give|list|tell|indicate|answer|"
        r"cover|show|reveal|discuss)\b",
        rf"\b(?:it|this|that|they) {_NEG} (?:say|mention|state|specify|tell|indicate)\b",
        r"(?:\bnot|n't) (?:\w+ )?(?:mentioned|stated|given|provided|specified|listed|included|disclosed|documented)\b",
        r"(?:\bnot|n't) (?:\w+ )?(?:in|from|within|part of) (?:the |this |these |any |your |my )?"
        rf"(?:provided |given |available |retrieved )?{_SOURCE}\b",
        r"\bno (?:(?:relevant|such|specific|further|available|additional|public|known|reliable|clear|direct) )?"
        rf"{_INFO}\b",
        rf"\b{_INFO}(?: \w+){{0,4}} (?:is|are|was|were) (?:not |un)available\b",
        r"\b(?:is|are|was|were|remains?) (?:unknown|not known|unclear|not clear|unspecified|undisclosed)"
        r"\s*(?:[.,;!]|$)",
    ],
    # The entity asked about does not exist: "There is no company called X", "There is no such
    # person", "No such product", "X does not exist", "X is not a real company".
    "no such entity": [
        r"\bthere(?: is|'s| are| was| were) no (?:such\b|(?:[\w'-]+ ){1,4}?"
        r"(?:called|named|known as|by (?:that|the|this) name)\b)",
        r"\bno such\b",
        rf"\b{_NEG} (?:seem to |appear to )?exist\b",
        r"\bnon-?existent\b",
        r"(?:\bnot|n't) (?:a |an )?(?:real|existing) (?:company|person|product|policy|entity|place|thing)\b",
    ],
}
# A bare non-answer that is the whole first line: "Unknown.", "Not known", "N/A", "Unclear".
BARE_NON_ANSWER = (
    r"^(?:unknown|not known|unclear|uncertain|n/?a|none given|not specified|not stated|not available|no answer|"
    r"cannot say|can't say)\s*[.!]*$"
)
ABSTENTION_PATTERNS = [pattern for family in ABSTENTION_FAMILIES.values() for pattern in family] + [BARE_NON_ANSWER]
_ABSTAIN = re.compile("|".join(p for family in ABSTENTION_FAMILIES.values() for p in family), re.I | re.M)
_BARE = re.compile(BARE_NON_ANSWER, re.IGNORECASE)
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


def _labels_named(line: str, labels: list[str]) -> list[str]:
    """The distinct labels a line names as whole words, in order. A label found only inside a longer
    label's mention ("card" inside "card arrival") is not named by itself."""
    spans = []
    for label in labels:
        for found in re.finditer(rf"(?<![\w]){re.escape(label.lower())}(?![\w])", line.lower()):
            spans.append((found.start(), found.end(), label))
    named = [
        label
        for start, end, label in sorted(spans)
        if not any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans)
    ]
    return list(dict.fromkeys(named))


def extract_label(prediction: str, labels: list[str]) -> str | None:
    """The label a generation names on its first line: the whole line, else the one label it names as a
    whole word, else the longest label the line starts with. None when it names no label, or two or
    more different ones ("card_arrival or top_up_failed" is no answer); a label inside a longer named
    label does not count ("card_arrival_delay" names only that label, not "card_arrival")."""
    line = first_line(prediction)
    key = line.strip().strip(".").strip().lower()
    by_lower = {label.lower(): label for label in labels}
    if key in by_lower:
        return by_lower[key]
    named = _labels_named(line, labels)
    if named:
        return named[0] if len(named) == 1 else None
    for label in sorted(labels, key=len, reverse=True):
        if key.startswith(label.lower()):
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
    """Whether an output declines to answer: it says it does not know, cannot find or give the answer,
    lacks the information, that the sources do not hold it, or that the entity asked about does not
    exist (the families of ABSTENTION_FAMILIES, anywhere in the output), or its first line is a bare
    non-answer such as "Unknown." (BARE_NON_ANSWER). An empty output is no abstention: it says nothing."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").strip()
    return bool(_ABSTAIN.search(text) or _BARE.search(first_line(text)))


# An answer line longer than max(ECHO_MIN_WORDS, ECHO_WORDS_PER_ANSWER_WORD x the words of the longest
# accepted answer) (normalized words) is no answer: it copies a passage (e.g. a retrieved document) that
# happens to contain the answer. "The capital of France is Paris." has 5 words.
ECHO_MIN_WORDS = 12
ECHO_WORDS_PER_ANSWER_WORD = 4
_NUMBER = re.compile(r"(?<![a-z0-9])\d+")  # a number on its own or with a unit suffix ("9am"), not "x2", "q3"
_SLASH = re.compile(r"\s+/\s*|\s*/\s+|(?<=[a-z]{3})/(?=[a-z]{3})", re.IGNORECASE)  # "Paris/Lyon", not "24/7", "AC/DC"


def _mentions(got: str, gold: str) -> bool:
    """A normalized answer line names one normalized accepted answer: the answer appears in it as whole
    words, or the line is a short fragment of the answer covering at least two thirds of its words (so
    "Labs" does not pass for "Zorvant Labs", while "Zorvant Labs" passes for "Zorvant Labs Inc")."""
    if re.search(rf"\b{re.escape(gold)}\b", got):
        return True
    words = len(got.split())
    return words <= 4 and 3 * words >= 2 * len(gold.split()) and bool(re.search(rf"\b{re.escape(got)}\b", gold))


def _is_echo(got: str, golds: list[str]) -> bool:
    """The answer line is too long to be an answer (see ECHO_MIN_WORDS)."""
    cap = max(ECHO_MIN_WORDS, ECHO_WORDS_PER_ANSWER_WORD * max(len(gold.split()) for gold in golds))
    return len(got.split()) > cap


def _rival_numbers(got: str, golds: list[str]) -> set[str]:
    """Numbers in the answer line that no accepted answer holds, when the accepted answers hold numbers.
    Years (every accepted number has four digits) have only four-digit rivals, so "founded in 1990 by
    3 friends" names one year."""
    accepted = {n for gold in golds for n in _NUMBER.findall(gold)}
    if not accepted:
        return set()
    found = set(_NUMBER.findall(got))
    if all(len(n) == 4 for n in accepted):
        found = {n for n in found if len(n) == 4}
    return found - accepted


def _alternatives(line: str) -> list[str]:
    """The alternatives an answer line offers, normalized: parts split at "or", at a slash between words,
    and, when the line is a comma list of three or more short items (at most three words each, the last
    joined by "and" or "or"), at its commas ("Paris, Lyon and Marseille"; "Paris, France" is no list).
    One part when it offers none."""
    parts = [p for part in re.split(r"\s+or\s+", line, flags=re.IGNORECASE) for p in _SLASH.split(part)]
    if re.search(r"[,;]", line):
        items = re.split(r"\s*[,;]\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+", line, flags=re.IGNORECASE)
        if len(items) >= 3 and all(len(normalize(item).split()) <= 3 for item in items):
            parts = items
    return [n for n in (normalize(p) for p in parts) if n]


def _names_several(line: str, got: str, golds: list[str]) -> bool:
    """The answer line names several candidates, one of them not an accepted answer: a number no
    accepted answer holds ("1989 or 1990", "1987 1988 1989 1990" for "1990"), or alternatives of which
    one matches no accepted answer ("Paris or Lyon" for "Paris"; "sodium chloride or NaCl" is fine)."""
    if _rival_numbers(got, golds):
        return True
    options = _alternatives(line)
    return len(options) > 1 and not all(any(_mentions(option, gold) for gold in golds) for option in options)


def answer_matches(prediction: str, answers: list[str]) -> bool:
    """Whether the output's first line gives an accepted answer (compared after normalize).

    It must name an accepted answer (see _mentions), and it is no answer when it
    - names several candidates, one of them not accepted (see _names_several): a list of guesses
      such as "1987 1988 1989 1990" or "1989 or 1990" is wrong for "1990", while "In 1990." and
      "It was founded in 1990 by Smith." are right;
    - is longer than max(12, 4 x the words of the longest accepted answer) words: an echo of a
      document that contains the answer (see ECHO_MIN_WORDS).
    """
    line = first_line(prediction)
    got = normalize(line)
    golds = [gold for gold in (normalize(answer) for answer in answers) if gold]
    if not got or not golds or _is_echo(got, golds) or _names_several(line, got, golds):
        return False
    return any(_mentions(got, gold) for gold in golds)


def answer_outcomes(predictions: list[str], answers: list[list[str] | None]) -> dict[str, np.ndarray]:
    """Per item, 0/1: correct (`accuracy`), hallucinated (answered and wrong), abstained, empty.

    An answers entry of None marks an unanswerable question: abstaining is correct there, and any
    answer is a hallucination. An empty (whitespace-only) output is its own outcome (`empty_rate`):
    it is neither correct, nor an abstention, nor a hallucination, on answerable and unanswerable
    questions alike. So on answerable questions the four rates sum to 1 per item; on unanswerable
    ones accuracy equals abstention_rate, and accuracy + hallucination_rate + empty_rate is 1.
    """
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} questions")
    correct, wrong, abstained, empty = [], [], [], []
    for prediction, gold in zip(predictions, answers):
        blank = not prediction.strip()
        abstain = not blank and is_abstention(prediction)
        if gold is None:
            ok = abstain
        else:
            ok = not blank and not abstain and answer_matches(prediction, gold)
        correct.append(ok)
        abstained.append(abstain)
        empty.append(blank)
        wrong.append(not ok and not abstain and not blank)
    return {
        "accuracy": np.array(correct, dtype=float),
        "hallucination_rate": np.array(wrong, dtype=float),
        "abstention_rate": np.array(abstained, dtype=float),
        "empty_rate": np.array(empty, dtype=float),
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
