import numpy as np
import pytest

from helpers.core.retrieval import BM25Retriever
from helpers.core.training import AdapterSnapshots, TrainConfig, finetune
from helpers.data.knowledge_base import (
    ABSTAIN_TARGET,
    abstention_examples,
    build_knowledge_base,
    context_training_facts,
    question,
    question_sets,
    validation_sets,
)
from helpers.experiments import nb03_hallucination as hallucination
from helpers.experiments import verdict
from helpers.experiments.lr_sweep import SweepResult
from helpers.experiments.nb03_hallucination import SetScores, SweptArm, evaluate_sets, unknown_share_mixes


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


def facts(prefix, relations):
    return [{"question": f"{prefix}{i}", "answers": ["Paris"], "relation": r} for i, r in enumerate(relations)]


def test_mixes_are_nested_and_check_their_supply():
    known = facts("k", ["P36"] * 6 + ["P176"] * 4)
    unknown = facts("u", ["P36"] * 6 + ["P176"] * 4)
    mixes = unknown_share_mixes(known, unknown, 8, [0.0, 0.5, 1.0])
    assert [sum(q["question"].startswith("u") for q in mixes[s]) for s in (0.0, 0.5, 1.0)] == [0, 4, 8]
    half_known = {q["question"] for q in mixes[0.5] if q["question"].startswith("k")}
    assert half_known <= {q["question"] for q in mixes[0.0]}  # the same known facts, fewer of them
    half_unknown = {q["question"] for q in mixes[0.5] if q["question"].startswith("u")}
    assert half_unknown <= {q["question"] for q in mixes[1.0]}  # the same unknown facts, more of them
    with pytest.raises(ValueError, match="share 100%"):
        unknown_share_mixes(known, unknown[:3], 8, [1.0])


def test_every_mix_has_the_relation_mix_of_the_known_only_mix():
    """Each unknown fact replaces a known fact of its own relation: a relation the model never knows
    (here P19, as place of birth for SmolLM2-135M) cannot enter the mixes through the unknown pool."""
    known = facts("k", ["P36"] * 12 + ["P176"] * 8 + ["P407"] * 4)
    unknown = facts("u", ["P19"] * 30 + ["P36"] * 20 + ["P176"] * 20 + ["P407"] * 20)
    mixes = unknown_share_mixes(known, unknown, 16, [0.0, 0.25, 0.5, 1.0], seed=3)
    mix_of = {share: hallucination.relation_mix(mix) for share, mix in mixes.items()}
    assert "P19" not in mix_of[1.0] and sum(mix_of[0.0].values()) == 16
    assert all(mix == mix_of[0.0] for mix in mix_of.values()), mix_of
    unknown_only = hallucination.relation_mix(q for q in mixes[1.0] if q["question"].startswith("u"))
    assert unknown_only == mix_of[0.0]
    with pytest.raises(ValueError, match="relation P407"):
        unknown_share_mixes(known, [q for q in unknown if q["relation"] != "P407"], 16, [1.0], seed=3)


