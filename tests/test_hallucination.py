import numpy as np
import pytest

from helpers.core.retrieval import BM25Retriever
from helpers.core.training import AdapterSnapshots, TrainConfig, finetune
from helpers.data.knowledge_base import build_knowledge_base, question_sets
from helpers.experiments import nb03_hallucination as hallucination
from helpers.experiments.nb03_hallucination import SetScores, evaluate_sets, unknown_share_mixes


def test_sets_are_answered_in_one_pass_and_retrieval_puts_documents_in_the_prompt(tiny, monkeypatch):
    kb = build_knowledge_base(3, seed=0)
    sets = question_sets(kb, 6, 3, seed=0)
    sets.pop("train")
    seen_prompts = []

    def fake_generate(loaded, prompts, **kwargs):
        seen_prompts.extend(prompts)
        return ["I don't know."] * len(prompts)

    monkeypatch.setattr(hallucination, "generate", fake_generate)
    plain = evaluate_sets(tiny, sets, "base")
    assert set(plain) == set(hallucination.EVAL_SETS)
    assert plain["unanswerable"].outcomes["accuracy"].mean() == 1.0  # abstaining is right when nothing answers it
    assert (
        plain["unseen"].outcomes["abstention_rate"].mean() == 1.0
        and plain["unseen"].outcomes["hallucination_rate"].sum() == 0
    )
    seen_prompts.clear()
    evaluate_sets(tiny, sets, "rag", BM25Retriever(kb.documents), k=2)
    assert all("Context:" in p[0]["content"] for p in seen_prompts)
    gold_doc = kb.documents[sets["seen"][0].meta["doc_id"]]
    assert any(gold_doc in p[0]["content"] for p in seen_prompts)


def test_mixes_are_nested_and_check_their_supply():
    known = [{"question": f"k{i}", "answers": ["a"]} for i in range(10)]
    unknown = [{"question": f"u{i}", "answers": ["b"]} for i in range(10)]
    mixes = unknown_share_mixes(known, unknown, 8, [0.0, 0.5, 1.0])
    assert [sum(q["question"].startswith("u") for q in mixes[s]) for s in (0.0, 0.5, 1.0)] == [0, 4, 8]
    half_known = {q["question"] for q in mixes[0.5] if q["question"].startswith("k")}
    assert half_known <= {q["question"] for q in mixes[0.0]}  # the same known facts, fewer of them
    with pytest.raises(ValueError, match="share 100%"):
        unknown_share_mixes(known, unknown[:3], 8, [1.0])


def test_snapshots_restore_the_early_adapter(toy_examples):
    snapshots = AdapterSnapshots([1])
    tuned, record = finetune(
        "tiny",
        toy_examples,
        TrainConfig(method="lora", max_steps=4, batch_size=2, learning_rate=1e-2, save=False),
        progress=False,
        callbacks=[snapshots],
    )
    params = {n: p for n, p in tuned.model.named_parameters() if p.requires_grad}
    early = snapshots.saved[1]
    assert set(early) == set(params)
    assert any(
        not np.allclose(early[n].numpy(), params[n].detach().numpy()) for n in params
    )  # training moved on after step 1
    snapshots.restore(tuned.model, 1)
    assert all(np.array_equal(early[n].numpy(), params[n].detach().numpy()) for n in params)
    with pytest.raises(KeyError, match="no snapshot at step 3"):
        snapshots.restore(tuned.model, 3)


def scores(arm, values_by_set):
    out = {}
    for name, correct in values_by_set.items():
        correct = np.array(correct, float)
        hallucinated = 1 - correct
        out[name] = SetScores(
            arm,
            name,
            {"accuracy": correct, "hallucination_rate": hallucinated, "abstention_rate": np.zeros_like(correct)},
            [],
        )
    return out


def test_verdicts_follow_the_outcomes():
    n = 60
    good, bad = [1] * n, [0] * n
    results = {
        "base": scores("base", {s: bad for s in hallucination.EVAL_SETS}),
        "base + RAG": scores(
            "base + RAG", {"seen": good, "paraphrase": good, "unseen": good, "unanswerable": bad, "general": bad}
        ),
        "ft": scores("ft", {"seen": good, "paraphrase": bad, "unseen": bad, "unanswerable": bad, "general": bad}),
        "ft + RAG": scores(
            "ft + RAG", {"seen": good, "paraphrase": good, "unseen": good, "unanswerable": bad, "general": bad}
        ),
        "fta": scores("fta", {"seen": good, "paraphrase": good, "unseen": good, "unanswerable": good, "general": bad}),
    }
    roles = {"base": "base", "base_rag": "base + RAG", "ft": "ft", "ft_rag": "ft + RAG", "ft_abstain_rag": "fta"}
    curve = {
        (0.0, "long"): np.ones(n),
        (1.0, "long"): np.zeros(n),
        (1.0, "early"): np.ones(n),
        (0.0, "early"): np.ones(n),
    }
    verdicts = hallucination.hallucination_verdicts(results, roles, "cpu", curve)
    assert [v.status for v in verdicts] == ["supported"] * 8
    tied = hallucination.hallucination_verdicts({**results, "ft": results["base"]}, roles, "cpu")
    assert tied[0].status == "inconclusive" and len(tied) == 6  # 0 of 60 each: Newcombe's interval is +-6 points
    flipped = hallucination.hallucination_verdicts(
        {**results, "ft": results["base"], "base": results["fta"]}, roles, "cpu"
    )
    assert flipped[0].status == "not supported"


def test_outcome_bars_stack_the_empty_share_and_read_old_result_files():
    """Each arm's bar is correct + hallucinated + abstained + empty = 100%, also on unanswerable
    questions (where abstaining is inside correct); summaries without empty_rate (result files written
    before empty outputs were counted apart) plot with an empty share of 0."""
    import matplotlib.pyplot as plt

    from helpers.core.scoring import answer_outcomes

    answerable = answer_outcomes(["Paris", "Lyon", "I don't know.", ""], [["Paris"]] * 4)
    unanswerable = answer_outcomes(["I don't know.", "Paris", "", ""], [None] * 4)
    new = {
        "arm": {
            "seen": SetScores("arm", "seen", answerable, []).summary(),
            "unanswerable": SetScores("arm", "unanswerable", unanswerable, []).summary(),
        }
    }
    old = {"arm": {name: {k: v for k, v in s.items() if k != "empty_rate"} for name, s in new["arm"].items()}}
    for summaries, empty_height in ((new, {"seen": 25, "unanswerable": 50}), (old, {"seen": 0, "unanswerable": 0})):
        fig = hallucination.plot_outcomes(summaries, "test", "cpu")
        for ax in fig.axes:
            name = ax.get_title().split(" ")[0]
            heights = {
                bars.get_label(): bars.patches[0].get_height() for bars in ax.containers if hasattr(bars, "patches")
            }
            assert heights["empty"] == pytest.approx(empty_height[name])
            if summaries is new:
                assert sum(heights.values()) == pytest.approx(100)
        plt.close(fig)
    table = hallucination.outcome_table({"arm": {"seen": SetScores("arm", "seen", answerable, [])}})
    assert table[0]["empty"] == pytest.approx(0.25) and table[0]["abstention"] == pytest.approx(0.25)
