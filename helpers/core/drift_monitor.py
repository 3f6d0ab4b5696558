"""Drift signals that need no labels, and a small labelled-canary trigger.

A deployed model sees a stream of requests. Without labels, two things can still be watched: whether
the requests look like the ones the model was trained on (n-gram divergence, out-of-vocabulary rate),
and whether the model's own outputs look unsure (abstentions). A handful of labelled canary questions
re-asked every period catches what text statistics cannot: a fact that changed while the wording did not.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Iterable

import numpy as np

from .scoring import is_abstention
from .tasks import Example
from .words import words_with_apostrophes


def user_texts(examples: Iterable[Example]) -> list[str]:
    """The last user message of each example: the request a monitor sees."""
    return [ex.last_user_message for ex in examples]


def _ngram_counts(texts: Iterable[str], n: tuple[int, ...]) -> Counter:
    counts: Counter = Counter()
    for text in texts:
        words = words_with_apostrophes(text)
        for size in n:
            counts.update(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))
    return counts


def ngram_drift(reference_texts: list[str], current_texts: list[str], n: tuple[int, ...] = (1, 2)) -> float:
    """Jensen-Shannon divergence (base 2, so in [0, 1]) between the pooled word n-gram distributions.

    0 means the same n-gram frequencies; 1 means no n-gram in common. It is biased upwards for small
    samples (two samples of one distribution differ by chance), which is why DriftMonitor calibrates
    its threshold on the reference rather than using a fixed number.
    """
    p, q = _ngram_counts(reference_texts, n), _ngram_counts(current_texts, n)
    total_p, total_q = sum(p.values()), sum(q.values())
    if total_p == 0 or total_q == 0:
        raise ValueError("ngram_drift needs at least one n-gram on each side")
    divergence = 0.0
    for gram in sorted(p.keys() | q.keys()):  # a fixed order: float sums that do not depend on PYTHONHASHSEED
        pi, qi = p[gram] / total_p, q[gram] / total_q
        mi = (pi + qi) / 2
        if pi:
            divergence += 0.5 * pi * math.log2(pi / mi)
        if qi:
            divergence += 0.5 * qi * math.log2(qi / mi)
    return min(1.0, max(0.0, divergence))


def out_of_vocabulary_rate(reference_texts: list[str], current_texts: list[str]) -> float:
    """Share of the current texts' word tokens that never occur in the reference texts."""
    vocabulary = {w for text in reference_texts for w in words_with_apostrophes(text)}
    words = [w for text in current_texts for w in words_with_apostrophes(text)]
    if not words:
        raise ValueError("out_of_vocabulary_rate needs at least one word in the current texts")
    return sum(w not in vocabulary for w in words) / len(words)


def abstention_or_low_confidence_rate(
    predictions: list[str], confidences: list[float] | None = None, min_confidence: float = 0.5
) -> float:
    """Share of predictions that abstain ("I don't know", see scoring.is_abstention) or, when
    confidences are given (e.g. mean token probability), fall below min_confidence."""
    if not predictions:
        raise ValueError("abstention_or_low_confidence_rate needs at least one prediction")
    if confidences is not None and len(confidences) != len(predictions):
        raise ValueError(f"{len(confidences)} confidences for {len(predictions)} predictions")
    flagged = 0
    for i, prediction in enumerate(predictions):
        low = confidences is not None and confidences[i] < min_confidence
        flagged += is_abstention(prediction) or low
    return flagged / len(predictions)


class DriftMonitor:
    """Fires when a batch of requests drifts from the reference more than chance would explain.

    The divergence of two samples is above 0 even when they come from one distribution, and more so
    the smaller they are, so the monitor compares like with like. For a batch of k texts it splits the
    reference n_splits times (seeded) into k held-out texts and the rest (half and half when k is
    larger than half the reference). Calibration: the within-reference drifts ngram_drift(rest_i,
    held_out_i); threshold = their `quantile` times `margin`. Score: the mean of ngram_drift(rest_i,
    batch) over the same splits. A fresh batch from the reference's distribution is then just another
    held-out sample, and its mean drift rarely exceeds a high quantile of single ones. A fixed
    `threshold` replaces the calibrated one.
    """

    def __init__(
        self,
        reference_texts: list[str],
        threshold: float | None = None,
        n: tuple[int, ...] = (1, 2),
        n_splits: int = 20,
        quantile: float = 0.95,
        margin: float = 1.1,
        seed: int = 0,
    ):
        if len(reference_texts) < 4:
            raise ValueError(f"DriftMonitor needs at least 4 reference texts; got {len(reference_texts)}")
        self.reference = list(reference_texts)
        self.fixed_threshold = threshold
        self.n = n
        self.n_splits, self.quantile, self.margin, self.seed = n_splits, quantile, margin, seed
        self._splits: dict[int, list[tuple[list[str], list[str]]]] = {}

    def _splits_for(self, batch_size: int) -> list[tuple[list[str], list[str]]]:
        """n_splits (rest, held_out) pairs of the reference, held_out of min(batch_size, half) texts."""
        k = max(1, min(batch_size, len(self.reference) // 2))
        if k not in self._splits:
            rng = random.Random(self.seed * 1_000_003 + k)
            splits = []
            for _ in range(self.n_splits):
                order = rng.sample(range(len(self.reference)), len(self.reference))
                splits.append(([self.reference[i] for i in order[k:]], [self.reference[i] for i in order[:k]]))
            self._splits[k] = splits
        return self._splits[k]

    def score(self, texts: list[str]) -> float:
        """Mean drift of the texts against the reference splits' "rest" parts."""
        return float(np.mean([ngram_drift(rest, texts, self.n) for rest, _ in self._splits_for(len(texts))]))

    def threshold_for(self, batch_size: int) -> float:
        """The threshold for a batch of batch_size texts (the fixed one when given)."""
        if self.fixed_threshold is not None:
            return self.fixed_threshold
        drifts = [ngram_drift(rest, held_out, self.n) for rest, held_out in self._splits_for(batch_size)]
        return float(np.quantile(drifts, self.quantile)) * self.margin

    def fires(self, texts: list[str]) -> bool:
        return self.score(texts) > self.threshold_for(len(texts))


def canary_check(accuracy_now: float, accuracy_baseline: float, n: int, drop: float = 0.1, z: float = 1.645) -> bool:
    """True when accuracy on n labelled canary questions fell by more than `drop` and by more than
    chance: z standard errors of the difference of two proportions measured on n items each
    (z=1.645 is a one-sided 5% test). With few canaries only a large fall fires."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    fall = accuracy_baseline - accuracy_now
    pooled = (accuracy_baseline + accuracy_now) / 2
    noise = z * math.sqrt(2 * pooled * (1 - pooled) / n)
    return fall > max(drop, noise)


def first_firing(values: Iterable[float], threshold: float) -> int | None:
    """The index of the first value above the threshold, or None when none is."""
    for i, value in enumerate(values):
        if value > threshold:
            return i
    return None
