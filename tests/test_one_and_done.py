from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers.core.training import TrainConfig, finetune
from helpers.data import drift_world as dw
from helpers.experiments import nb04_one_and_done as one_and_done
from helpers.experiments.nb04_one_and_done import (
    CHANGED_AT_START,
    WORLD_KINDS,
    WORLD_STRATEGIES,
    PeriodScores,
    Strategy,
)


def world_scores(once_last, replay_last, new_only_unchanged, n=80):
    s = PeriodScores()
    for name in WORLD_STRATEGIES.values():
        for kind in (*WORLD_KINDS, CHANGED_AT_START):
            s.add(name, 0, kind, np.ones(n))
    for name in WORLD_STRATEGIES.values():
        for kind in WORLD_KINDS:
            s.add(name, 2, kind, np.full(n, once_last if name == WORLD_STRATEGIES["once"] else replay_last))
    s.add(WORLD_STRATEGIES["new_only"], 2, "unchanged", np.full(n, new_only_unchanged))
    return s


def test_verdicts_follow_the_scores():
    decayed = world_scores(once_last=0.0, replay_last=1.0, new_only_unchanged=0.0)
    verdicts = one_and_done.maintenance_verdicts(
        decayed, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, drift_first=2, drop_period=2, monitor_first=1
    )
    assert [v.id for v in verdicts] == [
        "04.once_trained_decays",
        "04.once_trained_decays.changed_facts",
        "04.retraining_restores",
        "04.replay_prevents_forgetting",
        "04.drift_monitor_in_time",
        "04.monitor_or_canary_in_time",
    ]
    assert [v.status for v in verdicts] == ["supported"] * 6
    assert "independent samples" in verdicts[0].text and "paired" in verdicts[1].text
    assert "unchanged facts" in verdicts[0].claim and "equal training examples" in verdicts[3].claim
    stable = world_scores(once_last=1.0, replay_last=1.0, new_only_unchanged=1.0)
    verdicts = one_and_done.maintenance_verdicts(
        stable, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, drift_first=None, drop_period=None
    )
    # nothing changed: every comparison is a tie, whose interval (Wilson-based, never zero-width) still
    # holds small gains either way, so the run cannot say "no" to a claim of improvement
    assert [v.status for v in verdicts] == ["inconclusive"] * 6
    assert all(v.ci_low < 0 < v.ci_high for v in verdicts[:4])
    worse = one_and_done.maintenance_verdicts(
        world_scores(once_last=1.0, replay_last=0.0, new_only_unchanged=1.0),
        2,
        WORLD_KINDS,
        "cpu",
        WORLD_STRATEGIES,
        drift_first=None,
        drop_period=None,
    )
    assert [v.status for v in worse[2:4]] == ["not supported", "not supported"]  # replay did worse: a clear "no"
    late = one_and_done.maintenance_verdicts(
        decayed, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, drift_first=None, drop_period=1, monitor_first=2
    )
    assert late[4].status == "not supported" and late[5].status == "not supported" and "never" in late[4].text


def test_decay_compares_unchanged_facts_only():
    """A drop on changed or new facts (which the once-trained model cannot know) does not count as decay
    of the unchanged facts: the verdict compares like with like."""
    s = world_scores(once_last=1.0, replay_last=1.0, new_only_unchanged=1.0)
    for kind in ("changed", "new_products"):
        s.add(WORLD_STRATEGIES["once"], 2, kind, np.zeros(80))
    verdicts = one_and_done.maintenance_verdicts(s, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, None, None)
    decay = {v.id: v for v in verdicts}
    assert decay["04.once_trained_decays"].effect == 0.0
    assert decay["04.once_trained_decays.changed_facts"].status == "supported"


def test_first_significant_drop_and_seed_average():
    s = world_scores(once_last=0.2, replay_last=1.0, new_only_unchanged=1.0)
    assert one_and_done.first_significant_drop(s, WORLD_STRATEGIES["once"], WORLD_KINDS) == 2
    assert one_and_done.first_significant_drop(s, WORLD_STRATEGIES["replay"], WORLD_KINDS) is None
    averaged = one_and_done.stack_seeds([world_scores(0.0, 1.0, 1.0), world_scores(1.0, 1.0, 1.0)])
    assert averaged.pooled(WORLD_STRATEGIES["once"], 2, WORLD_KINDS).mean() == 0.5
    assert averaged.pooled(WORLD_STRATEGIES["once"], 2, WORLD_KINDS).shape == (2, 3 * 80)
    without_retrieval = world_scores(1.0, 1.0, 1.0)
    del without_retrieval.scores[WORLD_STRATEGIES["retrieval"]]
    partial = one_and_done.stack_seeds([world_scores(0.0, 1.0, 1.0), without_retrieval])
    assert partial.scores[WORLD_STRATEGIES["retrieval"]][2]["changed"].shape == (1, 80)
    assert partial.scores[WORLD_STRATEGIES["once"]][2]["changed"].shape == (2, 80)


