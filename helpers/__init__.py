"""Shared machinery for the fine-tuning myths course.

Notebooks stay thin: they pick parameters and call into these modules, which load models,
build tasks, fine-tune (full / LoRA / QLoRA), evaluate, record results and plot.
"""

__version__ = "0.1.0"
