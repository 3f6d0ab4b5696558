import pytest

from helpers.core.retrieval import BM25Retriever, recall_at_k
from helpers.core.words import words, words_with_apostrophes
from helpers.data.knowledge_base import build_knowledge_base, question_sets


@pytest.fixture(scope="module")
def kb():
    return build_knowledge_base(n_per_kind=20, seed=0)


@pytest.fixture(scope="module")
def sets(kb):
    return question_sets(kb, n_train_facts=160, n_per_set=60, seed=0)


@pytest.fixture(scope="module")
def retriever(kb):
    return BM25Retriever(kb.documents)


def test_words_lowercase_and_split_on_non_alphanumerics():
    assert words("Zorvant Labs' CEO: $129, 9am-5pm!") == ["zorvant", "labs", "ceo", "129", "9am", "5pm"]
    assert words("What is Zorvant's CEO's name?") == ["what", "is", "zorvant", "s", "ceo", "s", "name"]
    assert words_with_apostrophes("What's Zorvant's price? Don't know.") == [
        "what's",
        "zorvant's",
        "price",
        "don't",
        "know",
    ]


def test_finds_the_document_that_states_the_fact(kb, retriever):
    company = next(e for e in kb.entities if e.kind == "company")
    assert retriever.search(f"When was {company.name} founded?", k=1) == [company.doc_id]
    assert retriever.search_texts(f"When was {company.name} founded?", k=1) == [kb.documents[company.doc_id]]


@pytest.mark.parametrize("set_name", ["seen", "paraphrase", "unseen"])
def test_recall_at_3_is_high_on_kb_questions(retriever, sets, set_name):
    assert recall_at_k(retriever, sets[set_name], k=3) >= 0.9


def test_recall_grows_with_k_and_skips_questions_without_gold_docs(retriever, sets):
    mixed = sets["paraphrase"] + sets["unanswerable"] + sets["general"]
    r1, r3 = recall_at_k(retriever, mixed, k=1), recall_at_k(retriever, mixed, k=3)
    assert r1 <= r3 <= 1.0
    assert r3 == recall_at_k(retriever, sets["paraphrase"], k=3)
    assert recall_at_k(retriever, sets["paraphrase"], k=len(retriever.doc_ids)) == 1.0
    with pytest.raises(ValueError, match="doc_id"):
        recall_at_k(retriever, sets["general"], k=3)


def test_recall_counts_gold_documents_within_k():
    from helpers.core.tasks import Example

    retriever = BM25Retriever(
        {"a": "apple banana", "b": "apple cherry", "c": "durian fig", "d": "grape kiwi", "e": "lemon mango"}
    )

    def ask(question, doc_id):
        return Example(
            [{"role": "user", "content": question}, {"role": "assistant", "content": "-"}], {"doc_id": doc_id}
        )

    # "apple" ties a and b: a wins the tie, so b is found at k=2 but not at k=1.
    examples = [ask("apple", "b"), ask("cherry", "b"), ask("durian", "c"), ask("kiwi", "c")]
    assert retriever.search("apple", k=3) == ["a", "b", "c"]
    assert recall_at_k(retriever, examples, k=1) == 0.5
    assert recall_at_k(retriever, examples, k=2) == 0.75


def test_wrong_gold_documents_give_low_recall(retriever, sets):
    """recall_at_k really compares against meta['doc_id']: shuffled gold ids score far lower."""
    examples = sets["seen"]
    shifted = []
    for i, ex in enumerate(examples):
        other = examples[(i + 7) % len(examples)]
        shifted.append(type(ex)(ex.messages, {**ex.meta, "doc_id": other.meta["doc_id"]}))
    assert recall_at_k(retriever, shifted, k=3) < 0.3


def test_results_are_deterministic_and_ties_break_by_doc_id(kb, sets):
    first = BM25Retriever(kb.documents)
    second = BM25Retriever(dict(reversed(list(kb.documents.items()))))
    for ex in sets["paraphrase"][:20]:
        assert first.search(ex.last_user_message, k=5) == second.search(ex.last_user_message, k=5)
    # A query sharing no word with any document scores every document 0: order is by doc id.
    assert first.search("xyzzy plugh", k=4) == sorted(kb.documents)[:4]
    tied = BM25Retriever({"b": "same words here", "a": "same words here", "c": "other text entirely"})
    assert tied.search("same words", k=2) == ["a", "b"]


def test_bad_arguments(kb):
    with pytest.raises(ValueError):
        BM25Retriever({})
    with pytest.raises(ValueError):
        BM25Retriever(kb.documents).search("anything", k=0)