def test_continued_training_leaves_other_strategies_untouched(toy_examples):
    config = TrainConfig(method="lora", max_steps=2, batch_size=2, learning_rate=1e-2, save=False)
    base, _ = finetune("tiny", toy_examples, config, progress=False)
    before = {n: p.detach().clone() for n, p in base.model.named_parameters() if "lora_" in n}
    once, retrained = Strategy("once", base), Strategy("retrained", base)
    retrained.continue_training(toy_examples, config, period=1)
    assert once.model is base and retrained.retrains == [1] and retrained.examples_used == 4
    assert all(torch.equal(before[n], p) for n, p in base.model.named_parameters() if "lora_" in n)
    changed = dict(retrained.model.model.named_parameters())
    assert any(not torch.equal(before[n], changed[n]) for n in before)


# --- simulate_world with a fake model: the design points, without training anything -------------------------


class FakeModel(SimpleNamespace):
    """Stands in for a LoadedModel: `trained` lists the periods it was trained on."""


@pytest.fixture
def fake_training(monkeypatch):
    """finetune/answer replaced: a model answers a question right when it was trained in the question's
    period, except that `wrong_eval` makes every evaluated (non-canary) answer wrong."""
    calls = {"answer": [], "finetune": []}
    state = {"wrong_eval": False}

    def load_for_training(name, method):
        return FakeModel(trained=(), quantization=None, info=lambda: {"name": name, "parameters": 1})

    def finetune(model, examples, config, progress=False):
        calls["finetune"].append(list(examples))
        period = max(ex.meta["period"] for ex in examples)
        tuned = FakeModel(trained=(*model.trained, period), quantization=None, rate=config.learning_rate)
        return tuned, SimpleNamespace(train_seconds=1.0, total_params=1, trainable_params=0, final_loss=0.0)

    def answer(model, examples, max_new_tokens, batch_size, description):
        calls["answer"].append((description, list(examples)))
        right = [ex.meta["period"] in model.trained for ex in examples]
        if state["wrong_eval"] and not description.startswith("canary"):
            right = [False] * len(examples)
        return [ex.reference if ok else "no idea" for ex, ok in zip(examples, right)]

    monkeypatch.setattr(one_and_done, "load_for_training", load_for_training)
    monkeypatch.setattr(one_and_done, "finetune", finetune)
    monkeypatch.setattr(one_and_done, "answer", answer)
    return calls, state


def small_world_inputs(n_eval=8, n_canary=8):
    world = dw.build_world(n_periods=3, n_products=6, seed=0)
    evals = {
        p: {k: v for k, v in dw.eval_sets(world, p, n_eval, seed=0).items() if k in WORLD_KINDS and v}
        for p in range(world.n_periods)
    }
    evals[0][CHANGED_AT_START] = [dw.as_of(world, ex, 0) for ex in evals[2]["changed"]]
    canaries = {p: dw.canary_set(world, p, n_canary, seed=0) for p in range(world.n_periods)}
    return world, evals, canaries


def run_world(world, evals, canaries, fires, with_retrieval=True):
    config = TrainConfig(method="lora", seed=0, save=False)
    return one_and_done.simulate_world(
        "tiny", world, evals, canaries, fires, config, 16, 8, 0.5, 2, 8, 8, with_retrieval=with_retrieval
    )


