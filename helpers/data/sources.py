"""Loaders for the public datasets, in their upstream format: a local folder first; online, the same upstream
files downloaded at a pinned commit and checked by sha256 (helpers.data.upstream)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..core.paths import data_dir

LICENSES = {"banking77": "CC BY 4.0"}


class DatasetNotAvailableError(RuntimeError):
    pass


def local_folder(name: str, folder: str | Path | None) -> Path | None:
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise DatasetNotAvailableError(f"{name}: folder {path} does not exist")
        return path
    root = data_dir()
    if root is not None and (root / name).is_dir():
        return root / name
    return None


def read_json_file(path: Path):
    """A JSON file's content; a syntax error raises ValueError naming the file, line and column."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None


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
    ../shared/datasets/banking77; otherwise downloads the same files (PolyAI's repository at a pinned
    commit; the hub's PolyAI/banking77 is a loading script that `datasets` >= 4 refuses).
    """
    local, where = local_or_upstream("banking77", folder, ["train.csv", "test.csv"])
    splits = {
        split: [
            {"text": r["text"], "label": r["category"]} for r in _read_csv(local / f"{split}.csv", ["text", "category"])
        ]
        for split in ("train", "test")
    }
    return {**splits, "source": {"dataset": "banking77", "origin": where, "license": LICENSES["banking77"]}}


def local_or_upstream(name: str, folder: str | Path | None, files: list[str] | None = None) -> tuple[Path, str]:
    """(folder holding the upstream files, where they came from): the local copy when there is one, else the
    pinned upstream files in the cache (downloaded once; refused while HF_HUB_OFFLINE=1)."""
    local = local_folder(name, folder)
    if local is not None:
        return local, str(local)
    from .upstream import fetch, origin

    return fetch(name, files), origin(name)


LICENSES["mmlu_redux"] = "CC BY 4.0"


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # one upstream file (moral_scenarios) is Windows-1252
        return raw.decode("cp1252")


def _parse_mmlu_file(path: Path) -> list[dict]:
    """One upstream MMLU-Redux subject file. Upstream files mix ';' and ',' separators."""
    import ast
    import io

    text = _decode(path)
    header = text.split("\n", 1)[0]
    reader = csv.DictReader(
        io.StringIO(text, newline=""), delimiter=";" if header.count(";") > header.count(",") else ","
    )
    missing = [f for f in ("question", "choices", "answer", "error_type") if f not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
    subject = path.stem.removeprefix("mmlu_")
    rows = []
    for row in reader:
        line = reader.line_num
        try:
            choices = ast.literal_eval(row["choices"])
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"{path}, line {line}: field 'choices' is not a list literal ({err})") from err
        answer = str(row["answer"]).strip()
        if not answer.isdigit() or int(answer) >= len(choices):
            raise ValueError(
                f"{path}, line {line}: field 'answer' is {answer!r}, not an index into {len(choices)} choices"
            )
        rows.append(
            {
                "subject": subject,
                "question": row["question"],
                "choices": [str(c) for c in choices],
                "answer": int(answer),
                "ok": row["error_type"].strip().lower() == "ok",
            }
        )
    return rows


def load_mmlu_redux(folder: str | Path | None = None, subjects: list[str] | None = None) -> dict:
    """MMLU-Redux questions whose re-annotation found no error, as {"questions": [...], "source": {...}}.

    Each question: {subject, question, choices, answer (index)}. Reads the upstream per-subject files
    (mmlu_<subject>.csv) from `folder`, FT_COURSE_DATA/mmlu_redux or ../shared/datasets/mmlu_redux;
    otherwise downloads the same files: MMLU-Redux 2.0 (57 subjects) from the authors' repository at a
    pinned commit (the hub's edinburgh-dawg/mmlu-redux is the first version, 30 subjects).
    """
    wanted = None if subjects is None else [f"mmlu_{s}.csv" for s in subjects]
    if local_folder("mmlu_redux", folder) is None and wanted is not None:
        from .upstream_files import UPSTREAM

        unknown = [s for s, f in zip(subjects, wanted) if f not in UPSTREAM["mmlu_redux"]["files"]]
        if unknown:
            raise DatasetNotAvailableError(f"mmlu_redux: no subject(s) {unknown} in MMLU-Redux 2.0")
    local, origin = local_or_upstream("mmlu_redux", folder, wanted)
    files = sorted(local.glob("mmlu_*.csv"))
    if subjects:
        files = [f for f in files if f.stem.removeprefix("mmlu_") in subjects]
        found = {f.stem.removeprefix("mmlu_") for f in files}
        if set(subjects) - found:
            missing = sorted(set(subjects) - found)
            raise DatasetNotAvailableError(f"mmlu_redux: no file for subject(s) {missing} in {local}")
    rows = [row for f in files for row in _parse_mmlu_file(f)]
    kept = [{k: v for k, v in r.items() if k != "ok"} for r in rows if r["ok"]]
    return {
        "questions": kept,
        "source": {
            "dataset": "mmlu_redux",
            "origin": origin,
            "license": LICENSES["mmlu_redux"],
            "rows_read": len(rows),
            "rows_ok": len(kept),
        },
    }
