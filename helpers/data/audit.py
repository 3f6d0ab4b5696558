"""Audit a training set before fine-tuning: the checks that find noisy targets without ground truth."""

from __future__ import annotations

from collections import Counter

from ..core.scoring import normalize, parse_json_object
from ..core.tasks import Example


def audit_examples(examples: list[Example]) -> dict:
    """Counts of the usual data problems: empty or duplicate answers, conflicting answers to the same
    prompt, and, for JSON answers, invalid JSON and key sets that differ from the most common one."""
    answers = [ex.reference for ex in examples]
    prompts = [tuple((m["role"], m["content"]) for m in ex.prompt) for ex in examples]
    answers_by_prompt: dict[tuple, set[str]] = {}
    for prompt, answer in zip(prompts, answers):
        answers_by_prompt.setdefault(prompt, set()).add(normalize(answer))
    report = {
        "examples": len(examples),
        "empty_answers": sum(not a.strip() for a in answers),
        "duplicate_examples": len(examples) - len(set(zip(prompts, answers))),
        "prompts_with_conflicting_answers": sum(len(v) > 1 for v in answers_by_prompt.values()),
        "answer_words_mean": round(sum(len(a.split()) for a in answers) / max(1, len(answers)), 1),
    }
    looks_json = sum(a.lstrip().startswith("{") for a in answers)
    if looks_json > len(answers) / 2:
        parsed = [parse_json_object(a) for a in answers]
        key_sets = Counter(tuple(sorted(p)) for p in parsed if p is not None)
        common = key_sets.most_common(1)[0][0] if key_sets else ()
        report.update(
            invalid_json=sum(p is None for p in parsed),
            json_key_set_variants=len(key_sets),
            answers_with_other_keys=sum(1 for p in parsed if p is not None and tuple(sorted(p)) != common),
            most_common_keys=list(common),
        )
    else:
        report["answer_distribution"] = dict(Counter(answers).most_common(10))
    return report
