"""The GPUs the course plans for: memory, dense peak throughput, memory bandwidth and compute capability.

One table, read by the cost model (what fits, GPU-hours), the course plan (`python -m helpers course --plan`)
and the training benchmark (model-FLOPs utilisation). Figures are the vendors' data-sheet values for dense
matrix math (no 2:4 sparsity). Where the sheet gives two 16-bit figures, the one with fp32 accumulation is
used, because that is what PyTorch's matmuls do.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1e9


@dataclass(frozen=True)
class GPUSpec:
    name: str  # how the course names the card (also what `--gpu` accepts)
    memory_gb: float
    fp16_tflops: float  # dense fp16 tensor-core peak
    bf16_tflops: float | None  # dense bf16 peak; None where bf16 is only emulated (before compute capability 8.0)
    bandwidth_gb_s: float  # memory bandwidth: what bounds token-by-token decoding
    capability: tuple[int, int]  # CUDA compute capability
    device_names: tuple[str, ...] = ()  # substrings of torch.cuda.get_device_name(), matched in table order

    @property
    def precision(self) -> str:
        """The training precision the course resolves to on this card: bf16 from capability 8.0, else fp16."""
        return "bf16" if self.capability >= (8, 0) else "fp16"

    @property
    def tflops(self) -> float:
        """Dense peak in the precision the course trains in on this card."""
        return self.bf16_tflops if self.precision == "bf16" else self.fp16_tflops


# Ordered so that a more specific device name matches first: "A100-SXM4-40GB" before "A100", "A100" before
# "A10", "L40S" before "L4", "H100 PCIe" before "H100".
GPU_SPECS: tuple[GPUSpec, ...] = (
    GPUSpec("T4", 16, 65, None, 320, (7, 5), ("T4",)),
    GPUSpec("V100", 32, 125, None, 900, (7, 0), ("V100",)),
    GPUSpec("A100-40GB", 40, 312, 312, 1555, (8, 0), ("A100-SXM4-40GB", "A100-PCIE-40GB", "A100 40GB")),
    GPUSpec("A100", 80, 312, 312, 2039, (8, 0), ("A100",)),
    GPUSpec("A10G", 24, 70, 70, 600, (8, 6), ("A10G",)),
    GPUSpec("A10", 24, 125, 125, 600, (8, 6), ("A10",)),
    GPUSpec("L40S", 48, 362, 362, 864, (8, 9), ("L40S",)),
    GPUSpec("L4", 24, 121, 121, 300, (8, 9), ("L4",)),
    GPUSpec("RTX 4090", 24, 165, 165, 1008, (8, 9), ("RTX 4090",)),
    GPUSpec("RTX A6000", 48, 155, 155, 768, (8, 6), ("RTX A6000",)),
    GPUSpec("H100 PCIe", 80, 756, 756, 2000, (9, 0), ("H100 PCIe",)),
    GPUSpec("H100", 80, 989, 989, 3350, (9, 0), ("H100", "GH200")),
    GPUSpec("H200", 141, 989, 989, 4800, (9, 0), ("H200",)),
)


class UnknownGPUError(ValueError):
    pass


def spec(name: str) -> GPUSpec:
    """The card the course calls `name` (case-insensitive), or a one-line error listing the known ones."""
    for card in GPU_SPECS:
        if card.name.lower() == name.strip().lower():
            return card
    raise UnknownGPUError(f"unknown GPU {name!r}: choose one of {', '.join(card.name for card in GPU_SPECS)}")


def for_device(device_name: str) -> GPUSpec | None:
    """The card `torch.cuda.get_device_name()` names, or None for a card not in the table."""
    lowered = device_name.lower()
    for card in GPU_SPECS:
        if any(key.lower() in lowered for key in card.device_names):
            return card
    return None
