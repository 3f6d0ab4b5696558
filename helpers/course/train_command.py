"""`python -m helpers train`: fine-tune a model on a JSONL file from the command line.

The same entry point runs on one device, or on several under `accelerate launch` (DDP; the Trainer
finds the process group that accelerate sets up). Every process writes its own record
(`record-rank<N>.json`); only the first saves the model or adapter.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from ..core.cost_model import METHODS, PRECISIONS


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


positive_int.__name__ = "positive int"  # argparse names the type in its message: invalid positive int value: '0'


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


positive_float.__name__ = "positive number"


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise ValueError(text)
    return value


fraction.__name__ = "fraction (0 <= x < 1)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="smollm2-135m", help="hub id, local folder, .gguf file, 'smollm2-135m' or 'tiny'"
    )
    parser.add_argument(
        "--data", required=True, help="JSONL training file: {'messages': [...]} or {'prompt', 'completion'} per line"
    )
    parser.add_argument("--output", required=True, help="folder for the adapter (or model) and the training records")
    parser.add_argument("--method", choices=METHODS, default="qlora")
    parser.add_argument("--steps", type=positive_int, default=-1, help="optimizer steps (overrides --epochs)")
    parser.add_argument("--epochs", type=positive_float, default=1.0)
    parser.add_argument("--batch-size", type=positive_int, default=8, help="sequences per device per step")
    parser.add_argument("--grad-accum", type=positive_int, default=1)
    parser.add_argument(
        "--max-length",
        type=positive_int,
        default=1024,
        help="tokens per example (default 1024): longer ones are cut from the right, and dropped if no answer is left",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="default: measured per method and model size (training.DEFAULT_LR_BY_SIZE)",
    )
    parser.add_argument(
        "--warmup", type=fraction, default=0.1, help="share of the steps spent warming the learning rate up from 0"
    )
    parser.add_argument("--lora-r", type=positive_int, default=16)
    parser.add_argument("--lora-dropout", type=fraction, default=0.05)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument(
        "--no-group-by-length", action="store_true", help="random order instead of batches of similar length"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        metavar="STEPS",
        help="save a checkpoint every STEPS optimizer steps in OUTPUT/trainer (the latest is kept) for --resume",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on from the latest checkpoint in --output (same data and options as the interrupted run)",
    )


def config_from_args(args: argparse.Namespace, save: bool = True):
    """The TrainConfig the options describe."""
    from ..core.training import TrainConfig

    return TrainConfig(
        method=args.method,
        learning_rate=args.lr,
        epochs=args.epochs,
        max_steps=args.steps,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        max_length=args.max_length,
        warmup_ratio=args.warmup,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        lora_dropout=args.lora_dropout,
        precision=args.precision,
        group_by_length=not args.no_group_by_length,
        seed=args.seed,
        save=save,
        checkpoint_steps=args.checkpoint_every or 0,
    )


def run(args: argparse.Namespace) -> int:
    from ..core.tasks import load_jsonl_examples
    from .cli import UserError

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output}: exists and is not a folder")
    examples = load_jsonl_examples(args.data)  # before torch loads: a bad file fails at once

    from ..core.training import finetune, latest_checkpoint

    rank = int(os.environ.get("RANK", "0"))
    config = config_from_args(args, save=rank == 0)
    if args.resume:
        checkpoint = latest_checkpoint(output)
        if checkpoint is None:
            raise UserError(
                f"--resume: no checkpoint in {output / 'trainer'}; a run writes them with --checkpoint-every STEPS"
            )
        if not args.checkpoint_every:  # go on writing checkpoints as the interrupted run did
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            config = dataclasses.replace(config, checkpoint_steps=int(state.get("save_steps") or 0))
    trained, record = finetune(args.model, examples, config, output_dir=output, progress=rank == 0, resume=args.resume)
    if record.saved_path and config.method == "full":  # a full model folder loads with its tokenizer (`eval --model`)
        trained.tokenizer.save_pretrained(record.saved_path)
    summary = {**record.to_dict(), "rank": rank, "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
    (output / f"record-rank{rank}.json").write_text(json.dumps(summary, indent=2))
    if rank == 0:
        saved = record.saved_path or output
        print(f"trained {record.optimizer_steps} steps, final loss {record.final_loss:.4f}; saved to {saved}")
    return 0
