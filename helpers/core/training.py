"""One fine-tuning entry point for full fine-tuning, LoRA and QLoRA, on transformers' Trainer and peft.

The loss falls on the assistant's tokens only. Seeds are set before adapters are created, so the
same parameters and seed give the same adapter. The returned record carries what the course
compares: trainable parameters, wall time, tokens per second, peak memory, losses, size on disk.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import math
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import TrainerCallback

from .chat import render_chat
from .cost_model import METHODS, PRECISIONS
from .models import LoadedModel, cuda_has_bf16, free_accelerator_memory, load_model
from .tasks import Example

# Default learning rates by model size, then method. Rows: (largest parameter count, rates, where the rates
# come from); `default_learning_rate` picks the first row the model fits. The small-model row is what notebook
# 02's per-arm sweeps chose for SmolLM2-135M on the cpu profile (each rate inside its sweep; QLoRA at the rank
# the sweeps chose, 64); tests/test_learning_rate_defaults.py ties the row to the published sweeps. Larger
# models are not measured by the course yet: sweep on your data (lr_sweep.suggest_learning_rate).
DEFAULT_LR_BY_SIZE: tuple[tuple[float, dict[str, float], str], ...] = (
    (
        0.5e9,
        {"full": 3e-4, "lora": 3e-3, "qlora": 3e-3},
        "measured by notebook 02 (cpu profile, SmolLM2-135M-Instruct, banking77): the rate each arm's "
        "sweep chose, inside the sweep (results/cpu/02_peft_cost.json, extra.sweeps)",
    ),
    (
        float("inf"),
        {"full": 2e-5, "lora": 2e-4, "qlora": 2e-4},
        "not measured by the course yet: the usual starting points for 1B-70B models "
        "(QLoRA paper: 2e-4 for 7B-13B adapters); use suggest_learning_rate on your data",
    ),
)
DEFAULT_LR = DEFAULT_LR_BY_SIZE[-1][1]  # for a model of unknown size


def _size_row(n_params: int | None) -> tuple[float, dict[str, float], str]:
    """The DEFAULT_LR_BY_SIZE row of a model of `n_params` parameters (None: unknown size, the last row)."""
    if n_params is None:
        return DEFAULT_LR_BY_SIZE[-1]
    return next(row for row in DEFAULT_LR_BY_SIZE if n_params <= row[0])


def default_learning_rate(method: str, n_params: int | None = None) -> float:
    """The default learning rate for `method` on a model of `n_params` parameters (None: unknown size,
    the large-model rate). See DEFAULT_LR_BY_SIZE for where each rate comes from."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {METHODS}")
    return _size_row(n_params)[1][method]


def learning_rate_source(n_params: int | None) -> str:
    """Where the default rate for a model of this size comes from (recorded with each training run)."""
    return _size_row(n_params)[2]


class TrainingOutOfMemoryError(RuntimeError):
    """The batch did not fit in accelerator memory (after the retries with smaller batches)."""


class NoTrainingExamplesError(ValueError):
    """No example is left to train on: none given, or every answer lies beyond max_length."""