def test_canary_pool_is_disjoint_from_evaluation_and_the_decision_reads_no_eval_item(fake_training):
    calls, state = fake_training
    world, evals, canaries = small_world_inputs()
    fires = {0: False, 1: False, 2: False}  # only the canary can trigger a retrain
    _, strategies, canary, _ = run_world(world, evals, canaries, fires)
    for period in range(world.n_periods):
        evaluated = {ex.last_user_message for exs in evals[period].values() for ex in exs}
        assert not evaluated & {ex.last_user_message for ex in canaries[period]}
    canary_calls = [examples for description, examples in calls["answer"] if description.startswith("canary")]
    assert canary_calls == [canaries[p] for p in range(world.n_periods)]  # the canary step reads the canary only
    assert canary[1]["fires"] and strategies["monitored"].retrains == [0, 1, 2]  # a stale model fails its canary
    # the same run with every evaluated answer wrong: the same canary readings, the same retraining decisions
    state["wrong_eval"] = True
    scores, again, canary_again, _ = run_world(world, evals, canaries, fires)
    assert canary_again == canary and again["monitored"].retrains == strategies["monitored"].retrains
    assert scores.pooled(WORLD_STRATEGIES["replay"], 2, WORLD_KINDS).sum() == 0


def test_replay_and_new_only_train_on_equal_numbers_of_examples(fake_training):
    calls, _ = fake_training
    world, evals, canaries = small_world_inputs()
    _, strategies, _, _ = run_world(world, evals, canaries, {0: False, 1: True, 2: True})
    new_only, replay = strategies["new_only"], strategies["replay"]
    for period in (1, 2):
        assert new_only.retrain_sets[period]["examples"] == replay.retrain_sets[period]["examples"] == 8
        assert new_only.retrain_sets[period]["replayed"] == 0 and replay.retrain_sets[period]["replayed"] == 4
    assert new_only.examples_used == replay.examples_used == strategies["monitored"].examples_used
    assert all(len(examples) == 8 for examples in calls["finetune"][1:])


def test_every_strategy_is_scored_on_every_item_and_shared_models_answer_once(fake_training):
    calls, _ = fake_training
    world, evals, canaries = small_world_inputs()
    scores, _, _, _ = run_world(world, evals, canaries, {0: False, 1: True, 2: True})
    for name in WORLD_STRATEGIES.values():
        for period, by_kind in evals.items():
            for kind, examples in by_kind.items():
                if name == WORLD_STRATEGIES["retrieval"] and kind == CHANGED_AT_START:
                    continue
                assert scores.scores[name][period][kind].shape == (len(examples),)
    # period 0: one shared model, answered once for the plain prompts (and once with retrieval)
    period0 = [d for d, _ in calls["answer"] if d.endswith(", 0")]
    assert len(period0) == 2
    # the once-trained model, trained on period 0 only, gets the changed facts right then and wrong now
    once = scores.scores[WORLD_STRATEGIES["once"]]
    assert once[0][CHANGED_AT_START].mean() == 1.0 and once[2]["changed"].mean() == 0.0
    calls["answer"].clear()
    scores, _, _, _ = run_world(world, evals, canaries, {0: False, 1: True, 2: True}, with_retrieval=False)
    assert WORLD_STRATEGIES["retrieval"] not in scores.scores
    assert len([d for d, _ in calls["answer"] if d.endswith(", 0")]) == 1


def test_clinc_replay_set_has_as_many_examples_and_keeps_every_new_intent():
    from helpers.data.clinc150 import clinc_example

    labels = ["a", "b", "c", "d"]
    new = [clinc_example(f"{lab} {i}", lab, labels, {"period": 1}) for lab in ("c", "d") for i in range(4)]
    old = [clinc_example(f"{lab} {i}", lab, labels[:2], {"period": 0}) for lab in ("a", "b") for i in range(4)]
    mixed = one_and_done.clinc_replay_set(new, old, labels, 0.5, seed=0)
    assert len(mixed) == len(new)
    kept = [ex for ex in mixed if ex.meta["period"] == 1]
    assert sorted(ex.meta["label"] for ex in kept) == ["c", "c", "d", "d"]
    replayed = [ex for ex in mixed if ex.meta["period"] == 0]
    assert len(replayed) == 4 and all("c, d" in ex.messages[0]["content"] for ex in replayed)  # relabelled


def test_question_pools_records_the_pools_and_refuses_a_canary_that_is_evaluated():
    world, evals, canaries = small_world_inputs()
    pools = one_and_done.question_pools(evals, canaries)
    assert all(row["canary_in_eval"] == 0 and row["canary"] == 8 for row in pools.values())
    assert pools["0"]["eval"][CHANGED_AT_START] == len(evals[2]["changed"])
    leaky = {**canaries, 1: canaries[1][:4] + evals[1]["changed"][:1]}
    with pytest.raises(ValueError, match="canary question"):
        one_and_done.question_pools(evals, leaky)


def test_monitor_timing_uses_the_latest_seed():
    assert one_and_done.latest_firing([1, 2, 1]) == 2
    assert one_and_done.latest_firing([1, None]) is None
    canary = {p: {"fires": p == 2} for p in range(3)}
    assert one_and_done.first_firing({0: False, 1: False, 2: False}, canary) == 2
    assert one_and_done.first_firing({0: True, 1: True, 2: False}, canary) == 1  # period 0 is the reference


# --- learning rates: swept per strategy on validation questions that are never scored -----------------------


def test_validation_questions_are_never_evaluated_and_a_leak_is_refused():
    world, evals, canaries = small_world_inputs()
    validation = {p: dw.validation_set(world, p, 40) for p in range(world.n_periods)}
    evaluated = {ex.last_user_message for by_kind in evals.values() for exs in by_kind.values() for ex in exs}
    assert all(validation.values())
    assert not evaluated & {ex.last_user_message for exs in validation.values() for ex in exs}
    assert validation[1] != dw.canary_set(world, 1, 40, seed=0)  # its own draw, in the canary's wordings
    pools = one_and_done.question_pools(evals, canaries, validation)
    assert all(
        row["validation_in_eval"] == 0 and row["validation"] == len(validation[int(p)]) for p, row in pools.items()
    )
    leaky = {**validation, 1: validation[1][:4] + evals[2]["unchanged"][:1]}  # evaluated in another period
    with pytest.raises(ValueError, match="validation question"):
        one_and_done.question_pools(evals, canaries, leaky)


@pytest.fixture
def rate_sensitive_training(fake_training, monkeypatch):
    """fake_training, where a model answers right only when every fine-tune behind it ran at the role's best
    rate: 3e-3 for period 0, 1e-2 (the grid's top: the sweep extends to 3e-2, which scores worse) for period 1."""
    calls, _ = fake_training
    best = {0: 3e-3, 1: 1e-2, 2: 1e-2}

    def finetune(model, examples, config, progress=False):
        calls["finetune"].append((config.learning_rate, list(examples)))
        period = max(ex.meta["period"] for ex in examples)
        good = getattr(model, "good", True) and config.learning_rate == best[period]
        tuned = FakeModel(trained=(*getattr(model, "trained", ()), period), quantization=None, good=good)
        return tuned, SimpleNamespace(train_seconds=1.0, total_params=1, trainable_params=0, final_loss=0.0)

    def answer(model, examples, max_new_tokens, batch_size, description):
        calls["answer"].append((description, list(examples)))
        return [ex.reference if model.good else "no idea" for ex in examples]

    monkeypatch.setattr(one_and_done, "finetune", finetune)
    monkeypatch.setattr(one_and_done, "answer", answer)
    return calls


def sweep_world(world, fixed_rate=None):
    config = TrainConfig(method="lora", seed=0, save=False)
    return one_and_done.sweep_world_rates(
        "tiny", world, config, fixed_rate, [1e-3, 3e-3, 1e-2], 1, 16, 8, 0.5, 6, 8, 8, progress=lambda line: None
    )


def test_world_sweeps_choose_each_rate_on_validation_questions_only(rate_sensitive_training):
    calls = rate_sensitive_training
    world, evals, canaries = small_world_inputs()
    chosen = sweep_world(world)
    assert chosen.rates == {"initial": 3e-3, "new_only": 1e-2, "replay": 1e-2}
    assert chosen.sweeps["initial"].interior and chosen.sweeps["initial"].extensions == 0
    assert chosen.sweeps["replay"].rates == [1e-3, 3e-3, 1e-2, 3e-2]  # extended once past the high edge
    assert chosen.sweeps["replay"].interior
    assert len(calls["finetune"]) == 3 + 4 + 4
    validation = {p: dw.validation_set(world, p, 6) for p in (0, 1)}
    answered = [examples for _, examples in calls["answer"]]
    assert all(examples in (validation[0], validation[1]) for examples in answered)
    evaluated = {ex.last_user_message for by_kind in evals.values() for exs in by_kind.values() for ex in exs}
    assert not evaluated & {ex.last_user_message for examples in answered for ex in examples}
    record = chosen.records["replay"]
    assert record["chosen"] == 1e-2 and "inside the sweep" in record["note"] and len(record["points"]) == 4
    assert [line.split(":")[0] for line in chosen.notes("world")] == ["world"] * 3
    # every strategy then trains at its own rate; the monitored one at replay's
    calls["finetune"].clear()
    _, strategies, _, _ = one_and_done.simulate_world(
        "tiny",
        world,
        evals,
        canaries,
        {0: False, 1: True, 2: True},
        TrainConfig(method="lora", seed=0, save=False),
        16,
        8,
        0.5,
        2,
        8,
        8,
        rates=chosen.rates,
    )
    rates = {s.name: {p: c["learning_rate"] for p, c in s.retrain_sets.items()} for s in strategies.values()}
    assert rates["new data only"] == {0: 3e-3, 1: 1e-2, 2: 1e-2} and rates["fine-tuned once"] == {0: 3e-3}
    assert rates["retrain when monitor fires"] == rates["with replay"]
    table = {row["strategy"]: row for row in one_and_done.cost_table(strategies)}
    assert table["with replay"]["learning rate per training"] == {"0": 3e-3, "1": 1e-2, "2": 1e-2}


def test_a_fixed_rate_sweeps_nothing(rate_sensitive_training):
    calls = rate_sensitive_training
    world, _, _ = small_world_inputs()
    chosen = sweep_world(world, fixed_rate=3e-3)
    assert chosen.rates == {"initial": 3e-3, "new_only": 3e-3, "replay": 3e-3}
    assert not chosen.sweeps and not chosen.records and not calls["finetune"] and not calls["answer"]
    clinc = one_and_done.sweep_clinc_rates("tiny", [], TrainConfig(), 1e-3, [1e-3, 3e-3, 1e-2], 1, 0.5, 8, 8)
    assert clinc.rates == {"initial": 1e-3, "new_only": 1e-3, "replay": 1e-3} and not calls["finetune"]


def test_clinc_sweeps_score_validation_requests_only(rate_sensitive_training, tmp_path):
    from helpers.data import clinc150

    calls = rate_sensitive_training
    texts = {
        split: [[f"{split} {label} {i}", label] for label in "abcd" for i in range(6)]
        for split in ("train", "val", "test")
    }
    folder = tmp_path / "clinc150"
    folder.mkdir()
    (folder / "data_full.json").write_text(__import__("json").dumps(texts))
    periods = clinc150.intents_over_time(clinc150.load_clinc150(folder), 2, 2, 4, 3, seed=0, n_val_per_intent=2)
    for period in periods:
        assert {ex.meta["period"] for ex in period["train"]} == {period["period"]}
    chosen = one_and_done.sweep_clinc_rates(
        "tiny", periods, TrainConfig(seed=0), None, [1e-3, 3e-3, 1e-2], 1, 0.5, 8, 8, progress=lambda line: None
    )
    assert chosen.rates == {"initial": 3e-3, "new_only": 1e-2, "replay": 1e-2}
    answered = {ex.last_user_message for _, examples in calls["answer"] for ex in examples}
    assert answered and all(text.startswith("val ") for text in answered)
    assert len(periods[1]["val_all"]) == 4 * 2 and len(periods[0]["val_all"]) == 2 * 2


def test_a_verdict_reading_an_edge_rate_says_so():
    sweep = SimpleNamespace(edge_note=lambda arm: f"{arm}'s learning rate is at an edge")
    inside = SimpleNamespace(edge_note=lambda arm: None)
    scores = world_scores(once_last=0.0, replay_last=1.0, new_only_unchanged=0.0)
    verdicts = one_and_done.maintenance_verdicts(
        scores,
        2,
        WORLD_KINDS,
        "cpu",
        WORLD_STRATEGIES,
        2,
        2,
        monitor_first=1,
        sweeps={"world": {"initial": inside, "new_only": inside, "replay": sweep}},
    )
    noted = {v.id for v in verdicts if any("at an edge" in note for note in v.notes)}
    assert noted == {"04.retraining_restores", "04.replay_prevents_forgetting"}
    assert "with replay's learning rate" in verdict_by_id(verdicts, "04.retraining_restores").notes[-1]


def verdict_by_id(verdicts, verdict_id):
    return next(v for v in verdicts if v.id == verdict_id)
