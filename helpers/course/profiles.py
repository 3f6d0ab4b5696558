"""The run profiles and each notebook's defaults under them.

smoke: the tiny code-built model, seconds, for CI: checks the plumbing, measures nothing.
cpu:   the embedded SmolLM2-135M, minutes on a laptop-class CPU, reduced grids: real but small.
The GPU tiers, each sized by the course plan (helpers.course.plan) to fit the card it is named for:
t4:    a 16 GB T4 (Colab's free GPU; fp16, no bf16): one seed, at most TIERS["t4"] minutes per notebook.
gpu:   a 24 GB card (L4, A10G, RTX 4090): three seeds, at most TIERS["gpu"] minutes per notebook.
full:  an 80 GB card (A100, H100): hub models, full grids, three seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

PROFILES = ("smoke", "cpu", "t4", "gpu", "full")
GPU_TIERS = ("t4", "gpu", "full")


@dataclass(frozen=True)
class Tier:
    """What a GPU tier is sized for: the card its plan is priced on, its memory, and minutes per notebook."""

    gpu: str  # a helpers.core.gpus.GPU_SPECS name
    memory_gb: float
    minutes_per_notebook: float


TIERS = {
    "t4": Tier("T4", 16, 30),  # a Colab session or a workshop slot: one notebook in half an hour
    "gpu": Tier("L4", 24, 90),  # the slowest common 24 GB card
    "full": Tier("A100", 80, 240),
}

NOTEBOOK_DEFAULTS: dict[str, dict[str, dict]] = {
    "quickstart": {
        "smoke": dict(
            model="tiny",
            n_intents=4,
            n_train=32,
            n_eval=24,
            epochs=2.0,
            batch_size=8,
            learning_rate=None,
            seeds=[0],
            max_new_tokens=8,
        ),
        "cpu": dict(
            model="smollm2-135m",
            n_intents=6,
            n_train=160,
            n_eval=120,
            epochs=2.0,
            batch_size=8,
            learning_rate=None,
            seeds=[0, 1, 2],
            max_new_tokens=12,
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            n_intents=10,
            n_train=300,
            n_eval=400,
            epochs=2.0,
            batch_size=16,
            learning_rate=None,
            seeds=[0, 1, 2],
            max_new_tokens=12,
        ),
    },
    "data_size": {
        "smoke": dict(
            model="tiny",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            epochs=1.0,
            batch_size=4,
            seeds=[0],
            n_eval=8,
            n_val=8,
            few_shot=1,
            eval_batch_size=16,
            clean_sizes=[4, 8],
            noisy_sizes=[16],
            noise_rates=[0.4],
            max_new_tokens=16,  # the tiny model never stops: a measured budget would only cost time
            bank_intents=4,
            bank_epochs=1.0,
            bank_clean_sizes=[8],
            bank_noisy_sizes=[16],
            bank_noise_rates=[0.4],
            bank_n_eval=8,
            bank_n_val=8,
            bank_max_new_tokens=12,
        ),
        "cpu": dict(
            model="smollm2-135m",
            method="lora",
            lora_r=64,
            learning_rate=None,
            lr_grid=[3e-4, 1e-3, 3e-3],
            max_extensions=1,
            epochs=1.0,
            batch_size=4,
            seeds=[0, 1, 2],
            n_eval=24,
            n_val=16,
            few_shot=1,
            eval_batch_size=24,
            clean_sizes=[8, 16, 32],
            noisy_sizes=[64],
            noise_rates=[0.4],
            max_new_tokens=None,
            bank_intents=10,  # the most intents whose smallest training pool still holds 512 balanced examples
            bank_epochs=1.0,
            bank_clean_sizes=[32, 128],
            bank_noisy_sizes=[512],  # hundreds clean against the claim's larger noisy set, seen in full
            bank_noise_rates=[0.4],
            bank_n_eval=150,
            bank_n_val=60,
            bank_max_new_tokens=12,
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            method="qlora",
            lora_r=64,
            learning_rate=None,
            lr_grid=[1e-4, 3e-4, 1e-3],
            max_extensions=2,
            epochs=2.0,
            batch_size=16,
            seeds=[0, 1, 2],
            n_eval=300,
            n_val=150,
            few_shot=3,
            eval_batch_size=64,
            clean_sizes=[50, 100, 250, 500, 1000],
            noisy_sizes=[2000, 5000],
            noise_rates=[0.2, 0.4],
            max_new_tokens=None,
            bank_intents=77,
            bank_epochs=1.0,
            bank_clean_sizes=[100, 250, 500, 1000],
            bank_noisy_sizes=[2500],
            bank_noise_rates=[0.2, 0.4],
            bank_n_eval=770,
            bank_n_val=385,
            bank_max_new_tokens=12,
        ),
    },
    "peft_cost": {
        "smoke": dict(
            model="tiny",
            n_intents=4,
            n_train=8,
            n_val=8,
            n_eval=16,
            epochs=2,
            batch_size=8,
            seeds=[0, 1],
            full_lrs=[3e-4, 1e-3, 3e-3],
            lora_lrs=[1e-3, 3e-3, 1e-2],
            qlora_lrs=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            ranks=[16],
            placement_rank=16,
            attention_ranks=[16],
            mmlu_n=16,
            mmlu_max_chars=400,
            probe_steps=2,
            max_new_tokens=None,
            eval_batch_size=32,
            quality_margin=0.05,
            memory_factor=2.0,
            price_per_gpu_hour=2.5,
            train_tokens=20e6,
            utilisation=0.35,
            fit_batch_size=4,
            fit_seq_len=1024,
        ),
        "cpu": dict(
            model="smollm2-135m",
            n_intents=6,
            n_train=36,
            n_val=48,
            n_eval=96,
            epochs=2,
            batch_size=4,
            seeds=[0, 1, 2],
            full_lrs=[1e-4, 3e-4, 1e-3],
            lora_lrs=[3e-4, 1e-3, 3e-3],
            qlora_lrs=[3e-4, 1e-3, 3e-3],
            max_extensions=2,
            ranks=[16, 64],
            placement_rank=16,
            attention_ranks=[16],
            mmlu_n=48,
            mmlu_max_chars=300,
            probe_steps=2,
            max_new_tokens=None,
            eval_batch_size=64,
            quality_margin=0.05,
            memory_factor=2.0,
            price_per_gpu_hour=2.5,
            train_tokens=20e6,
            utilisation=0.35,
            fit_batch_size=4,
            fit_seq_len=1024,
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            n_intents=20,
            n_train=500,
            n_val=100,
            n_eval=600,
            epochs=3,
            batch_size=16,
            seeds=[0, 1, 2],
            full_lrs=[1e-5, 3e-5, 1e-4],
            lora_lrs=[1e-4, 3e-4, 1e-3],
            qlora_lrs=[1e-4, 3e-4, 1e-3],
            max_extensions=2,
            ranks=[4, 16, 64],
            placement_rank=16,
            attention_ranks=[4, 16, 64],
            mmlu_n=500,
            mmlu_max_chars=700,
            probe_steps=10,
            max_new_tokens=None,
            eval_batch_size=128,
            quality_margin=0.05,
            memory_factor=2.0,
            price_per_gpu_hour=2.5,
            train_tokens=20e6,
            utilisation=0.35,
            fit_batch_size=4,
            fit_seq_len=1024,
        ),
    },
    "hallucination": {
        "smoke": dict(
            model="tiny",
            method="lora",
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            batch_size=8,
            seeds=[0, 1],
            kb_per_kind=3,
            n_train_facts=6,
            n_per_set=3,
            qa_epochs=1.0,
            rag_train_facts=4,
            n_abstain=2,
            rag_epochs=1.0,
            top_k=2,
            n_val=2,
            max_new_tokens=8,
            eval_batch_size=64,
            eq_relations=["P17", "P36"],
            eq_candidates=24,
            eq_n_train=8,
            eq_shares=[0.0, 1.0],
            eq_early_epochs=1.0,
            eq_long_epochs=2.0,
            eq_n_eval=16,
        ),
        "cpu": dict(
            model="smollm2-135m",
            method="lora",
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            batch_size=8,
            seeds=[0, 1, 2],
            kb_per_kind=20,
            n_train_facts=24,
            n_per_set=24,
            qa_epochs=6.0,
            rag_train_facts=16,
            n_abstain=8,
            rag_epochs=2.0,
            top_k=2,
            n_val=12,
            max_new_tokens=16,
            eval_batch_size=64,
            eq_relations=["P36", "P176", "P407", "P495"],
            eq_candidates=400,
            eq_n_train=16,
            eq_shares=[0.0, 1.0],
            eq_early_epochs=2.0,
            eq_long_epochs=8.0,
            eq_n_eval=40,
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            method="qlora",
            learning_rate=None,
            lr_grid=[1.5e-4, 5e-4, 1.5e-3],
            max_extensions=2,
            batch_size=16,
            seeds=[0, 1, 2],
            kb_per_kind=50,
            n_train_facts=200,
            n_per_set=60,
            qa_epochs=8.0,
            rag_train_facts=100,
            n_abstain=50,
            rag_epochs=2.0,
            top_k=3,
            n_val=30,
            max_new_tokens=24,
            eval_batch_size=128,
            eq_relations=["P17", "P495", "P36", "P19", "P407", "P50", "P176", "P26"],
            eq_candidates=3000,
            eq_n_train=200,
            eq_shares=[0.0, 0.25, 0.5, 0.75, 1.0],
            eq_early_epochs=2.0,
            eq_long_epochs=20.0,
            eq_n_eval=300,
        ),
    },
    "one_and_done": {
        "smoke": dict(
            model="tiny",
            method="lora",
            learning_rate=None,  # None: swept per strategy (lr_grid); a float trains everything at it
            lr_grid=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            epochs=1.0,
            batch_size=8,
            seeds=[0, 1],
            n_periods=3,
            n_products=6,
            n_train0=16,
            n_new=8,
            replay_share=0.5,
            n_eval=6,
            n_traffic=40,
            n_canary=8,
            n_val=6,
            top_k=2,
            retrieval_seeds=1,
            max_new_tokens=8,
            eval_batch_size=64,
            clinc_periods=2,
            clinc_intents_per_period=2,
            clinc_train_per_intent=4,
            clinc_eval_per_intent=4,
            clinc_val_per_intent=4,
        ),
        "cpu": dict(
            model="smollm2-135m",
            method="lora",
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],  # centred on 3e-3, the fixed rate of the runs before the sweeps
            max_extensions=1,
            epochs=3.0,
            batch_size=8,
            seeds=[0, 1, 2],
            n_periods=3,
            n_products=12,
            n_train0=80,
            n_new=32,
            replay_share=0.5,
            n_eval=16,
            n_traffic=100,
            n_canary=16,
            n_val=24,
            top_k=2,
            retrieval_seeds=1,
            max_new_tokens=12,
            eval_batch_size=64,
            clinc_periods=2,
            clinc_intents_per_period=2,
            clinc_train_per_intent=8,
            clinc_eval_per_intent=8,
            clinc_val_per_intent=8,
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            method="qlora",
            learning_rate=None,
            lr_grid=[1.5e-4, 5e-4, 1.5e-3],  # centred on 5e-4, the fixed rate of the runs before the sweeps
            max_extensions=2,
            epochs=3.0,
            batch_size=16,
            seeds=[0, 1, 2],
            n_periods=4,
            n_products=30,
            n_train0=400,
            n_new=160,
            replay_share=0.5,
            n_eval=60,
            n_traffic=200,
            n_canary=50,
            n_val=60,
            top_k=2,
            retrieval_seeds=3,
            max_new_tokens=16,
            eval_batch_size=128,
            clinc_periods=4,
            clinc_intents_per_period=10,
            clinc_train_per_intent=50,
            clinc_eval_per_intent=20,
            clinc_val_per_intent=10,
        ),
    },
    "model_size": {
        "smoke": dict(
            models=["tiny", "HuggingFaceTB/SmolLM2-135M-Instruct"],
            max_scored_params_m=None,
            n_finetuned=1,
            method="qlora",
            learning_rate=3e-3,
            lora_r=16,
            seeds=[0],
            n_intents=4,
            bank_n_train=16,
            bank_n_eval=12,
            bank_steps=2,
            bank_batch_size=8,
            bank_few_shot=2,
            intake_n_train=8,
            intake_n_eval=6,
            intake_steps=2,
            intake_batch_size=4,
            intake_few_shot=1,
            intake_new_tokens=16,
            eval_batch_size=32,
            n_latency=1,
            serve_batch_size=2,
            serve_new_tokens=2,
            price_per_hour=0.10,
            quality_margin=0.05,
            cost_factor=5.0,
        ),
        "cpu": dict(
            models=["smollm2-135m", "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct"],
            max_scored_params_m=500,
            n_finetuned=1,
            method="qlora",
            learning_rate=1e-3,
            lora_r=64,
            seeds=[0, 1, 2],
            n_intents=6,
            bank_n_train=96,
            bank_n_eval=120,
            bank_steps=12,
            bank_batch_size=8,
            bank_few_shot=3,
            intake_n_train=32,
            intake_n_eval=24,
            intake_steps=8,
            intake_batch_size=4,
            intake_few_shot=1,
            intake_new_tokens=116,
            eval_batch_size=64,
            n_latency=6,
            serve_batch_size=8,
            serve_new_tokens=None,
            price_per_hour=0.10,
            quality_margin=0.05,
            cost_factor=5.0,
        ),
        "full": dict(
            models=[
                "HuggingFaceTB/SmolLM2-135M-Instruct",
                "HuggingFaceTB/SmolLM2-360M-Instruct",
                "HuggingFaceTB/SmolLM2-1.7B-Instruct",
            ],
            max_scored_params_m=None,
            n_finetuned=3,
            method="qlora",
            learning_rate=3e-4,
            lora_r=64,
            seeds=[0, 1, 2],
            n_intents=20,
            bank_n_train=500,
            bank_n_eval=600,
            bank_steps=100,
            bank_batch_size=16,
            bank_few_shot=5,
            intake_n_train=300,
            intake_n_eval=200,
            intake_steps=100,
            intake_batch_size=16,
            intake_few_shot=2,
            intake_new_tokens=128,
            eval_batch_size=128,
            n_latency=50,
            serve_batch_size=32,
            serve_new_tokens=None,
            price_per_hour=2.5,
            quality_margin=0.05,
            cost_factor=5.0,
        ),
    },
    "prompt_or_finetune": {
        "smoke": dict(
            model="tiny",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            epochs=1.0,
            min_steps=2,
            batch_size=4,
            seeds=[0],
            n_intents=4,
            ft_sizes=[4, 8],
            n_test=8,
            n_val=8,
            shots=2,
            many_shot_tokens=96,
            eval_batch_size=16,
            many_shot_batch_size=8,
            n_latency=1,
            serve_batch_size=2,
            price_per_hour=0.10,
            intake_ft_sizes=[2, 4],  # client intake on: notes in each pool (empty: no intake ladders)
            intake_n_test=4,
            intake_n_val=4,
            intake_shots=1,
            intake_many_shot_tokens=512,  # the tiny model's 1,024-token context leaves room for none
            intake_max_new_tokens=24,
        ),
        "cpu": dict(
            model="smollm2-135m",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],  # centred on 3e-3, the measured LoRA default for models up to 0.5B
            max_extensions=1,
            epochs=2.0,
            min_steps=6,
            batch_size=8,
            seeds=[0, 1, 2],
            n_intents=10,
            ft_sizes=[10, 20, 40],  # 1, 2 and 4 per intent: banking77 is 12 of the notebook's 64 minutes
            n_test=50,
            n_val=30,
            shots=4,
            many_shot_tokens=384,  # a time budget on 2 cores: about 15 demonstrations, far below the 8k context
            eval_batch_size=16,
            many_shot_batch_size=8,
            n_latency=4,
            serve_batch_size=8,
            price_per_hour=0.10,
            # Client intake: its two ladders on 8, 16 and 32 notes. Each JSON answer generates about 111 tokens at
            # about 0.4 notes a second on 2 cores, so the test and validation sets are small (as notebook 01's
            # intake arms) and many-shot stops at 1,024 tokens of demonstrations (about 4 notes).
            intake_ft_sizes=[8, 16, 32],
            intake_n_test=24,
            intake_n_val=12,
            intake_shots=2,
            intake_many_shot_tokens=1024,
            intake_max_new_tokens=None,
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-4, 3e-4, 1e-3],
            max_extensions=2,
            epochs=2.0,
            min_steps=20,
            batch_size=16,
            seeds=[0, 1, 2],
            n_intents=20,
            ft_sizes=[20, 40, 80, 160, 320, 640],
            n_test=400,
            n_val=200,
            shots=5,
            many_shot_tokens=6000,  # the 8k context less room for the query and the answer
            eval_batch_size=64,
            many_shot_batch_size=4,
            n_latency=20,
            serve_batch_size=32,
            price_per_hour=2.5,
            intake_ft_sizes=[10, 20, 40, 80, 160, 320],  # notes per pool, spread over the 8 matter types
            intake_n_test=200,
            intake_n_val=100,
            intake_shots=3,  # about 224 tokens per demonstration
            intake_many_shot_tokens=6000,  # about 26 demonstrations within the 8k context
            intake_max_new_tokens=None,  # the longest training or validation target plus 16
        ),
    },
    "synthetic_data": {
        "smoke": dict(
            model="tiny",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],
            max_extensions=1,
            epochs=1.0,
            batch_size=4,
            seeds=[0],
            descriptive_seeds=None,
            n_intents=4,
            n_seed=8,
            ratios=[1, 2, 4],
            n_large=32,
            n_test=8,
            n_val=8,
            generators=["course model", "rule"],
            larger_generator="tiny",
            shots=2,
            temperature=1.0,
            top_p=0.95,
            gen_max_new_tokens=16,
            gen_batch_size=16,
            eval_batch_size=16,
            filter_k=3,
            margin=0.05,
            intake_n_seed=4,  # on, at a few notes: the plumbing of the intake arms
            intake_ratios=[1, 4],
            intake_n_large=16,
            intake_n_test=4,
            intake_n_val=4,
            intake_shots=1,
            intake_epochs=1.0,
            intake_gen_max_new_tokens=24,
            intake_max_new_tokens=24,
        ),
        "cpu": dict(
            model="smollm2-135m",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-3, 3e-3, 1e-2],  # centred on 3e-3, the measured LoRA default for models up to 0.5B
            max_extensions=1,
            epochs=1.0,  # passes over the largest arm (160 examples: 20 steps), the same steps for every arm
            batch_size=8,
            seeds=[0, 1, 2],
            descriptive_seeds=1,  # the arms no verdict compares (1:1, rule) run one seed at a borrowed rate
            n_intents=8,  # 8 rather than 10 keeps six swept verdict arms within about 45 minutes on 2 cores
            n_seed=32,  # 4 real messages per intent
            ratios=[1, 4],  # 32 and 128 synthetic messages beside the 32 real ones
            n_large=128,  # as many real messages as the largest synthetic set: the ceiling
            n_test=120,  # 15 per intent
            n_val=48,  # 6 per intent
            generators=["course model", "rule"],
            larger_generator=None,  # no hub model offline
            shots=4,
            temperature=1.0,
            top_p=0.95,
            gen_max_new_tokens=32,  # only the first line is used; generation stops at its line break
            gen_batch_size=16,
            eval_batch_size=16,
            filter_k=3,
            # Non-inferiority margin of "synthetic alone matches real", in accuracy: 5 points, set in advance as
            # the loss a team would accept for not labelling the real messages; the verdict shows its interval.
            # The intake arms use the same 5 points, of field F1.
            margin=0.05,
            # Client intake at the smallest size that keeps the design: 8 real notes, 8 and 32 generated beside
            # them, 32 real as the ceiling (intake_jobs: up to 38 fine-tunes of 40 sequences; in the published
            # run about 55 of its 89 minutes on 2 cores, most of them scoring JSON answers of up to 138 tokens).
            intake_n_seed=8,
            intake_ratios=[1, 4],
            intake_n_large=32,
            intake_n_test=24,
            intake_n_val=12,
            intake_shots=2,  # seed notes per generator request (the prompt is about 640 tokens)
            intake_epochs=1.0,  # passes over the largest intake arm (40 notes: 5 steps of 8)
            intake_gen_max_new_tokens=160,  # a real note is 103 tokens on average, 121 at most
            intake_max_new_tokens=None,  # None: the longest target + 16 (target_token_budget)
        ),
        "full": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            method="lora",
            lora_r=16,
            learning_rate=None,
            lr_grid=[1e-4, 3e-4, 1e-3],
            max_extensions=2,
            epochs=1.0,
            batch_size=16,
            seeds=[0, 1, 2],
            descriptive_seeds=None,
            n_intents=20,
            n_seed=100,
            ratios=[1, 2, 4, 8],
            n_large=800,
            n_test=400,
            n_val=200,
            generators=["course model", "rule", "larger model"],
            larger_generator="Qwen/Qwen2.5-7B-Instruct",
            shots=5,
            temperature=1.0,
            top_p=0.95,
            gen_max_new_tokens=48,
            gen_batch_size=32,
            eval_batch_size=64,
            filter_k=3,
            margin=0.05,
            # Client intake (helpers.data.intake_task): a seed of real notes, the same ratios' shape, the ceiling
            # at seed x max(ratios). Sizes from the workload (nb07 intake_jobs): an intake fine-tune sequence is
            # about 300 tokens, a generated note up to intake_gen_max_new_tokens, each scored answer up to 138.
            intake_n_seed=50,
            intake_ratios=[1, 2, 4],
            intake_n_large=200,
            intake_n_test=300,
            intake_n_val=100,
            intake_shots=3,  # seed notes with their details per request (224 tokens each)
            intake_epochs=2.0,  # passes over the largest intake arm (250 notes): the same steps for every arm
            intake_gen_max_new_tokens=160,  # a real note is 103 tokens on average, 121 at most (200 notes)
            intake_max_new_tokens=None,  # None: the longest target + 16 (target_token_budget)
        ),
    },
    "benchmark": {  # `python -m helpers benchmark`: training throughput, course default against a naive baseline
        "smoke": dict(
            models=["tiny"],
            methods=["full", "lora", "qlora"],
            n_examples=8,
            steps=2,
            batch_size=4,
            seeds=[0],
            learning_rates={"full": 1e-4, "lora": 1e-3, "qlora": 1e-3},
            levers=["length grouping", "bf16 autocast", "answer-only logits"],
            default_levers=["length grouping", "bf16 autocast", "answer-only logits"],
        ),
        "cpu": dict(
            models=["smollm2-135m"],
            methods=["full", "lora", "qlora"],
            n_examples=16,
            steps=4,
            batch_size=4,
            seeds=[0],
            learning_rates={"full": 1e-4, "lora": 1e-3, "qlora": 1e-3},
            levers=["length grouping", "bf16 autocast", "answer-only logits"],
            default_levers=["length grouping", "bf16 autocast", "answer-only logits"],
        ),
        # full: published shapes with random weights (no download; speed and memory depend on shapes only)
        "full": dict(
            models=["random:Qwen2.5-0.5B", "random:Qwen2.5-1.5B", "random:Qwen2.5-7B"],
            methods=["full", "lora", "qlora"],
            n_examples=256,
            steps=32,
            batch_size=8,
            seeds=[0],
            learning_rates={"full": 1e-5, "lora": 2e-4, "qlora": 2e-4},
            levers=["length grouping", "bf16 autocast", "answer-only logits"],
            default_levers=["length grouping", "bf16 autocast", "answer-only logits"],
        ),
    },
    "eval_benchmark": {  # `python -m helpers benchmark --eval`: generation paths on the course's kinds of set
        "smoke": dict(
            models=["tiny"],
            seeds=[0],
            bank_intents=4,
            bank_n_train=16,
            bank_n_eval=16,
            bank_new_tokens=8,
            intake_n_train=8,
            intake_n_eval=6,
            intake_few_shot=1,
            intake_new_tokens=16,
            kb_per_kind=3,
            kb_train_facts=6,
            kb_per_set=3,
            top_k=2,
            kb_new_tokens=8,
            eval_batch_size=8,
        ),
        "cpu": dict(  # the sets as notebooks 00, 05 and 03 evaluate them on the cpu profile
            models=["smollm2-135m"],
            seeds=[0],
            bank_intents=6,
            bank_n_train=160,
            bank_n_eval=120,
            bank_new_tokens=12,
            intake_n_train=32,
            intake_n_eval=24,
            intake_few_shot=1,
            intake_new_tokens=116,
            kb_per_kind=20,
            kb_train_facts=48,
            kb_per_set=24,
            top_k=2,
            kb_new_tokens=16,
            eval_batch_size=16,
        ),
        "full": dict(
            models=["HuggingFaceTB/SmolLM2-1.7B-Instruct"],
            seeds=[0],
            bank_intents=20,
            bank_n_train=500,
            bank_n_eval=600,
            bank_new_tokens=12,
            intake_n_train=300,
            intake_n_eval=200,
            intake_few_shot=2,
            intake_new_tokens=128,
            kb_per_kind=40,
            kb_train_facts=160,
            kb_per_set=100,
            top_k=3,
            kb_new_tokens=16,
            eval_batch_size=64,
        ),
    },
}


SMOLLM2_360M = "HuggingFaceTB/SmolLM2-360M-Instruct"

# The smaller GPU tiers are the full tier with these changes, sized by the course plan to fit TIERS
# (`python -m helpers course --plan --profile t4`; tests/test_plan.py fails when one stops fitting).
# Batches of 8 instead of 16 halve the activations; a full fine-tune of the 1.7B model (fp32 master weights
# and AdamW moments, about 27 GB) fits neither a T4 nor a 24 GB card, so notebook 02 compares methods on
# the 360M model there. The benchmark tiers keep the full tier's shapes.
TIER_CHANGES: dict[str, dict[str, dict]] = {
    "quickstart": {"t4": dict(seeds=[0], batch_size=8), "gpu": dict(batch_size=8)},
    "data_size": {
        "t4": dict(
            model=SMOLLM2_360M,
            seeds=[0],
            batch_size=8,
            max_extensions=1,
            clean_sizes=[50, 100, 250],
            noisy_sizes=[1500],
            noise_rates=[0.4],
            n_eval=150,
            n_val=100,
            eval_batch_size=32,
            bank_intents=20,
            bank_clean_sizes=[100, 250],
            bank_noisy_sizes=[1000],
            bank_noise_rates=[0.4],
            bank_n_eval=300,
            bank_n_val=100,
        ),
        "gpu": dict(
            batch_size=8,
            max_extensions=1,
            clean_sizes=[50, 100, 250, 500],
            noisy_sizes=[1500],
            noise_rates=[0.4],
            eval_batch_size=32,
            bank_intents=20,
            bank_clean_sizes=[100, 250],
            bank_noisy_sizes=[1000],
            bank_noise_rates=[0.4],
            bank_n_eval=400,
            bank_n_val=200,
        ),
    },
    "peft_cost": {
        "t4": dict(
            model=SMOLLM2_360M,
            seeds=[0],
            batch_size=8,
            eval_batch_size=32,
            ranks=[16, 64],
            attention_ranks=[16],
            mmlu_n=200,
            n_eval=400,
        ),
        "gpu": dict(model=SMOLLM2_360M, batch_size=8, eval_batch_size=32),
    },
    "hallucination": {
        "t4": dict(  # each trained arm's sweep fits 30 minutes with the curve's two end shares and half the facts
            seeds=[0],
            batch_size=8,
            eval_batch_size=32,
            max_extensions=1,
            n_train_facts=100,
            eq_n_train=100,
            eq_shares=[0.0, 1.0],
        ),
        "gpu": dict(batch_size=8, eval_batch_size=32),
    },
    "one_and_done": {
        "t4": dict(  # the learning-rate sweeps (six of them) fit half an hour with shorter runs and smaller sets
            seeds=[0],
            batch_size=8,
            eval_batch_size=32,
            max_extensions=1,
            n_periods=3,
            n_train0=160,
            n_new=64,
            clinc_periods=3,
            clinc_train_per_intent=20,
        ),
        "gpu": dict(batch_size=8, eval_batch_size=32),
    },
    "model_size": {
        "t4": dict(seeds=[0], eval_batch_size=16, bank_batch_size=8, intake_batch_size=4),
        "gpu": dict(eval_batch_size=32, bank_batch_size=8, intake_batch_size=8),
    },
    "prompt_or_finetune": {
        "t4": dict(
            model=SMOLLM2_360M,
            seeds=[0],
            batch_size=8,
            max_extensions=1,
            ft_sizes=[20, 40, 80, 160, 320],
            n_test=300,
            n_val=100,
            many_shot_tokens=2048,
            eval_batch_size=32,
            intake_ft_sizes=[10, 20, 40, 80],
            intake_n_test=80,
            intake_n_val=30,
            intake_many_shot_tokens=1536,  # about 6 demonstrations
        ),
        "gpu": dict(
            batch_size=8,
            max_extensions=1,
            many_shot_tokens=4096,
            eval_batch_size=32,
            intake_ft_sizes=[10, 40, 160],  # intake's JSON answers (about 111 tokens each) cost most of the time
            intake_n_test=120,
            intake_n_val=60,
            intake_many_shot_tokens=2048,  # about 9 demonstrations
        ),
    },
    "synthetic_data": {
        "t4": dict(
            model=SMOLLM2_360M,
            seeds=[0],
            batch_size=8,
            max_extensions=1,
            n_intents=20,
            ratios=[1, 2, 4],
            n_large=400,
            n_test=300,
            n_val=100,
            larger_generator="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            eval_batch_size=32,
            intake_n_seed=16,  # the intake arms fit beside banking77's in the half hour (course plan)
            intake_ratios=[1, 4],
            intake_n_large=64,
            intake_n_test=64,
            intake_n_val=24,
            intake_shots=2,
        ),
        "gpu": dict(
            model=SMOLLM2_360M,
            batch_size=8,
            max_extensions=1,
            ratios=[1, 2, 4],
            n_large=400,
            larger_generator="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            eval_batch_size=32,
            intake_n_seed=32,
            intake_ratios=[1, 4],
            intake_n_large=128,
            intake_n_test=200,
            intake_n_val=60,
        ),
    },
    "benchmark": {"t4": {}, "gpu": {}},
    "eval_benchmark": {"t4": {}, "gpu": {}},
}
for _notebook, _tiers in TIER_CHANGES.items():
    for _tier, _changes in _tiers.items():
        NOTEBOOK_DEFAULTS[_notebook][_tier] = {**NOTEBOOK_DEFAULTS[_notebook]["full"], **_changes}

# Which NOTEBOOK_DEFAULTS entry each result file (named after its notebook) was produced with.
EXPERIMENT_SETTINGS = {
    "00_quickstart": "quickstart",
    "01_data_size": "data_size",
    "02_peft_cost": "peft_cost",
    "03_hallucination": "hallucination",
    "04_one_and_done": "one_and_done",
    "05_model_size": "model_size",
    "06_prompt_or_finetune": "prompt_or_finetune",
    "07_synthetic_data": "synthetic_data",
    "benchmark_training": "benchmark",
    "benchmark_eval": "eval_benchmark",
}


# Parameters added to a notebook's defaults after results were published, each with the value every
# earlier run of that notebook used (the notebook hard-coded it then). A published result that does not
# record such a parameter ran with this value: it is current while the default still equals it, and
# stale once the default changes (see helpers.course.playbook.stale_parameters).
ADDED_AFTER_PUBLICATION: dict[str, dict[str, object]] = {
    "quickstart": {"learning_rate": 2e-4},  # the fixed default rate every model got before the by-size defaults
    "data_size": {"bank_max_new_tokens": 12},  # banking77 generation budget, hard-coded in notebook 01 before
    "one_and_done": {"retrieval_seeds": 1},  # retrieval ran in every seed before; the published cpu runs had one
    # client intake in notebook 06: off (no intake ladder) in every run before it was added
    "prompt_or_finetune": {
        "intake_ft_sizes": [],
        "intake_n_test": 0,
        "intake_n_val": 0,
        "intake_shots": 0,
        "intake_many_shot_tokens": 0,
        "intake_max_new_tokens": None,
    },
    "synthetic_data": {  # the intake arms came after banking77's cpu run: it ran with them off
        "intake_n_seed": 0,
        "intake_ratios": None,
        "intake_n_large": None,
        "intake_n_test": None,
        "intake_n_val": None,
        "intake_shots": None,
        "intake_epochs": None,
        "intake_gen_max_new_tokens": None,
        "intake_max_new_tokens": None,
    },
}


def parameter_names(notebook: str) -> list[str]:
    """The notebook's parameters: the keys of its defaults (the same under every profile)."""
    if notebook not in NOTEBOOK_DEFAULTS:
        raise ValueError(f"no defaults for notebook {notebook!r}: known {sorted(NOTEBOOK_DEFAULTS)}")
    return list(NOTEBOOK_DEFAULTS[notebook][PROFILES[0]])


