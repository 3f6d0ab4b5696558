import re

import numpy as np
import pytest

from helpers.core import scoring
from helpers.data import knowledge_base as kbm

# Refusals is_abstention must recognise (the first four were scored as hallucinations before).
REFUSALS = [
    "The context does not contain the answer.",
    "I couldn't find any information about …",
    "There is no company called X",
    "I do not have enough information",
    "I couldn't find any information about Velmora Systems.",
    "There is no company called Zorvant Labs.",
    "I'm sorry, but I don't have that information.",
    "There is no information about X in the documents.",
    "There is no information about Quillo Tech in the documents.",
    "The documents do not say.",
    "I cannot find that in the provided context.",
    "Unknown.",
    "No answer is available.",
    "That is not mentioned.",
    "I have no record of a person named Tavi Orlen.",
    "I'm not aware of any product called the Brenn X4.",
    "There is no such person.",
    "There is no such company in the documents.",
    "There is no such product.",
    "The answer is not in the context.",
    "I don't know.",
    "I do not know.",
    "I\u2019m not sure.",
    "I have no idea.",
    "I am unable to answer that question.",
    "It cannot be determined from the context.",
    "The context doesn't mention the founding year.",
    "The provided documents do not contain this information.",
    "Velmora Systems does not exist.",
    "No such policy exists.",
    "The founding year is unknown.",
    "Not known.",
    "N/A",
    "I'm not familiar with that company.",
    "The information is not available in the context.",
    "That information is not provided.",
    "This is not stated in the documents.",
    "Sorry, I can't answer that.",
    "There isn't enough information to answer.",
    "I was unable to find the answer.",
    "I dont know",
]

# Answers that merely contain "not", "no", "none", "unknown" or "cannot": none is a refusal.
NOT_REFUSALS = [
    "Nobel Prize",
    "No. 5 Avenue",
    "Norway",
    "It is not Paris but Lyon.",
    "The answer is no.",
    "Unknown Pleasures (1979)",
    "None of the Above (film)",
    "He Cannot-Be-Stopped Records",
    "Notre-Dame",
    "Noam Chomsky",
    "There is no doubt it was 1990.",
    "No, it was retired in Q3.",
    "No Country for Old Men",
    "Nothing Compares 2 U",
    "Not Fade Away",
    "The Unknown Soldier",
    "Penguins cannot fly.",
    "It is not in France but in Belgium.",
    "None.",
    "Nonesuch Records",
    "Don't Look Up (2021)",
    "Can't Buy Me Love",
    "It was not founded until 1990.",
    "No one but Jane Austen.",
    "There is no charge: shipping is free.",
    "Unknown Mortal Orchestra",
    "The company does not have a CEO.",
    "$24 per month",
    "Yes, it is available.",
    "No Time to Die (2021)",
    "Cannot Stop Records",
    "I Know What You Did Last Summer",
    "Not Paris, Lyon.",
    "The refund window is not 14 days but 30 days.",
    "Nowhere Man",
    "It isn't Lyon; it's Paris.",
    "Nokia",
    "The product is not available in Europe.",
    "It is not a smartphone but a smart lock.",
    "Know Your Enemy",
]


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


def test_an_empty_answer_is_its_own_outcome_and_short_fragments_do_not_match():
    """An empty output is neither correct (not even on an unanswerable question), nor an abstention,
    nor a hallucination: it counts in empty_rate alone."""
    out = scoring.answer_outcomes(
        ["", "  ", "Labs", " \n ", "I don't know."], [["Paris"], None, ["Zorvant Labs"], None, None]
    )
    assert out["empty_rate"].tolist() == [1, 1, 0, 1, 0]
    assert out["abstention_rate"].tolist() == [0, 0, 0, 0, 1]
    assert out["accuracy"].tolist() == [0, 0, 0, 0, 1] and out["hallucination_rate"].tolist() == [0, 0, 1, 0, 0]
    assert not scoring.is_abstention("") and not scoring.is_abstention("   ")
    assert scoring.answer_matches("Zorvant Labs", ["Zorvant Labs Inc"]) and not scoring.answer_matches(
        "Inc", ["Zorvant Labs Inc"]
    )
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        scoring.answer_outcomes(["a", "b"], [["a"]])


def test_outcomes_partition_every_item():
    """Answerable: correct, hallucinated, abstained and empty sum to 1. Unanswerable: accuracy is the
    abstention, and accuracy + hallucination + empty sum to 1."""
    predictions = ["Paris", "Lyon", "Unknown.", "", "I don't know.", "Berlin", " "]
    out = scoring.answer_outcomes(predictions, [["Paris"]] * 4 + [None] * 3)
    answerable = out["accuracy"] + out["hallucination_rate"] + out["abstention_rate"] + out["empty_rate"]
    assert answerable[:4].tolist() == [1, 1, 1, 1]
    assert np.array_equal(out["accuracy"][4:], out["abstention_rate"][4:])
    assert (out["accuracy"] + out["hallucination_rate"] + out["empty_rate"])[4:].tolist() == [1, 1, 1]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_abstentions(text):
    assert scoring.is_abstention(text)


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_answers_with_negative_words_are_not_abstentions(text):
    assert not scoring.is_abstention(text)


