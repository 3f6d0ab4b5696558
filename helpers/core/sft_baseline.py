"""TRL's SFTTrainer, set up as its documentation recommends for this job: the training benchmark's anchor.

The naive baseline (the Trainer's defaults in fp32) is not what a practitioner picks; SFTTrainer is.
Recommended here means: the chat examples as a conversational prompt-completion dataset, so that the loss
is taken on the completion only (`completion_only_loss`, TRL's default for such data); bf16 autocast where
the hardware has it (the course's own precision rule, `TrainConfig.resolved_precision`), fp16 with a
scaler below that on a GPU; the same LoRA adapters, rate, schedule, batch and steps as the course's run;
no packing (each example is its own sequence, as in the course); gradient checkpointing as the config says
(TRL's own default turns it on, which would trade speed for memory that the course's runs do not trade).

The losses the two trainers report are not comparable as reported: each averages over its own batches
and logging steps. `answer_loss` scores the trained model on the training examples with one function for
every arm (mean cross-entropy over the answer tokens, the course's tokenization, no autocast), so that
"the same loss" is checked on equal terms.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from .models import LoadedModel
from .tasks import Example
from .training import (
    CompletionCollator,
    PeakMemory,
    TrainConfig,
    build_dataset,
    current_memory_mb,
    load_for_training,
    lora_config,
    precision_label,
)


@torch.no_grad()
def answer_loss(model, tokenizer, examples: list[Example], max_length: int = 1024, batch_size: int = 8) -> float:
    """Mean cross-entropy over the answer tokens of `examples` (every answer token weighs the same), in fp32
    without autocast: the one loss every benchmark arm is compared on."""
    dataset, _ = build_dataset(tokenizer, examples, max_length)
    collate = CompletionCollator(tokenizer.pad_token_id)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        logits = model(
            input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
        ).logits.float()
        targets = batch["labels"].to(device)[:, 1:]
        losses = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum"
        )
        total += float(losses)
        count += int((targets != -100).sum())
    if was_training:
        model.train()
    return total / max(1, count)


def prompt_completion_rows(examples: list[Example]) -> list[dict]:
    """Conversational prompt-completion rows: every turn before the last as the prompt, the last (the
    assistant's answer) as the completion."""
    return [{"prompt": ex.messages[:-1], "completion": [ex.messages[-1]]} for ex in examples]


def sft_finetune(model_name: str, examples: list[Example], config: TrainConfig, output_dir: str | Path | None = None):
    """Train `config.max_steps` steps with TRL's SFTTrainer (see the module docstring); return the model and a
    record with the fields the benchmark reads from the course's TrainRecord, plus `answer_loss`."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    if config.max_steps <= 0:
        raise ValueError("the SFTTrainer anchor trains a fixed number of steps: set config.max_steps")
    memory_before = current_memory_mb("cuda" if torch.cuda.is_available() else "cpu")
    loaded: LoadedModel = load_for_training(model_name, config.method)
    tokenizer = loaded.tokenizer
    precision = config.resolved_precision(loaded.device)
    set_seed(config.seed)
    output_dir = Path(output_dir or tempfile.mkdtemp(prefix="ft-sft-"))
    args = SFTConfig(
        output_dir=str(output_dir / "trainer"),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.resolved_lr(),
        max_steps=config.max_steps,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not loaded.device.startswith("cuda"),
        max_length=config.max_length,
        completion_only_loss=True,
        packing=False,
        # TRL turns gradient checkpointing on by default: follow the config, as the course's trainer does, so that
        # the two trade memory for time alike (recorded below)
        gradient_checkpointing=config.gradient_checkpointing,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=loaded.model,
        args=args,
        train_dataset=Dataset.from_list(prompt_completion_rows(examples)),
        processing_class=tokenizer,
        peft_config=None if config.method == "full" else lora_config(config),
    )
    collate, counted = trainer.data_collator, {"tokens": 0, "padded": 0}

    def counting(features):  # the tokens each batch holds, as the course's collator counts them
        batch = collate(features)
        counted["tokens"] += int(batch["attention_mask"].sum())
        counted["padded"] += int(batch["attention_mask"].numel())
        return batch

    trainer.data_collator = counting
    with PeakMemory(loaded.device) as memory:
        started = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - started
    model = trainer.model
    history = [{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    record = {
        "trainer": f"trl SFTTrainer {_trl_version()}",
        "method": config.method,
        "trainable_params": trainable,
        "total_params": total,
        "train_seconds": round(seconds, 2),
        "tokens_seen": counted["tokens"],
        "padded_tokens_seen": counted["padded"],
        "tokens_per_second": round(counted["tokens"] / seconds, 1) if seconds else 0.0,
        "peak_memory_mb": round(memory.peak_mb, 1),
        "peak_memory_kind": memory.kind,
        "memory_before_mb": round(memory_before, 1),
        "precision_used": precision_label(precision),
        "gradient_checkpointing": bool(args.gradient_checkpointing),
        "logit_positions": counted["padded"],  # SFTTrainer projects every position to the vocabulary
        "final_loss": history[-1]["loss"] if history else float(output.training_loss),
        "mean_train_loss": float(output.training_loss),
        "optimizer_steps": int(trainer.state.global_step),
        "config": {**config.to_dict(), "batch_size": config.batch_size},
        "loss_history": history,
        "answer_loss": answer_loss(model, tokenizer, examples, config.max_length),
    }
    return model, record


def _trl_version() -> str:
    from importlib import metadata

    return metadata.version("trl")
