"""The training entry point under `accelerate launch` with two CPU processes (gloo): both train, and
the result matches one process training on the same global batch."""

import json
import subprocess
import sys

import pytest
from conftest import make_examples
from safetensors.torch import load_file

from helpers.core.paths import REPO_ROOT
from helpers.core.tasks import save_jsonl_examples

pytestmark = pytest.mark.slow

EXAMPLES = make_examples(
    [(f"What is the code for item {i}?", f"Item {i} has code {i * 7 % 10}{i % 3}.") for i in range(8)]
)


def train(tmp_path, name, launcher, batch_size):
    data = tmp_path / "train.jsonl"
    save_jsonl_examples(EXAMPLES, data)
    output = tmp_path / name
    command = launcher + [
        "-m",
        "helpers",
        "train",
        "--model",
        "tiny",
        "--data",
        str(data),
        "--output",
        str(output),
        "--method",
        "lora",
        "--steps",
        "1",
        "--batch-size",
        str(batch_size),
        "--lr",
        "1e-2",
        "--lora-dropout",
        "0",
        "--warmup",
        "0",
        "--precision",
        "fp32",
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return output


def test_two_cpu_processes_train_like_one(tmp_path):
    single = train(tmp_path, "single", [sys.executable], batch_size=8)
    # --multi_gpu selects accelerate's torchrun launcher; with no GPU the processes join a gloo group on the CPU
    # (--cpu would start a single process, or use mpirun)
    launcher = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    double = train(tmp_path, "double", launcher, batch_size=4)  # 2 processes x 4 = the same global batch of 8

    records = [json.loads((double / f"record-rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world_size"] for r in records] == [2, 2]
    assert all(r["optimizer_steps"] == 1 and r["tokens_seen"] > 0 for r in records)  # both processes trained
    assert (
        records[0]["tokens_seen"] + records[1]["tokens_seen"]
        == json.loads((single / "record-rank0.json").read_text())["tokens_seen"]
    )

    one = load_file(single / "adapter" / "adapter_model.safetensors")
    two = load_file(double / "adapter" / "adapter_model.safetensors")
    assert one.keys() == two.keys()
    assert (
        max(one[k].abs().max().item() for k in one if "lora_B" in k) > 0
    )  # the step moved the adapter from its zero start
    moved = max((one[k] - two[k]).abs().max().item() for k in one)
    assert moved < 1e-4, f"two-process adapter differs from the one-process adapter by {moved}"