@dataclass
class TrainConfig:
    method: str = "qlora"  # "full" | "lora" | "qlora" (LoRA on a 4-bit NF4 base)
    learning_rate: float | None = None  # None: default_learning_rate(method, model size), DEFAULT_LR_BY_SIZE
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs (same-steps compute policy)
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 1024  # longer examples are cut from the right; examples left without answer tokens are dropped
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"  # or e.g. ["q_proj", "v_proj"] for attention-only
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    gradient_checkpointing: bool = False
    group_by_length: bool = True  # batches of similar length: less padding
    answer_logits_only: bool = (
        True  # project to the vocabulary only where the loss is taken (answer tokens): same loss, less work
    )
    optimizer: str | None = (
        None  # a TrainingArguments `optim` name, e.g. "adamw_bnb_8bit"; None: the Trainer's default (fused AdamW)
    )
    # "auto": bf16 autocast on GPUs with bf16 hardware (compute capability >= 8.0) and on CPUs with native bf16,
    # fp16 autocast with a gradient scaler on older GPUs (T4, V100), fp32 elsewhere | "fp32" | "bf16" | "fp16"
    precision: str = "auto"
    oom_retries: int = 3  # on out of memory: retry with half the batch and twice the accumulation, this many times
    seed: int = 0
    logging_steps: int = 5
    save: bool = True  # save the adapter/model to measure its size on disk
    # > 0: a checkpoint (weights, optimizer, schedule, random state) every this many optimizer steps in
    # OUTPUT/trainer, the latest kept, so that an interrupted run can go on (finetune(resume=True))
    checkpoint_steps: int = 0

    def resolved_precision(self, device: str) -> str:
        """What `precision` means on `device`: "bf16", "fp16" or "fp32"."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}: use one of {PRECISIONS}")
        on_cuda = device.startswith("cuda")
        if self.precision == "fp16" and not on_cuda:
            raise ValueError(
                "precision='fp16' needs a GPU (fp16 autocast with a gradient scaler); use 'bf16' or 'fp32'"
            )
        if self.precision == "auto":
            if on_cuda:
                return "bf16" if cuda_has_bf16(device) else "fp16"
            return "bf16" if cpu_has_bf16() else "fp32"
        return self.precision

    def resolved_lr(self, n_params: int | None = None) -> float:
        """The rate training uses: `learning_rate`, or the measured default for the method and model size."""
        return self.learning_rate if self.learning_rate is not None else default_learning_rate(self.method, n_params)

    def to_dict(self, n_params: int | None = None) -> dict:
        found = {**asdict(self), "learning_rate": self.resolved_lr(n_params)}
        if self.learning_rate is None:
            found["learning_rate_source"] = "default: " + learning_rate_source(n_params)
        return found


def precision_label(precision: str) -> str:
    """How a resolved precision is named in the records: "bf16 autocast", "fp16 autocast" or "fp32"."""
    return "fp32" if precision == "fp32" else f"{precision} autocast"


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX-512 BF16 or AMX). There, bf16 autocast trained
    1.2-1.8x faster than fp32 at the same loss (`python -m helpers benchmark`); elsewhere it is emulated."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass
class TrainRecord:
    method: str
    trainable_params: int
    total_params: int
    trainable_percent: float
    train_seconds: float
    tokens_seen: int
    padded_tokens_seen: int
    max_batch_tokens: int
    tokens_per_second: float
    peak_memory_mb: float
    peak_memory_kind: str  # cuda_max_allocated | process_peak_rss
    precision_used: str  # what config.precision resolved to here: "bf16 autocast" | "fp16 autocast" | "fp32"
    answer_logits_only_used: bool  # config.answer_logits_only, where the model supports it
    logit_positions: int  # positions projected to the vocabulary (all padded positions without answer-only logits)
    memory_before_mb: (
        float  # the same measure when finetune started (before loading, given a name): peak - this = what training took
    )
    final_loss: float
    mean_train_loss: float
    optimizer_steps: int
    n_examples: int
    n_dropped: int
    saved_bytes: int
    saved_path: str
    config: dict
    loss_history: list[dict] = field(default_factory=list)
    batch_size_used: int = 0  # config.batch_size, or less after out-of-memory retries (same examples per step)
    grad_accum_used: int = 0
    oom_retries_used: int = 0
    weights_dtype: str = ""  # the dtype of the weights being trained (full fine-tuning keeps fp32 master weights)
    # > 0: the run went on from the checkpoint at this step; seconds and tokens count the resumed part only
    resumed_from_step: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def tokenize_chat(tokenizer, messages: list[dict], max_length: int) -> dict:
    """Token ids with labels on assistant turns only (-100 elsewhere).

    Each assistant turn's span is found by rendering the chat (`chat.render_chat`) with and without that
    turn, so it works for any template whose renders of a conversation extend one another.
    """
    input_ids: list[int] = []
    labels: list[int] = []
    done = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt_text = render_chat(tokenizer, messages[:i], True)
        full_text = render_chat(tokenizer, messages[: i + 1], False)
        if not prompt_text.startswith(done) or not full_text.startswith(prompt_text):
            raise ValueError("the chat template does not render conversations as extensions of each other")
        context = tokenizer(prompt_text[len(done) :], add_special_tokens=False)["input_ids"]
        answer = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
        input_ids += context + answer
        labels += [-100] * len(context) + answer
        done = full_text
    return {"input_ids": input_ids[:max_length], "labels": labels[:max_length]}


class CompletionCollator:
    """Pads a batch to its longest sequence; counts real and padded tokens for throughput.

    With `answer_logits_only`, the batch also says which positions predict an answer token
    (`logits_to_keep`, a boolean mask) and what they predict (`shift_labels`). The model then projects
    only those hidden states onto its vocabulary: on chat data most positions are prompt, whose logits
    the loss ignores, and the vocabulary projection with its cross-entropy is a large share of a small
    model's work. The loss is the same; transformers and its Trainer take both keys as they are.
    """

    def __init__(self, pad_token_id: int, answer_logits_only: bool = False):
        self.pad_token_id = pad_token_id
        self.answer_logits_only = answer_logits_only
        self.tokens = 0
        self.padded_tokens = 0
        self.max_batch_tokens = 0  # the largest padded batch: what activation memory peaks with
        self.logit_positions = 0  # positions projected to the vocabulary

    def __call__(self, features: list[dict]) -> dict:
        longest = max(len(f["input_ids"]) for f in features)
        ids, labels, mask = [], [], []
        for f in features:
            pad = longest - len(f["input_ids"])
            ids.append(list(f["input_ids"]) + [self.pad_token_id] * pad)
            labels.append(list(f["labels"]) + [-100] * pad)
            mask.append([1] * len(f["input_ids"]) + [0] * pad)
            self.tokens += len(f["input_ids"])
        self.padded_tokens += longest * len(features)
        self.max_batch_tokens = max(self.max_batch_tokens, longest * len(features))
        batch = {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
        }
        if self.answer_logits_only:
            next_token = torch.nn.functional.pad(batch["labels"], (0, 1), value=-100)[
                :, 1:
            ]  # what each position predicts
            predicts_answer = next_token != -100
            if predicts_answer.any():
                batch["logits_to_keep"] = predicts_answer
                batch["shift_labels"] = next_token[predicts_answer]
        self.logit_positions += (
            int(batch["logits_to_keep"].sum()) if "logits_to_keep" in batch else longest * len(features)
        )
        return batch


def supports_answer_logits(model) -> bool:
    """Whether the model's forward takes a boolean `logits_to_keep` mask: transformers causal LMs whose
    modeling code slices with `slice_logits_to_keep` (nearly all of them since transformers 5)."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model = model.get_base_model()
    module = sys.modules.get(type(model).__module__)
    return "logits_to_keep" in inspect.signature(model.forward).parameters and hasattr(module, "slice_logits_to_keep")


