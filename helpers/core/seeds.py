"""Seeds derived from a base seed and a purpose, so each use of randomness is independent and stable."""

from __future__ import annotations

import hashlib


def derived_seed(*parts) -> int:
    """A seed for one purpose (for example `derived_seed(data_seed, "train")`), stable across machines and
    Python runs (unlike `hash`, which Python salts per process)."""
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16], 16)
