import json

import pytest

from helpers.core.paths import data_dir
from helpers.data import entity_questions as eq
from helpers.data.sources import DatasetNotAvailableError

needs_data = pytest.mark.skipif(
    data_dir() is None or not (data_dir() / "entity_questions" / "dev").is_dir(),
    reason="no local entity_questions copy",
)


def write_split(root, split, files):
    (root / split).mkdir(parents=True, exist_ok=True)
    for relation, rows in files.items():
        (root / split / f"{relation}.{split}.json").write_text(json.dumps(rows) if not isinstance(rows, str) else rows)
    return root


@needs_data
def test_local_copy_loads_and_filters_relations():
    everything = eq.load_entity_questions("dev")
    assert len(everything["source"]["relations"]) == 24
    assert everything["source"]["license"] == "MIT" and everything["source"]["dataset"] == "entity_questions"
    assert len(everything["questions"]) == everything["source"]["n_questions"] > 10_000

    capitals = eq.load_entity_questions("dev", relations=["P36"])
    rows = json.loads((data_dir() / "entity_questions" / "dev" / "P36.dev.json").read_text())
    assert capitals["source"]["relations"] == ["P36"]
    assert len(capitals["questions"]) == len(rows)
    assert all(q["relation"] == "P36" for q in capitals["questions"])
    assert all(q["question"].startswith("What is the capital of") for q in capitals["questions"])
    assert [q["answers"] for q in capitals["questions"]] == [r["answers"] for r in rows]

    two = eq.load_entity_questions("dev", relations=["P36", "P50"])
    assert {q["relation"] for q in two["questions"]} == {"P36", "P50"}


def test_reads_a_folder_in_the_upstream_layout(tmp_path):
    root = write_split(
        tmp_path / "eq",
        "test",
        {
            "P36": [{"question": "What is the capital of Kent?", "answers": ["Maidstone"]}],
            "P50": [{"question": "Who is the author of Emma?", "answers": ["Jane Austen", "Austen"]}],
        },
    )
    loaded = eq.load_entity_questions("test", folder=root)
    assert loaded["questions"] == [
        {"question": "What is the capital of Kent?", "answers": ["Maidstone"], "relation": "P36"},
        {"question": "Who is the author of Emma?", "answers": ["Jane Austen", "Austen"], "relation": "P50"},
    ]
    assert loaded["source"]["origin"] == str(root)
    assert eq.load_entity_questions("test", relations=["P50"], folder=root)["questions"][0]["relation"] == "P50"
    with pytest.raises(DatasetNotAvailableError, match="P999"):
        eq.load_entity_questions("test", relations=["P999"], folder=root)
    with pytest.raises(DatasetNotAvailableError, match="no train files"):
        eq.load_entity_questions("train", folder=root)
    with pytest.raises(ValueError, match="split"):
        eq.load_entity_questions("validation", folder=root)


@pytest.mark.parametrize(
    "rows, field",
    [
        ([{"question": "ok?", "answers": ["a"]}, {"question": "no answers?", "answers": []}], "answers"),
        ([{"question": "ok?", "answers": ["a"]}, {"answers": ["b"]}], "question"),
        ([{"question": "ok?", "answers": ["a"]}, {"question": "bad?", "answers": "b"}], "answers"),
        ([{"question": "ok?", "answers": ["a"]}, {"question": "bad?", "answers": [3]}], "answers"),
    ],
)
def test_malformed_row_names_file_row_and_field(tmp_path, rows, field):
    root = write_split(tmp_path / "eq", "dev", {"P17": rows})
    with pytest.raises(ValueError, match=rf"P17\.dev\.json, row 1: field '{field}'"):
        eq.load_entity_questions("dev", folder=root)


def test_malformed_file_names_the_file(tmp_path):
    root = write_split(tmp_path / "eq", "dev", {"P17": '[{"question": "cut off'})
    with pytest.raises(ValueError, match=r"P17\.dev\.json: not valid JSON"):
        eq.load_entity_questions("dev", folder=root)
    root = write_split(tmp_path / "eq2", "dev", {"P17": {"question": "q", "answers": ["a"]}})
    with pytest.raises(ValueError, match=r"P17\.dev\.json: expected a JSON list"):
        eq.load_entity_questions("dev", folder=root)


def test_missing_folder_and_offline_hub_fail_clearly(tmp_path, monkeypatch):
    from helpers.data import upstream

    with pytest.raises(DatasetNotAvailableError, match="does not exist"):
        eq.load_entity_questions("dev", folder=tmp_path / "nope")
    monkeypatch.setenv("FT_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("FT_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(upstream, "download", lambda url, dest: pytest.fail("must not download while offline"))
    with pytest.raises(DatasetNotAvailableError, match="FT_COURSE_DATA.*HF_HUB_OFFLINE=1"):
        eq.load_entity_questions("dev")