def build_dataset(tokenizer, examples: list[Example], max_length: int):
    """A datasets.Dataset of tokenized examples (with a `length` column for length grouping)."""
    from datasets import Dataset

    rows, dropped = [], 0
    for ex in examples:
        row = tokenize_chat(tokenizer, ex.messages, max_length)
        if all(label == -100 for label in row["labels"]):
            dropped += 1
            continue
        row["length"] = len(row["input_ids"])
        rows.append(row)
    if dropped:
        warnings.warn(f"{dropped} example(s) dropped: no answer tokens within max_length={max_length}", stacklevel=2)
    if not rows:
        if not examples:
            raise NoTrainingExamplesError("no training examples given")
        raise NoTrainingExamplesError(
            f"no training examples left after tokenization: all {len(examples)} lost their answer to truncation at "
            f"max_length={max_length}; raise max_length (TrainConfig.max_length, --max-length on the command line)"
        )
    return Dataset.from_list(rows), dropped


class PeakMemory:
    """Peak CUDA allocation, or the process's peak RSS on CPU (reset through /proc where allowed)."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            try:
                with open("/proc/self/clear_refs", "w") as handle:
                    handle.write("5")  # resets VmHWM, the peak resident set
            except OSError:
                pass
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
            self.kind = "cuda_max_allocated"
        else:
            self.peak_mb = _peak_rss_mb()
            self.kind = "process_peak_rss"
        return False


def current_memory_mb(device: str) -> float:
    """Memory in use now: CUDA allocation, or the process's resident set after freeing what it can."""
    gc.collect()
    if device.startswith("cuda"):
        return torch.cuda.memory_allocated() / 2**20
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap pages back to the OS
    except (OSError, AttributeError):
        pass
    return _proc_status_mb("VmRSS") or 0.0


