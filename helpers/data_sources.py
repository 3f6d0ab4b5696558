"""Loaders for the public datasets: a local folder in the upstream format first, the hub when online."""

from __future__ import annotations

import csv
from pathlib import Path

from .paths import data_dir, hub_offline

LICENSES = {"banking77": "CC BY 4.0"}


class DatasetNotAvailableError(RuntimeError):
    pass


def _local_folder(name: str, folder: str | Path | None) -> Path | None:
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise DatasetNotAvailableError(f"{name}: folder {path} does not exist")
        return path
    root = data_dir()
    if root is not None and (root / name).is_dir():
        return root / name
    return None


def _read_csv(path: Path, required: list[str]) -> list[dict]:
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [f for f in required if f not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        for line_no, row in enumerate(reader, start=2):
            for field in required:
                if not row.get(field):
                    raise ValueError(f"{path}, line {line_no}: field '{field}' is empty")
            rows.append({f: row[f] for f in required})
    return rows


def load_banking77(folder: str | Path | None = None) -> dict:
    """banking77 as {"train": [{text, label}], "test": [...], "source": {...}}.

    Reads upstream CSVs (`text,category`) from `folder`, FT_COURSE_DATA/banking77 or
    ../shared/datasets/banking77; otherwise downloads PolyAI/banking77 from the hub.
    """
    local = _local_folder("banking77", folder)
    if local is not None:
        splits = {
            split: [{"text": r["text"], "label": r["category"]} for r in _read_csv(local / f"{split}.csv", ["text", "category"])]
            for split in ("train", "test")
        }
        return {**splits, "source": {"dataset": "banking77", "origin": str(local), "license": LICENSES["banking77"]}}
    if hub_offline():
        raise DatasetNotAvailableError(
            "banking77: no local copy (set FT_COURSE_DATA to a folder holding banking77/train.csv and test.csv) "
            "and HF_HUB_OFFLINE=1 forbids downloading PolyAI/banking77."
        )
    from datasets import load_dataset

    hub = load_dataset("PolyAI/banking77")
    names = hub["train"].features["label"].names
    splits = {split: [{"text": r["text"], "label": names[r["label"]]} for r in hub[split]] for split in ("train", "test")}
    return {**splits, "source": {"dataset": "banking77", "origin": "hub:PolyAI/banking77", "license": LICENSES["banking77"]}}
