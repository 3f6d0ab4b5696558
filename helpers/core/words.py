"""Word tokenizers for the course's text statistics: two, on purpose.

`words` splits on anything that is not a letter or a digit, so an apostrophe splits too ("Zorvant's"
-> "zorvant", "s"): a possessive in a question still matches the name in a document. BM25 retrieval and
the knowledge base's vocabulary use it.

`words_with_apostrophes` keeps apostrophes inside words ("don't", "what's" stay one word): the drift
monitor counts word n-grams and new words in requests, where a contraction is one word of the request.

They give the same words on text without apostrophes (all the drift world's requests), but not on the
knowledge base's questions ("What is {name}'s job title?") or on a user's own requests, so merging them
would change BM25 scores or drift scores.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_WORD_WITH_APOSTROPHES = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lowercase and split on anything that is not a letter or a digit."""
    return _WORD.findall(text.lower())


def words_with_apostrophes(text: str) -> list[str]:
    """Lowercase words of letters, digits and apostrophes."""
    return _WORD_WITH_APOSTROPHES.findall(text.lower())
