import numpy as np
import pytest

from helpers.core import scoring


def test_extract_label_tolerates_format():
    labels = ["card_arrival", "card_arrival_delay", "top_up_failed"]
    assert scoring.extract_label("card_arrival_delay", labels) == "card_arrival_delay"
    assert scoring.extract_label("  Top_up_failed.\nbecause ...", labels) == "top_up_failed"
    assert scoring.extract_label("The intent is card_arrival here", labels) == "card_arrival"
    assert scoring.extract_label("no idea", labels) is None


def test_label_scores_and_macro_f1():
    scores = scoring.label_scores(["a", "b", "zzz"], ["a", "a", "b"], ["a", "b"])
    assert scores["accuracy"].tolist() == [1, 0, 0]
    assert scores["valid_label"].tolist() == [1, 1, 0]
    assert scoring.macro_f1(["a", "b", "b"], ["a", "b", "a"], ["a", "b"]) == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_json_field_scores():
    ref = '{"name": "Ann Lee", "phone": "555-0100", "matter": "lease"}'
    out = scoring.json_field_scores(
        [
            '```json\n{"name": "ann lee", "phone": "555-0100", "matter": "lease"}\n```',
            '{"name": "Ann Lee", "phone": "1"}',
            '{"name": "Ann',
        ],
        [ref, ref, ref],
    )
    assert out["json_valid"].tolist() == [1, 1, 0]
    assert out["exact_match"].tolist() == [1, 0, 0]
    assert out["field_f1"][1] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    with pytest.raises(ValueError, match="reference is not a JSON object"):
        scoring.json_field_scores(["{}"], ["plain"])


def test_answer_outcomes_separate_abstention_from_hallucination():
    out = scoring.answer_outcomes(
        ["Paris", "I don't know.", "Lyon", "It is not mentioned in the context.", "Berlin"],
        [["Paris"], ["Paris"], ["Paris"], None, None],
    )
    assert out["accuracy"].tolist() == [1, 0, 0, 1, 0]
    assert out["abstention_rate"].tolist() == [0, 1, 0, 1, 0]
    assert out["hallucination_rate"].tolist() == [0, 0, 1, 0, 1]
    assert np.all(out["accuracy"] + out["hallucination_rate"] + (out["abstention_rate"] * (1 - out["accuracy"])) == 1)


def test_exact_match_normalizes():
    assert scoring.exact_match(["The Paris.", "paris!"], ["paris", "Lyon"]).tolist() == [1, 0]


def test_macro_f1_summary_interval_brackets_the_value():
    predicted = ["a", "b", "b", "a"] * 10
    gold = ["a", "b", "a", "a"] * 10
    summary = scoring.macro_f1_summary(predicted, gold, ["a", "b"])
    assert summary["mean"] == pytest.approx(scoring.macro_f1(predicted, gold, ["a", "b"]))
    assert summary["ci_low"] <= summary["mean"] <= summary["ci_high"] and summary["ci_low"] < summary["ci_high"]


def test_an_empty_answer_is_no_claim_and_short_fragments_do_not_match():
    out = scoring.answer_outcomes(["", "  ", "Labs"], [["Paris"], None, ["Zorvant Labs"]])
    assert out["abstention_rate"].tolist() == [1, 1, 0]
    assert out["accuracy"].tolist() == [0, 1, 0] and out["hallucination_rate"].tolist() == [0, 0, 1]
    assert scoring.answer_matches("Zorvant Labs", ["Zorvant Labs Inc"]) and not scoring.answer_matches(
        "Inc", ["Zorvant Labs Inc"]
    )
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        scoring.answer_outcomes(["a", "b"], [["a"]])