def test_context_arms_train_on_facts_no_evaluation_set_asks_about_and_match_in_size():
    kb = build_knowledge_base(6, seed=0)
    sets = question_sets(kb, 8, 6, seed=0)
    sets.pop("train")
    context = context_training_facts(kb, sets, 10, seed=0)
    evaluated = [ex for name in ("seen", "paraphrase", "unseen", "unanswerable", "general") for ex in sets[name]]
    fact_ids = {(ex.meta["entity"], ex.meta["attribute"]) for ex in evaluated}
    entities = {ex.meta["entity"] for ex in evaluated}
    texts = {ex.messages[1]["content"] for ex in evaluated}
    assert len(context) == 10
    for ex in context:
        assert (ex.meta["entity"], ex.meta["attribute"]) not in fact_ids and ex.meta["entity"] not in entities
        for wording in ("train", "paraphrase"):  # neither wording of the fact is an evaluated question
            assert question(ex.meta["kind"], ex.meta["attribute"], ex.meta["entity"], wording) not in texts
    assert context_training_facts(kb, sets, 4, seed=0) == context[:4]  # an arm trained on fewer uses a prefix
    with pytest.raises(ValueError, match="do not fit"):
        context_training_facts(kb, sets, len(kb.facts), seed=0)

    abstain = abstention_examples(kb, 3, seed=0)
    assert not {ex.messages[1]["content"] for ex in abstain} & texts
    train = hallucination.context_training_sets(context, abstain, BM25Retriever(kb.documents), 2, n_answerable=5)
    assert len(train["abstention"]) == len(train["control"]) == 8  # same size, so the same steps
    targets = {name: [ex.messages[-1]["content"] for ex in examples] for name, examples in train.items()}
    assert targets["abstention"].count(ABSTAIN_TARGET) == 3 and ABSTAIN_TARGET not in targets["control"]
    assert [ex.messages[1:] for ex in train["control"][:5]] == [ex.messages[1:] for ex in train["abstention"][:5]]
    assert all("Context:" in ex.messages[0]["content"] for examples in train.values() for ex in examples)
    with pytest.raises(ValueError, match="control arm needs 13"):
        hallucination.context_training_sets(context, abstain, BM25Retriever(kb.documents), 2, n_answerable=10)


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
        "base": scores("base", {**{s: bad for s in hallucination.EVAL_SETS}, "general": good}),
        "base + RAG": scores(
            "base + RAG", {"seen": good, "paraphrase": good, "unseen": good, "unanswerable": bad, "general": bad}
        ),
        "ft": scores("ft", {"seen": good, "paraphrase": bad, "unseen": bad, "unanswerable": bad, "general": bad}),
        "ctx": scores("ctx", {"seen": good, "paraphrase": good, "unseen": good, "unanswerable": bad, "general": bad}),
        "fta": scores("fta", {"seen": good, "paraphrase": good, "unseen": good, "unanswerable": good, "general": bad}),
    }
    roles = {"base": "base", "base_rag": "base + RAG", "ft": "ft", "ft_context_rag": "ctx", "ft_abstain_rag": "fta"}
    m = 120  # held-out known facts: enough for a 5-point margin to be decidable
    curve = {
        (0.0, "long"): np.ones(m),
        (1.0, "long"): np.zeros(m),
        (1.0, "early"): np.ones(m),
        (0.0, "early"): np.ones(m),
    }
    steps = {"ft_context_rag": 10, "ft_abstain_rag": 10}
    verdicts = hallucination.hallucination_verdicts(results, roles, "cpu", curve, steps)
    assert [v.id for v in verdicts] == [
        "03.ft_teaches_trained_facts",
        "03.paraphrase_transfer_gap",
        "03.ft_still_hallucinates",
        "03.ft_costs_general_knowledge",
        "03.rag_beats_ft",
        "03.abstain_rag_beats_rag",
        "03.abstention_cuts_hallucination",
        "03.unknown_facts_hurt_known",
        "03.early_stopping_removes_harm",
        "03.early_stopping_matches_known_only",
    ]
    assert [v.status for v in verdicts] == ["supported"] * 10
    assert "10 vs 10 optimizer steps" in verdict.by_id(verdicts, "03.abstention_cuts_hallucination").claim
    tied = hallucination.hallucination_verdicts({**results, "ft": results["base"]}, roles, "cpu")
    assert tied[0].status == "inconclusive" and len(tied) == 7  # 0 of 60 each: Newcombe's interval is +-6 points
    flipped = hallucination.hallucination_verdicts(
        {**results, "ft": results["base"], "base": results["fta"]}, roles, "cpu"
    )
    assert flipped[0].status == "not supported"


