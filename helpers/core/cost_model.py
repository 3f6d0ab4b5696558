"""A back-of-the-envelope cost model for fine-tuning: memory, compute time and price.

Memory is the sum of four parts, each written out so a reader can check it:
  weights     the base model (4-bit NF4 for QLoRA's linear layers, else the training dtype);
  gradients   for every trainable parameter;
  optimizer   AdamW keeps two moments per trainable parameter;
  activations saved for the backward pass, per token: the transformer blocks (or only their inputs
              with gradient checkpointing) plus the logits over the vocabulary, which dominate for
              models with large vocabularies.
Compute uses the usual FLOP counts: about 2 FLOPs per parameter per token forward, twice that
backward for full fine-tuning (gradients for activations and weights), and about once that for
LoRA/QLoRA (the frozen weights need no gradients). Time is FLOPs / (peak FLOP/s x utilisation).

It is an estimate: the notebook checks it against measured runs and prints the error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from . import gpus

GB = 1e9
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
ALL_LINEAR = ATTENTION + ("gate_proj", "up_proj", "down_proj")
METHODS = ("full", "lora", "qlora")  # the fine-tuning methods: training.finetune runs them, this module prices them
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # TrainConfig.precision (here, so the command line needs no torch)
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
# 4-bit NF4 with blocks of 64 and double quantization: 4 bits + 8-bit absmax per 64 weights
# + an fp32 constant per 256 blocks = about 4.127 bits per weight.
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)


@dataclass(frozen=True)
class Architecture:
    """The shape of a Llama-style decoder (Llama, Qwen2, SmolLM2, Mistral share it)."""

    name: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool
    qkv_bias: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each linear layer in one block."""
        h, kv = self.hidden, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, self.intermediate),
            "up_proj": (h, self.intermediate),
            "down_proj": (self.intermediate, h),
        }

    def linear_params(self) -> int:
        """Weights of all linear layers in the blocks (what QLoRA stores in 4 bits)."""
        return self.layers * sum(i * o for i, o in self.linear_shapes().values())

    def other_params(self) -> int:
        """Embeddings, output head, norms and biases (kept in 16/32 bits)."""
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        norms = self.layers * 2 * self.hidden + self.hidden
        bias = self.layers * (self.hidden + 2 * self.kv_heads * self.head_dim) if self.qkv_bias else 0
        return embeddings + norms + bias

    def params(self) -> int:
        return self.linear_params() + self.other_params()

    def lora_params(self, rank: int, targets: str | tuple[str, ...] = "all-linear") -> int:
        modules = resolve_targets(targets)
        return self.layers * sum(rank * (i + o) for name, (i, o) in self.linear_shapes().items() if name in modules)

    @classmethod
    def from_config(cls, config, name: str = "") -> "Architecture":
        """From a transformers config (object or dict) of a Llama-style model."""
        get = config.get if isinstance(config, dict) else lambda key, default=None: getattr(config, key, default)
        heads = get("num_attention_heads")
        return cls(
            name=name or get("_name_or_path", "") or get("model_type", "model"),
            hidden=get("hidden_size"),
            layers=get("num_hidden_layers"),
            intermediate=get("intermediate_size"),
            heads=heads,
            kv_heads=get("num_key_value_heads") or heads,
            vocab=get("vocab_size"),
            tied_embeddings=bool(get("tie_word_embeddings", False)),
            qkv_bias=bool(get("attention_bias", False)) or get("model_type") == "qwen2",
        )

    def to_transformers_config(self):
        """A transformers config with this shape (Qwen2 when the attention has biases, else Llama), for
        building a model with random weights to time it: speed and memory depend on shapes, not values."""
        from transformers import LlamaConfig, Qwen2Config

        shape = dict(
            hidden_size=self.hidden,
            intermediate_size=self.intermediate,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads,
            vocab_size=self.vocab,
            tie_word_embeddings=self.tied_embeddings,
            max_position_embeddings=8192,
        )
        return Qwen2Config(**shape) if self.qkv_bias else LlamaConfig(**shape)


