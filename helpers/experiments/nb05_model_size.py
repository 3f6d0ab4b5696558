"""Notebook 05 (model size): which candidate models can run here, their quality arms, what serving
each costs, the score-against-cost Pareto front, and the verdicts.

A candidate that cannot be loaded here because the hub is out of reach (offline) keeps its place in the
cost comparison when its published architecture is known (timed with random weights, see
`inference_cost`), but has no quality arms: every comparison that needs its answers is reported as
not run, with the reason. A model the hub refuses (gated, missing) stops the notebook with the remedy:
it is never replaced by random weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core import plots
from ..core.cost_model import Architecture, architecture_for
from ..core.inference_cost import RANDOM, REAL, cost_per_1k_requests
from ..core.models import EMBEDDED_ALIASES, EMBEDDED_UPSTREAM_ID, ModelNotAvailableError, resolve
from ..core.workload import FineTune, Generation, Workload
from . import verdict
from .arms import ArmResult, arm_summary, paired_arms
from .nb01_data_size import (
    BANK_ANSWER_TOKENS,
    BANK_LABEL_MAX_TOKENS,
    INTAKE_ANSWER_TOKENS,
    INTAKE_PROMPT_TOKENS,
    INTAKE_SHOT_TOKENS,
)
from .nb01_data_size import bank_prompt_tokens as nb01_bank_prompt_tokens

KIND_MARKERS = {"zero-shot": "o", "few-shot": "s", "fine-tuned": "*"}
KIND_OFFSETS = {
    "zero-shot": 0.9,
    "few-shot": 1.0,
    "fine-tuned": 1.11,
}  # horizontal spread on the log axis, for legibility


@dataclass
class Candidate:
    name: str
    available: bool  # loads here (real weights)
    architecture: Architecture | None  # known shapes: serving cost can be timed (random weights when not available)
    reason: str = ""  # why it is not available, or why its quality is not measured
    scored: bool = True  # quality arms run (False when not available, or above the profile's size cap)

    @property
    def short(self) -> str:
        return self.name.rstrip("/").split("/")[-1]

    @property
    def parameters(self) -> int | None:
        return self.architecture.params() if self.architecture else None

    @property
    def weights(self) -> str | None:
        """How its serving cost is measured: real weights, random weights of its shapes, or not at all."""
        return REAL if self.available else RANDOM if self.architecture else None


def find_candidates(names: list[str], max_scored_params_m: float | None = None) -> list[Candidate]:
    """Resolve each model name without loading it; sorted by parameter count, smallest first.

    Models above `max_scored_params_m` million parameters are timed but not scored (a budget cap:
    scoring a 1.7B model on two CPU cores takes longer than the whole cpu profile)."""
    found = []
    for name in dict.fromkeys(names):  # keep order, drop repeats
        try:
            folder, _, _ = resolve(name)
        except ModelNotAvailableError as err:
            if not err.offline:  # gated, missing or broken: stop with the hub's remedy; no stand-in is timed for it
                raise
            reason = "offline and not in the local Hugging Face cache"
            found.append(Candidate(name, False, architecture_for(name), reason, scored=False))
            continue
        config = json.loads((folder / "config.json").read_text())
        found.append(Candidate(name, True, Architecture.from_config(config, name)))
    unknown = [c.name for c in found if c.architecture is None]
    if unknown:
        raise ValueError(f"unknown size for {unknown}: not loadable here and not in cost_model.KNOWN_ARCHITECTURES")
    for c in found:
        if c.scored and max_scored_params_m is not None and c.parameters > max_scored_params_m * 1e6:
            c.scored, c.reason = (
                False,
                f"{c.parameters / 1e6:.0f}M parameters is above this profile's cap of {max_scored_params_m:g}M for "
                "scoring",
            )
    return sorted(found, key=lambda c: c.parameters)


def tag_arm(result: ArmResult, candidate: Candidate, kind: str) -> ArmResult:
    """Name an arm "<model>: <kind>" and record which model and which kind of arm it is."""
    result.arm = f"{candidate.short}: {kind}"
    result.group = kind
    result.info.update(model=candidate.name, kind=kind)
    return result


def best_prompted(results: list[ArmResult], model: str, metric: str) -> ArmResult | None:
    """The better of a model's zero-shot and few-shot arms (on the test items: this favours the prompted side)."""
    prompted = [r for r in results if r.info.get("model") == model and r.info.get("kind") != "fine-tuned"]
    return max(prompted, key=lambda r: r.scores[metric].mean()) if prompted else None


