import numpy as np
import pytest

from helpers.data.sources import load_mmlu_redux
from helpers.experiments.forgetting import choose_options, knowledge_scores, mmlu_sample

HEADER = "question;choices;answer;error_type;source;correct_answer;potential_reason\n"


def test_reads_both_upstream_separators_and_windows_1252(tmp_path):
    (tmp_path / "mmlu_anatomy.csv").write_text(
        HEADER + "Which bone?;['a', 'b', 'c', 'd'];2;OK;;;\nBad one?;['a', 'b', 'c', 'd'];0;Wrong Groundtruth;;;\n"
    )
    (tmp_path / "mmlu_ethics.csv").write_bytes(
        (
            'question,choices,answer,error_type,source,correct_answer,potential_reason\r\n"Is it '
            "\u201cfair\u201d?\",\"['yes', 'no', 'maybe', 'never']\",1,ok,,,\r\n"
        ).encode("cp1252")
    )
    data = load_mmlu_redux(tmp_path)
    assert [(q["subject"], q["answer"]) for q in data["questions"]] == [("anatomy", 2), ("ethics", 1)]
    assert "fair" in data["questions"][1]["question"]
    assert data["source"]["rows_read"] == 3 and data["source"]["rows_ok"] == 2


def test_bad_answer_names_file_line_and_field(tmp_path):
    (tmp_path / "mmlu_anatomy.csv").write_text(
        HEADER + "Q1;['a', 'b', 'c', 'd'];1;ok;;;\nQ2;['a', 'b', 'c', 'd'];7;ok;;;\n"
    )
    with pytest.raises(ValueError, match=r"mmlu_anatomy.csv, line 3: field 'answer'"):
        load_mmlu_redux(tmp_path)


def test_sample_is_seeded_and_fingerprinted():
    a, b, c = mmlu_sample(20, seed=0), mmlu_sample(20, seed=0), mmlu_sample(20, seed=1)
    assert a["questions"] == b["questions"] and a["questions"] != c["questions"]
    assert a["source"]["sha256_16"] == b["source"]["sha256_16"] != c["source"]["sha256_16"]
    assert all(len(q["choices"]) == 4 for q in a["questions"])


def test_scores_and_changed_answers(tiny):
    questions = mmlu_sample(8, seed=0)["questions"]
    chosen = choose_options(tiny, questions, batch_size=3, progress=False)
    assert chosen.shape == (8,) and set(chosen) <= {0, 1, 2, 3}
    # the same model, asked one at a time, chooses the same: padding does not change answers
    assert list(choose_options(tiny, questions, batch_size=1, progress=False)) == list(chosen)
    scores = knowledge_scores(tiny, questions, base_choices=chosen, progress=False)
    assert scores["mmlu_changed"].sum() == 0
    assert np.array_equal(scores["mmlu_correct"], (chosen == [q["answer"] for q in questions]).astype(float))
    flipped = knowledge_scores(tiny, questions, base_choices=(chosen + 1) % 4, progress=False)
    assert flipped["mmlu_changed"].sum() == 8