def test_early_stopping_removes_the_harm_only_if_it_matches_training_on_known_facts():
    """Better than training long on unknown facts is not enough: 15 points below the known-only run at
    the same stopping point is outside the 5-point margin."""
    m = 120
    below = np.r_[np.zeros(18), np.ones(m - 18)]  # 85%
    curve = {(0.0, "long"): np.ones(m), (1.0, "long"): np.zeros(m), (0.0, "early"): np.ones(m), (1.0, "early"): below}
    by_id = {v.id: v for v in hallucination.curve_verdicts(curve, "cpu")}
    assert by_id["03.early_stopping_removes_harm"].status == "supported"
    assert by_id["03.early_stopping_matches_known_only"].status == "not supported"
    seeds = {key: np.stack([values, values]) for key, values in curve.items()}  # (seeds, items) arrays work too
    assert hallucination.curve_verdicts(seeds, "cpu")[2].status == "not supported"


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


def test_the_curve_trains_every_mix_with_every_seed_and_stacks_seeds(monkeypatch):
    """Each (share, stop) gets a (seeds, items) array, one fine-tune per mix and seed, each with its seed."""
    answers = iter(["Paris", "Rome"] * 100)
    monkeypatch.setattr(hallucination, "generate", lambda loaded, prompts, **kw: [next(answers)] * len(prompts))
    known = facts("k", ["P36"] * 8)
    mixes = unknown_share_mixes(known, facts("u", ["P36"] * 8), 4, [0.0, 1.0])
    config = TrainConfig(method="lora", epochs=1, batch_size=2, learning_rate=1e-2, save=False)
    scores, records = hallucination.unknown_share_curve("tiny", mixes, known[4:7], config, 1, seeds=[0, 1])
    assert set(scores) == {(s, stop) for s in (0.0, 1.0) for stop in ("early", "long")}
    assert all(values.shape == (2, 3) for values in scores.values())
    assert all(values.sum() == 6 for (_, stop), values in scores.items() if stop == "long")  # "Paris" is correct
    assert [(r["share"], r["seed"]) for r in records] == [(0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1)]
    assert all(r["optimizer_steps"] == 2 and r["n_examples"] == 4 for r in records)


def test_validation_questions_ask_about_no_evaluated_entity_and_train_no_context_arm():
    kb = build_knowledge_base(6, seed=0)
    sets = question_sets(kb, 8, 6, seed=0)
    sets.pop("train")
    context = context_training_facts(kb, sets, 10, seed=0)
    abstain = abstention_examples(kb, 4, seed=0)
    validation = validation_sets(kb, sets, len(context), 5, 8, abstain, seed=0)
    assert {name: len(examples) for name, examples in validation.items()} == {
        "context_answerable": 5,
        "unanswerable": 5,
        "facts_train": 8,
        "facts_seen": 8,
        "facts_paraphrase": 8,
    }
    evaluated = {ex.meta["entity"] for examples in sets.values() for ex in examples}
    validated = [ex for examples in validation.values() for ex in examples]
    assert not {ex.meta["entity"] for ex in validated} & evaluated
    trained = {(ex.meta["entity"], ex.meta["attribute"]) for ex in context}
    assert not {(ex.meta["entity"], ex.meta["attribute"]) for ex in validated} & trained
    answerable = {(ex.meta["entity"], ex.meta["attribute"]) for ex in validation["context_answerable"]}
    assert not answerable & {(ex.meta["entity"], ex.meta["attribute"]) for ex in validation["facts_train"]}
    assert not {ex.meta["entity"] for ex in validation["unanswerable"]} & {ex.meta["entity"] for ex in abstain}
    assert all(ex.meta["answers"] is None for ex in validation["unanswerable"])
    assert [ex.reference for ex in validation["facts_paraphrase"]] == [ex.reference for ex in validation["facts_train"]]