def test_refusal_lists_are_distinct_and_long_enough():
    assert len(set(REFUSALS)) == len(REFUSALS) >= 30 and len(set(NOT_REFUSALS)) == len(NOT_REFUSALS) >= 30


def test_the_course_rag_instruction_wording_is_an_abstention():
    """The RAG instruction's condition ("If the context does not contain the answer, ...") said as a
    statement is a refusal, and so is the abstention target it asks for."""
    condition = re.search(r"If (.+?),", kbm.RAG_INSTRUCTION).group(1)
    assert condition == "the context does not contain the answer"
    assert scoring.is_abstention(condition[0].upper() + condition[1:] + ".")
    assert scoring.is_abstention(kbm.ABSTAIN_TARGET)


@pytest.mark.parametrize(
    "prediction, correct",
    [
        ("1987 1988 1989 1990", False),
        ("1989 or 1990", False),
        ("1989/1990", False),
        ("1990", True),
        ("In 1990.", True),
        ("It was founded in 1990 by Smith.", True),
        ("It was founded in 1990 by 3 friends.", True),  # a year has only years as rivals
    ],
)
def test_a_list_of_years_is_not_an_answer(prediction, correct):
    assert scoring.answer_matches(prediction, ["1990"]) is correct


@pytest.mark.parametrize(
    "prediction, answers, correct",
    [
        ("Paris or Lyon", ["Paris"], False),
        ("Paris/Lyon", ["Paris"], False),
        ("Paris, Lyon, Marseille", ["Paris"], False),
        ("Lyon, Paris and Marseille", ["Paris"], False),
        ("$129 or $149", ["$129", "129"], False),
        ("30 days or 14 days", ["30 days", "30"], False),
        ("Paris", ["Paris"], True),
        ("Paris, France", ["Paris"], True),
        ("The capital of France is Paris.", ["Paris"], True),
        ("Sodium chloride or NaCl", ["sodium chloride", "NaCl"], True),  # both alternatives accepted
        ("24/7", ["24/7", "around the clock"], True),
        ("AC/DC", ["AC/DC"], True),
        ("It costs $129.", ["$129", "129"], True),
    ],
)
def test_several_candidates_are_wrong_one_is_right(prediction, answers, correct):
    assert scoring.answer_matches(prediction, answers) is correct


def test_an_echo_of_the_retrieved_document_is_not_an_answer():
    """A model that copies the context passage (as with_context numbers it) names the answer among
    all the document's facts; that is no answer. A sentence that states the fact still is."""
    kb = kbm.build_knowledge_base(3, seed=0)
    fact = next(f for f in kb.facts if f.attribute == "founded")
    example = kbm.with_context(kbm.fact_example(fact, "unseen"), [kb.documents[fact.doc_id]])
    passage = next(line for line in example.messages[0]["content"].splitlines() if line.startswith("[1] "))
    assert fact.value in passage and len(passage.split()) > 12
    for echo in (passage, passage.removeprefix("[1] "), f"According to the context, {passage}"):
        assert not scoring.answer_matches(echo, list(fact.answers)), echo
    assert scoring.answer_matches(f"{fact.entity} was founded in {fact.value}.", list(fact.answers))
    assert scoring.answer_matches("The capital of France is Paris.", ["Paris"])
    long_gold = "Leonardo da Vinci"  # the cap grows with the accepted answer: 4 words per word, at least 12
    assert scoring.answer_matches("It was painted by the Italian artist Leonardo da Vinci in Florence.", [long_gold])


@pytest.mark.parametrize(
    "prediction, expected",
    [
        ("card_arrival or top_up_failed", None),
        ("top_up_failed, card_arrival_delay", None),
        ("card_arrival\ntop_up_failed", "card_arrival"),  # only the first line counts
        ("card_arrival_delay", "card_arrival_delay"),  # names one label, not also card_arrival
        ("The intent is card_arrival_delay.", "card_arrival_delay"),
        ("card_arrival_delay (not top_up_failed)", None),
    ],
)
def test_an_output_naming_several_labels_names_none(prediction, expected):
    labels = ["card_arrival", "card_arrival_delay", "top_up_failed"]
    assert scoring.extract_label(prediction, labels) == expected


def test_a_label_inside_a_longer_named_label_is_not_named():
    labels = ["card", "card arrival", "refund"]
    assert scoring.extract_label("card arrival", labels) == "card arrival"
    assert scoring.extract_label("It is about card arrival.", labels) == "card arrival"
    assert scoring.extract_label("card arrival or refund", labels) is None
    assert scoring.extract_label("card", labels) == "card"
