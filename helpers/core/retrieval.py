"""BM25 retrieval over a small document collection (the knowledge base's documents), for RAG arms."""

from __future__ import annotations

from rank_bm25 import BM25Okapi

from .tasks import Example
from .words import words


class BM25Retriever:
    """BM25 (Okapi) over {doc_id: text}. Ties in score go to the smaller doc id, so results are deterministic."""

    def __init__(self, documents: dict[str, str]):
        if not documents:
            raise ValueError("BM25Retriever needs at least one document")
        self.documents = dict(documents)
        self.doc_ids = sorted(self.documents)
        # Pre-tokenized corpus: rank_bm25 would otherwise start a multiprocessing pool to tokenize.
        self._bm25 = BM25Okapi([words(self.documents[d]) for d in self.doc_ids])

    def search(self, query: str, k: int = 3) -> list[str]:
        """The ids of the k best documents for the query, best first."""
        return [doc for doc, _ in self.scored(query, k)]

    def scored(self, query: str, k: int = 3) -> list[tuple[str, float]]:
        """(id, BM25 score) of the k best documents for the query, best first (a score of 0: no shared word)."""
        if k < 1:
            raise ValueError(f"k must be at least 1; got {k}")
        scores = self._bm25.get_scores(words(query))
        ranked = sorted(range(len(self.doc_ids)), key=lambda i: (-float(scores[i]), self.doc_ids[i]))
        return [(self.doc_ids[i], float(scores[i])) for i in ranked[:k]]

    def search_texts(self, query: str, k: int = 3) -> list[str]:
        """The texts of the k best documents, best first (ready for knowledge_base.with_context)."""
        return [self.documents[d] for d in self.search(query, k)]


def recall_at_k(retriever: BM25Retriever, examples: list[Example], k: int) -> float:
    """Share of the examples with a gold document (meta["doc_id"] not None) whose document is in the top k."""
    gold = [ex for ex in examples if ex.meta.get("doc_id") is not None]
    if not gold:
        raise ValueError("no example has a meta['doc_id'] to check retrieval against")
    hits = sum(ex.meta["doc_id"] in retriever.search(ex.last_user_message, k) for ex in gold)
    return hits / len(gold)
