"""EntityQuestions (Sciavolino et al. 2021): simple questions about Wikidata facts, one file per relation.

Gekhman et al. (2024, "Does fine-tuning LLMs on new knowledge encourage hallucinations?") build their
known/unknown fact splits from it. Upstream layout: train/, dev/, test/ with one JSON list per
Wikidata relation, e.g. train/P36.train.json = [{"question": ..., "answers": [...]}, ...].
"""

from __future__ import annotations

from pathlib import Path

from .sources import DatasetNotAvailableError, local_folder, read_json_file
from .upstream_files import UPSTREAM

NAME = "entity_questions"
LICENSE = "MIT"
SPLITS = ("train", "dev", "test")
CITATION = "Sciavolino, Zhong, Lee and Chen (2021), Simple Entity-Centric Questions Challenge Dense Retrievers, EMNLP"


def _read_relation_file(path: Path, relation: str) -> list[dict]:
    """One relation file; a malformed row raises ValueError naming the file, the row index and the field."""
    rows = read_json_file(path)
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON list of {{question, answers}} objects, got {type(rows).__name__}")
    questions = []
    for index, row in enumerate(rows):
        where = f"{path}, row {index}"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object with 'question' and 'answers', got {type(row).__name__}")
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"{where}: field 'question' is missing, empty or not a string")
        answers = row.get("answers")
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
            raise ValueError(f"{where}: field 'answers' must be a non-empty list of non-empty strings; got {answers!r}")
        questions.append({"question": question, "answers": list(answers), "relation": relation})
    return questions


def load_entity_questions(split: str, relations: list[str] | None = None, folder: str | Path | None = None) -> dict:
    """EntityQuestions for one split as {"questions": [{question, answers, relation}], "source": {...}}.

    relations: Wikidata relation ids to keep (e.g. ["P36", "P50"]); all 24 when None. Reads the
    upstream files from `folder`, FT_COURSE_DATA/entity_questions or ../shared/datasets/entity_questions;
    otherwise downloads the files it needs from the authors' repository at a pinned commit into the cache,
    each checked by sha256 (not when HF_HUB_OFFLINE=1).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    local = local_folder(NAME, folder)
    if local is not None:
        root, origin = local, str(local)
    else:
        from .upstream import fetch
        from .upstream import origin as upstream_origin

        pinned = [f for f in UPSTREAM[NAME]["files"] if f.startswith(f"{split}/")]
        if relations is not None:
            pinned = [f for f in pinned if f.split("/")[1].split(".")[0] in set(relations)]
        root, origin = fetch(NAME, pinned), upstream_origin(NAME)

    files = {path.name.split(".")[0]: path for path in sorted((root / split).glob(f"*.{split}.json"))}
    if not files:
        raise DatasetNotAvailableError(f"{NAME}: no {split} files (*.{split}.json) in {root / split}")
    if relations is not None:
        missing = sorted(set(relations) - set(files))
        if missing:
            raise DatasetNotAvailableError(
                f"{NAME}: no {split} file for relation(s) {missing} in {root / split}; found {sorted(files)}"
            )
        files = {relation: path for relation, path in files.items() if relation in set(relations)}
    questions = [q for relation, path in files.items() for q in _read_relation_file(path, relation)]
    return {
        "questions": questions,
        "source": {
            "dataset": NAME,
            "origin": origin,
            "license": LICENSE,
            "citation": CITATION,
            "split": split,
            "relations": sorted(files),
            "n_questions": len(questions),
        },
    }