def _proc_status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak resident) in MB; None off Linux."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_memory_mb(device: str) -> float:
    """Peak memory so far: CUDA peak allocation, or the process's peak resident set."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return _peak_rss_mb()


def _peak_rss_mb() -> float:
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _oom_message(config: TrainConfig, batch_size: int, grad_accum: int) -> str:
    tried = "" if batch_size == config.batch_size else f" (retried down to batch_size={batch_size})"
    return (
        f"Out of GPU memory while training ({config.method}, batch_size={config.batch_size}{tried}, "
        f"max_length={config.max_length}). Remedies, cheapest first:\n"
        f"  - a smaller batch with gradient accumulation: TrainConfig(batch_size={max(1, batch_size // 2)}, "
        f"grad_accum={grad_accum * 2}) keeps the effective batch;\n"
        "  - gradient checkpointing: TrainConfig(gradient_checkpointing=True);\n"
        "  - a shorter max_length;\n"
        "  - QLoRA (method='qlora') to hold the base model in 4 bits."
    )


def load_for_training(name: str, method: str) -> LoadedModel:
    """The base model as `finetune` trains it: in 4-bit NF4 for QLoRA; with fp32 master weights for full
    fine-tuning (autocast computes in bf16/fp16; updates of 1e-5 relative size would round away in 16-bit
    weights); in the device's default dtype for LoRA (the base is frozen)."""
    if method == "qlora":
        return load_model(name, quantization="nf4")
    return load_model(name, dtype=torch.float32 if method == "full" else None)


def _training_arguments(
    config: TrainConfig,
    output_dir: Path,
    batch_size: int,
    grad_accum: int,
    precision: str,
    device: str,
    progress: bool,
    n_params: int | None = None,
):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(output_dir / "trainer"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        learning_rate=config.resolved_lr(n_params),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        logging_steps=config.logging_steps,
        **(
            {"save_strategy": "steps", "save_steps": config.checkpoint_steps, "save_total_limit": 1}
            if config.checkpoint_steps > 0
            else {"save_strategy": "no"}
        ),
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        **precision_arguments(precision),
        use_cpu=not device.startswith("cuda"),
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        **({"optim": config.optimizer} if config.optimizer else {}),
    )


