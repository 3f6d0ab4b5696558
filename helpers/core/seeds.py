"""Seeds derived from a base seed and a purpose, so each use of randomness is independent and stable."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager


def derived_seed(*parts) -> int:
    """A seed for one purpose (for example `derived_seed(data_seed, "train")`), stable across machines and
    Python runs (unlike `hash`, which Python salts per process)."""
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16], 16)


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Inside the block, torch's CPU generator starts from `seed`; afterwards it is back where it was, so
    drawing a model's random weights from a seed does not move the random numbers of the code around it.
    (torch.manual_seed also seeds the CUDA generators; those are not restored.)"""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
