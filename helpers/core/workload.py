"""A notebook's workload: the fine-tunes and generation jobs it runs, with the token counts the cost model
needs. Each experiment module counts its own (`workload(cfg)`); helpers.course.plan prices them on a GPU.

Counts are upper bounds: a learning-rate sweep counts its first grid plus every extension it may add, so
that a tier whose plan fits its budget cannot overrun it through a sweep. Token lengths are the SmolLM2
tokenizer's (the one every hub model in the GPU tiers shares), measured on the course's own prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FineTune:
    """`count` identical fine-tunes (seeds x swept rates) of `model`."""

    label: str  # what it is in the notebook, e.g. "clean-250 sweep" or "QLoRA arm"
    model: str  # as the notebook loads it: a hub id, or "smollm2-135m" / "tiny"
    method: str  # "full" | "lora" | "qlora"
    sequences: int  # training sequences one fine-tune processes: examples x epochs, or steps x batch size
    batch_size: int  # sequences per optimizer step
    seq_len: int  # tokens per padded sequence: the longest training sequence of the task
    lora_r: int = 16
    lora_targets: str | tuple[str, ...] = "all-linear"
    count: int = 1
    answer_share: float = 1.0  # share of positions projected to the vocabulary (answer-only logits)


@dataclass(frozen=True)
class Generation:
    """`count` passes of `prompts` prompts through `model.generate` (or one scoring forward pass when
    `new_tokens` is 1)."""

    label: str
    model: str
    prompts: int
    prompt_tokens: int  # mean prompt length in tokens
    new_tokens: int  # generation budget per prompt
    batch_size: int
    count: int = 1


@dataclass
class Workload:
    notebook: str  # the NOTEBOOK_DEFAULTS key
    finetunes: list[FineTune] = field(default_factory=list)
    generations: list[Generation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the counts leave out (child-process probes, ...)

    @property
    def n_finetunes(self) -> int:
        return sum(f.count for f in self.finetunes)

    @property
    def training_tokens(self) -> int:
        return sum(f.count * f.sequences * f.seq_len for f in self.finetunes)
