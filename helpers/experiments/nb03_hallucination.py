"""Notebook 03 (hallucination): arms over question sets, retrieval prompts, the known/unknown split
of real facts (Gekhman et al. 2024), verdicts and plots.

Every answer is scored as correct, hallucinated (answered and wrong), abstained ("I don't know") or
empty (the model said nothing). On unanswerable questions abstaining is the correct outcome, any
answer is a hallucination, and an empty output is still only empty.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from ..core import plots, stats
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.retrieval import BM25Retriever
from ..core.scoring import answer_outcomes
from ..core.tasks import Example
from ..data.knowledge_base import SYSTEM_PROMPT, with_context
from . import verdict

EVAL_SETS = ("seen", "paraphrase", "unseen", "unanswerable", "general")
IN_DOMAIN = ("seen", "paraphrase", "unseen", "unanswerable")  # questions about the knowledge base's world


def with_retrieval(examples: list[Example], retriever: BM25Retriever, k: int) -> list[Example]:
    """Each example with the k retrieved documents in a RAG system prompt."""
    return [with_context(ex, retriever.search_texts(ex.last_user_message, k)) for ex in examples]


@dataclass
class SetScores:
    """One arm on one question set: per-item outcomes and the raw answers."""

    arm: str
    set: str
    outcomes: dict[str, np.ndarray]  # accuracy, hallucination/abstention/empty_rate: 0/1, (items,) or (seeds, items)
    predictions: list[str] = field(repr=False)

    def summary(self) -> dict:
        return {name: stats.summarize(values) for name, values in self.outcomes.items()}


def evaluate_sets(
    loaded: LoadedModel,
    sets: dict[str, list[Example]],
    arm: str,
    retriever: BM25Retriever | None = None,
    k: int = 2,
    max_new_tokens: int = 16,
    batch_size: int = 64,
) -> dict[str, SetScores]:
    """Answer every question set in one batched pass (with retrieved context when `retriever` is given)."""
    names = [name for name in EVAL_SETS if name in sets] + [name for name in sets if name not in EVAL_SETS]
    prepared = {name: with_retrieval(sets[name], retriever, k) if retriever else sets[name] for name in names}
    prompts = [ex.prompt for name in names for ex in prepared[name]]
    answers = generate(loaded, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, description=arm)
    out, start = {}, 0
    for name in names:
        chunk = answers[start : start + len(sets[name])]
        start += len(sets[name])
        out[name] = SetScores(arm, name, answer_outcomes(chunk, [ex.meta["answers"] for ex in sets[name]]), chunk)
    return out


def pooled(scores: dict[str, SetScores], set_names, metric: str) -> np.ndarray:
    """Per-item values of `metric` over several question sets, in a fixed order (for paired tests)."""
    return np.concatenate([scores[name].outcomes[metric] for name in set_names], axis=-1)


def rag_training_examples(
    train: list[Example], abstain: list[Example], retriever: BM25Retriever, k: int
) -> list[Example]:
    """Training data for the RAG arm: answerable questions with their retrieved documents (the answer is
    in them) and questions about nonexistent entities, whose retrieved documents cannot answer them,
    with the target "I don't know."."""
    return with_retrieval(train, retriever, k) + with_retrieval(abstain, retriever, k)


def outcome_table(results: dict[str, dict[str, SetScores]]) -> list[dict]:
    rows = []
    for arm, by_set in results.items():
        for name, scores in by_set.items():
            s = scores.summary()
            rows.append(
                {
                    "arm": arm,
                    "set": name,
                    "n": int(scores.outcomes["accuracy"].shape[-1]),
                    **{
                        f"{m.replace('_rate', '')}": s[m]["mean"]
                        for m in ("accuracy", "hallucination_rate", "abstention_rate", "empty_rate")
                        if m in s
                    },
                    "accuracy 95% CI": f"{s['accuracy']['ci_low']:.2f} to {s['accuracy']['ci_high']:.2f}",
                    "hallucination 95% CI": (
                        f"{s['hallucination_rate']['ci_low']:.2f} to {s['hallucination_rate']['ci_high']:.2f}"
                    ),
                }
            )
    return rows


def plot_outcomes(summaries: dict[str, dict[str, dict]], subtitle: str, profile: str):
    """One panel per question set: a stacked bar per arm (correct / hallucinated / abstained / empty).

    summaries: {arm: {set: {"accuracy" | "hallucination_rate" | "abstention_rate" | "empty_rate": summary}}},
    e.g. {arm: {name: scores.summary()}} or a result file's metrics["outcomes"] (result files written
    before empty outputs were counted apart have no "empty_rate": their empty share is 0 there). On
    unanswerable questions abstaining is the correct outcome, so there the abstained share is inside "correct".
    """
    import matplotlib.pyplot as plt

    arms = list(summaries)
    sets = [name for name in EVAL_SETS if any(name in by_set for by_set in summaries.values())]
    fig, axes = plt.subplots(1, len(sets), figsize=(3.3 * len(sets), 4.6), sharey=True, squeeze=False)
    colors = {"correct": "#2a9d8f", "hallucinated": "#e76f51", "abstained": "#adb5bd", "empty": "#f4e3b1"}
    for ax, name in zip(axes[0], sets):
        parts = {"correct": [], "hallucinated": [], "abstained": [], "empty": []}
        for arm in arms:
            s = summaries[arm].get(name)
            correct = s["accuracy"]["mean"] if s else 0.0
            abstained = s["abstention_rate"]["mean"] if s else 0.0
            parts["correct"].append(correct * 100)
            parts["hallucinated"].append((s["hallucination_rate"]["mean"] if s else 0.0) * 100)
            parts["abstained"].append((abstained - correct if name == "unanswerable" else abstained) * 100)
            parts["empty"].append((s["empty_rate"]["mean"] if s and "empty_rate" in s else 0.0) * 100)
        bottom = np.zeros(len(arms))
        for label, values in parts.items():
            ax.bar(range(len(arms)), values, bottom=bottom, color=colors[label], label=label)
            bottom += np.array(values)
        for i, arm in enumerate(arms):
            if name in summaries[arm]:
                s = summaries[arm][name]["accuracy"]
                ax.errorbar(
                    i,
                    s["mean"] * 100,
                    yerr=[[max(0.0, s["mean"] - s["ci_low"]) * 100], [max(0.0, s["ci_high"] - s["mean"]) * 100]],
                    fmt="none",
                    color="black",
                    capsize=2,
                    lw=1,
                )
        ax.set_xticks(range(len(arms)), arms, rotation=60, ha="right", fontsize=8)
        ax.set_title(
            name + (" (abstaining is correct)" if name == "unanswerable" else ""),
            fontsize=9 if name == "unanswerable" else None,
        )
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("share of questions (%), bars: 95% CI of correct")
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Correct, hallucinated, abstained, empty: {subtitle}", y=1.02)
    plots.smoke_watermark(fig, profile)
    return fig


# --- Real facts: the Gekhman et al. (2024) setup on EntityQuestions ---------------------------------


def qa_example(question: dict) -> Example:
    """An EntityQuestions row as a chat example; the first listed answer is the target."""
    return Example(
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question["question"]},
            {"role": "assistant", "content": question["answers"][0]},
        ],
        meta={"answers": list(question["answers"]), "relation": question.get("relation")},
    )


def known_to_model(
    loaded: LoadedModel, questions: list[dict], max_new_tokens: int = 12, batch_size: int = 64
) -> np.ndarray:
    """True where the model's greedy answer is correct: the fact is "known" to it before fine-tuning.

    Gekhman et al. also sample at temperature to split known facts further (highly / maybe / weakly
    known); greedy correctness is their "known" boundary in its simplest form.
    """
    examples = [qa_example(q) for q in questions]
    answers = generate(
        loaded,
        [ex.prompt for ex in examples],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description="known or unknown",
    )
    return answer_outcomes(answers, [ex.meta["answers"] for ex in examples])["accuracy"].astype(bool)


def unknown_share_mixes(
    known: list[dict], unknown: list[dict], n_train: int, shares: list[float], seed: int = 0
) -> dict[float, list[dict]]:
    """Training sets of n_train facts with the given shares of unknown facts. Nested: every mix uses
    the same known facts first, so mixes differ only in how many unknown facts replace known ones."""
    rng = random.Random(seed)
    known_pool, unknown_pool = rng.sample(known, len(known)), rng.sample(unknown, len(unknown))
    mixes = {}
    for share in shares:
        n_unknown = round(share * n_train)
        if n_unknown > len(unknown_pool) or n_train - n_unknown > len(known_pool):
            raise ValueError(
                f"share {share:.0%} of {n_train} needs {n_unknown} unknown and {n_train - n_unknown} known facts; "
                f"have {len(unknown_pool)} and {len(known_pool)}"
            )
        mix = known_pool[: n_train - n_unknown] + unknown_pool[:n_unknown]
        mixes[share] = rng.sample(mix, len(mix))
    return mixes


def plot_unknown_share(curve: dict[str, tuple[list[float], list[dict]]], subtitle: str, profile: str):
    """Accuracy on held-out known facts against the share of unknown facts in training, one line per stopping point."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    for i, (label, (shares, summaries)) in enumerate(curve.items()):
        plots.line_with_band(ax, [s * 100 for s in shares], summaries, label=label, color=plots.PALETTE[i])
    ax.set_xlabel("unknown facts in the fine-tuning set (%)")
    ax.set_ylabel("accuracy on held-out known facts (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(f"Learning unknown facts: {subtitle}")
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig


def hallucination_verdicts(
    results: dict[str, dict[str, SetScores]], arms: dict[str, str], profile: str, curve_scores: dict | None = None
) -> list[verdict.Verdict]:
    """The sub-claims, each from a paired comparison on the same questions.

    arms maps roles to arm names: base, base_rag, ft, ft_rag, ft_abstain_rag.
    curve_scores: {(share, stop): per-item correctness on held-out known facts}, stops "early" / "long".
    """
    b, br, ft, ftr, fta = (results[arms[role]] for role in ("base", "base_rag", "ft", "ft_rag", "ft_abstain_rag"))
    out = [
        verdict.judge_difference(
            "03.ft_teaches_trained_facts",
            "Fine-tuning on question-answer pairs teaches the trained facts (fine-tuned vs base, seen questions)",
            stats.paired_comparison(ft["seen"].outcomes["accuracy"], b["seen"].outcomes["accuracy"]),
            profile,
        ),
        verdict.judge_difference(
            "03.paraphrase_transfer_gap",
            "The learned facts transfer less to new wordings (fine-tuned: seen minus paraphrased questions)",
            stats.paired_comparison(ft["seen"].outcomes["accuracy"], ft["paraphrase"].outcomes["accuracy"]),
            profile,
        ),
        verdict.judge_threshold(
            "03.ft_still_hallucinates",
            "After fine-tuning the model still hallucinates on in-domain facts it was not taught "
            "(unseen; rate above 10%)",
            ft["unseen"].outcomes["hallucination_rate"],
            0.10,
            profile,
            unit="%",
            scale=100,
        ),
        verdict.judge_difference(
            "03.rag_beats_ft",
            "Retrieval beats fine-tuning on in-domain questions (base + RAG vs fine-tuned; paraphrased and unseen)",
            stats.paired_comparison(
                pooled(br, ("paraphrase", "unseen"), "accuracy"), pooled(ft, ("paraphrase", "unseen"), "accuracy")
            ),
            profile,
        ),
        verdict.judge_difference(
            "03.abstain_rag_beats_rag",
            "Fine-tuning with abstention examples plus RAG is more reliable than RAG alone "
            "(correct outcomes over all in-domain sets)",
            stats.paired_comparison(pooled(fta, IN_DOMAIN, "accuracy"), pooled(br, IN_DOMAIN, "accuracy")),
            profile,
        ),
        verdict.judge_difference(
            "03.abstention_cuts_hallucination",
            "Training abstention cuts hallucination on unanswerable questions "
            "(fine-tuned + RAG minus fine-tuned with abstention + RAG)",
            stats.paired_comparison(
                ftr["unanswerable"].outcomes["hallucination_rate"], fta["unanswerable"].outcomes["hallucination_rate"]
            ),
            profile,
        ),
    ]
    if curve_scores:
        shares = sorted({share for share, _ in curve_scores})
        low, high = shares[0], shares[-1]
        out.append(
            verdict.judge_difference(
                "03.unknown_facts_hurt_known",
                "Fine-tuning on unknown facts lowers accuracy on known ones "
                f"(long training: {low:.0%} minus {high:.0%} unknown)",
                stats.paired_comparison(curve_scores[(low, "long")], curve_scores[(high, "long")]),
                profile,
            )
        )
        out.append(
            verdict.judge_difference(
                "03.early_stopping_removes_harm",
                f"Early stopping removes the harm ({high:.0%} unknown: early minus long training)",
                stats.paired_comparison(curve_scores[(high, "early")], curve_scores[(high, "long")]),
                profile,
            )
        )
    return out


def stack_seeds(per_seed: list[dict[str, SetScores]]) -> dict[str, SetScores]:
    """One arm's per-seed outcomes as (seeds, items) arrays, so summaries and verdicts resample the
    seeds as well as the items (the answers shown are the first seed's)."""
    first = per_seed[0]
    return {
        name: SetScores(
            first[name].arm,
            name,
            {m: np.stack([run[name].outcomes[m] for run in per_seed]) for m in first[name].outcomes},
            first[name].predictions,
        )
        for name in first
    }


def unknown_share_curve(
    model_name: str,
    mixes: dict[float, list[dict]],
    eval_known: list[dict],
    config,
    early_step: int,
    max_new_tokens: int = 12,
    batch_size: int = 64,
) -> dict[tuple[float, str], np.ndarray]:
    """Fine-tune once per mix; score held-out known facts after `early_step` optimizer steps and at the end.

    Returns {(share, "early" | "long"): per-item correctness}. One run gives both stopping points: the
    adapter is copied at the early step and restored for the early evaluation.
    """
    from ..core.training import AdapterSnapshots, finetune

    examples = [qa_example(q) for q in eval_known]
    gold = [ex.meta["answers"] for ex in examples]
    scores = {}
    for share, mix in mixes.items():
        snapshots = AdapterSnapshots([early_step])
        tuned, record = finetune(model_name, [qa_example(q) for q in mix], config, callbacks=[snapshots])
        long_answers = generate(
            tuned,
            [ex.prompt for ex in examples],
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            description=f"{share:.0%} unknown, long",
        )
        snapshots.restore(tuned.model, early_step)
        early_answers = generate(
            tuned,
            [ex.prompt for ex in examples],
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            description=f"{share:.0%} unknown, early",
        )
        scores[(share, "long")] = answer_outcomes(long_answers, gold)["accuracy"]
        scores[(share, "early")] = answer_outcomes(early_answers, gold)["accuracy"]
        print(
            f"{share:>4.0%} unknown: held-out known accuracy {scores[(share, 'early')].mean():.1%} "
            f"after {early_step} steps, "
            f"{scores[(share, 'long')].mean():.1%} after {record.optimizer_steps} "
            f"(final train loss {record.final_loss:.3f})"
        )
        del tuned
    return scores


def curve_summaries(
    curve_scores: dict[tuple[float, str], np.ndarray], early_step: int, long_steps: int
) -> dict[str, tuple[list[float], list[dict]]]:
    shares = sorted({share for share, _ in curve_scores})
    return {
        f"{label} ({steps} steps)": (shares, [stats.summarize(curve_scores[(s, stop)]) for s in shares])
        for label, stop, steps in (("early stop", "early", early_step), ("long training", "long", long_steps))
    }