def default_profile() -> str:
    import torch  # here, not at the top: the command line reads PROFILES without loading torch

    if not torch.cuda.is_available():
        return "cpu"
    return tier_for_memory(torch.cuda.get_device_properties(0).total_memory / 1e9)


def tier_for_memory(memory_gb: float) -> str:
    """The largest GPU tier whose memory the card has (a card reports a little less than its label: a "16 GB"
    T4 shows 15.8 GB, hence the 5% allowance); the t4 tier below that."""
    fitting = [name for name in GPU_TIERS if memory_gb >= 0.95 * TIERS[name].memory_gb]
    return fitting[-1] if fitting else "t4"


def settings(notebook: str, profile: str | None = None, **overrides) -> SimpleNamespace:
    """The notebook's defaults for `profile`, with every override that is not None applied."""
    from . import rehearsal

    profile = profile or default_profile()
    if profile not in PROFILES and not rehearsal.is_rehearsal(profile):
        rehearsals = ", ".join(rehearsal.profile_name(tier) for tier in rehearsal.REHEARSED_TIERS)
        raise ValueError(f"unknown profile {profile!r}: choose one of {PROFILES} (or a rehearsal: {rehearsals})")
    if notebook not in NOTEBOOK_DEFAULTS:
        raise ValueError(f"no defaults for notebook {notebook!r}: known {sorted(NOTEBOOK_DEFAULTS)}")
    if rehearsal.is_rehearsal(profile):
        defaults = NOTEBOOK_DEFAULTS[notebook]
        values = rehearsal.rehearsal_defaults(defaults[rehearsal.tier_of(profile)], defaults["smoke"])
    else:
        values = dict(NOTEBOOK_DEFAULTS[notebook][profile])
    unknown = set(overrides) - set(values)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {notebook}: {sorted(unknown)}; known: {sorted(values)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimpleNamespace(profile=profile, **values)
