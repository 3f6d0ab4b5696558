"""Where the course keeps its caches, local datasets, notebooks and results."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # helpers/core/paths.py -> the repository
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RESULTS_DIR = REPO_ROOT / "results"
RUNS_DIR = REPO_ROOT / "runs"


def cache_dir() -> Path:
    """Model cache (converted GGUF, the tiny model). Override with FT_COURSE_CACHE."""
    path = Path(os.environ.get("FT_COURSE_CACHE", Path.home() / ".cache" / "ft-course"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path | None:
    """Folder with local copies of the public datasets, or None when there is none.

    FT_COURSE_DATA wins; otherwise `../shared/datasets` next to the repository, when present.
    """
    explicit = os.environ.get("FT_COURSE_DATA")
    if explicit:
        return Path(explicit)
    sibling = REPO_ROOT.parent / "shared" / "datasets"
    return sibling if sibling.is_dir() else None


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}