# Published configs (config.json on the hub) of the model families the course uses.
KNOWN_ARCHITECTURES = {
    arch.name: arch
    for arch in [
        Architecture("SmolLM2-135M", 576, 30, 1536, 9, 3, 49152, True),
        Architecture("SmolLM2-360M", 960, 32, 2560, 15, 5, 49152, True),
        Architecture("Qwen2.5-0.5B", 896, 24, 4864, 14, 2, 151936, True, True),
        Architecture("Qwen2.5-1.5B", 1536, 28, 8960, 12, 2, 151936, True, True),
        Architecture("SmolLM2-1.7B", 2048, 24, 8192, 32, 32, 49152, True),
        Architecture("Qwen2.5-3B", 2048, 36, 11008, 16, 2, 151936, True, True),
        Architecture("Qwen2.5-7B", 3584, 28, 18944, 28, 4, 152064, False, True),
        Architecture("Llama-3.1-8B", 4096, 32, 14336, 32, 8, 128256, False),
        Architecture("Qwen2.5-14B", 5120, 48, 13824, 40, 8, 152064, False, True),
        Architecture("Qwen2.5-32B", 5120, 64, 27648, 40, 8, 152064, False, True),
        Architecture("Llama-3.1-70B", 8192, 80, 28672, 64, 8, 128256, False),
    ]
}


def architecture_for(model_name: str) -> Architecture | None:
    """The published architecture of a model name such as "HuggingFaceTB/SmolLM2-1.7B-Instruct" or
    "Qwen2.5-7B"; None when the name is not one of KNOWN_ARCHITECTURES."""
    stem = model_name.rstrip("/").split("/")[-1].lower().removesuffix("-instruct")
    return next((arch for name, arch in KNOWN_ARCHITECTURES.items() if name.lower() == stem), None)


