import pytest

from helpers.core.scoring import answer_matches
from helpers.data import drift_world as dw


@pytest.fixture(scope="module")
def world():
    return dw.build_world(n_periods=4, n_products=12, seed=0)


def test_same_seed_same_world_and_examples_other_seed_differs(world):
    again = dw.build_world(n_periods=4, n_products=12, seed=0)
    assert [p.facts for p in again.periods] == [p.facts for p in world.periods]
    assert [ex.to_json() for ex in dw.period_examples(again, 2, 30, seed=5)] == [
        ex.to_json() for ex in dw.period_examples(world, 2, 30, seed=5)
    ]
    other = dw.build_world(n_periods=4, n_products=12, seed=1)
    assert [p.facts for p in other.periods] != [p.facts for p in world.periods]


def test_each_period_retires_adds_and_changes_the_controlled_share(world):
    assert len(world.periods[0].facts) == 12 * 3 + 4
    for p in range(1, world.n_periods):
        before, now = world.periods[p - 1], world.periods[p]
        assert len(now.added) == 2 and all(world.products[n].added_in == p for n in now.added)
        newly_retired = [n for n, when in now.retired.items() if when == p]
        assert len(newly_retired) == 1 and newly_retired[0] in before.available
        # Prices, device limits and policies carried over from the previous period (not just retired).
        carried = [f for f, s in before.facts.items() if s.attribute != "availability" and f in now.facts]
        changed = [f for f in carried if now.facts[f].value != before.facts[f].value]
        assert len(changed) == round(0.3 * len(carried))
        assert all(now.facts[f].changed_since == p for f in changed)
        assert all(now.facts[f].changed_since == before.facts[f].changed_since for f in carried if f not in changed)


def test_changed_since_and_valid_through_match_the_history(world):
    for period in world.periods:
        for fact_id, fact in period.facts.items():
            for q in range(fact.changed_since, period.index + 1):
                assert world.periods[q].facts[fact_id].value == fact.value
            earlier = world.periods[fact.changed_since - 1].facts.get(fact_id) if fact.changed_since > 0 else None
            assert earlier is None or earlier.value != fact.value
            last = dw.valid_through(world, period.index, fact_id)
            assert all(world.periods[q].facts[fact_id].value == fact.value for q in range(period.index, last + 1))
            if last + 1 < world.n_periods:
                later = world.periods[last + 1].facts.get(fact_id)
                assert later is None or later.value != fact.value


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_changed_fact_never_returns_to_its_period0_value(seed):
    world = dw.build_world(n_periods=8, n_products=12, seed=seed, change_rate=0.5)
    for p in range(1, world.n_periods):
        for fact_id in world.periods[p].facts:
            if dw.fact_category(world, p, fact_id) == "changed":
                for later in world.periods[p:]:
                    assert fact_id not in later.facts or dw.fact_category(world, later.index, fact_id) == "changed"


def test_stale_answers_fail_and_current_answers_pass(world):
    """The drift is measurable: the period-0 answer of a changed fact does not match its current aliases."""
    last = world.periods[-1]
    checked = 0
    for fact_id, fact in last.facts.items():
        assert answer_matches(fact.value, list(fact.answers))
        first = world.periods[0].facts.get(fact_id)
        if first is None:
            continue
        stale_passes = answer_matches(first.value, list(fact.answers))
        assert stale_passes == (first.value == fact.value), (first.value, fact.answers)
        checked += 1
    assert checked > 20


def test_retired_product_answer_names_the_quarter(world):
    name, when = next(iter(world.periods[-1].retired.items()))
    doc_id = world.products[name].doc_id
    examples = [
        ex
        for ex in dw.period_examples(world, world.n_periods - 1, 500, seed=0, kind="changed")
        if ex.meta["fact_id"] == f"{doc_id}:availability"
    ]
    assert examples and examples[0].reference == f"No, it was retired in Q{when + 1}."
    assert name in examples[0].last_user_message or name.lower() in examples[0].last_user_message
    assert not answer_matches("Yes, it is available.", examples[0].meta["answers"])


def test_example_meta_is_consistent(world):
    for period in range(world.n_periods):
        examples = dw.period_examples(world, period, 60, seed=3)
        assert len(examples) == 60
        assert len({(ex.meta["fact_id"], ex.meta["template"]) for ex in examples}) == 60
        for ex in examples:
            assert [m["role"] for m in ex.messages] == ["system", "user", "assistant"]
            assert ex.messages[0]["content"] == dw.SYSTEM_PROMPT
            assert ex.meta["period"] == period and ex.reference == ex.meta["answers"][0]
            assert len(ex.reference.split()) <= 6
            first = world.periods[0].facts.get(ex.meta["fact_id"])
            assert ex.meta["still_valid_from_period0"] == (first is not None and first.value == ex.reference)
            assert ex.meta["valid_through"] >= period


def test_new_wordings_grow_over_the_periods(world):
    shares = []
    for period in range(world.n_periods):
        examples = dw.period_examples(world, period, 100, seed=0)
        shares.append(sum(ex.meta["wording"] == "new" for ex in examples) / len(examples))
    assert shares[0] == 0.0
    assert shares == sorted(shares) and shares[-1] > 0.5


def test_eval_sets_categories(world):
    first = dw.eval_sets(world, 0, 40, seed=0)
    assert first["changed"] == [] and first["new_products"] == []
    assert len(first["unchanged"]) == 40
    sets = dw.eval_sets(world, 3, 40, seed=0)
    assert all(len(sets[kind]) > 0 for kind in dw.EVAL_KINDS)
    assert all(not ex.meta["still_valid_from_period0"] and ex.meta["category"] == "changed" for ex in sets["changed"])
    assert all(ex.meta["still_valid_from_period0"] for ex in sets["unchanged"])
    assert all(world.products[ex.meta["subject"]].added_in > 0 for ex in sets["new_products"])
    # Balanced weighting: the many "Yes, it is available." answers do not crowd out the rest.
    unchanged_types = {ex.meta["attribute"] for ex in sets["unchanged"]}
    assert len(unchanged_types) >= 3


def test_period_examples_returns_fewer_when_the_pool_is_small(world):
    changed = dw.facts_at(world, 1, "changed")
    examples = dw.period_examples(world, 1, 10_000, seed=0, kind="changed")
    assert 0 < len(examples) <= 8 * len(changed)
    assert {ex.meta["fact_id"] for ex in examples} <= {f.fact_id for f in changed}


def test_training_set_covers_facts_and_since_keeps_only_new_values(world):
    facts = dw.facts_at(world, 2)
    train = dw.training_set(world, 2, len(facts), seed=0)
    assert sorted(ex.meta["fact_id"] for ex in train) == sorted(f.fact_id for f in facts)
    recent = dw.training_set(world, 2, 50, seed=0, since=1)
    assert recent and all(ex.meta["changed_since"] == 2 for ex in recent)
    with pytest.raises(ValueError, match="no fact changed"):
        dw.training_set(world, 0, 10, seed=0, since=0)


def test_replay_mix_has_as_many_examples_as_new_data_alone_and_drops_stale_ones(world):
    new = dw.training_set(world, 2, 40, seed=1, since=1)
    old = dw.training_set(world, 0, 80, seed=0)
    assert any(ex.meta["valid_through"] < 2 for ex in old)  # there is something stale to drop
    mixed = dw.replay_mix(new, old, replay_share=0.5, seed=0)
    replayed = [ex for ex in mixed if ex.meta["period"] == 0]
    assert len(mixed) == len(new)  # equal training examples: replay vs new-only compares like with like
    assert len(replayed) == 20
    assert all(ex.meta["valid_through"] >= 2 for ex in replayed)
    current = world.periods[2].facts
    assert all(current[ex.meta["fact_id"]].value == ex.reference for ex in replayed)
    kept_new = sorted(ex.last_user_message for ex in mixed if ex.meta["period"] == 2)
    assert kept_new == sorted(ex.last_user_message for ex in new[:20])
    # the kept half still covers every new fact (training_set cycles through the facts first)
    n_facts = len(dw.facts_at(world, 2, since=1))
    assert len({ex.meta["fact_id"] for ex in mixed if ex.meta["period"] == 2}) == min(20, n_facts)
    assert len(dw.replay_mix(new, old, 0.0, seed=0)) == len(new)
    few_valid = [ex for ex in old if ex.meta["valid_through"] >= 2][:3]
    topped_up = dw.replay_mix(new, few_valid, replay_share=0.5, seed=0)
    assert len(topped_up) == len(new) and sum(ex.meta["period"] == 0 for ex in topped_up) == 3


def test_training_evaluation_and_canary_questions_are_disjoint(world):
    """Evaluation never scores a training question word for word; the canary pool shares no question
    with the evaluation pool in any period."""
    assert set(dw.TEMPLATE_SPLITS["train"]).isdisjoint(dw.TEMPLATE_SPLITS["eval"] + dw.TEMPLATE_SPLITS["canary"])
    assert set(dw.TEMPLATE_SPLITS["eval"]).isdisjoint(dw.TEMPLATE_SPLITS["canary"])
    all_train = {ex.last_user_message for p in range(world.n_periods) for ex in dw.training_set(world, p, 300, seed=0)}
    for period in range(world.n_periods):
        evaluated = {ex.last_user_message for exs in dw.eval_sets(world, period, 500, seed=0).values() for ex in exs}
        canary = {ex.last_user_message for ex in dw.canary_set(world, period, 500, seed=0)}
        assert evaluated and canary
        assert not evaluated & all_train and not canary & all_train
        assert not evaluated & canary


def test_as_of_asks_the_same_question_with_the_earlier_answer(world):
    changed = dw.eval_sets(world, 3, 20, seed=0)["changed"]
    then = [dw.as_of(world, ex, 0) for ex in changed]
    assert [ex.last_user_message for ex in then] == [ex.last_user_message for ex in changed]
    assert all(t.reference == world.periods[0].facts[ex.meta["fact_id"]].value for t, ex in zip(then, changed))
    assert all(t.reference != ex.reference for t, ex in zip(then, changed))
    new_product = dw.eval_sets(world, 3, 5, seed=0)["new_products"][0]
    with pytest.raises(ValueError, match="does not exist in period 0"):
        dw.as_of(world, new_product, 0)


def test_catalog_documents_state_every_current_answer(world):
    for period in (0, 3):
        docs = dw.catalog_documents(world, period)
        for fact in world.periods[period].facts.values():
            text = docs[fact.doc_id]
            if fact.attribute == "availability":
                assert ("retired" in text) == fact.value.startswith("No")
            else:
                assert fact.value in text, (fact.value, text)
        launched_later = [p.doc_id for p in world.products.values() if p.added_in > period]
        assert not set(launched_later) & set(docs)


def test_rag_context_holds_the_right_document(world):
    examples = dw.period_examples(world, 3, 30, seed=0)
    with_docs = dw.with_catalog_context(world, 3, examples, k=2)
    docs = dw.catalog_documents(world, 3)
    assert all(docs[ex.meta["doc_id"]] in rag.messages[0]["content"] for ex, rag in zip(examples, with_docs))
    assert [rag.reference for rag in with_docs] == [ex.reference for ex in examples]
