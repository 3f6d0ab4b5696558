"""The course plan's registry: each notebook's workload under a profile, counted from its settings.

The counting lives beside each experiment (`helpers.experiments.nbNN_*.workload`); the quickstart, which has
no experiment module, is counted here. helpers.course.plan prices the workloads on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from ..core.workload import FineTune, Generation, Workload
from ..experiments import (
    nb01_data_size,
    nb02_peft_cost,
    nb03_hallucination,
    nb04_one_and_done,
    nb05_model_size,
    nb06_prompt_or_finetune,
    nb07_synthetic_data,
)

EVAL_BATCH_SIZE = 16  # arms.evaluate_prompted and train_and_evaluate score 16 prompts at once
SKETCH_SEQUENCES = 8  # the "what finetune does" cell: two steps of 4 on 8 examples


def quickstart(cfg: SimpleNamespace) -> Workload:
    """Notebook 00: the zero-shot base model, then one QLoRA (r16) fine-tune and evaluation per seed."""
    prompt = nb01_data_size.bank_prompt_tokens(cfg.n_intents)
    seq_len = nb01_data_size.bank_seq_tokens(cfg.n_intents)
    answer_share = nb01_data_size.BANK_ANSWER_TOKENS / seq_len
    fine_tuned = FineTune(
        "QLoRA", cfg.model, "qlora", round(cfg.n_train * cfg.epochs), cfg.batch_size, seq_len,
        count=len(cfg.seeds), answer_share=answer_share,
    )  # fmt: skip
    sketch = FineTune("plain transformers sketch", cfg.model, "qlora", SKETCH_SEQUENCES, 4, seq_len)
    evaluations = [
        Generation("base model", cfg.model, cfg.n_eval, prompt, cfg.max_new_tokens, EVAL_BATCH_SIZE),
        Generation("QLoRA", cfg.model, cfg.n_eval, prompt, cfg.max_new_tokens, EVAL_BATCH_SIZE, len(cfg.seeds)),
    ]
    return Workload("quickstart", [fine_tuned, sketch], evaluations, ["model loads are in each fine-tune's overhead"])


# The notebook's settings key -> the function that counts its workload from its settings (course order).
WORKLOADS: dict[str, Callable[[SimpleNamespace], Workload]] = {
    "quickstart": quickstart,
    "data_size": nb01_data_size.workload,
    "peft_cost": nb02_peft_cost.workload,
    "hallucination": nb03_hallucination.workload,
    "one_and_done": nb04_one_and_done.workload,
    "model_size": nb05_model_size.workload,
    "prompt_or_finetune": nb06_prompt_or_finetune.workload,
    "synthetic_data": nb07_synthetic_data.workload,
}


def workload(notebook: str, cfg: SimpleNamespace) -> Workload:
    """The workload of `notebook` (a NOTEBOOK_DEFAULTS key) under the settings `cfg`."""
    if notebook not in WORKLOADS:
        raise ValueError(f"no workload for {notebook!r}: known {sorted(WORKLOADS)}")
    return WORKLOADS[notebook](cfg)
