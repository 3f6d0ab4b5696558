"""Fast checks of the generated client-intake task (no models)."""

import json

import pytest

from helpers.core.tasks import fingerprint
from helpers.data.intake_task import (
    ALL_NOISE_KINDS,
    FIELDS,
    INTAKE_SYSTEM_PROMPT,
    MATTER_TYPES,
    URGENCY_LEVELS,
    filter_noisy_examples,
    intake_task,
)


def note(ex):
    return ex.messages[1]["content"]


def test_same_seed_same_data_different_seed_different_data():
    a, b = intake_task(40, 20, noise_rate=0.2), intake_task(40, 20, noise_rate=0.2)
    assert fingerprint(a.train) == fingerprint(b.train) and fingerprint(a.eval) == fingerprint(b.eval)
    c = intake_task(40, 20, noise_rate=0.2, data_seed=99)
    assert fingerprint(a.train) != fingerprint(c.train) and fingerprint(a.eval) != fingerprint(c.eval)


def test_task_shape_and_clean_targets():
    task = intake_task(30, 25)
    assert (task.name, task.headline_metric) == ("client_intake", "field_f1")
    assert len(task.train) == 30 and len(task.eval) == 25
    assert task.source["origin"] == "helpers.data.intake_task" and task.source["noise_kinds"] == list(ALL_NOISE_KINDS)
    for ex in task.train + task.eval:
        assert [m["role"] for m in ex.messages] == ["system", "user", "assistant"]
        assert ex.messages[0]["content"] == INTAKE_SYSTEM_PROMPT
        obj = json.loads(ex.reference)
        assert list(obj) == list(FIELDS) and obj == ex.meta["fields"]
        assert ex.reference == ex.meta["clean_target"] == json.dumps(obj, ensure_ascii=False)
        assert obj["matter_type"] in MATTER_TYPES and obj["urgency"] in URGENCY_LEVELS
        assert ex.meta["noise_kind"] is None


def test_train_and_eval_are_disjoint():
    task = intake_task(200, 100)
    assert not {note(ex) for ex in task.train} & {note(ex) for ex in task.eval}
    assert not {ex.meta["clean_target"] for ex in task.train} & {ex.meta["clean_target"] for ex in task.eval}


@pytest.mark.parametrize("noise_rate", [0.1, 0.25, 0.5])
def test_exact_number_of_corrupted_examples(noise_rate):
    task = intake_task(80, 10, noise_rate=noise_rate)
    corrupted = [ex for ex in task.train if ex.meta["noise_kind"] is not None]
    assert len(corrupted) == round(noise_rate * 80)
    assert all(ex.reference != ex.meta["clean_target"] for ex in corrupted)
    assert all(ex.reference == ex.meta["clean_target"] for ex in task.train if ex.meta["noise_kind"] is None)
    assert all(ex.meta["noise_kind"] is None for ex in task.eval)


def test_each_noise_kind_does_what_it_claims():
    task = intake_task(150, 0, noise_rate=1.0)
    seen = set()
    for ex in task.train:
        kind, clean = ex.meta["noise_kind"], ex.meta["fields"]
        seen.add(kind)
        if kind == "truncated_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(ex.reference)
            assert ex.meta["clean_target"].startswith(ex.reference)
            continue
        obj = json.loads(ex.reference)
        if kind == "missing_field":
            assert len(obj) == len(FIELDS) - 1 and set(obj) < set(FIELDS)
        elif kind == "renamed_key":
            assert len(obj) == len(FIELDS) and len(set(obj) - set(FIELDS)) == 1
        elif kind == "wrong_value":
            assert list(obj) == list(FIELDS)
            assert sum(obj[k] != clean[k] for k in FIELDS) == 1
        elif kind == "inconsistent_format":
            changed = [k for k in FIELDS if obj[k] != clean[k]]
            assert len(changed) == 1 and changed[0] in ("date_of_birth", "incident_date", "phone")
    assert seen == set(ALL_NOISE_KINDS)


def test_noise_kinds_subset_and_validation():
    task = intake_task(20, 0, noise_rate=1.0, noise_kinds=("missing_field",))
    assert {ex.meta["noise_kind"] for ex in task.train} == {"missing_field"}
    with pytest.raises(ValueError):
        intake_task(5, 5, noise_rate=0.5, noise_kinds=("typo",))


def test_clean_part_identical_across_noise_rates():
    clean = intake_task(60, 20, noise_rate=0.0)
    noisy = intake_task(60, 20, noise_rate=0.3)
    assert fingerprint(clean.eval) == fingerprint(noisy.eval)
    for a, b in zip(clean.train, noisy.train):
        assert a.messages[:2] == b.messages[:2] and a.meta["clean_target"] == b.meta["clean_target"]
        if b.meta["noise_kind"] is None:
            assert a.to_json() == b.to_json()


def test_scorer_is_perfect_on_clean_targets_even_for_noisy_train():
    task = intake_task(50, 30, noise_rate=0.4)
    for examples in (task.eval, task.train):
        scores = task.score([ex.meta["clean_target"] for ex in examples], examples)
        assert scores["field_f1"].mean() == 1.0 and scores["json_valid"].mean() == 1.0
    bad = task.score(["not json"] * len(task.eval))
    assert bad["field_f1"].mean() == 0.0


def test_filter_keeps_every_clean_example():
    task = intake_task(100, 100)
    kept, report = filter_noisy_examples(task.train + task.eval)
    assert len(kept) == 200 and report == {"kept": 200, "removed": 0, "removed_by_reason": {}}


@pytest.mark.parametrize(
    "kind,minimum",
    [
        ("truncated_json", 0.8),
        ("missing_field", 0.8),
        ("renamed_key", 0.8),
        ("inconsistent_format", 0.8),
        ("wrong_value", 0.5),
    ],
)
def test_filter_removes_most_corruptions(kind, minimum):
    task = intake_task(200, 0, noise_rate=1.0, noise_kinds=(kind,))
    kept, report = filter_noisy_examples(task.train)
    assert report["kept"] + report["removed"] == 200
    assert report["removed"] / 200 >= minimum


def test_filter_does_not_read_ground_truth_meta():
    task = intake_task(60, 0, noise_rate=0.5)
    for ex in task.train:
        ex.meta = {}
    kept, report = filter_noisy_examples(task.train)
    assert report["removed"] > 0 and report["kept"] >= 30


def test_notes_are_short():
    task = intake_task(100, 50)
    words = [len(note(ex).split()) for ex in task.train + task.eval]
    assert 30 <= sum(words) / len(words) <= 110


def test_audit_finds_the_injected_json_noise():
    from helpers.data.audit import audit_examples

    clean = audit_examples(intake_task(n_train=60, n_eval=1).train)
    assert clean["invalid_json"] == 0 and clean["answers_with_other_keys"] == 0 and clean["duplicate_examples"] == 0
    noisy = audit_examples(
        intake_task(n_train=60, n_eval=1, noise_rate=0.5, noise_kinds=("truncated_json", "renamed_key")).train
    )
    assert noisy["invalid_json"] + noisy["answers_with_other_keys"] == 30
