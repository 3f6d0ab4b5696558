import json

import pytest

from helpers.core.paths import data_dir
from helpers.core.scoring import label_scores
from helpers.data import clinc150
from helpers.data.sources import DatasetNotAvailableError

needs_data = pytest.mark.skipif(
    data_dir() is None or not (data_dir() / "clinc150").is_dir(), reason="no local clinc150 copy"
)


def write_clinc(folder, splits):
    folder.mkdir()
    (folder / "data_full.json").write_text(json.dumps(splits))
    return folder


@pytest.fixture(scope="module")
def data():
    return clinc150.load_clinc150()


def test_malformed_row_names_file_split_row_and_field(tmp_path):
    good = {"train": [["hi", "greeting"]], "val": [["hey", "greeting"]], "test": [["hello", "greeting"]]}
    folder = write_clinc(tmp_path / "a", {**good, "test": [["hello", "greeting"], ["no intent", ""]]})
    with pytest.raises(ValueError, match=r"data_full.json, split 'test', row 1: field 'intent'"):
        clinc150.load_clinc150(folder)
    folder = write_clinc(tmp_path / "b", {**good, "val": [["hey", "greeting"], ["just text"]]})
    with pytest.raises(ValueError, match=r"split 'val', row 1: field 'row'"):
        clinc150.load_clinc150(folder)
    folder = write_clinc(tmp_path / "c", {"train": good["train"], "test": good["test"]})
    with pytest.raises(ValueError, match=r"missing split\(s\) \['val'\]"):
        clinc150.load_clinc150(folder)
    loaded = clinc150.load_clinc150(write_clinc(tmp_path / "d", good))
    assert loaded["train"] == [{"text": "hi", "label": "greeting"}] and loaded["source"]["license"] == "CC BY 3.0"


def test_missing_folder_and_offline_hub_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotAvailableError, match="does not exist"):
        clinc150.load_clinc150(tmp_path / "nope")
    monkeypatch.setenv("FT_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetNotAvailableError, match="FT_COURSE_DATA"):
        clinc150.load_clinc150()


@needs_data
def test_local_copy_shapes(data):
    assert len(data["train"]) == 15000 and len(data["val"]) == 3000 and len(data["test"]) == 4500
    assert len({row["label"] for row in data["train"]}) == 150
    assert {row["label"] for row in data["oos_test"]} == {"oos"}


@needs_data
def test_intents_over_time_shapes_nesting_and_no_overlap(data):
    periods = clinc150.intents_over_time(
        data, n_periods=4, intents_per_period=5, n_train_per_intent=20, n_eval_per_intent=10, seed=0
    )
    assert len(periods) == 4
    seen: list[str] = []
    train_texts = {ex.messages[1]["content"].lower() for p in periods for ex in p["train"]}
    for p, period in enumerate(periods):
        assert len(period["new_intents"]) == 5 and not set(period["new_intents"]) & set(seen)
        seen += period["new_intents"]
        assert period["all_intents"] == sorted(seen)
        assert len(period["train"]) == 100 and len(period["eval_new"]) == 50 and len(period["eval_old"]) == 50 * p
        assert {ex.reference for ex in period["train"]} == set(period["new_intents"])
        assert {ex.reference for ex in period["eval_old"]} == set(seen) - set(period["new_intents"])
        for ex in period["train"] + period["eval_all"]:
            assert ", ".join(period["all_intents"]) in ex.messages[0]["content"]
            assert ex.meta["label"] == ex.reference
        assert not train_texts & {ex.messages[1]["content"].lower() for ex in period["eval_all"]}
        scores = label_scores(
            [ex.reference for ex in period["eval_all"]],
            [ex.reference for ex in period["eval_all"]],
            period["all_intents"],
        )
        assert scores["accuracy"].mean() == 1.0
    # An intent keeps its evaluation texts in later periods.
    first_new = sorted(ex.messages[1]["content"] for ex in periods[0]["eval_new"])
    later_old = sorted(ex.messages[1]["content"] for ex in periods[3]["eval_old"] if ex.meta["intent_period"] == 0)
    assert first_new == later_old


def test_test_texts_that_occur_in_train_are_never_evaluated(tmp_path):
    train = [[f"train text {i}", label] for label in ("a", "b") for i in range(4)]
    test = [
        ["TRAIN text 0", "a"],
        ["fresh a", "a"],
        ["train  text 1", "a"],
        ["fresh b", "b"],
        ["fresh b", "b"],
        ["other b", "b"],
    ]
    data = clinc150.load_clinc150(write_clinc(tmp_path / "clinc150", {"train": train, "val": train, "test": test}))
    periods = clinc150.intents_over_time(
        data, n_periods=2, intents_per_period=1, n_train_per_intent=4, n_eval_per_intent=1, seed=0
    )
    evaluated = {ex.messages[1]["content"] for p in periods for ex in p["eval_all"]}
    assert evaluated <= {"fresh a", "fresh b", "other b"}
    with pytest.raises(ValueError, match="1 usable test texts"):  # "a" has one test text not in train
        clinc150.intents_over_time(
            data, n_periods=2, intents_per_period=1, n_train_per_intent=4, n_eval_per_intent=2, seed=0
        )


@needs_data
def test_intents_over_time_is_seeded_and_checks_sizes(data):
    a = clinc150.intents_over_time(data, 2, 3, 5, 5, seed=1)
    b = clinc150.intents_over_time(data, 2, 3, 5, 5, seed=1)
    c = clinc150.intents_over_time(data, 2, 3, 5, 5, seed=2)
    assert [ex.to_json() for ex in a[1]["eval_all"]] == [ex.to_json() for ex in b[1]["eval_all"]]
    assert a[0]["new_intents"] != c[0]["new_intents"]
    with pytest.raises(ValueError, match="between 1 and 150"):
        clinc150.intents_over_time(data, 31, 5, 5, 5)
    with pytest.raises(ValueError, match="usable test texts"):
        clinc150.intents_over_time(data, 1, 2, 5, 31)
