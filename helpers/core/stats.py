"""Confidence intervals, comparisons and the multiple-comparison correction behind every verdict.

Scores come as per-item arrays, one row per training seed: shape (items,) for one seed or
(seeds, items) for several. With several seeds every interval comes from a two-level bootstrap
(resample the seeds, then the items), so training randomness reaches the verdict; with one seed it
falls back to the items alone and says so in `interval_method`. Proportions (0/1 scores) get a Wilson
interval, which is never zero-width at 0 or 1 (24 of 24 correct gives 86% to 100%, not [1, 1]).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

DEFAULT_BOOTSTRAP = 2000
DEFAULT_PERMUTATIONS = 5000
Z95 = 1.959963984540054

ITEMS = "item bootstrap (1 seed)"
TWO_LEVEL = "two-level bootstrap (seeds, then items)"
WILSON = "Wilson score (1 seed)"
TWO_LEVEL_WILSON = "two-level bootstrap (seeds, then items), widened to the Wilson interval"


def seed_matrix(values) -> np.ndarray:
    """Scores as a (seeds, items) float array: one row per seed. Accepts one array, a 2-D array, or a
    list of per-seed arrays of equal length."""
    matrix = np.asarray(values, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError(f"scores must be (items,) or (seeds, items), got shape {matrix.shape}")
    return matrix


def is_binary(values) -> bool:
    values = np.asarray(values, dtype=float)
    return values.size > 0 and bool(np.all((values == 0) | (values == 1)))


def wilson_interval(successes: float, n: int, confidence: float = 0.95, z: float | None = None) -> tuple[float, float]:
    """Wilson score interval of a proportion; never zero-width, even at 0 or n successes."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = z if z is not None else Z95 if confidence == 0.95 else _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, min(p, centre - half))), float(min(1.0, max(p, centre + half)))  # p inside, despite rounding


