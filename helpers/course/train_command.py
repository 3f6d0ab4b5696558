"""`python -m helpers train`: fine-tune a model on a JSONL file from the command line.

The same entry point runs on one device, or on several under `accelerate launch` (DDP; the Trainer
finds the process group that accelerate sets up). Every process writes its own record
(`record-rank<N>.json`); only the first saves the model or adapter.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..core.tasks import load_jsonl_examples
from ..core.training import METHODS, TrainConfig, finetune


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="smollm2-135m", help="hub id, local folder, .gguf file, 'smollm2-135m' or 'tiny'"
    )
    parser.add_argument(
        "--data", required=True, help="JSONL training file: {'messages': [...]} or {'prompt', 'completion'} per line"
    )
    parser.add_argument("--output", required=True, help="folder for the adapter (or model) and the training records")
    parser.add_argument("--method", choices=METHODS, default="qlora")
    parser.add_argument("--steps", type=int, default=-1, help="optimizer steps (overrides --epochs)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per device per step")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--lr", type=float, default=None, help="default: 2e-5 for full, 2e-4 for LoRA/QLoRA")
    parser.add_argument(
        "--warmup", type=float, default=0.1, help="share of the steps spent warming the learning rate up from 0"
    )
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument(
        "--no-group-by-length", action="store_true", help="random order instead of batches of similar length"
    )
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    rank = int(os.environ.get("RANK", "0"))
    config = TrainConfig(
        method=args.method,
        learning_rate=args.lr,
        epochs=args.epochs,
        max_steps=args.steps,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        warmup_ratio=args.warmup,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        lora_dropout=args.lora_dropout,
        precision=args.precision,
        group_by_length=not args.no_group_by_length,
        seed=args.seed,
        save=rank == 0,
    )
    output = Path(args.output)
    _, record = finetune(args.model, load_jsonl_examples(args.data), config, output_dir=output, progress=rank == 0)
    summary = {**record.to_dict(), "rank": rank, "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
    (output / f"record-rank{rank}.json").write_text(json.dumps(summary, indent=2))
    if rank == 0:
        print(
            f"trained {record.optimizer_steps} steps, final loss {record.final_loss:.4f}; saved to "
            f"{record.saved_path or output}"
        )
    return 0