def test_each_arm_is_swept_on_its_own_data_and_validated_on_its_own_questions():
    kb = build_knowledge_base(3, seed=0)
    sets = question_sets(kb, 6, 3, seed=0)
    trained_on, validated = [], []

    def validate(name, value):
        def score(model):
            validated.append(name)
            return value

        return score

    arms = {
        "a": SweptArm(sets["train"][:4], 1.0, validate("a", 0.5)),
        "b": SweptArm(sets["train"][4:], 1.0, validate("b", 0.25)),
    }

    def config_at(rate, epochs, n):
        trained_on.append((rate, n))
        return TrainConfig(method="lora", learning_rate=rate, epochs=epochs, batch_size=4, save=False)

    sweeps, records = hallucination.sweep_arm_rates(
        "tiny", arms, config_at, [1e-3, 3e-3, 1e-2], 1, progress=lambda line: None
    )
    assert trained_on == [(r, 4) for r in (1e-3, 3e-3, 1e-2)] + [(r, 2) for r in (1e-3, 3e-3, 1e-2)]
    assert validated == ["a"] * 3 + ["b"] * 3
    assert sweeps["a"].chosen == 3e-3 and sweeps["a"].interior  # all tied: the middle rate
    assert records["b"]["points"][0]["validation_score"] == 0.25 and "inside the sweep" in records["b"]["note"]


def test_a_verdict_on_an_arm_swept_to_its_edge_says_so():
    edge = SweepResult([1e-3, 3e-3, 1e-2], [0.1, 0.2, 0.3], 1e-2, "high", 1)
    inside = SweepResult([1e-3, 3e-3, 1e-2], [0.1, 0.3, 0.2], 3e-3, None, 0)
    roles = {"ft": "fine-tuned", "ft_context_rag": "ctx", "ft_abstain_rag": "fta"}
    made = [
        verdict.Verdict(vid, "claim", "inconclusive", 0.0, -0.1, 0.1, "details")
        for vid in ("03.rag_beats_ft", "03.abstention_cuts_hallucination", "03.unknown_facts_hurt_known")
    ]
    hallucination.note_sweep_edges(made, {"fine-tuned": edge, "ctx": inside, hallucination.CURVE_SWEEP: edge}, roles)
    by = {v.id: v for v in made}
    assert len(by["03.rag_beats_ft"].notes) == 1 and "fine-tuned's learning rate 0.01" in by["03.rag_beats_ft"].notes[0]
    assert not by["03.abstention_cuts_hallucination"].notes  # ctx inside, fta not swept
    assert "unknown-share curve" in by["03.unknown_facts_hurt_known"].notes[0]


@pytest.mark.parametrize("profile", ["smoke", "cpu", "t4", "gpu", "full"])
def test_every_profile_has_enough_unevaluated_facts_for_its_validation_sets(profile):
    from helpers.course.profiles import settings

    cfg = settings("hallucination", profile)
    kb = build_knowledge_base(cfg.kb_per_kind, seed=0)
    sets = question_sets(kb, cfg.n_train_facts, cfg.n_per_set, seed=0)
    context = context_training_facts(kb, sets, cfg.rag_train_facts + cfg.n_abstain, seed=0)
    abstain = abstention_examples(kb, cfg.n_abstain, seed=0)
    validation = validation_sets(kb, sets, len(context), cfg.n_val, cfg.n_train_facts, abstain, seed=0)
    assert len(validation["facts_train"]) == cfg.n_train_facts and len(validation["unanswerable"]) == cfg.n_val


def test_the_rates_of_the_compared_arms_are_in_the_claims():
    n = 40
    sets = {s: [1] * n for s in hallucination.EVAL_SETS}
    results = {name: scores(name, sets) for name in ("base", "base + RAG", "ft", "ctx", "fta")}
    roles = {"base": "base", "base_rag": "base + RAG", "ft": "ft", "ft_context_rag": "ctx", "ft_abstain_rag": "fta"}
    curve = {(share, stop): np.ones(20) for share in (0.0, 1.0) for stop in ("early", "long")}
    verdicts = hallucination.hallucination_verdicts(
        results, roles, "cpu", curve, rates={"ft_context_rag": 0.003, "ft_abstain_rag": 0.001}, curve_rate=0.01
    )
    claims = {v.id: v.claim for v in verdicts}
    assert "learning rates 0.001 vs 0.003" in claims["03.abstention_cuts_hallucination"]
    assert all(
        "every mix at learning rate 0.01" in claims[i]
        for i in claims
        if i in hallucination.VERDICT_ARMS and hallucination.VERDICT_ARMS[i] == ("curve",)
    )
