"""Rehearsals: a GPU tier's code paths run on a CPU, with local stand-ins for its models.

No GPU is needed to find out whether a tier's notebooks run to the end: what a tier changes is which
branches run (QLoRA rather than LoRA, several ranks, five unknown-fact shares, three seeds, a fourth
period), not what a branch does. A rehearsal profile (`rehearse-t4`, `rehearse-gpu`) keeps everything of
the tier that chooses a branch or shapes a grid (method, ranks, grids of rates and shares, periods,
extensions), maps every hub model to the code-built tiny model, takes at least two seeds, and takes each
size (examples, items, steps, tokens) from the smoke profile, so that it runs in minutes.
`python -m helpers course --rehearse t4` runs one; its results are plumbing checks, never findings.
"""

from __future__ import annotations

PREFIX = "rehearse-"
REHEARSED_TIERS = ("t4", "gpu")
STAND_IN = "tiny"
SEEDS = [0, 1]  # at least two, so that every branch that pools seeds runs

# Parameters that choose a branch or shape a grid: a rehearsal keeps the tier's value.
KEEP = frozenset(
    {
        "method",
        "lora_r",
        "ranks",
        "attention_ranks",
        "noise_rates",
        "bank_noise_rates",
        "eq_shares",
        "eq_relations",
        "replay_share",
        "lr_grid",
        "full_lrs",
        "lora_lrs",
        "qlora_lrs",
        "max_extensions",
        "learning_rate",
        "learning_rates",
        "n_finetuned",
        "n_periods",
        "clinc_periods",
        "retrieval_seeds",
        "few_shot",
        "generators",
        "bank_few_shot",
        "intake_few_shot",
        "top_k",
        "quality_margin",
        "cost_factor",
        "memory_factor",
        "max_scored_params_m",
        "price_per_hour",
        "price_per_gpu_hour",
        "utilisation",
    }
)
# Switches that are also sizes: the value that turns a branch off. A rehearsal keeps it when the tier has the
# branch off, and otherwise takes the smoke size like any other (notebook 07: intake_n_seed 0 runs no intake arms).
OFF = {"intake_n_seed": 0}
# Model lists whose stand-ins would all be the same model: the smoke profile's list (a tiny model and the
# embedded SmolLM2, both local) stands in for them.
SMOKE_MODEL_LISTS = frozenset({"models"})


def profile_name(tier: str) -> str:
    if tier not in REHEARSED_TIERS:
        raise ValueError(f"no rehearsal for {tier!r}: rehearsals exist for {', '.join(REHEARSED_TIERS)}")
    return PREFIX + tier


def is_rehearsal(profile: str | None) -> bool:
    return bool(profile) and profile.startswith(PREFIX) and profile[len(PREFIX) :] in REHEARSED_TIERS


def tier_of(profile: str) -> str:
    if not is_rehearsal(profile):
        raise ValueError(f"{profile!r} is not a rehearsal profile ({', '.join(map(profile_name, REHEARSED_TIERS))})")
    return profile[len(PREFIX) :]


def stand_in(model: str | None) -> str | None:
    """The local model a rehearsal loads instead: the tiny model for a hub id or a random-weights architecture;
    the name itself for a local model (tiny, the embedded SmolLM2 by its alias, a folder or .gguf path)."""
    if model is None:
        return None
    from ..core.models import EMBEDDED_ALIASES, RANDOM_PREFIX

    local = model == STAND_IN or model.lower() in EMBEDDED_ALIASES or model.startswith((".", "/", "~"))
    return model if local and not model.startswith(RANDOM_PREFIX) else STAND_IN


def shaped(small: list, length: int) -> list:
    """A list of `length` sizes made from the smoke profile's `small` ones: the same list when the lengths
    agree, else evenly spread between half the smallest and the largest, ascending and distinct."""
    if len(small) == length:
        return list(small)
    if not small or not all(isinstance(v, int) for v in small):
        return [small[i % len(small)] for i in range(length)] if small else []
    low, high = max(1, min(small) // 2), max(small)
    high = max(high, low + length - 1)
    values = [low + round(i * (high - low) / max(1, length - 1)) for i in range(length)]
    for i in range(1, length):  # distinct and ascending after rounding
        values[i] = max(values[i], values[i - 1] + 1)
    return values


def rehearsal_defaults(tier_defaults: dict, smoke_defaults: dict) -> dict:
    """A notebook's rehearsal settings from its tier's and its smoke profile's defaults (see the module docstring)."""
    out = {}
    for key, value in tier_defaults.items():
        small = smoke_defaults[key]
        if key in KEEP or (key in OFF and value == OFF[key]):
            out[key] = value
        elif key == "seeds":
            out[key] = list(SEEDS)
        elif key == "model":
            out[key] = stand_in(value)
        elif key in SMOKE_MODEL_LISTS:
            out[key] = list(small)
        elif isinstance(value, list) and isinstance(small, list):
            out[key] = shaped(small, len(value))
        else:
            out[key] = small
    return out
