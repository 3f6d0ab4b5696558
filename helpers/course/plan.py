"""The course plan: each notebook's workload under a profile, priced on a GPU by the cost model.

`python -m helpers course --plan --profile t4 --gpu T4` prints, per notebook, the fine-tunes, training
tokens, generated prompts, estimated minutes and peak memory; tests/test_plan.py fails when a tier's plan
exceeds the memory or time budget the tier is named for (profiles.TIERS).

Time is an estimate from counted tokens, not a measurement. Training: FLOPs (cost_model.flops_per_token)
at an assumed model-FLOPs utilisation, plus a fixed cost per optimizer step and per fine-tune (loading,
Trainer set-up). Generation: the prompt pass is compute-bound (FLOPs at the same utilisation); each new
token is bound by reading the weights and the KV cache from memory, or by the per-step overhead of the
generate loop, whichever is slower. The assumptions are in `Assumptions`, stated once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

from ..core import cost_model
from ..core.gpus import GB, GPUSpec
from ..core.workload import FineTune, Generation, Workload

# The names the notebooks give the embedded model, mapped to its published architecture.
LOCAL_NAMES = {"smollm2-135m": "SmolLM2-135M"}


@dataclass(frozen=True)
class Assumptions:
    train_utilisation: float = 0.30  # model-FLOPs utilisation of a fine-tune (cost_model's default is 0.35)
    prefill_utilisation: float = 0.30  # of the prompt pass in generation
    bandwidth_efficiency: float = 0.6  # share of the memory bandwidth a decoding step reaches
    step_overhead_s: float = 0.05  # per optimizer step: Python, kernel launches, the optimizer itself
    decode_step_overhead_s: float = 0.02  # per generated token: the generate loop's Python and launches
    finetune_overhead_s: float = 20.0  # per fine-tune: model load from the local cache, adapters, Trainer
    cuda_context_gb: float = 0.6  # CUDA context and cuBLAS workspace, before any tensor


@dataclass
class NotebookPlan:
    notebook: str
    fine_tunes: int
    training_tokens: int
    generated_prompts: int
    minutes: float
    peak_gb: float
    peak_job: str  # the job that needs the most memory
    notes: list[str]

    def row(self) -> dict:
        return {
            "notebook": self.notebook,
            "fine-tunes": self.fine_tunes,
            "training tokens (M)": round(self.training_tokens / 1e6, 2),
            "prompts generated": self.generated_prompts,
            "minutes": round(self.minutes, 1),
            "peak GB": round(self.peak_gb, 1),
            "largest job": self.peak_job,
        }


def architecture(model: str) -> cost_model.Architecture:
    arch = cost_model.architecture_for(LOCAL_NAMES.get(model, model))
    if arch is None:
        known = ", ".join(cost_model.KNOWN_ARCHITECTURES)
        raise ValueError(f"the plan has no architecture for model {model!r}: known {known}")
    return arch


def finetune_cost(job: FineTune, gpu: GPUSpec, gradient_checkpointing: bool, a: Assumptions) -> tuple[float, float]:
    """(seconds for all `job.count` fine-tunes, peak bytes of one)."""
    arch = architecture(job.model)
    setup = cost_model.Setup(
        method=job.method,
        dtype=gpu.precision,
        lora_r=job.lora_r,
        lora_targets=job.lora_targets,
        batch_size=job.batch_size,
        seq_len=job.seq_len,
        gradient_checkpointing=gradient_checkpointing,
        logit_share=job.answer_share,
    )
    flops = job.sequences * job.seq_len * cost_model.flops_per_token(arch, setup)
    steps = math.ceil(job.sequences / job.batch_size)
    seconds = flops / (gpu.tflops * 1e12 * a.train_utilisation) + steps * a.step_overhead_s + a.finetune_overhead_s
    peak = cost_model.training_memory(arch, setup).total + a.cuda_context_gb * GB
    return job.count * seconds, peak


def generation_cost(job: Generation, gpu: GPUSpec, a: Assumptions) -> tuple[float, float]:
    """(seconds for all `job.count` passes, peak bytes): 16-bit weights, the KV cache of a full batch, the
    prompt pass's widest activation and the last position's logits."""
    arch = architecture(job.model)
    weights = arch.params() * 2
    kv_per_token = 2 * arch.layers * arch.kv_heads * arch.head_dim * 2
    context = job.prompt_tokens + job.new_tokens
    batch = min(job.batch_size, job.prompts)
    prefill_activations = batch * job.prompt_tokens * (arch.intermediate * 3 + arch.hidden * 4) * 2
    logits = batch * arch.vocab * 4
    peak = weights + kv_per_token * batch * context + prefill_activations + logits + a.cuda_context_gb * GB
    prefill = job.prompts * job.prompt_tokens * 2 * arch.params() / (gpu.tflops * 1e12 * a.prefill_utilisation)
    batches = math.ceil(job.prompts / batch)
    mean_kv = kv_per_token * batch * (job.prompt_tokens + job.new_tokens / 2)
    per_step = max(a.decode_step_overhead_s, (weights + mean_kv) / (gpu.bandwidth_gb_s * GB * a.bandwidth_efficiency))
    return job.count * (prefill + batches * job.new_tokens * per_step), peak


def price(work: Workload, gpu: GPUSpec, gradient_checkpointing: bool = False, a: Assumptions = Assumptions()):
    """The NotebookPlan of `work` on `gpu`."""
    seconds, peak, peak_job = 0.0, 0.0, "-"
    for job in work.finetunes:
        s, p = finetune_cost(job, gpu, gradient_checkpointing, a)
        seconds += s
        if p > peak:
            peak, peak_job = p, f"train {job.label} ({job.method}, {job.batch_size} x {job.seq_len} tokens)"
    for job in work.generations:
        s, p = generation_cost(job, gpu, a)
        seconds += s
        if p > peak:
            peak, peak_job = p, f"generate {job.label} ({min(job.batch_size, job.prompts)} prompts at once)"
    return NotebookPlan(
        notebook=work.notebook,
        fine_tunes=work.n_finetunes,
        training_tokens=work.training_tokens,
        generated_prompts=sum(g.prompts * g.count for g in work.generations),
        minutes=seconds / 60,
        peak_gb=peak / GB,
        peak_job=peak_job,
        notes=list(work.notes),
    )


def plan(profile: str, gpu: GPUSpec, only: list[str] | None = None) -> list[NotebookPlan]:
    """One NotebookPlan per notebook (course order) under `profile`, priced on `gpu`; `only` keeps the
    notebooks whose file name contains one of its strings (as `course --only`)."""
    from . import profiles, workloads

    plans = []
    for stem, name in profiles.EXPERIMENT_SETTINGS.items():
        if name not in workloads.WORKLOADS or (only and not any(key in stem for key in only)):
            continue
        cfg: SimpleNamespace = profiles.settings(name, profile)
        work = workloads.workload(name, cfg)
        priced = price(work, gpu, gradient_checkpointing=bool(getattr(cfg, "gradient_checkpointing", False)))
        priced.notebook = stem
        plans.append(priced)
    return plans


def table(plans: list[NotebookPlan]) -> str:
    """The plan as a Markdown table, with a total row."""
    rows = [p.row() for p in plans]
    keys = list(rows[0])
    total = {
        "notebook": "total",
        "fine-tunes": sum(p.fine_tunes for p in plans),
        "training tokens (M)": round(sum(p.training_tokens for p in plans) / 1e6, 2),
        "prompts generated": sum(p.generated_prompts for p in plans),
        "minutes": round(sum(p.minutes for p in plans), 1),
        "peak GB": round(max(p.peak_gb for p in plans), 1),
        "largest job": "",
    }
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows + [total]]
    return "\n".join(lines)


def print_plan(profile: str | None, gpu_name: str | None, only: list[str] | None = None) -> int:
    """`course --plan`: the plan of a GPU tier (default: the one this machine's card fits, else full) on a card
    (default: the one the tier is sized for), with the tier's budget beside it."""
    from ..core.gpus import UnknownGPUError, spec
    from . import profiles
    from .cli import UserError

    if profile is None:
        detected = profiles.default_profile()
        profile = detected if detected in profiles.GPU_TIERS else "full"
    if profile not in profiles.GPU_TIERS:
        raise UserError(f"--plan prices the GPU tiers {profiles.GPU_TIERS}; {profile!r} is not one")
    tier = profiles.TIERS[profile]
    try:
        gpu = spec(gpu_name or tier.gpu)
    except UnknownGPUError as err:
        raise UserError(str(err)) from None
    plans = plan(profile, gpu, only)
    if not plans:
        raise UserError(f"--only {only}: no such notebook")
    print(
        f"Plan for profile {profile!r} on {gpu.name} ({gpu.memory_gb:g} GB, {gpu.precision}); "
        f"the tier is sized for {tier.gpu}: {tier.memory_gb:g} GB, {tier.minutes_per_notebook:g} min per notebook"
    )
    print(table(plans))
    for p in plans:
        over = [
            f"{p.minutes:.0f} min" if p.minutes > tier.minutes_per_notebook else "",
            f"{p.peak_gb:.1f} GB" if p.peak_gb > gpu.memory_gb * 0.9 else "",
        ]
        if any(over):
            print(f"warning: {p.notebook} needs {' and '.join(o for o in over if o)} on {gpu.name}")
        for note in p.notes if only else []:
            print(f"note ({p.notebook}): {note}")
    if not only:
        print("What each notebook's counts leave out: add --only NN.")
    return 0
