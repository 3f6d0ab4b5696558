"""Download a dataset's upstream files, pinned and hashed, when there is no local copy.

The loaders read one format: the upstream files as their authors publish them. Offline they come from a
local folder (FT_COURSE_DATA or ../shared/datasets); online `fetch` brings the very same files from GitHub
at a pinned commit into the cache (`$FT_COURSE_CACHE/datasets/<name>/`), checks each sha256, and the
loader parses them with the same code. No hub loading script is involved (`datasets` >= 4 refuses those).
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import tempfile
import urllib.request
from pathlib import Path

from ..core.paths import cache_dir, hub_offline
from .sources import DatasetNotAvailableError
from .upstream_files import UPSTREAM

RAW_BASE = "https://raw.githubusercontent.com"


def file_url(name: str, relative: str) -> str:
    spec = UPSTREAM[name]
    return f"{RAW_BASE}/{spec['repository']}/{spec['commit']}/{spec['folder']}/{relative}"


def origin(name: str) -> str:
    """Where the files come from, for the result files' provenance."""
    spec = UPSTREAM[name]
    return f"github:{spec['repository']}@{spec['commit'][:12]}/{spec['folder']}"


def download(url: str, destination: Path) -> None:
    """Fetch url to destination through a temporary file, so an interrupted download leaves nothing behind."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                shutil.copyfileobj(response, tmp)
        except (OSError, http.client.HTTPException) as err:  # no network, 404, a connection cut mid-file
            Path(tmp.name).unlink(missing_ok=True)
            raise DatasetNotAvailableError(f"could not download {url}: {err}") from err
        except BaseException:  # interrupted: leave no partial file behind
            Path(tmp.name).unlink(missing_ok=True)
            raise
    Path(tmp.name).replace(destination)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(name: str, files: list[str] | None = None) -> Path:
    """The cache folder holding `files` (default: all of the dataset's upstream files), each downloaded once
    and checked against its pinned sha256. A file whose hash differs is removed and reported."""
    if name not in UPSTREAM:
        raise DatasetNotAvailableError(f"{name}: no pinned upstream files; known: {sorted(UPSTREAM)}")
    pinned = UPSTREAM[name]["files"]
    wanted = list(pinned) if files is None else files
    unknown = [f for f in wanted if f not in pinned]
    if unknown:
        raise DatasetNotAvailableError(f"{name}: {unknown} are not among its pinned upstream files")
    folder = cache_dir() / "datasets" / name
    missing = [f for f in wanted if not (folder / f).is_file() or _sha256(folder / f) != pinned[f]]
    if missing and hub_offline():
        raise DatasetNotAvailableError(
            f"{name}: no local copy (set FT_COURSE_DATA to a folder holding {name}/ in its upstream format) and "
            f"HF_HUB_OFFLINE=1 forbids downloading it from {origin(name)}."
        )
    for relative in missing:
        target = folder / relative
        download(file_url(name, relative), target)
        actual = _sha256(target)
        if actual != pinned[relative]:
            target.unlink()
            raise DatasetNotAvailableError(
                f"{name}: {file_url(name, relative)} has sha256 {actual[:12]}..., "
                f"pinned {pinned[relative][:12]}...; the upstream file changed or the download was corrupted"
            )
    return folder