def resolve_targets(targets: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if targets == "all-linear":
        return ALL_LINEAR
    if targets == "attention":
        return ATTENTION
    unknown = set(targets) - set(ALL_LINEAR)
    if unknown:
        raise ValueError(f"unknown LoRA target module(s) {sorted(unknown)}: known {ALL_LINEAR}")
    return tuple(targets)


@dataclass(frozen=True)
class Setup:
    """How a model is trained: method, precision, LoRA shape and the batch in tokens."""

    method: str = "lora"  # "full" | "lora" | "qlora"
    dtype: str = "bf16"  # compute dtype (activations, and frozen base weights): "bf16"/"fp16" on GPUs, "fp32" on CPU
    lora_r: int = 16
    lora_targets: str | tuple[str, ...] = "all-linear"
    batch_size: int = 1
    seq_len: int = 2048
    gradient_checkpointing: bool = False
    logit_share: float = (
        1.0  # share of positions projected to the vocabulary: 1, or the answer share with answer-only logits
    )

    def __post_init__(self):
        if not 0 < self.logit_share <= 1:
            raise ValueError(f"logit_share is a share of the batch's positions, in (0, 1]; got {self.logit_share}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: choose one of {METHODS}")
        if self.dtype not in DTYPE_BYTES:
            raise ValueError(f"unknown dtype {self.dtype!r}: choose one of {sorted(DTYPE_BYTES)}")


@dataclass
class MemoryEstimate:
    weights: float  # bytes
    gradients: float
    optimizer: float
    activations: float
    trainable_params: int
    total_params: int

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def total_gb(self) -> float:
        return self.total / GB

    def to_dict(self) -> dict:
        parts = {k: round(v / GB, 3) for k, v in asdict(self).items() if k not in ("trainable_params", "total_params")}
        return {
            **{f"{k}_gb": v for k, v in parts.items()},
            "total_gb": round(self.total_gb, 3),
            "trainable_params": self.trainable_params,
            "trainable_percent": 100 * self.trainable_params / self.total_params,
        }


def activation_bytes_per_token(arch: Architecture, setup: Setup) -> float:
    """Bytes saved for the backward pass per token of the batch.

    Per block (no checkpointing): about 8 hidden-size vectors (norm inputs and outputs, q and the
    attention output, residuals) plus k/v and 4 MLP-width vectors (gate, up, activation, product);
    attention itself is fused (SDPA), so no sequence-squared term. LoRA adds the dropout copy of each
    targeted layer's input. With checkpointing only each block's input is kept, plus one block being
    recomputed. The logits (and their float32 copy for the loss) add about (bytes + 8) x vocab, at the
    positions that are projected to the vocabulary (`logit_share`).
    """
    act = DTYPE_BYTES[setup.dtype]
    kv = arch.kv_heads * arch.head_dim
    block = 8 * arch.hidden + 4 * kv + 4 * arch.intermediate
    if setup.method != "full":
        shapes = arch.linear_shapes()
        block += sum(shapes[name][0] + setup.lora_r for name in resolve_targets(setup.lora_targets))
    blocks = (arch.layers * arch.hidden + block) if setup.gradient_checkpointing else arch.layers * block
    logits = arch.vocab * (act + 8 if act == 2 else act + 4) * setup.logit_share
    return blocks * act + logits


def training_memory(arch: Architecture, setup: Setup) -> MemoryEstimate:
    """Peak training memory, in bytes, split into its parts."""
    w = DTYPE_BYTES[setup.dtype]
    total = arch.params()
    if setup.method == "full":
        # mixed precision: fp32 master weights, gradients and AdamW moments whatever the compute dtype
        # (`finetune` loads a full fine-tune in fp32; autocast computes in bf16/fp16)
        trainable = total
        weights = total * 4
        gradients = total * 4
        optimizer = total * 8
    else:
        trainable = arch.lora_params(setup.lora_r, setup.lora_targets)
        if setup.method == "qlora":
            # Linear layers in NF4; embeddings, head and norms upcast to fp32 by prepare_model_for_kbit_training.
            weights = arch.linear_params() * NF4_BYTES_PER_PARAM + arch.other_params() * 4
        else:
            weights = total * w
        weights += trainable * 4  # peft keeps adapter weights in fp32
        gradients = trainable * 4
        optimizer = trainable * 8
    activations = activation_bytes_per_token(arch, setup) * setup.batch_size * setup.seq_len
    return MemoryEstimate(weights, gradients, optimizer, activations, trainable, total)


def flops_per_token(arch: Architecture, setup: Setup) -> float:
    """Training FLOPs per token: forward 2N (+ attention), backward 2x forward for full, 1x for LoRA."""
    matmul_params = (
        arch.linear_params() + arch.vocab * arch.hidden * setup.logit_share
    )  # the output head, where logits are kept
    attention = 4 * arch.layers * arch.hidden * setup.seq_len / 2  # QK^T and AV, causal
    forward = 2 * matmul_params + attention
    if setup.method == "full":
        return 3 * forward
    adapters = 6 * arch.lora_params(setup.lora_r, setup.lora_targets)
    return 2 * forward + adapters


@dataclass(frozen=True)
class GPU:
    name: str
    memory_gb: float
    bf16_tflops: float  # dense peak


def _memory_class(name: str, card: str) -> GPU:
    """A memory class named `name`, priced at `card`'s figures from helpers.core.gpus (the one table)."""
    card_spec = gpus.spec(card)
    return GPU(name, card_spec.memory_gb, card_spec.tflops)


# The memory classes the fit table has a column for; each priced at its slowest common card.
COMMON_GPUS = (
    _memory_class("24 GB (RTX 4090 / L4 class)", "L4"),
    _memory_class("48 GB (A6000 / L40S class)", "RTX A6000"),
    _memory_class("80 GB (A100 / H100 class)", "A100"),
)


def training_time_hours(
    arch: Architecture, setup: Setup, tokens: float, gpu_tflops: float, utilisation: float = 0.35
) -> float:
    """GPU-hours to train on `tokens` tokens at a given model-FLOPs utilisation."""
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation is a fraction of peak in (0, 1]")
    return tokens * flops_per_token(arch, setup) / (gpu_tflops * 1e12 * utilisation) / 3600


def estimate(
    arch: Architecture, setup: Setup, tokens: float, gpu: GPU, price_per_gpu_hour: float, utilisation: float = 0.35
) -> dict:
    """One row of the cost table: memory, whether it fits, GPU-hours and price."""
    memory = training_memory(arch, setup)
    hours = training_time_hours(arch, setup, tokens, gpu.bf16_tflops, utilisation)
    return {
        "model": arch.name,
        "params_b": round(arch.params() / 1e9, 2),
        "method": setup.method,
        **memory.to_dict(),
        "gpu": gpu.name,
        "fits": fits(memory, gpu),
        "gpu_hours": hours,
        "price": hours * price_per_gpu_hour,
    }


def fits(memory: MemoryEstimate, gpu: GPU, usable_fraction: float = 0.9) -> bool:
    """Fits when the estimate stays under `usable_fraction` of the card (runtime, fragmentation)."""
    return memory.total <= gpu.memory_gb * GB * usable_fraction


def fit_table(architectures, setups: dict[str, Setup], gpus=COMMON_GPUS, usable_fraction: float = 0.9) -> list[dict]:
    """Rows: model x method, with the estimated memory and a yes/no per GPU size."""
    rows = []
    for arch in architectures:
        for label, setup in setups.items():
            memory = training_memory(arch, setup)
            row = {
                "model": arch.name,
                "params (B)": round(arch.params() / 1e9, 2),
                "method": label,
                "memory (GB)": round(memory.total_gb, 1),
            }
            for gpu in gpus:
                row[f"{gpu.memory_gb:g} GB"] = "yes" if fits(memory, gpu, usable_fraction) else "no"
            rows.append(row)
    return rows


def relative_error(predicted: float, measured: float) -> float:
    if measured <= 0 or math.isnan(measured):
        raise ValueError("measured value must be positive")
    return (predicted - measured) / measured


def recommend_method(
    arch: Architecture, gpu_memory_gb: float, batch_size: int = 4, seq_len: int = 1024, usable_fraction: float = 0.9
) -> str:
    """Pick by memory: LoRA on a 16-bit base if it fits (no 4-bit quantization error, usually faster
    than QLoRA on GPUs), else QLoRA, else advice on what to change. When full fine-tuning fits too, say
    so: whether it beats LoRA on a task is something to measure on a validation split, not assume.
    """
    gpu = GPU("yours", gpu_memory_gb, 0)

    def fits_with(method: str, checkpointing: bool = True) -> bool:
        setup = Setup(
            method=method, dtype="bf16", batch_size=batch_size, seq_len=seq_len, gradient_checkpointing=checkpointing
        )
        return fits(training_memory(arch, setup), gpu, usable_fraction)

    if fits_with("lora"):
        extra = " Full fine-tuning also fits: compare the two on a validation split." if fits_with("full") else ""
        return f"LoRA (bf16 base, adapters on all linear layers).{extra}"
    if fits_with("qlora"):
        return "QLoRA (4-bit NF4 base): LoRA on a 16-bit base does not fit."
    if batch_size * seq_len > 512 and fits(
        training_memory(arch, Setup(method="qlora", batch_size=1, seq_len=512, gradient_checkpointing=True)),
        gpu,
        usable_fraction,
    ):
        return (
            "QLoRA with a smaller batch (and gradient accumulation) or shorter sequences: "
            "the activations do not fit at this batch."
        )
    return "Nothing fits this card: choose a smaller model or a larger GPU (or shard across GPUs with FSDP)."
