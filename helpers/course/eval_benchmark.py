"""Evaluation throughput benchmark (`python -m helpers benchmark --eval`): the course's generation path
against the naive one on the course's own kinds of evaluation set, with how often they agree.

Paths:
  naive           transformers `generate` on the prompts in their order, 8 at a time, each batch
                  left-padded to its longest prompt: what a first evaluation loop does;
  sorted          the course's path without prefix reuse: prompts sorted by length, so a batch holds
                  little padding;
  course default  sorted, and the prompts' shared start computed once and its cache reused by every
                  batch (helpers.core.generation).
Every path decodes greedily with the same stop tokens, so a prediction that differs comes from the
arithmetic (another batch shape or order), not from the method; each one is listed in the result.
"""

from __future__ import annotations

import time

import torch

from ..core.chat import render_chat, stop_token_ids
from ..core.generation import generate, prompt_token_ids, shared_prefix_length
from ..core.models import LoadedModel

PATHS = ("naive", "sorted", "course default")


def naive_generate(
    loaded: LoadedModel, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 8
) -> list[str]:
    """Greedy answers in input order, `batch_size` at a time, left-padded by the tokenizer."""
    tokenizer = loaded.tokenizer
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    stop_ids = stop_token_ids(loaded.model, tokenizer)
    answers: list[str] = []
    try:
        with torch.inference_mode():
            for start in range(0, len(prompts), batch_size):
                texts = [
                    render_chat(tokenizer, p, add_generation_prompt=True) for p in prompts[start : start + batch_size]
                ]
                inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(loaded.device)
                out = loaded.model.generate(
                    **inputs,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=stop_ids,
                )
                answers += [
                    tokenizer.decode(row[inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
                    for row in out
                ]
    finally:
        tokenizer.padding_side = side
    return answers


def run_path(loaded: LoadedModel, path: str, prompts: list[list[dict]], max_new_tokens: int, batch_size: int) -> dict:
    """One path on one evaluation set: its answers, seconds, items/s and generated tokens/s."""
    started = time.perf_counter()
    if path == "naive":
        answers = naive_generate(loaded, prompts, max_new_tokens)
    elif path in ("sorted", "course default"):
        answers = generate(
            loaded,
            prompts,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            progress=False,
            reuse_prefix=path == "course default",
        )
    else:
        raise ValueError(f"unknown path {path!r}: choose one of {PATHS}")
    seconds = time.perf_counter() - started
    generated = sum(len(loaded.tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
    return {
        "path": path,
        "answers": answers,
        "seconds": round(seconds, 2),
        "items_per_second": len(prompts) / seconds,
        "generated_tokens_per_second": generated / seconds,
    }


def compare_paths(runs: dict[str, dict], baseline: str = "naive") -> list[dict]:
    """Per path: its speed-up over the baseline in items/s, the share of answers identical to the
    baseline's, and every answer that differs (index, baseline, this path)."""
    base = runs[baseline]
    rows = []
    for path, run in runs.items():
        changed = [
            {"item": i, baseline: a, path: b} for i, (a, b) in enumerate(zip(base["answers"], run["answers"])) if a != b
        ]
        rows.append(
            {
                "path": path,
                "seconds": run["seconds"],
                "items_per_second": round(run["items_per_second"], 3),
                "generated_tokens_per_second": round(run["generated_tokens_per_second"], 1),
                "speed_up": round(run["items_per_second"] / base["items_per_second"], 2),
                "identical_share": 1 - len(changed) / len(base["answers"]),
                "changed": changed,
            }
        )
    return rows


def compare_label_likelihood(loaded: LoadedModel, spec: dict, naive: dict, batch_size: int) -> dict:
    """The closed-label option (helpers.core.label_likelihood) on a label set, against greedy generation
    (the naive path's answers): items/s and speed-up, the share of items where both name the same label,
    each item where they differ, and the accuracy of each (a greedy answer that names no label is wrong)."""
    from ..core.label_likelihood import rank_labels
    from ..core.scoring import extract_label

    labels, references = spec["labels"], spec["references"]
    started = time.perf_counter()
    ranking = rank_labels(loaded, spec["prompts"], labels, batch_size=batch_size, progress=False)
    seconds = time.perf_counter() - started
    greedy = [extract_label(answer, labels) for answer in naive["answers"]]
    changed = [
        {"item": i, "greedy": g, "likelihood": p} for i, (g, p) in enumerate(zip(greedy, ranking.predictions)) if g != p
    ]
    items_per_second = len(references) / seconds
    print(f"{'label likelihood (option)':<46} {seconds:7.1f} s, {items_per_second:.2f} items/s")
    return {
        "path": "label likelihood (option)",
        "seconds": round(seconds, 2),
        "items_per_second": round(items_per_second, 3),
        "speed_up": round(items_per_second / naive["items_per_second"], 2),
        "same_label_share": 1 - len(changed) / len(references),
        "accuracy": sum(p == r for p, r in zip(ranking.predictions, references)) / len(references),
        "greedy_accuracy": sum(g == r for g, r in zip(greedy, references)) / len(references),
        "changed": changed,
    }


def evaluation_sets(cfg) -> dict[str, dict]:
    """The benchmark's evaluation sets, one per kind the course evaluates: a closed label set
    (banking77, as notebook 00 prompts it), JSON extraction (client intake, few-shot, as notebook 05
    prompts it) and short answers with retrieved documents (notebook 03's RAG prompts)."""
    from ..core.retrieval import BM25Retriever
    from ..data.intake_task import intake_task
    from ..data.knowledge_base import build_knowledge_base, question_sets
    from ..data.task_library import banking77_task
    from ..experiments.nb03_hallucination import with_retrieval

    bank = banking77_task(cfg.bank_intents, cfg.bank_n_train, cfg.bank_n_eval)
    intake = intake_task(n_train=cfg.intake_n_train, n_eval=cfg.intake_n_eval)
    kb = build_knowledge_base(cfg.kb_per_kind, seed=0)
    sets = question_sets(kb, cfg.kb_train_facts, cfg.kb_per_set, seed=0)
    questions = [ex for name in ("seen", "unseen", "unanswerable") for ex in sets[name]]
    rag = with_retrieval(questions, BM25Retriever(kb.documents), cfg.top_k)
    return {
        "banking77 labels": {
            "prompts": bank.prompts(),
            "max_new_tokens": cfg.bank_new_tokens,
            "source": bank.dataset_info(),
            "labels": bank.labels,
            "references": [ex.reference for ex in bank.eval],
        },
        "client-intake JSON": {
            "prompts": intake.prompts(few_shot=cfg.intake_few_shot),
            "max_new_tokens": cfg.intake_new_tokens,
            "source": intake.dataset_info(),
        },
        "short answers with retrieval": {
            "prompts": [ex.prompt for ex in rag],
            "max_new_tokens": cfg.kb_new_tokens,
            "source": {"dataset": "fictional knowledge base", "seed": kb.seed, "questions": len(rag)},
        },
    }


def run(profile: str, run_dir=None, publish: bool = False, models: list[str] | None = None) -> int:
    """`python -m helpers benchmark --eval`: time every path on every set, compare, write a record."""
    from datetime import datetime
    from pathlib import Path

    from ..core import plots, records
    from ..core.models import load_model
    from ..core.paths import RUNS_DIR
    from . import profiles
    from .runner import publish_results

    cfg = profiles.settings("eval_benchmark", profile, models=models)
    run_dir = Path(run_dir or RUNS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-benchmark-eval-{cfg.profile}")
    out = run_dir / "results"
    out.mkdir(parents=True, exist_ok=True)
    plots.apply_style()
    started = time.perf_counter()
    loaded = load_model(cfg.models[0])
    sets = evaluation_sets(cfg)
    comparisons, prompt_shapes, likelihood = {}, {}, {}
    for name, spec in sets.items():
        encoded = prompt_token_ids(loaded.tokenizer, spec["prompts"])
        prompt_shapes[name] = {
            "items": len(encoded),
            "mean_prompt_tokens": round(sum(map(len, encoded)) / len(encoded), 1),
            "shared_prefix_tokens": shared_prefix_length(encoded),
            "max_new_tokens": spec["max_new_tokens"],
        }
        runs = {}
        for path in PATHS:
            runs[path] = run_path(loaded, path, spec["prompts"], spec["max_new_tokens"], cfg.eval_batch_size)
            print(f"{name:<30} {path:<15} {runs[path]['seconds']:7.1f} s, {runs[path]['items_per_second']:.2f} items/s")
        comparisons[name] = compare_paths(runs)
        if spec.get("labels"):
            likelihood[name] = compare_label_likelihood(loaded, spec, runs["naive"], cfg.eval_batch_size)
    figure = plots.save_figure(
        plot(comparisons, cfg.profile, f"{cfg.models[0]}, {cfg.profile} profile"), out / "benchmark_eval.png"
    )
    default = {name: next(r for r in rows if r["path"] == "course default") for name, rows in comparisons.items()}
    record = records.build_record(
        experiment="benchmark_eval",
        profile=cfg.profile,
        parameters=vars(cfg),
        models=[loaded.info()],
        datasets=[{"set": name, **spec["source"]} for name, spec in sets.items()],
        seeds=cfg.seeds,
        metrics={"prompt_shapes": prompt_shapes, "comparison": comparisons, "label_likelihood_option": likelihood},
        timings={"benchmark_seconds": round(time.perf_counter() - started, 1)},
        headline={
            "label": "course default vs naive, items/s (identical answers)",
            "value": ", ".join(
                f"{name} {r['speed_up']:.2f}x ({r['identical_share']:.0%})" for name, r in default.items()
            ),
        },
        extra={"figures": [figure.name], "paths": list(PATHS)},
    )
    path = records.write_record(record, out, "benchmark_eval")
    print(f"wrote {path}")
    if publish:
        print(f"published to {publish_results([path, figure], cfg.profile)}")
    return 0


def plot(comparisons: dict[str, list[dict]], profile: str, subtitle: str):
    """Items per second per path, one group of bars per evaluation set, speed-up over naive on top."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ..core import plots

    fig, ax = plt.subplots(figsize=(9, 4.2))
    names = list(comparisons)
    width = 0.8 / len(PATHS)
    for j, path in enumerate(PATHS):
        rows = [next(r for r in comparisons[name] if r["path"] == path) for name in names]
        xs = np.arange(len(names)) + (j - (len(PATHS) - 1) / 2) * width
        bars = ax.bar(xs, [r["items_per_second"] for r in rows], width, label=path, color=plots.PALETTE[j])
        for bar, row in zip(bars, rows):
            ax.annotate(
                f"{row['speed_up']:.1f}x",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("items per second")
    ax.set_title(f"Evaluation throughput: {subtitle}")
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig
