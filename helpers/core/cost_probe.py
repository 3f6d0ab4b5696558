"""Measure what a training configuration costs, alone in a fresh Python process.

Within one long-lived process, memory freed by an earlier fine-tune stays with the allocator and
inflates the next measurement, so each probe runs `python -m helpers measure-training` in its own
process: the record's peak memory minus its memory before loading is what this configuration takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from .models import free_accelerator_memory
from .tasks import Example, load_jsonl_examples, save_jsonl_examples
from .training import TrainConfig, finetune


class CostProbeError(RuntimeError):
    pass


PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # the folder that holds this `helpers` package


def helpers_command_env() -> dict[str, str]:
    """The child's environment: this package's parent first on PYTHONPATH. With `python -P` (no working
    directory on sys.path), `-m helpers` then runs this course's package even when the working directory,
    or a folder already on PYTHONPATH, holds another `helpers` (a project's own helpers.py)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_helpers_command(args: list[str], what: str, timeout: int) -> None:
    """Run `python -m helpers ARGS` (this course's package, whatever the working directory) in a fresh
    process; raise CostProbeError with its last error lines. This process's cached GPU memory is given back
    first, so the child can use it."""
    free_accelerator_memory()
    try:
        done = subprocess.run(
            [sys.executable, "-P", "-m", "helpers", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=helpers_command_env(),
        )
    except subprocess.TimeoutExpired as err:
        raise CostProbeError(f"{what} ran past {timeout} s") from err
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise CostProbeError(f"{what} failed with exit code {done.returncode}:\n{tail}")


def measure_training_cost(
    model_name: str,
    examples: list[Example],
    config: TrainConfig,
    steps: int,
    timeout: int = 1800,
    trainer: str = "course",
) -> dict:
    """Train `steps` optimizer steps of `config` on `examples` in a fresh process; return its TrainRecord as a dict,
    with `answer_loss` (the trained model scored on the examples, sft_baseline.answer_loss). trainer: "course"
    (training.finetune) or "sft" (TRL's SFTTrainer as recommended, sft_baseline.sft_finetune)."""
    if trainer not in ("course", "sft"):
        raise ValueError(f"unknown trainer {trainer!r}: 'course' or 'sft'")
    with tempfile.TemporaryDirectory(prefix="ft-cost-probe-") as tmp:
        folder = Path(tmp)
        save_jsonl_examples(examples, folder / "train.jsonl")
        spec = {
            "model": model_name,
            "examples": str(folder / "train.jsonl"),
            "output_dir": str(folder / "run"),
            "record": str(folder / "record.json"),
            # a probe measures the configuration as given: out of memory is its answer, not a cue to retry smaller
            "config": {**asdict(config), "max_steps": steps, "save": True, "oom_retries": 0},
            "trainer": trainer,
        }
        (folder / "spec.json").write_text(json.dumps(spec))
        run_helpers_command(
            ["measure-training", str(folder / "spec.json")], f"cost probe ({config.method}, {model_name})", timeout
        )
        return json.loads((folder / "record.json").read_text())


def run_spec(spec_path: str | Path) -> int:
    """The child side: read the spec, fine-tune, write the record."""
    from .sft_baseline import answer_loss, sft_finetune

    spec = json.loads(Path(spec_path).read_text())
    config = TrainConfig(**spec["config"])
    examples = load_jsonl_examples(spec["examples"])
    if spec.get("trainer", "course") == "sft":
        _, record = sft_finetune(spec["model"], examples, config, output_dir=spec["output_dir"])
    else:
        tuned, trained = finetune(spec["model"], examples, config, output_dir=spec["output_dir"], progress=False)
        record = {
            **trained.to_dict(),
            "answer_loss": answer_loss(tuned.model, tuned.tokenizer, examples, config.max_length),
        }
    Path(spec["record"]).write_text(json.dumps(record))
    return 0


def training_memory_mb(probe: dict) -> float:
    """What the configuration added to the process: peak minus the memory in use before loading."""
    return probe["peak_memory_mb"] - probe["memory_before_mb"]


def logit_share(probe: dict) -> float:
    """The share of a training run's positions that were projected to the vocabulary."""
    return probe["logit_positions"] / probe["padded_tokens_seen"] if probe["padded_tokens_seen"] else 1.0
