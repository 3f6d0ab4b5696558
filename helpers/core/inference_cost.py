"""Measure what serving a model costs: latency per request, throughput at a fixed batch, peak memory.

Each measurement runs in a fresh process (`python -m helpers measure-inference SPEC`), like the
training probe, so memory left by earlier work does not count. A model that cannot be loaded here
(a hub id while offline) can still be timed with random weights built from its published
architecture: speed and memory depend on the shapes, not on the weight values. Every request then
generates exactly `new_tokens` tokens (minimum = maximum), so no model stops early and all do the
same work.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .cost_model import Architecture, architecture_for
from .cost_probe import CostProbeError, run_helpers_command
from .generation import generate, prompt_token_ids
from .models import LoadedModel, build_random_model, default_device, default_dtype, load_model, resolve
from .training import current_memory_mb, peak_memory_mb

REAL, RANDOM = "real", "random (published config)"


@dataclass
class InferenceSpec:
    model: str  # the name load_model understands, or a published architecture for random weights
    weights: str  # REAL or RANDOM
    prompts: list[list[dict]]  # chat prompts: the workload
    new_tokens: int  # tokens generated per request
    n_latency: int  # requests sent one at a time (batch 1) for the latency percentiles
    batch_size: int  # requests served together for the throughput figure
    tokenizer_model: str  # formats the prompts of a random-weight model (its family's tokenizer)


def measure_inference_cost(spec: InferenceSpec, timeout: int = 1800) -> dict:
    """Run `spec` in a fresh process and return its measurements."""
    with tempfile.TemporaryDirectory(prefix="ft-inference-probe-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps({"spec": asdict(spec), "out": str(out_path)}))
        run_helpers_command(["measure-inference", str(spec_path)], f"inference probe for {spec.model}", timeout)
        return json.loads(out_path.read_text())


def run_spec(spec_path: str | Path) -> int:
    """The child side: load (or build) the model, measure, write the result."""
    payload = json.loads(Path(spec_path).read_text())
    spec = InferenceSpec(**payload["spec"])
    Path(payload["out"]).write_text(json.dumps(measure(spec)))
    return 0


def random_weight_model(arch: Architecture, tokenizer_model: str, device: str | None = None) -> LoadedModel:
    """A model with `arch`'s shapes and random weights from seed 0, with the tokenizer of `tokenizer_model`."""
    from transformers import AutoTokenizer

    device = device or default_device()
    dtype = default_dtype(device)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(resolve(tokenizer_model)[0])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = build_random_model(arch, dtype, seed=0).to(device).eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=arch.name,
        source="random",
        folder=Path("."),
        content_hash="random-init-seed-0",
        device=device,
        load_seconds=round(time.perf_counter() - started, 2),
        notes=[f"random weights with the published {arch.name} shapes; for timing only"],
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def measure(spec: InferenceSpec) -> dict:
    """Latency at batch 1 over `n_latency` requests (after one warm-up), throughput at `batch_size`,
    peak memory above what the process held before the model was loaded."""
    device = default_device()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    memory_before = current_memory_mb(device)
    if spec.weights == REAL:
        loaded = load_model(spec.model, device=device)
        arch = Architecture.from_config(loaded.model.config, spec.model)
    else:
        arch = architecture_for(spec.model)
        if arch is None:
            raise CostProbeError(f"{spec.model}: no published architecture known for random weights")
        loaded = random_weight_model(arch, spec.tokenizer_model, device)
    prompts = spec.prompts
    run = dict(max_new_tokens=spec.new_tokens, min_new_tokens=spec.new_tokens, progress=False)
    generate(loaded, prompts[:1], batch_size=1, **run)  # warm-up: first-call allocations and kernel choices
    latencies = []
    for i in range(spec.n_latency):
        started = time.perf_counter()
        generate(loaded, [prompts[i % len(prompts)]], batch_size=1, **run)
        latencies.append(time.perf_counter() - started)
    batch = [prompts[i % len(prompts)] for i in range(spec.batch_size)]
    started = time.perf_counter()
    generate(loaded, batch, batch_size=spec.batch_size, **run)
    batch_seconds = time.perf_counter() - started
    prompt_tokens = [len(ids) for ids in prompt_token_ids(loaded.tokenizer, batch)]
    parameters = sum(p.numel() for p in loaded.model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    return {
        "model": spec.model,
        "weights": spec.weights,
        "architecture": asdict(arch),
        "parameters": parameters,
        "dtype": str(next(loaded.model.parameters()).dtype).replace("torch.", ""),
        "weights_mb": weight_bytes / 2**20,
        "device": device,
        "new_tokens": spec.new_tokens,
        "mean_prompt_tokens": float(np.mean(prompt_tokens)),
        "latency_seconds": latencies,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "batch_size": spec.batch_size,
        "batch_seconds": batch_seconds,
        "requests_per_second": spec.batch_size / batch_seconds,
        "generated_tokens_per_second": spec.batch_size * spec.new_tokens / batch_seconds,
        "peak_memory_mb": peak_memory_mb(device) - (0.0 if device.startswith("cuda") else memory_before),
        "peak_memory_kind": "cuda_max_allocated" if device.startswith("cuda") else "process_peak_rss",
        "load_seconds": loaded.load_seconds,
    }


def cost_per_1k_requests(requests_per_second: float, price_per_hour: float) -> float:
    """Price of serving 1,000 requests on a machine billed `price_per_hour`, kept busy at the measured throughput."""
    if requests_per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    return price_per_hour * 1000 / requests_per_second / 3600
