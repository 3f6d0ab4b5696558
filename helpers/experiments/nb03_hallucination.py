"""Notebook 03 (hallucination): arms over question sets, retrieval prompts, the known/unknown split
of real facts (Gekhman et al. 2024), verdicts and plots.

Every answer is scored as correct, hallucinated (answered and wrong), abstained ("I don't know") or
empty (the model said nothing). On unanswerable questions abstaining is the correct outcome, any
answer is a hallucination, and an empty output is still only empty.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core import plots, stats
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.retrieval import BM25Retriever
from ..core.scoring import answer_outcomes
from ..core.tasks import Example
from ..core.workload import FineTune, Generation, Workload
from ..data.knowledge_base import SYSTEM_PROMPT, with_context
from . import verdict
from .lr_sweep import SweepResult, sweep_learning_rates

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


def context_training_sets(
    context_facts: list[Example], abstain: list[Example], retriever: BM25Retriever, k: int, n_answerable: int
) -> dict[str, list[Example]]:
    """Training data of the two arms fine-tuned with retrieved context, equal in size (so, at the same
    epochs and batch size, in optimizer steps):

    "abstention": the first n_answerable answerable questions plus the abstention examples;
    "control": the first n_answerable + len(abstain) answerable questions, no abstention example.

    The two differ only in whether some examples teach "I don't know.", which is what "abstention cuts
    hallucination" needs to compare. context_facts come from knowledge_base.context_training_facts:
    no evaluation set asks about their entities.
    """
    n_total = n_answerable + len(abstain)
    if len(context_facts) < n_total:
        raise ValueError(f"the control arm needs {n_total} context-training facts; got {len(context_facts)}")
    return {
        "abstention": rag_training_examples(context_facts[:n_answerable], abstain, retriever, k),
        "control": with_retrieval(context_facts[:n_total], retriever, k),
    }


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


def relation_mix(questions: list[dict]) -> dict[str, int]:
    """How many questions of each relation, sorted by relation id."""
    counts: dict[str, int] = {}
    for q in questions:
        counts[q.get("relation")] = counts.get(q.get("relation"), 0) + 1
    return dict(sorted(counts.items(), key=lambda item: str(item[0])))


def unknown_share_mixes(
    known: list[dict], unknown: list[dict], n_train: int, shares: list[float], seed: int = 0
) -> dict[float, list[dict]]:
    """Training sets of n_train facts with the given shares of unknown facts, stratified by relation.

    The 0% mix is n_train known facts. A mix with a higher share replaces some of them, each by an
    unknown fact of the same relation, so every mix has the same relation mix and differs from the
    others only in whether its facts are known. (Without this, a relation the model never knows, such
    as place of birth, would enter the training sets only as unknown facts, and "unknown facts hurt"
    could not be told apart from "this relation hurts".) Nested: a higher share replaces the same facts
    as a lower one and more, with the same unknown facts and more.
    """
    rng = random.Random(seed)
    if n_train > len(known):
        raise ValueError(f"{n_train} facts per mix need {n_train} known facts; have {len(known)}")
    kept = rng.sample(known, len(known))[:n_train]
    replace_order = rng.sample(range(n_train), n_train)
    unknown_by_relation: dict[str, list[dict]] = {}
    for q in rng.sample(unknown, len(unknown)):
        unknown_by_relation.setdefault(q.get("relation"), []).append(q)
    mixes = {}
    for share in shares:
        n_unknown = round(share * n_train)
        mix, used = list(kept), {}
        for position in replace_order[:n_unknown]:
            relation = kept[position].get("relation")
            supply = unknown_by_relation.get(relation, [])
            if used.get(relation, 0) >= len(supply):
                raise ValueError(
                    f"share {share:.0%} of {n_train} replaces more known facts of relation {relation} than there "
                    f"are unknown facts of it ({len(supply)}); sample more candidates or lower the share"
                )
            mix[position] = supply[used.get(relation, 0)]
            used[relation] = used.get(relation, 0) + 1
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


KNOWN_ONLY_MARGIN = 0.05  # accuracy points early stopping may lose to training on known facts only


# --- Learning rates: one sweep per trained arm, scored on questions no verdict uses ---


@dataclass
class SweptArm:
    """What one arm's learning-rate sweep fine-tunes on and how it scores a fine-tune.

    train: the arm's own training set, or a stand-in of the same size and kind where the arm's own
    facts are evaluated (the question/answer arm: validation_sets' "facts_train"). validate: a score in
    [0, 1] (higher is better) on questions no verdict scores: validation questions, or (the unknown-share
    curve, swept on its highest share's mix) the mix's own training questions, since the held-out known
    facts the curve is judged on are all answered by the base model and any training can only lower them."""

    train: list[Example]
    epochs: float
    validate: Callable[[LoadedModel], float]


def sweep_arm_rates(
    model_name: str,
    arms: dict[str, SweptArm],
    config_at: Callable[[float, float, int], object],
    grid: list[float],
    max_extensions: int,
    progress: Callable[[str], None] = print,
) -> tuple[dict[str, SweepResult], dict[str, dict]]:
    """Sweep each arm's learning rate: fine-tune on its `train` at every rate of `grid` (extended past an edge
    up to max_extensions times), with `config_at(rate, epochs, n_examples)` as the recipe, and keep the rate
    whose model validates best. Returns ({arm: sweep}, {arm: the sweep's record for the result file})."""
    from ..core.training import finetune, merged_for_inference

    sweeps, records = {}, {}
    for name, arm in arms.items():
        points = []

        def score(rate: float, arm: SweptArm = arm, name: str = name, points: list = points) -> float:
            tuned, record = finetune(model_name, arm.train, config_at(rate, arm.epochs, len(arm.train)))
            value = float(arm.validate(merged_for_inference(tuned)))
            points.append(
                {
                    "learning_rate": rate,
                    "validation_score": value,
                    "final_loss": record.final_loss,
                    "optimizer_steps": record.optimizer_steps,
                    "train_seconds": record.train_seconds,
                }
            )
            progress(f"{name:>32} lr {rate:<8.3g}: validation {value:.1%}, final loss {record.final_loss:.3f}")
            del tuned
            gc.collect()
            return value

        sweeps[name] = sweep_learning_rates(score, grid, max_extensions=max_extensions)
        records[name] = {
            **sweeps[name].to_dict(),
            "note": sweeps[name].note(name),
            "points": sorted(points, key=lambda p: p["learning_rate"]),
        }
        progress("  " + sweeps[name].note(name))
    return sweeps, records


def validation_accuracy(
    loaded: LoadedModel,
    sets: dict[str, list[Example]],
    retriever: BM25Retriever | None = None,
    k: int = 2,
    max_new_tokens: int = 16,
    batch_size: int = 64,
) -> float:
    """Share of correct outcomes over validation question sets (abstaining is correct on unanswerable ones)."""
    scores = evaluate_sets(loaded, sets, "validation", retriever, k, max_new_tokens, batch_size)
    return float(pooled(scores, list(sets), "accuracy").mean())


# The trained arms each verdict compares (roles of hallucination_verdicts; "low" and "high" are the
# unknown-share curve's lowest and highest share): a verdict on an arm whose rate is still at an edge
# of its sweep says so.
VERDICT_ARMS = {
    "03.ft_teaches_trained_facts": ("ft",),
    "03.paraphrase_transfer_gap": ("ft",),
    "03.ft_still_hallucinates": ("ft",),
    "03.ft_costs_general_knowledge": ("ft",),
    "03.rag_beats_ft": ("ft",),
    "03.abstain_rag_beats_rag": ("ft_abstain_rag",),
    "03.abstention_cuts_hallucination": ("ft_context_rag", "ft_abstain_rag"),
    "03.unknown_facts_hurt_known": ("curve",),
    "03.early_stopping_removes_harm": ("curve",),
    "03.early_stopping_matches_known_only": ("curve",),
}
# The unknown-share curve varies one thing, the share of unknown facts: every mix trains at one rate, swept on
# the highest share's mix (the hardest to fit), so its sweep has one name.
CURVE_SWEEP = "unknown-share curve"


def note_sweep_edges(verdicts: list[verdict.Verdict], sweeps: dict[str, SweepResult], roles: dict[str, str]) -> None:
    """Add to each verdict the edge note of every arm it compares whose chosen rate is still at an edge."""
    names = {**roles, "curve": CURVE_SWEEP}
    for v in verdicts:
        for role in VERDICT_ARMS.get(v.id, ()):
            sweep = sweeps.get(names.get(role, ""))
            note = sweep.edge_note(names[role]) if sweep else None
            if note and note not in v.notes:
                v.notes.append(note)


def hallucination_verdicts(
    results: dict[str, dict[str, SetScores]],
    arms: dict[str, str],
    profile: str,
    curve_scores: dict | None = None,
    steps: dict[str, int] | None = None,
    known_only_margin: float = KNOWN_ONLY_MARGIN,
    rates: dict[str, float] | None = None,
    curve_rate: float | None = None,
) -> list[verdict.Verdict]:
    """The sub-claims, each from a paired comparison on the same questions.

    arms maps roles to arm names: base, base_rag, ft, ft_context_rag (fine-tuned with retrieved context,
    no abstention examples: the control), ft_abstain_rag (the same number of examples, some of them
    abstention examples). steps: optimizer steps of those two arms, and rates ({role: learning rate}, each
    swept on its own data): both stated in the abstention claim, so a difference in rate is in the claim.
    curve_scores: {(share, stop): per-item correctness on held-out known facts}, stops "early" / "long";
    curve_rate: the one rate every mix trained at, stated in the curve's claims.
    """
    b, br, ft, ftc, fta = (
        results[arms[role]] for role in ("base", "base_rag", "ft", "ft_context_rag", "ft_abstain_rag")
    )
    matched = ""
    if steps:
        matched = f"; {steps['ft_abstain_rag']} vs {steps['ft_context_rag']} optimizer steps"
    if rates and rates.get("ft_abstain_rag") and rates.get("ft_context_rag"):
        matched += (
            f"; learning rates {rates['ft_abstain_rag']:g} vs {rates['ft_context_rag']:g}, each swept on its own data"
        )
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
            "03.ft_costs_general_knowledge",
            "Fine-tuning on the knowledge base's question-answer pairs costs general knowledge "
            "(base minus fine-tuned, real-world questions it was not trained on)",
            stats.paired_comparison(b["general"].outcomes["accuracy"], ft["general"].outcomes["accuracy"]),
            profile,
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
            "(correct outcomes over all in-domain sets; trained on other entities' facts than any evaluated)",
            stats.paired_comparison(pooled(fta, IN_DOMAIN, "accuracy"), pooled(br, IN_DOMAIN, "accuracy")),
            profile,
        ),
        verdict.judge_difference(
            "03.abstention_cuts_hallucination",
            "Training abstention examples cuts hallucination on unanswerable questions (with RAG: fine-tuned "
            "with retrieved context minus the same fine-tune with some examples replaced by abstention "
            f"examples; same number of examples{matched})",
            stats.paired_comparison(
                ftc["unanswerable"].outcomes["hallucination_rate"], fta["unanswerable"].outcomes["hallucination_rate"]
            ),
            profile,
        ),
    ]
    if curve_scores:
        out += curve_verdicts(curve_scores, profile, known_only_margin, curve_rate)
    return out


def curve_verdicts(
    curve_scores: dict[tuple[float, str], np.ndarray],
    profile: str,
    known_only_margin: float = KNOWN_ONLY_MARGIN,
    rate: float | None = None,
) -> list[verdict.Verdict]:
    """The unknown-facts claims, lowest against highest share of unknown facts.

    Early stopping "removes the harm" only if the early-stopped run on the highest share is no worse
    than the early-stopped run on the lowest (the same steps on known facts only), not merely better
    than training long on unknown facts: 03.early_stopping_matches_known_only judges that, with a margin.
    """
    shares = sorted({share for share, _ in curve_scores})
    low, high = shares[0], shares[-1]
    same_rate = f"; every mix at learning rate {rate:g}" if rate else ""
    return [
        verdict.judge_difference(
            "03.unknown_facts_hurt_known",
            "Fine-tuning on unknown facts lowers accuracy on known ones "
            f"(long training: {low:.0%} minus {high:.0%} unknown, same relation mix{same_rate})",
            stats.paired_comparison(curve_scores[(low, "long")], curve_scores[(high, "long")]),
            profile,
        ),
        verdict.judge_difference(
            "03.early_stopping_removes_harm",
            f"Early stopping reduces the harm ({high:.0%} unknown: early minus long training{same_rate})",
            stats.paired_comparison(curve_scores[(high, "early")], curve_scores[(high, "long")]),
            profile,
        ),
        verdict.judge_non_inferiority(
            "03.early_stopping_matches_known_only",
            f"Early stopping removes the harm: stopped early, training on {high:.0%} unknown facts is within "
            f"{known_only_margin * 100:.0f} points of training on {low:.0%} unknown for as many steps{same_rate}",
            stats.paired_comparison(
                curve_scores[(high, "early")],
                curve_scores[(low, "early")],
                null=-known_only_margin,
                alternative="greater",
            ),
            known_only_margin,
            profile,
        ),
    ]


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


CURVE_RECORD_FIELDS = ("n_examples", "optimizer_steps", "train_seconds", "tokens_seen", "final_loss")


def unknown_share_curve(
    model_name: str,
    mixes: dict[float, list[dict]],
    eval_known: list[dict],
    config,
    early_step: int,
    seeds: list[int],
    max_new_tokens: int = 12,
    batch_size: int = 64,
    rates: dict[float, float] | None = None,
) -> tuple[dict[tuple[float, str], np.ndarray], list[dict]]:
    """Fine-tune once per mix and seed; score held-out known facts after `early_step` optimizer steps
    and at the end. rates: {share: learning rate} (each mix's swept rate); None trains every mix at
    config's rate.

    Returns ({(share, "early" | "long"): per-item correctness, (seeds, items)}, training records). One
    run gives both stopping points: the adapter is copied at the early step and restored for the early
    evaluation. Every mix is trained with the same seeds, so the seed-to-seed variance of training
    reaches the comparisons between mixes.
    """

    from ..core.training import AdapterSnapshots, finetune

    examples = [qa_example(q) for q in eval_known]
    gold = [ex.meta["answers"] for ex in examples]
    per_seed: dict[tuple[float, str], list[np.ndarray]] = {}
    records = []
    for share, mix in mixes.items():
        for seed in seeds:
            snapshots = AdapterSnapshots([early_step])
            rate = rates[share] if rates else config.learning_rate
            tuned, record = finetune(
                model_name,
                [qa_example(q) for q in mix],
                dataclasses.replace(config, seed=seed, learning_rate=rate),
                callbacks=[snapshots],
            )
            summary = record.to_dict()
            records.append(
                {
                    "share": share,
                    "seed": seed,
                    "learning_rate": summary["config"]["learning_rate"],
                    **{k: summary[k] for k in CURVE_RECORD_FIELDS},
                }
            )
            for stop in ("long", "early"):
                if stop == "early":
                    snapshots.restore(tuned.model, early_step)
                answers = generate(
                    tuned,
                    [ex.prompt for ex in examples],
                    max_new_tokens=max_new_tokens,
                    batch_size=batch_size,
                    description=f"{share:.0%} unknown, {stop}, seed {seed}",
                )
                per_seed.setdefault((share, stop), []).append(answer_outcomes(answers, gold)["accuracy"])
            print(
                f"{share:>4.0%} unknown, seed {seed}: held-out known accuracy "
                f"{per_seed[(share, 'early')][-1].mean():.1%} after {early_step} steps, "
                f"{per_seed[(share, 'long')][-1].mean():.1%} after {record.optimizer_steps} "
                f"(final train loss {record.final_loss:.3f})"
            )
            del tuned
    return {key: np.stack(runs) for key, runs in per_seed.items()}, records


def curve_summaries(
    curve_scores: dict[tuple[float, str], np.ndarray], early_step: int, long_steps: int
) -> dict[str, tuple[list[float], list[dict]]]:
    shares = sorted({share for share, _ in curve_scores})
    return {
        f"{label} ({steps} steps)": (shares, [stats.summarize(curve_scores[(s, stop)]) for s in shares])
        for label, stop, steps in (("early stop", "early", early_step), ("long training", "long", long_steps))
    }


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer with its chat template, on the notebook's own sets (knowledge base
# seed 0 at kb_per_kind 20 and 50 with the cpu and gpu set sizes; 3,000 sampled EntityQuestions of the cpu
# and gpu relations). "Answer" tokens are the value plus the end of turn: the positions answer-only logits keep.
QA_PROMPT_TOKENS = 33  # mean question prompt, system prompt included (the five evaluation sets: 32.3 to 32.5)
QA_SEQ_TOKENS = 47  # longest question/answer training sequence (measured 46 and 47; mean 38)
QA_ANSWER_TOKENS = 6  # mean answer (6.0 to 6.2)
EQ_PROMPT_TOKENS = 33  # mean EntityQuestions prompt (32.4 to 32.7)
EQ_SEQ_TOKENS = 64  # longest EntityQuestions training sequence (60 and 64; mean 38)
EQ_ANSWER_TOKENS = 5  # mean answer (5.2 to 5.4)
EQ_NEW_TOKENS = 12  # known_to_model's and unknown_share_curve's default budget, which the notebook keeps


def rag_prompt_tokens(top_k: int) -> int:
    """Mean prompt with top_k retrieved documents (measured at k = 1, 2, 3, 4: 105-106, 158-162, 213-218,
    267-273 tokens, the two knowledge-base sizes)."""
    return 51 + 55 * top_k


def rag_seq_tokens(top_k: int) -> int:
    """Longest training sequence with top_k retrieved documents (measured at k = 1, 2, 3, 4: 133-137, 203-204,
    273-274, 338-339 tokens; the published cpu run's longest at k = 2: 203; an evaluation question's: 206)."""
    return 70 + 69 * top_k


def _sequences(examples: int, epochs: float) -> int:
    return math.ceil(examples * epochs)


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 03 under the settings `cfg` (upper bounds)."""
    seeds, rag_prompt = len(cfg.seeds), rag_prompt_tokens(cfg.top_k)
    train = dict(model=cfg.model, method=cfg.method, batch_size=cfg.batch_size)
    generate = dict(model=cfg.model, new_tokens=cfg.max_new_tokens, batch_size=cfg.eval_batch_size)
    context_examples = cfg.rag_train_facts + cfg.n_abstain  # both context arms train on as many examples
    all_sets, in_domain = len(EVAL_SETS) * cfg.n_per_set, len(IN_DOMAIN) * cfg.n_per_set
    finetunes = [
        FineTune(
            "fine-tuned",
            sequences=_sequences(cfg.n_train_facts, cfg.qa_epochs),
            seq_len=QA_SEQ_TOKENS,
            count=seeds,
            answer_share=QA_ANSWER_TOKENS / QA_SEQ_TOKENS,
            **train,
        ),
        *[
            FineTune(
                arm,
                sequences=_sequences(context_examples, cfg.rag_epochs),
                seq_len=rag_seq_tokens(cfg.top_k),
                count=seeds,
                answer_share=QA_ANSWER_TOKENS / rag_seq_tokens(cfg.top_k),
                **train,
            )
            for arm in ("fine-tuned w/ context + RAG", "fine-tuned w/ abstention + RAG")
        ],
        FineTune(  # one run per mix and seed gives both stopping points
            "unknown-share curve",
            sequences=_sequences(cfg.eq_n_train, cfg.eq_long_epochs),
            seq_len=EQ_SEQ_TOKENS,
            count=len(cfg.eq_shares) * seeds,
            answer_share=EQ_ANSWER_TOKENS / EQ_SEQ_TOKENS,
            **train,
        ),
    ]
    eq_generate = dict(generate, new_tokens=EQ_NEW_TOKENS)
    sweeps = []
    if cfg.learning_rate is None:  # one sweep per trained arm (sweep_arm_rates), each fine-tune validated once
        points = len(set(cfg.lr_grid)) + cfg.max_extensions
        sweeps = [
            (
                dataclasses.replace(job, label=job.label + " sweep", count=points * per),
                Generation(job.label + " sweep", prompts=prompts, prompt_tokens=tokens, count=points * per, **gen),
            )
            for job, per, prompts, tokens, gen in (
                (finetunes[0], 1, 2 * cfg.n_train_facts, QA_PROMPT_TOKENS, generate),
                (finetunes[1], 1, 2 * cfg.n_val, rag_prompt, generate),
                (finetunes[2], 1, 2 * cfg.n_val, rag_prompt, generate),
                (finetunes[3], 1, cfg.eq_n_train, EQ_PROMPT_TOKENS, eq_generate),  # one sweep, the highest share
            )
        ]
    generations = [
        Generation("base", prompts=all_sets, prompt_tokens=QA_PROMPT_TOKENS, **generate),
        Generation("base + RAG", prompts=all_sets, prompt_tokens=rag_prompt, **generate),
        Generation("fine-tuned", prompts=all_sets, prompt_tokens=QA_PROMPT_TOKENS, count=seeds, **generate),
        Generation("fine-tuned w/ context + RAG", prompts=in_domain, prompt_tokens=rag_prompt, count=seeds, **generate),
        Generation(
            "fine-tuned w/ abstention + RAG", prompts=in_domain, prompt_tokens=rag_prompt, count=seeds, **generate
        ),
        Generation("known or unknown", prompts=cfg.eq_candidates, prompt_tokens=EQ_PROMPT_TOKENS, **eq_generate),
        Generation(  # every mix and seed, scored after the early step and at the end
            "unknown-share curve",
            prompts=cfg.eq_n_eval,
            prompt_tokens=EQ_PROMPT_TOKENS,
            count=len(cfg.eq_shares) * seeds * 2,
            **eq_generate,
        ),
    ]
    finetunes += [job for job, _ in sweeps]
    generations += [job for _, job in sweeps]
    notes = [
        "the unknown-share curve is counted in full; the notebook skips it when the base model knows fewer than "
        "eq_n_train + 10 of the eq_candidates facts, and evaluates at most eq_n_eval held-out known facts",
        "learning-rate sweeps (learning_rate None) are counted with every extension their max_extensions allows",
        "the sequence lengths are each task's longest training sequence, so the training tokens bound the padded "
        "tokens (length-grouped batches pad less)",
        "not counted: merging each LoRA fine-tune for inference, BM25 retrieval, the closing cell's demo "
        "(6 questions on a course-chosen model)",
    ]
    return Workload("hallucination", finetunes, generations, notes)
