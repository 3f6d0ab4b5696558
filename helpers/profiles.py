"""The three run profiles and each notebook's defaults under them.

smoke: the tiny code-built model, seconds, for CI: checks the plumbing, measures nothing.
cpu:   the embedded SmolLM2-135M, minutes on a laptop-class CPU, reduced grids: real but small.
gpu:   hub models, full grids, several seeds, one GPU.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

PROFILES = ("smoke", "cpu", "gpu")

NOTEBOOK_DEFAULTS: dict[str, dict[str, dict]] = {
    "quickstart": {
        "smoke": dict(model="tiny", n_intents=4, n_train=32, n_eval=24, epochs=2.0, batch_size=8, seeds=[0], max_new_tokens=8),
        "cpu": dict(model="smollm2-135m", n_intents=6, n_train=160, n_eval=120, epochs=2.0, batch_size=8, seeds=[0], max_new_tokens=12),
        "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct", n_intents=10, n_train=300, n_eval=400, epochs=2.0, batch_size=16, seeds=[0, 1, 2], max_new_tokens=12),
    },
    "data_size": {
        "smoke": dict(model="tiny", method="lora", learning_rate=1e-3, steps=4, batch_size=4, seeds=[0], n_eval=8, few_shot=1, eval_batch_size=16,
                      clean_sizes=[8, 16], noisy_sizes=[32], noise_rates=[0.4], max_new_tokens=16,
                      bank_intents=4, bank_clean_sizes=[8], bank_noisy_sizes=[32], bank_noise_rates=[0.4], bank_n_eval=8),
        "cpu": dict(model="smollm2-135m", method="lora", learning_rate=1e-3, steps=8, batch_size=4, seeds=[0], n_eval=24, few_shot=1, eval_batch_size=24,
                    clean_sizes=[8, 16, 32], noisy_sizes=[64], noise_rates=[0.4], max_new_tokens=116,
                    bank_intents=6, bank_clean_sizes=[48], bank_noisy_sizes=[192], bank_noise_rates=[0.4], bank_n_eval=60),
        "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct", method="qlora", learning_rate=2e-4, steps=250, batch_size=16, seeds=[0, 1, 2], eval_batch_size=64,
                    n_eval=300, few_shot=3, clean_sizes=[50, 100, 250, 500, 1000], noisy_sizes=[2000, 5000], noise_rates=[0.2, 0.4],
                    max_new_tokens=128, bank_intents=77, bank_clean_sizes=[100, 250, 500, 1000], bank_noisy_sizes=[2500],
                    bank_noise_rates=[0.2, 0.4], bank_n_eval=770),
    },
    "peft_cost": {
        "smoke": dict(model="tiny", n_intents=4, n_train=32, n_val=8, n_eval=16, steps=4, batch_size=8, seeds=[0],
                      full_lrs=[1e-3], lora_lrs=[3e-3], qlora_lrs=[3e-3], ranks=[4, 16], sweep_rank=16, attention_ranks=[16],
                      mmlu_n=16, mmlu_max_chars=400, probe_steps=2, max_new_tokens=None, eval_batch_size=32),
        "cpu": dict(model="smollm2-135m", n_intents=6, n_train=96, n_val=36, n_eval=120, steps=12, batch_size=8, seeds=[0],
                    full_lrs=[3e-4, 1e-3], lora_lrs=[3e-3, 1e-2], qlora_lrs=[1e-3, 3e-3], ranks=[16, 64], sweep_rank=16,
                    attention_ranks=[16], mmlu_n=48, mmlu_max_chars=300, probe_steps=2, max_new_tokens=None, eval_batch_size=64),
        "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct", n_intents=20, n_train=500, n_val=100, n_eval=600, steps=100, batch_size=16,
                    seeds=[0, 1, 2], full_lrs=[1e-5, 3e-5, 1e-4], lora_lrs=[1e-4, 3e-4, 1e-3], qlora_lrs=[1e-4, 3e-4, 1e-3], ranks=[4, 16, 64],
                    sweep_rank=16, attention_ranks=[4, 16, 64], mmlu_n=500, mmlu_max_chars=700, probe_steps=10, max_new_tokens=None, eval_batch_size=128),
    },
    "hallucination": {
        "smoke": dict(model="tiny", method="lora", learning_rate=3e-3, batch_size=8, seeds=[0], kb_per_kind=3, n_train_facts=6, n_per_set=3,
                      qa_epochs=1.0, rag_train_facts=4, n_abstain=2, rag_epochs=1.0, top_k=2, max_new_tokens=8, eval_batch_size=64,
                      eq_relations=["P17", "P36"], eq_candidates=24, eq_n_train=8, eq_shares=[0.0, 1.0], eq_early_epochs=1.0, eq_long_epochs=2.0, eq_n_eval=16),
        "cpu": dict(model="smollm2-135m", method="lora", learning_rate=3e-3, batch_size=8, seeds=[0], kb_per_kind=20, n_train_facts=48, n_per_set=24,
                    qa_epochs=6.0, rag_train_facts=24, n_abstain=12, rag_epochs=2.0, top_k=2, max_new_tokens=16, eval_batch_size=64,
                    eq_relations=["P36", "P176", "P407", "P495", "P19"], eq_candidates=400, eq_n_train=24, eq_shares=[0.0, 0.5, 1.0],
                    eq_early_epochs=2.0, eq_long_epochs=10.0, eq_n_eval=40),
        "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct", method="qlora", learning_rate=5e-4, batch_size=16, seeds=[0, 1, 2], kb_per_kind=50,
                    n_train_facts=200, n_per_set=60, qa_epochs=8.0, rag_train_facts=100, n_abstain=50, rag_epochs=2.0, top_k=3, max_new_tokens=24,
                    eval_batch_size=128, eq_relations=["P17", "P495", "P36", "P19", "P407", "P50", "P176", "P26"], eq_candidates=3000, eq_n_train=200,
                    eq_shares=[0.0, 0.25, 0.5, 0.75, 1.0], eq_early_epochs=2.0, eq_long_epochs=20.0, eq_n_eval=300),
    },
    "one_and_done": {
        "smoke": dict(model="tiny", method="lora", learning_rate=3e-3, epochs=1.0, batch_size=8, seeds=[0], n_periods=3, n_products=6, n_train0=16,
                      n_new=8, replay_share=0.5, n_eval=6, n_traffic=40, n_canary=8, top_k=2, max_new_tokens=8, eval_batch_size=64,
                      clinc_periods=2, clinc_intents_per_period=2, clinc_train_per_intent=4, clinc_eval_per_intent=4),
        "cpu": dict(model="smollm2-135m", method="lora", learning_rate=3e-3, epochs=3.0, batch_size=8, seeds=[0], n_periods=3, n_products=12,
                    n_train0=80, n_new=32, replay_share=0.5, n_eval=16, n_traffic=100, n_canary=16, top_k=2, max_new_tokens=12, eval_batch_size=64,
                    clinc_periods=3, clinc_intents_per_period=3, clinc_train_per_intent=8, clinc_eval_per_intent=8),
        "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct", method="qlora", learning_rate=5e-4, epochs=3.0, batch_size=16, seeds=[0, 1, 2],
                    n_periods=4, n_products=30, n_train0=400, n_new=160, replay_share=0.5, n_eval=60, n_traffic=200, n_canary=50, top_k=2,
                    max_new_tokens=16, eval_batch_size=128, clinc_periods=4, clinc_intents_per_period=10, clinc_train_per_intent=50,
                    clinc_eval_per_intent=20),
    },
    "model_size": {
        "smoke": dict(models=["tiny", "HuggingFaceTB/SmolLM2-135M-Instruct"], max_scored_params_m=None, n_finetuned=1, method="qlora",
                      learning_rate=3e-3, lora_r=16, seeds=[0], n_intents=4, bank_n_train=16, bank_n_eval=12, bank_steps=2, bank_batch_size=8,
                      bank_few_shot=2, intake_n_train=8, intake_n_eval=6, intake_steps=2, intake_batch_size=4, intake_few_shot=1,
                      intake_new_tokens=16, eval_batch_size=32, n_latency=1, serve_batch_size=2, serve_new_tokens=2, price_per_hour=0.10),
        "cpu": dict(models=["smollm2-135m", "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct"], max_scored_params_m=500,
                    n_finetuned=1, method="qlora", learning_rate=1e-3, lora_r=64, seeds=[0], n_intents=6, bank_n_train=96, bank_n_eval=120,
                    bank_steps=12, bank_batch_size=8, bank_few_shot=3, intake_n_train=32, intake_n_eval=24, intake_steps=8, intake_batch_size=4,
                    intake_few_shot=1, intake_new_tokens=116, eval_batch_size=64, n_latency=6, serve_batch_size=8, serve_new_tokens=None,
                    price_per_hour=0.10),
        "gpu": dict(models=["HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct"],
                    max_scored_params_m=None, n_finetuned=3, method="qlora", learning_rate=3e-4, lora_r=64, seeds=[0, 1, 2], n_intents=20,
                    bank_n_train=500, bank_n_eval=600, bank_steps=100, bank_batch_size=16, bank_few_shot=5, intake_n_train=300, intake_n_eval=200,
                    intake_steps=100, intake_batch_size=16, intake_few_shot=2, intake_new_tokens=128, eval_batch_size=128, n_latency=50,
                    serve_batch_size=32, serve_new_tokens=None, price_per_hour=2.5),
    },
    "benchmark": {  # `python -m helpers benchmark`: training throughput, course default against a naive baseline
        "smoke": dict(models=["tiny"], methods=["full", "lora", "qlora"], n_examples=8, steps=2, batch_size=4, seeds=[0],
                      learning_rates={"full": 1e-4, "lora": 1e-3, "qlora": 1e-3}, levers=["length grouping", "bf16 autocast", "answer-only logits"],
                      default_levers=["length grouping", "bf16 autocast", "answer-only logits"]),
        "cpu": dict(models=["smollm2-135m"], methods=["full", "lora", "qlora"], n_examples=16, steps=4, batch_size=4, seeds=[0],
                    learning_rates={"full": 1e-4, "lora": 1e-3, "qlora": 1e-3}, levers=["length grouping", "bf16 autocast", "answer-only logits"],
                    default_levers=["length grouping", "bf16 autocast", "answer-only logits"]),
        # gpu: published shapes with random weights (no download; speed and memory depend on shapes only)
        "gpu": dict(models=["random:Qwen2.5-0.5B", "random:Qwen2.5-1.5B", "random:Qwen2.5-7B"], methods=["full", "lora", "qlora"],
                    n_examples=256, steps=32, batch_size=8,
                    seeds=[0], learning_rates={"full": 1e-5, "lora": 2e-4, "qlora": 2e-4}, levers=["length grouping", "bf16 autocast", "answer-only logits"],
                    default_levers=["length grouping", "bf16 autocast", "answer-only logits"]),
    },
}


# Which NOTEBOOK_DEFAULTS entry each result file (named after its notebook) was produced with.
EXPERIMENT_SETTINGS = {
    "00_quickstart": "quickstart",
    "01_data_size": "data_size",
    "02_peft_cost": "peft_cost",
    "03_hallucination": "hallucination",
    "04_one_and_done": "one_and_done",
    "05_model_size": "model_size",
    "benchmark_training": "benchmark",
}


def default_profile() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def settings(notebook: str, profile: str | None = None, **overrides) -> SimpleNamespace:
    """The notebook's defaults for `profile`, with every override that is not None applied."""
    profile = profile or default_profile()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {PROFILES}")
    if notebook not in NOTEBOOK_DEFAULTS:
        raise ValueError(f"no defaults for notebook {notebook!r}: known {sorted(NOTEBOOK_DEFAULTS)}")
    values = dict(NOTEBOOK_DEFAULTS[notebook][profile])
    unknown = set(overrides) - set(values)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {notebook}: {sorted(unknown)}; known: {sorted(values)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimpleNamespace(profile=profile, **values)