def finetuned(results: list[ArmResult], model: str) -> list[ArmResult]:
    return [r for r in results if r.info.get("model") == model and r.info.get("kind") == "fine-tuned"]


def serving_rows(candidates: list[Candidate], probes: dict[str, dict], price_per_hour: float) -> list[dict]:
    """One row per timed model: size, latency, throughput, memory and price per 1,000 requests."""
    rows = []
    for c in candidates:
        if c.name not in probes:
            continue
        p = probes[c.name]
        rows.append(
            {
                "model": c.short,
                "parameters (M)": p["parameters"] / 1e6,
                "weights": p["weights"],
                f"weights MB ({p['dtype']})": p["weights_mb"],
                "latency p50 (s)": p["latency_p50_s"],
                "latency p95 (s)": p["latency_p95_s"],
                f"requests/s at batch {p['batch_size']}": p["requests_per_second"],
                "peak memory (MB)": p["peak_memory_mb"],
                "USD per 1k requests": cost_per_1k_requests(p["requests_per_second"], price_per_hour),
            }
        )
    return rows


def score_cost_points(
    results: list[ArmResult], probes: dict[str, dict], metric: str, price_per_hour: float
) -> list[dict]:
    """Every quality arm as a point (cost per 1,000 requests, score with interval), with its Pareto flag."""
    grouped: dict[str, list[ArmResult]] = {}
    for r in results:
        grouped.setdefault(r.arm, []).append(r)
    points = []
    for arm, runs in grouped.items():
        model = runs[0].info["model"]
        if model not in probes:
            continue
        points.append(
            {
                "arm": arm,
                "model": model,
                "kind": runs[0].info["kind"],
                "score": arm_summary(runs, metric),
                "cost_per_1k": cost_per_1k_requests(probes[model]["requests_per_second"], price_per_hour),
            }
        )
    front = pareto_front([(p["cost_per_1k"], p["score"]["mean"]) for p in points])
    for p, on_front in zip(points, front):
        p["pareto"] = on_front
    return points


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (cost, score) points: True where no other point is at most as costly and at least as good,
    and strictly better in one of the two."""
    flags = []
    for i, (cost, score) in enumerate(points):
        dominated = any(
            other_cost <= cost and other_score >= score and (other_cost < cost or other_score > score)
            for j, (other_cost, other_score) in enumerate(points)
            if j != i
        )
        flags.append(not dominated)
    return flags


def _unscored_note(candidates: list[Candidate]) -> str:
    missing = [c for c in candidates if not c.scored]
    if not missing:
        return ""
    return " Not scored: " + "; ".join(f"{c.short} ({c.reason})" for c in missing) + "."


def quality_verdicts(
    task_label: str,
    results: list[ArmResult],
    candidates: list[Candidate],
    metric: str,
    margin: float,
    profile: str,
    task_key: str | None = None,
    chance: float | None = None,
) -> list[verdict.Verdict]:
    """Per task: fine-tuning the smallest model beats prompting it; the smallest fine-tuned model is
    within `margin` of the largest prompted model that could run. Ids are "05.<task_key>.<claim>"
    (task_key defaults to the label's last word); chance: the task's chance score, flagged where an
    arm's interval includes it."""
    key = task_key or task_label.split()[-1]
    smallest = candidates[0]
    runnable = [c for c in candidates if c.scored]
    tuned = finetuned(results, smallest.name)
    own = best_prompted(results, smallest.name, metric)
    verdicts = []
    claim = f"{task_label}: fine-tuning {smallest.short} beats prompting it ({own.arm if own else 'prompted'})"
    if tuned and own:
        verdicts.append(
            verdict.judge_difference(
                f"05.{key}.finetune_beats_prompting", claim, paired_arms(tuned, [own], metric), profile
            )
        )
        if chance is not None:
            verdict.flag_chance(
                verdicts[-1], chance, {"fine-tuned": arm_summary(tuned, metric), own.arm: arm_summary([own], metric)}
            )
    else:
        verdicts.append(
            verdict.not_run(
                f"05.{key}.finetune_beats_prompting",
                claim,
                f"{smallest.short} was not scored or not fine-tuned here.{_unscored_note(candidates)}",
                profile,
            )
        )
    largest = runnable[-1] if runnable else None
    compared = largest if largest is not None and largest is not smallest else candidates[-1]
    claim = (
        f"{task_label}: {smallest.short} fine-tuned is within {margin * 100:.0f} points of the largest prompted model"
        + (f" that was scored ({compared.short})" if compared is not candidates[-1] else f" ({compared.short})")
    )
    big = best_prompted(results, largest.name, metric) if largest and largest is not smallest else None
    if tuned and big:
        comparison = paired_arms(tuned, [big], metric, null=-margin, alternative="greater")
        result = verdict.judge_non_inferiority(
            f"05.{key}.small_within_margin_of_large", claim, comparison, margin, profile
        )
        if largest is not candidates[-1]:
            result.notes.append(
                f"The largest candidate, {candidates[-1].short}, was not scored.{_unscored_note(candidates)}"
            )
        if chance is not None:
            verdict.flag_chance(
                result, chance, {"fine-tuned": arm_summary(tuned, metric), big.arm: arm_summary([big], metric)}
            )
        verdicts.append(result)
    else:
        verdicts.append(
            verdict.not_run(
                f"05.{key}.small_within_margin_of_large",
                claim,
                f"Only {smallest.short} was scored here, so there is no larger prompted model to compare "
                f"with.{_unscored_note(candidates)}",
                profile,
            )
        )
    return verdicts


def cost_verdict(
    candidates: list[Candidate], probes: dict[str, dict], cost_factor: float, profile: str
) -> verdict.Verdict:
    """The smallest model serves 1,000 requests at least `cost_factor` times cheaper than the largest timed one."""
    timed = [c for c in candidates if c.name in probes]
    smallest, largest = (timed[0], timed[-1]) if timed else (candidates[0], candidates[-1])
    claim = f"{smallest.short} serves requests at least {cost_factor:g}x cheaper than {largest.short}"
    if len(timed) < 2:
        return verdict.not_run("05.serving_cost_ratio", claim, "fewer than two models were timed", profile)
    ratio = probes[smallest.name]["requests_per_second"] / probes[largest.name]["requests_per_second"]
    result = verdict.judge_measured("05.serving_cost_ratio", claim, [ratio], cost_factor, profile, unit="x")
    if probes[largest.name]["weights"] != REAL:
        result.notes.append(f"({largest.short} timed with random weights of its published shapes.)")
    return result


def break_even_requests(finetune_cost: float, small_cost_per_1k: float, large_cost_per_1k: float) -> float | None:
    """Requests after which the fine-tune has paid for itself through cheaper serving; None if it never does."""
    saving_per_request = (large_cost_per_1k - small_cost_per_1k) / 1000
    return finetune_cost / saving_per_request if saving_per_request > 0 else None


def break_even_where_matched(
    verdicts: list[verdict.Verdict], finetune_cost: float, small_cost_per_1k: float, large_cost_per_1k: float
) -> tuple[float | None, str]:
    """The break-even point, only where it means something: swapping the large prompted model for the small
    fine-tuned one saves money only if the small one is as good, so the break-even is computed only when a
    `small_within_margin_of_large` verdict is supported. Returns (requests or None, why)."""
    matched = [v for v in verdicts if v.id.endswith("small_within_margin_of_large") and v.status == verdict.SUPPORTED]
    if not matched:
        states = "; ".join(f"{v.id} is {v.status}" for v in verdicts if v.id.endswith("small_within_margin_of_large"))
        return None, (
            "break-even not computed: the small fine-tuned model was not shown to match the large model's quality"
            + (f" ({states})" if states else "")
        )
    requests = break_even_requests(finetune_cost, small_cost_per_1k, large_cost_per_1k)
    tasks = ", ".join(v.id for v in matched)
    if requests is None:
        return None, f"quality matched ({tasks}), but the small model does not serve cheaper"
    return requests, f"quality matched ({tasks}): cheaper serving repays the fine-tune after {requests:,.0f} requests"


def plot_score_vs_cost(
    panels: dict[str, tuple[list[dict], str]],
    candidates: list[Candidate],
    probes: dict[str, dict],
    price_per_hour: float,
    profile: str,
    subtitle: str,
    chances: dict[str, float | None] | None = None,
):
    """One panel per task: score (95% interval) against price per 1,000 requests, log scale, with the
    Pareto front; models timed but not scored appear as dashed vertical lines. A model's arms share
    its cost and are drawn slightly apart (zero-shot left, fine-tuned right). chances: {task: chance
    score}, drawn dotted on classification panels."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(panels), figsize=(6.8 * len(panels), 5.0), squeeze=False)
    colors = {c.name: plots.PALETTE[i % len(plots.PALETTE)] for i, c in enumerate(candidates)}
    for ax, (task_label, (points, metric_label)) in zip(axes[0], panels.items()):
        plots.chance_line(ax, (chances or {}).get(task_label))
        for p in points:
            s = p["score"]
            x = p["cost_per_1k"] * KIND_OFFSETS[p["kind"]]  # a model's arms share its cost: drawn side by side
            ax.errorbar(
                x,
                s["mean"] * 100,
                yerr=[[max(0.0, s["mean"] - s["ci_low"]) * 100], [max(0.0, s["ci_high"] - s["mean"]) * 100]],
                fmt=KIND_MARKERS[p["kind"]],
                color=colors[p["model"]],
                markersize=11 if p["kind"] == "fine-tuned" else 7,
                capsize=3,
            )
        front = sorted((p for p in points if p["pareto"]), key=lambda p: p["cost_per_1k"] * KIND_OFFSETS[p["kind"]])
        ax.plot(
            [p["cost_per_1k"] * KIND_OFFSETS[p["kind"]] for p in front],
            [p["score"]["mean"] * 100 for p in front],
            "o",
            markersize=17,
            markerfacecolor="none",
            markeredgecolor="black",
            alpha=0.6,
        )
        if len(front) > 1:
            ax.step(
                [p["cost_per_1k"] * KIND_OFFSETS[p["kind"]] for p in front],
                [p["score"]["mean"] * 100 for p in front],
                where="post",
                color="black",
                alpha=0.4,
                linestyle=":",
            )
        for c in candidates:
            if c.name in probes and not c.scored:
                cost = cost_per_1k_requests(probes[c.name]["requests_per_second"], price_per_hour)
                ax.axvline(cost, color=colors[c.name], linestyle="--", alpha=0.7)
                ax.annotate(
                    f"{c.short}\n(timed only,\nnot scored)",
                    (cost, 99),
                    textcoords="offset points",
                    xytext=(-4, 0),
                    ha="right",
                    va="top",
                    fontsize=8,
                    color=colors[c.name],
                )
        ax.set_xscale("log")
        ax.margins(x=0.3)
        ax.set_ylim(-2, 102)
        ax.set_xlabel(f"USD per 1,000 requests at {price_per_hour:g} USD/hour (log scale)")
        ax.set_ylabel(f"{metric_label} (%)")
        ax.set_title(f"{task_label}: quality against serving cost")
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[c.name], label=c.short) for c in candidates]
    handles += [
        Line2D([], [], marker=marker, linestyle="", color="gray", label=kind) for kind, marker in KIND_MARKERS.items()
    ]
    handles.append(
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=12,
            markerfacecolor="none",
            markeredgecolor="black",
            label="on the Pareto front",
        )
    )
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(subtitle, fontsize=10)
    plots.smoke_watermark(fig, profile)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels
    return fig


def summarize_arms(results: list[ArmResult], metric: str) -> dict:
    grouped: dict[str, list[ArmResult]] = {}
    for r in results:
        grouped.setdefault(r.arm, []).append(r)
    return {
        arm: {
            "model": runs[0].info["model"],
            "kind": runs[0].info["kind"],
            metric: arm_summary(runs, metric),
            "training": runs[0].record.to_dict() if runs[0].record else None,
        }
        for arm, runs in grouped.items()
    }


def cheapest_meeting(arms: list[dict], quality_bar: float) -> dict | None:
    """The cheapest arm whose whole 95% interval clears `quality_bar`; None when none does.
    Each arm is {"arm", "cost_per_1k", "score": {"mean", "ci_low", "ci_high"}}."""
    clearing = [a for a in arms if a["score"]["ci_low"] >= quality_bar]
    return min(clearing, key=lambda a: a["cost_per_1k"]) if clearing else None


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer (every model of the lineage shares it) with its chat template, on the
# notebook's own sets: banking77_task with 6, 20 and 77 intents (cpu, gpu and all), intake_task at the cpu and
# gpu sizes. "Answer" tokens are the target plus the end of turn: the positions answer-only logits keep.
# The banking77 label-list prompt, the zero-shot client-intake prompt, its demonstrations and both tasks' answers
# are the same as notebook 01's: their measurements live there (nb01_data_size.BANK_*, INTAKE_*).
BANK_FEW_SHOT_TOKENS = 25  # each banking77 demonstration (message and label turns; 22 to 27)
BANK_FINETUNED_PROMPT_TOKENS = 36  # mean prompt under the notebook's short fine-tuned system prompt (35.7 to 36.6)
BANK_SEQ_TOKENS = 96  # longest fine-tuning sequence (91 at 6 intents, as published; 93 at 20; 96 at 77)
# label_token_budget: the longest label of the intents banking77_task picks, plus 2 (13 at 6 and at 20 intents,
# the published cpu run's 13); any other count: enough for the longest of all 77 labels.
BANK_LABEL_BUDGET = {6: 13, 20: 13}
BANK_LABEL_BUDGET_MAX = BANK_LABEL_MAX_TOKENS + 2
INTAKE_SEQ_TOKENS = 384  # longest fine-tuning sequence, full instruction (378 at 32 notes, as published; 383 at 300)


def bank_prompt_tokens(n_intents: int, shots: int = 0) -> int:
    """Mean banking77 prompt: notebook 01's label-list prompt plus `shots` demonstrations."""
    return nb01_bank_prompt_tokens(n_intents) + BANK_FEW_SHOT_TOKENS * shots


def intake_prompt_tokens(shots: int = 0) -> int:
    return INTAKE_PROMPT_TOKENS + INTAKE_SHOT_TOKENS * shots


def parameter_count(name: str) -> int:
    """A candidate's parameters from its published architecture, without loading it; 0 for a model the
    cost model does not know ("tiny", a local folder), which then sorts first and is never over the cap."""
    arch = architecture_for(EMBEDDED_UPSTREAM_ID if name.lower() in EMBEDDED_ALIASES else name)
    return arch.params() if arch else 0


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 05 under the settings `cfg` (upper bounds: every
    candidate is assumed to load, so every one within max_scored_params_m is scored).

    Every scored model answers both tasks zero-shot and few-shot; the n_finetuned smallest scored models are
    fine-tuned on each task once per seed (max_steps x batch sequences) and score the task's test set after
    each fine-tune; every candidate, scored or not, is timed serving zero-shot banking77 prompts in a child
    process: one warm-up and n_latency requests one at a time, then one batch of serve_batch_size, each
    generating exactly serve_new_tokens (or the label budget).
    """
    candidates = sorted(dict.fromkeys(cfg.models), key=parameter_count)
    cap = cfg.max_scored_params_m
    scored = [name for name in candidates if cap is None or parameter_count(name) <= cap * 1e6]
    tuned = scored[: cfg.n_finetuned]
    label_budget = BANK_LABEL_BUDGET.get(cfg.n_intents, BANK_LABEL_BUDGET_MAX)
    seeds = len(cfg.seeds)
    finetunes, generations = [], []
    for model in scored:
        bank = dict(model=model, prompts=cfg.bank_n_eval, new_tokens=label_budget, batch_size=cfg.eval_batch_size)
        intake = dict(
            model=model, prompts=cfg.intake_n_eval, new_tokens=cfg.intake_new_tokens, batch_size=cfg.eval_batch_size
        )
        generations += [
            Generation(f"{model} banking77 zero-shot", prompt_tokens=bank_prompt_tokens(cfg.n_intents), **bank),
            Generation(
                f"{model} banking77 few-shot",
                prompt_tokens=bank_prompt_tokens(cfg.n_intents, cfg.bank_few_shot),
                **bank,
            ),
            Generation(f"{model} client intake zero-shot", prompt_tokens=intake_prompt_tokens(), **intake),
            Generation(
                f"{model} client intake few-shot", prompt_tokens=intake_prompt_tokens(cfg.intake_few_shot), **intake
            ),
        ]
        if model in tuned:
            train = dict(model=model, method=cfg.method, lora_r=cfg.lora_r, count=seeds)
            finetunes += [
                FineTune(
                    f"{model} banking77 fine-tuned",
                    sequences=cfg.bank_steps * cfg.bank_batch_size,
                    batch_size=cfg.bank_batch_size,
                    seq_len=BANK_SEQ_TOKENS,
                    answer_share=BANK_ANSWER_TOKENS / BANK_SEQ_TOKENS,
                    **train,
                ),
                FineTune(
                    f"{model} client intake fine-tuned",
                    sequences=cfg.intake_steps * cfg.intake_batch_size,
                    batch_size=cfg.intake_batch_size,
                    seq_len=INTAKE_SEQ_TOKENS,
                    answer_share=INTAKE_ANSWER_TOKENS / INTAKE_SEQ_TOKENS,
                    **train,
                ),
            ]
            generations += [
                Generation(
                    f"{model} banking77 fine-tuned",
                    prompt_tokens=BANK_FINETUNED_PROMPT_TOKENS,
                    count=seeds,
                    **bank,
                ),
                Generation(
                    f"{model} client intake fine-tuned", prompt_tokens=intake_prompt_tokens(), count=seeds, **intake
                ),
            ]
    serve_tokens = cfg.serve_new_tokens or label_budget
    serve = dict(prompt_tokens=bank_prompt_tokens(cfg.n_intents), new_tokens=serve_tokens)
    for model in candidates:
        generations += [
            Generation(f"{model} serving latency", model=model, prompts=cfg.n_latency + 1, batch_size=1, **serve),
            Generation(
                f"{model} serving throughput",
                model=model,
                prompts=cfg.serve_batch_size,
                batch_size=cfg.serve_batch_size,
                **serve,
            ),
        ]
    notes = [
        "every candidate is counted as loadable; offline, a model missing from the local cache is not scored "
        "(timed with random weights of its published shapes), which only lowers the counts",
        "serving probes run in a fresh child process per candidate: its start and model load are not counted",
        "generation budgets are upper bounds: banking77 answers stop after the label, intake answers after the "
        "JSON (about 112 tokens); only the serving probes generate their full budget",
        "the sequence lengths are each task's longest training sequence, so the training tokens bound the padded "
        "tokens (banking77's mean sequence is 45 tokens)",
        "not counted: the closing cell's demo on the learner's own models",
    ]
    return Workload("model_size", finetunes, generations, notes)