def newcombe_paired_interval(a, b, z: float = Z95) -> tuple[float, float]:
    """Newcombe's interval for the difference of two paired proportions (1998, method 10: Wilson
    intervals of each arm combined with the continuity-corrected correlation of the pairs).

    a, b: per-item probabilities of being right (0/1, or the share of seeds that got the item right).
    Unlike the item bootstrap it is not zero-width when the arms agree on every item: two arms that
    both answer 16 of 16 wrong differ by -19 to +19 points, not by exactly zero."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = a.size
    both, a_only = float(np.sum(a * b)), float(np.sum(a * (1 - b)))
    b_only, neither = float(np.sum((1 - a) * b)), float(np.sum((1 - a) * (1 - b)))
    p1, p2 = (both + a_only) / n, (both + b_only) / n
    l1, u1 = wilson_interval(both + a_only, n, z=z)
    l2, u2 = wilson_interval(both + b_only, n, z=z)
    numerator = both * neither - a_only * b_only
    if numerator > 0:
        numerator = max(numerator - n / 2, 0.0)
    denominator = np.sqrt((both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither))
    phi = numerator / denominator if denominator > 0 else 0.0
    delta = p1 - p2
    low = delta - np.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = delta + np.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return float(low), float(high)


def newcombe_independent_interval(a, b, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for the difference of two independent proportions (1998,
    method 10): each arm's Wilson interval, combined. a, b: per-item probabilities of being right."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    p1, p2 = a.mean(), b.mean()
    l1, u1 = wilson_interval(a.sum(), a.size, z=z)
    l2, u2 = wilson_interval(b.sum(), b.size, z=z)
    delta = p1 - p2
    return float(delta - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)), float(
        delta + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    )


def newcombe_margin_p(a, b, null: float) -> float:
    """One-sided p of "the paired difference is at most `null`" by inverting Newcombe's interval: the
    level at which its lower bound meets the null. Used for margins (non-inferiority), where a sign-flip
    test of shifted 0/1 differences is not valid."""
    from scipy import stats as scipy_stats

    if newcombe_paired_interval(a, b, z=0.0)[0] <= null:  # the observed difference is at or beyond the null
        return 1.0
    low_z, high_z = 0.0, 10.0
    if newcombe_paired_interval(a, b, z=high_z)[0] > null:
        return float(scipy_stats.norm.sf(high_z))
    for _ in range(60):
        middle = (low_z + high_z) / 2
        if newcombe_paired_interval(a, b, z=middle)[0] > null:
            low_z = middle
        else:
            high_z = middle
    return float(scipy_stats.norm.sf(low_z))


def _z(confidence: float) -> float:
    from scipy import stats as scipy_stats

    return float(scipy_stats.norm.ppf((1 + confidence) / 2))


def bootstrap_ci(
    values, n_boot: int = DEFAULT_BOOTSTRAP, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item values (one seed)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def bootstrap_statistic_ci(
    n_items: int, statistic: Callable[[np.ndarray], float], n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval for any statistic of resampled item indices (for example macro-F1)."""
    rng = np.random.default_rng(seed)
    stats = [statistic(rng.integers(0, n_items, size=n_items)) for _ in range(n_boot)]
    alpha = (1 - confidence) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def two_level_means(matrix: np.ndarray, item_draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of the mean of a (seeds, items) matrix: for each replicate, resample the
    seeds with replacement, then average the given resampled items (item_draws: (n_boot, items)
    indices, shared between arms when the comparison is paired)."""
    per_seed = matrix[:, item_draws].mean(axis=2)  # (seeds, n_boot)
    n_seeds, n_boot = per_seed.shape
    if n_seeds == 1:
        return per_seed[0]
    seed_draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    return per_seed[seed_draws, np.arange(n_boot)[:, None]].mean(axis=1)


def summarize(values, seed: int = 0, n_boot: int = DEFAULT_BOOTSTRAP) -> dict:
    """Mean and 95% interval of per-item scores, one seed or several (rows).

    0/1 scores: Wilson for one seed; with several seeds the two-level bootstrap widened to the Wilson
    interval of the pooled mean at the item count (so 3 seeds of 24/24 are not [1, 1]). Other scores:
    item bootstrap for one seed, two-level bootstrap for several."""
    matrix = seed_matrix(values)
    n_seeds, n_items = matrix.shape
    if n_items == 0:
        nan = float("nan")
        return {"mean": nan, "ci_low": nan, "ci_high": nan, "n": 0, "n_seeds": n_seeds, "interval_method": ITEMS}
    mean = float(matrix.mean())
    binary = is_binary(matrix)
    if n_seeds == 1 and binary:
        (low, high), method = wilson_interval(matrix.sum(), n_items), WILSON
    elif n_seeds == 1:
        (low, high), method = bootstrap_ci(matrix[0], n_boot=n_boot, seed=seed), ITEMS
    else:
        rng = np.random.default_rng(seed)
        replicates = two_level_means(matrix, rng.integers(0, n_items, size=(n_boot, n_items)), rng)
        low, high = float(np.quantile(replicates, 0.025)), float(np.quantile(replicates, 0.975))
        method = TWO_LEVEL
        if binary:
            wilson_low, wilson_high = wilson_interval(mean * n_items, n_items)
            low, high, method = min(low, wilson_low), max(high, wilson_high), TWO_LEVEL_WILSON
    return {
        "mean": mean,
        "ci_low": float(min(low, mean)),  # a percentile interval of a skewed statistic can miss the mean
        "ci_high": float(max(high, mean)),
        "n": int(n_items),
        "n_seeds": int(n_seeds),
        "interval_method": method,
    }


def summarize_metrics(item_scores: dict[str, np.ndarray]) -> dict[str, dict]:
    """summarize() for every numeric metric array in a scorer's output."""
    return {name: summarize(values) for name, values in item_scores.items() if np.asarray(values).dtype != object}


def seed_summary(per_seed_means, confidence: float = 0.95) -> dict:
    """Mean over seeds with a t-interval (n seeds); a single seed gives a zero-width 'interval' flagged n=1.
    For quantities with no items to resample (a per-seed timing or memory figure)."""
    from scipy import stats as scipy_stats

    values = np.asarray(per_seed_means, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "n_seeds": int(values.size)}
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_seeds": int(values.size)}


def _bootstrap_p(replicates: np.ndarray, null: float, alternative: str) -> float:
    """p-value from bootstrap replicates of an effect: how often the replicates reach the null
    (one-sided "greater": H0 effect <= null; two-sided: twice the smaller tail)."""
    below = (1 + np.sum(replicates <= null)) / (replicates.size + 1)
    if alternative == "greater":
        return float(below)
    above = (1 + np.sum(replicates >= null)) / (replicates.size + 1)
    return float(min(1.0, 2 * min(below, above)))


def _permutation_p(null_stats: np.ndarray, observed: float, alternative: str) -> float:
    if alternative == "greater":
        hits = np.sum(null_stats >= observed - 1e-12)
    else:
        hits = np.sum(np.abs(null_stats) >= abs(observed) - 1e-12)
    return float((1 + hits) / (null_stats.size + 1))


def _check_alternative(alternative: str) -> None:
    if alternative not in ("two-sided", "greater"):
        raise ValueError(f"alternative must be 'two-sided' or 'greater', got {alternative!r}")


def paired_comparison(
    a,
    b,
    null: float = 0.0,
    alternative: str = "two-sided",
    n_boot: int = DEFAULT_BOOTSTRAP,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> dict:
    """Compare arm A with arm B on the same items: mean(A) - mean(B), its 95% interval and a p-value.

    a, b: (items,) or (seeds, items); the seed counts may differ (a prompted arm has one). The
    interval resamples items (shared by both arms, keeping the pairing) and, with several seeds,
    each arm's seeds; for 0/1 scores it is widened to Newcombe's paired interval, so arms that agree on
    every item do not get a zero-width interval. The p-value tests the effect against `null`
    (two-sided, or "greater": H0 effect <= null, as a non-inferiority test uses): a sign-flip
    permutation test on the items' differences
    (averaged over seeds); with several seeds, the larger of that and the two-level bootstrap's p, so
    seed-to-seed variance counts there too. Against a nonzero null (a margin) with 0/1 scores, the
    p-value is at least the one from inverting Newcombe's interval.
    """
    _check_alternative(alternative)
    a, b = seed_matrix(a), seed_matrix(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired arms need the same items: {a.shape[1]} vs {b.shape[1]}")
    n_items = a.shape[1]
    if n_items == 0:
        raise ValueError("paired arms need at least one item")
    rng = np.random.default_rng(seed)
    item_draws = rng.integers(0, n_items, size=(n_boot, n_items))
    replicates = two_level_means(a, item_draws, rng) - two_level_means(b, item_draws, rng)
    diff = a.mean(axis=0) - b.mean(axis=0)
    shifted = diff - null
    signs = np.random.default_rng(seed + 1).choice([-1.0, 1.0], size=(n_permutations, n_items))
    p_value = _permutation_p((signs * shifted).mean(axis=1), shifted.mean(), alternative)
    several = max(a.shape[0], b.shape[0]) > 1
    if several:
        p_value = max(p_value, _bootstrap_p(replicates, null, alternative))
    low, high = float(np.quantile(replicates, 0.025)), float(np.quantile(replicates, 0.975))
    method = TWO_LEVEL if several else ITEMS
    if is_binary(a) and is_binary(b):
        items_a, items_b = a.mean(axis=0), b.mean(axis=0)
        newcombe_low, newcombe_high = newcombe_paired_interval(items_a, items_b)
        low, high = min(low, newcombe_low), max(high, newcombe_high)
        method += ", widened to Newcombe's paired Wilson interval"
        if null != 0.0:
            p_value = max(p_value, newcombe_margin_p(items_a, items_b, null))
    result = {
        "mean_diff": float(diff.mean()),
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "n": int(n_items),
        "n_seeds": int(max(a.shape[0], b.shape[0])),
        "interval_method": method,
        "test": "paired sign-flip permutation" + (" and two-level bootstrap" if several else ""),
        "alternative": alternative,
        "null": null,
        "a_better": int(np.sum(diff > 0)),
        "b_better": int(np.sum(diff < 0)),
        "ties": int(np.sum(diff == 0)),
    }
    if a.shape[0] == b.shape[0] and a.shape[0] > 1:
        result["per_seed_diff"] = [float(x) for x in a.mean(axis=1) - b.mean(axis=1)]
    return result


def independent_comparison(
    a, b, n_boot: int = DEFAULT_BOOTSTRAP, n_permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0
) -> dict:
    """Compare two independent samples (different items, e.g. two periods' questions): mean(A) - mean(B).

    a, b: (items,) or (seeds, items), item counts may differ. The interval resamples each sample's
    items on their own and, with several seeds, the seeds (for 0/1 scores widened to Newcombe's
    interval for independent proportions, never zero-width); the p-value is a two-sided label
    permutation on the seed-averaged items (with several seeds, the larger of that and the bootstrap's)."""
    a, b = seed_matrix(a), seed_matrix(b)
    if a.shape[1] == 0 or b.shape[1] == 0:
        raise ValueError("both samples need at least one item")
    rng = np.random.default_rng(seed)
    replicates = two_level_means(a, rng.integers(0, a.shape[1], size=(n_boot, a.shape[1])), rng) - two_level_means(
        b, rng.integers(0, b.shape[1], size=(n_boot, b.shape[1])), rng
    )
    items_a, items_b = a.mean(axis=0), b.mean(axis=0)
    observed = items_a.mean() - items_b.mean()
    pooled = np.concatenate([items_a, items_b])
    null_stats = np.empty(n_permutations)
    for i in range(n_permutations):
        shuffled = rng.permutation(pooled)
        null_stats[i] = shuffled[: items_a.size].mean() - shuffled[items_a.size :].mean()
    p_value = _permutation_p(null_stats, observed, "two-sided")
    several = max(a.shape[0], b.shape[0]) > 1
    if several:
        p_value = max(p_value, _bootstrap_p(replicates, 0.0, "two-sided"))
    low, high = float(np.quantile(replicates, 0.025)), float(np.quantile(replicates, 0.975))
    method = TWO_LEVEL if several else ITEMS
    if is_binary(a) and is_binary(b):
        newcombe_low, newcombe_high = newcombe_independent_interval(items_a, items_b)
        low, high = min(low, newcombe_low), max(high, newcombe_high)
        method += ", widened to Newcombe's Wilson interval for independent proportions"
    return {
        "mean_diff": float(observed),
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "n": int(a.shape[1] + b.shape[1]),
        "n_seeds": int(max(a.shape[0], b.shape[0])),
        "interval_method": method,
        "test": "label permutation, independent samples" + (" and two-level bootstrap" if several else ""),
        "alternative": "two-sided",
        "null": 0.0,
    }


def threshold_test(values, threshold: float, above: bool = True, seed: int = 0) -> dict:
    """summarize() plus a one-sided p-value for "the mean is above (below) threshold".

    0/1 scores on one seed: an exact binomial test. Otherwise (and with several seeds as well) the
    bootstrap replicates' share on the wrong side of the threshold; with several seeds of 0/1 scores,
    the larger of the two."""
    matrix = seed_matrix(values)
    summary = summarize(matrix, seed=seed)
    n_seeds, n_items = matrix.shape
    p_values = []
    if is_binary(matrix):
        from scipy import stats as scipy_stats

        successes = int(round(matrix.mean() * n_items))
        p_values.append(
            float(
                scipy_stats.binomtest(successes, n_items, threshold, alternative="greater" if above else "less").pvalue
            )
        )
    if n_seeds > 1 or not is_binary(matrix):
        rng = np.random.default_rng(seed)
        replicates = two_level_means(matrix, rng.integers(0, n_items, size=(DEFAULT_BOOTSTRAP, n_items)), rng)
        sign = 1.0 if above else -1.0
        p_values.append(_bootstrap_p(sign * replicates, sign * threshold, "greater"))
    return {**summary, "p_value": max(p_values), "threshold": threshold, "above": above}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values over one family of tests (None entries are not tests and stay
    None). Controls the chance of any false "supported" in the family at the nominal level."""
    tested = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted
