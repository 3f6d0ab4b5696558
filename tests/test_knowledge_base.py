import re

import pytest

from helpers.core.scoring import answer_matches, answer_outcomes, is_abstention
from helpers.data import knowledge_base as kbm
from helpers.data import names as name_tables


@pytest.fixture(scope="module")
def kb():
    return kbm.build_knowledge_base(n_per_kind=20, seed=0)


@pytest.fixture(scope="module")
def sets(kb):
    return kbm.question_sets(kb, n_train_facts=120, n_per_set=40, seed=0)


def words(text):
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def test_same_seed_same_kb_and_other_seed_differs(kb):
    again = kbm.build_knowledge_base(n_per_kind=20, seed=0)
    assert again.documents == kb.documents and again.facts == kb.facts
    other = kbm.build_knowledge_base(n_per_kind=20, seed=1)
    assert other.documents != kb.documents


def test_entities_kinds_attributes_and_unique_made_up_names(kb):
    assert len(kb.entities) == 80
    for kind in kbm.KINDS:
        of_kind = [e for e in kb.entities if e.kind == kind]
        assert len(of_kind) == 20
        assert all(list(e.attributes) == [s.name for s in kbm.ATTRIBUTES[kind]] for e in of_kind)
    names = [e.name for e in kb.entities]
    assert len(set(names)) == len(names)
    ceos = [e.attributes["ceo"] for e in kb.entities if e.kind == "company"]
    all_names = names + ceos
    assert len(set(all_names)) == len(all_names)
    assert not set(ceos) & {e.name for e in kb.entities if e.kind == "person"}  # CEOs are not person entities
    for name in all_names:
        assert not words(name) & name_tables.BLOCKLIST, name
    assert len(kb.facts) == 80 * 4
    assert len({(f.entity, f.attribute) for f in kb.facts}) == len(kb.facts)


def test_links_point_to_company_entities(kb):
    companies = {e.name for e in kb.entities if e.kind == "company"}
    links = {"person": "employer", "product": "maker", "policy": "company"}
    for e in kb.entities:
        if e.kind in links:
            assert e.attributes[links[e.kind]] in companies


def test_every_fact_is_stated_in_its_document(kb):
    assert len(kb.documents) == len(kb.entities)
    for fact in kb.facts:
        doc = kb.documents[fact.doc_id]
        assert fact.entity in doc and fact.value in doc, (fact, doc)
        assert fact.answers[0] == fact.value


def test_documents_are_short(kb):
    for doc in kb.documents.values():
        sentences = [s for s in re.split(r"(?<=[.])\s+", doc) if s]
        assert 2 <= len(sentences) <= 5, doc
        assert 20 <= len(doc.split()) <= 60, doc


def test_set_sizes_and_fact_overlaps(kb, sets):
    assert list(sets) == list(kbm.SET_NAMES)
    assert len(sets["train"]) == 120
    for name in kbm.SET_NAMES[1:]:
        assert len(sets[name]) == 40
        assert all(ex.meta["set"] == name for ex in sets[name])

    def key(ex):
        return ex.meta["entity"], ex.meta["attribute"]

    train = {key(ex) for ex in sets["train"]}
    assert len(train) == 120
    assert {key(ex) for ex in sets["seen"]} <= train
    assert [key(ex) for ex in sets["paraphrase"]] == [key(ex) for ex in sets["seen"]]
    assert {key(ex) for ex in sets["unseen"]}.isdisjoint(train)
    assert len({key(ex) for ex in sets["unseen"]}) == 40
    kb_facts = {(f.entity, f.attribute) for f in kb.facts}
    assert {key(ex) for ex in sets["unseen"]} <= kb_facts


def test_seen_questions_match_training_questions_and_paraphrases_differ(sets):
    train_questions = {ex.messages[1]["content"] for ex in sets["train"]}
    assert all(ex.messages[1]["content"] in train_questions for ex in sets["seen"])
    for seen, para in zip(sets["seen"], sets["paraphrase"]):
        assert para.messages[1]["content"] != seen.messages[1]["content"]
        assert seen.meta["entity"] in para.messages[1]["content"]
        assert para.reference == seen.reference and para.meta["answers"] == seen.meta["answers"]


def test_message_layout_and_meta(sets):
    for name, examples in sets.items():
        for ex in examples:
            assert [m["role"] for m in ex.messages] == ["system", "user", "assistant"]
            assert ex.messages[0]["content"] == kbm.SYSTEM_PROMPT
            assert {"set", "answers", "doc_id", "entity", "attribute"} <= set(ex.meta)
            if name in ("general", "unanswerable"):
                assert ex.meta["doc_id"] is None
            else:
                assert ex.meta["doc_id"] is not None


def test_targets_score_correct_and_only_unanswerable_targets_abstain(sets):
    for name, examples in sets.items():
        for ex in examples:
            if name == "unanswerable":
                assert ex.meta["answers"] is None and ex.reference == kbm.ABSTAIN_TARGET
                assert is_abstention(ex.reference)
            else:
                assert answer_matches(ex.reference, ex.meta["answers"]), ex.to_json()
                assert not is_abstention(ex.reference), ex.reference
        outcomes = answer_outcomes([ex.reference for ex in examples], [ex.meta["answers"] for ex in examples])
        assert outcomes["accuracy"].mean() == 1.0 and outcomes["hallucination_rate"].mean() == 0.0


def test_natural_answer_forms_are_accepted(kb):
    """Aliases cover the usual ways of writing years, prices, durations and hours."""
    checked = set()
    for fact in kb.facts:
        value = fact.value
        if fact.attribute in ("founded", "birth_year", "launch_year"):
            forms = [value, f"In {value}."]
        elif fact.attribute == "price":
            number = value.removeprefix("$")
            forms = [value, number, f"It costs {number} dollars.", f"{value}.00", f"US${number}"]
            assert value.startswith("$") and number.isdigit() and number in fact.answers
        elif fact.attribute in ("refund_window", "warranty"):
            number, unit = value.split()
            forms = [value, number, f"{number} {unit}."]
        elif fact.attribute == "support_hours":
            start, end = value.split(" to ")
            forms = [value, f"From {start[:-2]} am to {end[:-2]} pm", f"{start[:-2]} a.m. to {end[:-2]} p.m."]
        else:
            forms = [value, value.lower(), f"{value}."]
        for form in forms:
            assert answer_matches(form, list(fact.answers)), (form, fact)
        checked.add(fact.attribute)
    assert len(checked) == 16


def test_other_facts_answers_are_scored_wrong(sets):
    """Aliases must not be so loose that a different fact's answer counts as correct."""
    for name in ("seen", "unseen"):
        examples = sets[name]
        shifted = [examples[(i + 1) % len(examples)].reference for i in range(len(examples))]
        outcomes = answer_outcomes(shifted, [ex.meta["answers"] for ex in examples])
        assert outcomes["accuracy"].mean() < 0.2


def test_unanswerable_entities_do_not_exist(kb, sets):
    vocabulary = words(" ".join(kb.documents.values()))
    generic = words(" ".join(name_tables.COMPANY_SUFFIXES + name_tables.POLICY_SUFFIXES))
    for ex in sets["unanswerable"]:
        name = ex.meta["entity"]
        assert name not in {e.name for e in kb.entities}
        assert not (words(name) - generic) & vocabulary, name
        assert name in ex.messages[1]["content"]


def test_abstention_training_never_uses_evaluation_entities(kb, sets):
    for seed in range(3):
        abstain = kbm.abstention_examples(kb, 60, seed=seed)
        assert len(abstain) == 60
        assert all(ex.meta["set"] == "abstain" and ex.reference == kbm.ABSTAIN_TARGET for ex in abstain)
        assert {ex.meta["entity"].split()[0] for ex in abstain}.isdisjoint(
            {ex.meta["entity"].split()[0] for ex in sets["unanswerable"]}
        )
        assert {ex.meta["entity"] for ex in abstain}.isdisjoint({e.name for e in kb.entities})


def test_question_sets_are_seeded(kb, sets):
    again = kbm.question_sets(kb, n_train_facts=120, n_per_set=40, seed=0)
    assert {k: [ex.to_json() for ex in v] for k, v in again.items()} == {
        k: [ex.to_json() for ex in v] for k, v in sets.items()
    }
    other = kbm.question_sets(kb, n_train_facts=120, n_per_set=40, seed=1)
    assert [ex.to_json() for ex in other["train"]] != [ex.to_json() for ex in sets["train"]]


def test_sizes_that_do_not_fit_are_refused(kb):
    with pytest.raises(ValueError, match="n_per_set"):
        kbm.question_sets(kb, n_train_facts=10, n_per_set=20)
    with pytest.raises(ValueError, match="general"):
        kbm.question_sets(kb, n_train_facts=200, n_per_set=len(kbm.GENERAL_QUESTIONS) + 1)
    with pytest.raises(ValueError, match="n_train_facts"):
        kbm.question_sets(kb, n_train_facts=len(kb.facts), n_per_set=5)


def test_general_questions_are_well_formed():
    assert len(kbm.GENERAL_QUESTIONS) >= 40
    assert len({q for _, _, q, _ in kbm.GENERAL_QUESTIONS}) == len(kbm.GENERAL_QUESTIONS)
    for topic, subject, question, answers in kbm.GENERAL_QUESTIONS:
        assert question.endswith("?") and answers and all(a.strip() for a in answers)


def test_with_context_keeps_question_target_and_meta(kb, sets):
    ex = sets["seen"][0]
    docs = [kb.documents[ex.meta["doc_id"]], kb.documents["company-001"]]
    rag = kbm.with_context(ex, docs)
    system = rag.messages[0]
    assert system["role"] == "system" and system["content"].startswith(kbm.RAG_INSTRUCTION)
    assert f"[1] {docs[0]}" in system["content"] and f"[2] {docs[1]}" in system["content"]
    assert rag.messages[1:] == ex.messages[1:]
    assert rag.meta == ex.meta and rag.meta is not ex.meta
    assert ex.messages[0]["content"] == kbm.SYSTEM_PROMPT  # the original is untouched
    assert "I don't know." in kbm.RAG_INSTRUCTION