def precision_arguments(precision: str) -> dict:
    """TrainingArguments for a resolved precision: bf16 autocast, or fp16 autocast with the Trainer's
    gradient scaler, or neither (fp32)."""
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def _restore(model, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


class AdapterSnapshots(TrainerCallback):
    """Copies the trainable (adapter) weights after the given optimizer steps, so one run can also be
    evaluated as if it had stopped early: `restore(model, step)`."""

    def __init__(self, steps: list[int]):
        self.steps = set(steps)
        self.saved: dict[int, dict[str, torch.Tensor]] = {}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self.steps and model is not None:
            self.saved[state.global_step] = {
                name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad
            }

    def restore(self, model, step: int) -> None:
        if step not in self.saved:
            raise KeyError(f"no snapshot at step {step}; saved: {sorted(self.saved)}")
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in self.saved[step].items():
                params[name].copy_(value)


def merged_for_inference(loaded: LoadedModel) -> LoadedModel:
    """LoRA adapters on a 16/32-bit base folded into the weights: the same function, faster generation.
    Other models (full fine-tunes, QLoRA's 4-bit base, plain models) come back unchanged."""
    from peft import PeftModel

    if isinstance(loaded.model, PeftModel) and loaded.quantization is None:
        return dataclasses.replace(loaded, model=loaded.model.merge_and_unload())
    return loaded


def prepare_trainable_model(loaded: LoadedModel, config: TrainConfig):
    """Wrap the model for the chosen method (adapters for LoRA/QLoRA) after seeding."""
    from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    set_seed(config.seed)  # before adapters are created: same seed, same initial adapter
    model = loaded.model
    if isinstance(model, PeftModel):
        for name, param in model.named_parameters():
            param.requires_grad = "lora_" in name
        return model
    if config.method == "full":
        for param in model.parameters():
            param.requires_grad = True
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        return model
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    return get_peft_model(model, lora_config(config))


def lora_config(config: TrainConfig):
    """The peft LoraConfig a TrainConfig asks for (also given to TRL's SFTTrainer by the benchmark's anchor)."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )


def _mean_logged_loss(history: list[dict]) -> float:
    """The mean training loss over a run's logged losses, each weighing the steps since the one before."""
    weighted, last = 0.0, 0
    for entry in history:
        weighted += entry["loss"] * (entry["step"] - last)
        last = entry["step"]
    return weighted / last if last else float("nan")


def latest_checkpoint(output_dir: str | Path | None) -> Path | None:
    """The latest Trainer checkpoint (OUTPUT/trainer/checkpoint-<step>) of a run, or None."""
    if output_dir is None:
        return None
    found = [
        path
        for path in (Path(output_dir) / "trainer").glob("checkpoint-*")
        if path.is_dir() and path.name.split("-")[-1].isdigit()
    ]
    return max(found, key=lambda path: int(path.name.split("-")[-1]), default=None)


def finetune(
    base: str | LoadedModel,
    examples: list[Example],
    config: TrainConfig | None = None,
    output_dir: str | Path | None = None,
    progress: bool = True,
    callbacks: list | None = None,
    resume: bool = False,
) -> tuple[LoadedModel, TrainRecord]:
    """Fine-tune `base` (a model name, or an already loaded model) on chat examples.

    Returns the trained model (a peft model for LoRA/QLoRA) and a TrainRecord. `callbacks` are
    transformers TrainerCallbacks (e.g. AdapterSnapshots to keep the adapter at earlier steps).
    resume: go on from the latest checkpoint in output_dir (written by a run with config.checkpoint_steps
    and the same examples and config); the Trainer restores the weights, optimizer, schedule, random state
    and the position in the data, so the result is the run's as if it had not stopped.
    """
    from transformers import Trainer

    config = config or TrainConfig()
    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}: choose one of {METHODS}")
    checkpoint = None
    if resume:
        checkpoint = latest_checkpoint(output_dir)
        if checkpoint is None:
            raise FileNotFoundError(
                f"nothing to resume: no checkpoint in {Path(output_dir or '.') / 'trainer'} "
                "(checkpoints are written when the run sets checkpoint_steps, e.g. `train --checkpoint-every 50`)"
            )
    target_device = base.device if isinstance(base, LoadedModel) else ("cuda" if torch.cuda.is_available() else "cpu")
    memory_before = current_memory_mb(target_device)
    if isinstance(base, str):
        loaded = load_for_training(base, config.method)
    else:
        loaded = base
        if config.method == "qlora" and loaded.quantization != "nf4":
            raise ValueError("method='qlora' needs a 4-bit base: load_model(name, quantization='nf4')")
        if config.method == "full" and next(loaded.model.parameters()).dtype != torch.float32:
            if config.resolved_precision(loaded.device) == "fp16":  # the gradient scaler cannot unscale fp16 grads
                raise ValueError(
                    "full fine-tuning with fp16 autocast needs fp32 weights: load the model with "
                    "load_model(name, dtype=torch.float32), or pass its name to finetune"
                )
            warnings.warn(
                "full fine-tuning of a model loaded in 16 bits: small updates round away; "
                "load it with load_model(name, dtype=torch.float32) to keep fp32 master weights",
                stacklevel=2,
            )
    tokenizer = loaded.tokenizer
    dataset, dropped = build_dataset(tokenizer, examples, config.max_length)
    model = prepare_trainable_model(loaded, config)
    if hasattr(model, "get_nb_trainable_parameters"):  # peft counts 4-bit packed weights at full size
        trainable, total = model.get_nb_trainable_parameters()
    else:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())

    output_dir = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="ft-course-"))
    output_dir.mkdir(parents=True, exist_ok=True)
    precision = config.resolved_precision(loaded.device)
    answer_logits_only = config.answer_logits_only and supports_answer_logits(model)
    if config.answer_logits_only and not answer_logits_only:
        warnings.warn(
            f"{type(model).__name__} does not take a logits_to_keep mask: logits are computed at every position",
            stacklevel=2,
        )
    # what a retry after out of memory restores: the trainable weights as they were before the first step
    start_state = (
        None
        if config.method == "full"  # a copy of every weight would cost as much memory as the model
        else {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    )
    batch_size, grad_accum, retries = config.batch_size, config.grad_accum, 0
    model.train()
    while True:
        args = _training_arguments(
            config, output_dir, batch_size, grad_accum, precision, loaded.device, progress, n_params=total
        )
        collator = CompletionCollator(tokenizer.pad_token_id, answer_logits_only)
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=callbacks)
        try:
            with PeakMemory(loaded.device) as memory:
                started = time.perf_counter()
                output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
                seconds = time.perf_counter() - started
            break
        except torch.OutOfMemoryError as err:
            stepped = trainer.state.global_step > 0
            can_restore = start_state is not None or not stepped
            if retries >= config.oom_retries or batch_size == 1 or not can_restore:
                raise TrainingOutOfMemoryError(_oom_message(config, batch_size, grad_accum)) from err
        # outside the except block, whose traceback would keep the failed step's tensors alive
        del trainer
        free_accelerator_memory()
        if stepped:
            _restore(model, start_state)
        examples_per_step = batch_size * grad_accum
        smaller = max(1, batch_size // 2)
        more_steps = math.ceil(examples_per_step / smaller)  # an odd batch rounds up: 3 x 1 becomes 1 x 3
        warnings.warn(
            f"out of memory at batch_size={batch_size}: retrying with batch_size={smaller}, grad_accum={more_steps} "
            f"({smaller * more_steps} examples per optimizer step, was {examples_per_step})",
            stacklevel=2,
        )
        batch_size, grad_accum, retries = smaller, more_steps, retries + 1
    model.eval()

    history = [
        {"step": entry["step"], "loss": entry["loss"]}
        for entry in trainer.state.log_history
        if "loss" in entry and "step" in entry
    ]
    saved_bytes, saved_path = 0, ""
    if config.save:
        target = output_dir / ("model" if config.method == "full" else "adapter")
        model.save_pretrained(target)
        saved_bytes, saved_path = _folder_bytes(target), str(target)

    record = TrainRecord(
        method=config.method,
        trainable_params=trainable,
        total_params=total,
        trainable_percent=100.0 * trainable / total,
        train_seconds=round(seconds, 2),
        tokens_seen=collator.tokens,
        padded_tokens_seen=collator.padded_tokens,
        max_batch_tokens=collator.max_batch_tokens,
        tokens_per_second=round(collator.tokens / seconds, 1) if seconds else 0.0,
        peak_memory_mb=round(memory.peak_mb, 1),
        peak_memory_kind=memory.kind,
        precision_used=precision_label(precision),
        answer_logits_only_used=answer_logits_only,
        logit_positions=collator.logit_positions,
        memory_before_mb=round(memory_before, 1),
        final_loss=history[-1]["loss"] if history else float(output.training_loss),
        # resumed: the Trainer averages only this process's steps over all of them; the restored history has all
        mean_train_loss=_mean_logged_loss(history) if checkpoint else float(output.training_loss),
        optimizer_steps=int(trainer.state.global_step),
        n_examples=len(dataset),
        n_dropped=dropped,
        saved_bytes=saved_bytes,
        saved_path=saved_path,
        config=config.to_dict(n_params=total),
        loss_history=history,
        batch_size_used=batch_size,
        grad_accum_used=grad_accum,
        oom_retries_used=retries,
        weights_dtype=str(next(p for p in model.parameters() if p.requires_grad).dtype).removeprefix("torch."),
        resumed_from_step=int(checkpoint.name.split("-")[-1]) if checkpoint else 0,
    )
    trained = dataclasses.replace(loaded, model=model, notes=loaded.notes + [f"fine-tuned: {config.method}"])
    return trained, record
