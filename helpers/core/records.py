"""Result records: every experiment writes one JSON file with its full provenance."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from .paths import REPO_ROOT

SCHEMA_VERSION = 1
TRACKED_PACKAGES = [
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "accelerate",
    "datasets",
    "numpy",
    "scikit-learn",
    "matplotlib",
    "papermill",
]
SMOKE_LABEL = "SMOKE RUN (tiny random model): plumbing check, not a finding"
SMOKE_WATERMARK = "SMOKE RUN\nnot a finding"  # the same warning, short enough to stamp across a figure
REHEARSAL_PREFIX = "rehearse-"  # helpers.course.rehearsal: a GPU tier's code paths on a CPU with tiny stand-ins


def is_plumbing(profile: str) -> bool:
    """Whether a run of this profile checks only that the code runs: the smoke profile and the rehearsals."""
    return profile == "smoke" or profile.startswith(REHEARSAL_PREFIX)


def plumbing_label(profile: str) -> str:
    """The warning a plumbing run's results carry (SMOKE_LABEL, or the rehearsal's)."""
    if profile == "smoke":
        return SMOKE_LABEL
    tier = profile[len(REHEARSAL_PREFIX) :]
    return f"REHEARSAL of the {tier} tier (tiny stand-in models on a CPU): plumbing check, not a finding"


def plumbing_watermark(profile: str) -> str:
    return SMOKE_WATERMARK if profile == "smoke" else "REHEARSAL\nnot a finding"


def smoke_labelled(text: str, profile: str) -> str:
    """`text`, prefixed with the plumbing label on the smoke profile and the rehearsals, so that it is never
    read as a finding."""
    return f"[{plumbing_label(profile)}] {text}" if is_plumbing(profile) else text


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            accelerator=torch.cuda.get_device_name(0),
            accelerator_memory_gb=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
        )
    else:
        info["accelerator"] = "none (CPU)"
    info["training_precision_auto"] = auto_training_precision()
    return info


def machine_description(device: dict) -> str:
    """The machine a record ran on, in words: the accelerator, or "CPU (model, N cores)"."""
    accelerator = device.get("accelerator") or ""
    if accelerator and not accelerator.startswith("none"):
        return accelerator
    return f"CPU ({device.get('cpu', 'unknown')}, {device.get('cpu_count', '?')} cores)"


def auto_training_precision() -> str:
    """What TrainConfig(precision="auto"), the course default, trains in on this machine."""
    import torch

    from .training import TrainConfig, precision_label

    return precision_label(TrainConfig().resolved_precision("cuda" if torch.cuda.is_available() else "cpu"))


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def build_record(
    *,
    experiment: str,
    profile: str,
    parameters: dict,
    models: list[dict],
    datasets: list[dict],
    seeds: list[int],
    metrics: dict,
    timings: dict,
    headline: dict | None = None,
    verdicts: list[dict] | None = None,
    extra: dict | None = None,
) -> dict:
    """Assemble a result record; `headline` is {"label": ..., "value": ...} for the course summary."""
    return _jsonable(
        {
            "schema_version": SCHEMA_VERSION,
            "experiment": experiment,
            "profile": profile,
            "is_finding": not is_plumbing(profile),
            "label": plumbing_label(profile) if is_plumbing(profile) else f"{profile} profile",
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "parameters": parameters,
            "models": models,
            "datasets": datasets,
            "seeds": seeds,
            "packages": package_versions(),
            "device": device_info(),
            "timings": timings,
            "metrics": metrics,
            "headline": headline or {},
            "verdicts": verdicts or [],
            **({"extra": extra} if extra else {}),
        }
    )


def write_record(record: dict, results_dir: str | Path, name: str | None = None) -> Path:
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name or record['experiment']}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def read_record(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
