"""Confidence intervals and paired comparisons.

Item-level bootstrap for one run; across seeds, a t-interval over per-seed means.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DEFAULT_BOOTSTRAP = 2000


def bootstrap_ci(
    values, n_boot: int = DEFAULT_BOOTSTRAP, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item values."""
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


def summarize(values, seed: int = 0) -> dict:
    """Mean, 95% bootstrap interval and n for per-item values."""
    values = np.asarray(values, dtype=float)
    low, high = bootstrap_ci(values, seed=seed)
    return {
        "mean": float(values.mean()) if values.size else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "n": int(values.size),
    }


def summarize_metrics(item_scores: dict[str, np.ndarray]) -> dict[str, dict]:
    """summarize() for every numeric metric array in a scorer's output."""
    return {name: summarize(values) for name, values in item_scores.items() if np.asarray(values).dtype != object}


def seed_summary(per_seed_means, confidence: float = 0.95) -> dict:
    """Mean over seeds with a t-interval (n seeds); a single seed gives a zero-width 'interval' flagged n=1."""
    from scipy import stats as scipy_stats

    values = np.asarray(per_seed_means, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "n_seeds": int(values.size)}
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_seeds": int(values.size)}


def paired_comparison(a, b, n_boot: int = DEFAULT_BOOTSTRAP, n_permutations: int = 5000, seed: int = 0) -> dict:
    """Compare arm A with arm B on the same items: mean(A - B), its bootstrap interval, and a
    two-sided sign-flip permutation p-value."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired arms need the same items: {a.shape} vs {b.shape}")
    diff = a - b
    low, high = bootstrap_ci(diff, n_boot=n_boot, seed=seed)
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed + 1)
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, diff.size))
    null = np.abs((signs * diff).mean(axis=1))
    p_value = float((1 + np.sum(null >= observed - 1e-12)) / (n_permutations + 1))
    return {
        "mean_diff": float(diff.mean()),
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "n": int(diff.size),
        "a_better": int(np.sum(diff > 0)),
        "b_better": int(np.sum(diff < 0)),
        "ties": int(np.sum(diff == 0)),
    }


def independent_comparison(a, b, n_boot: int = DEFAULT_BOOTSTRAP, n_permutations: int = 5000, seed: int = 0) -> dict:
    """Compare two independent samples (different items, e.g. two periods' questions): mean(A) - mean(B),
    a bootstrap interval resampling each sample on its own, and a two-sided label-permutation p-value."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one item")
    rng = np.random.default_rng(seed)
    diffs = rng.choice(a, size=(n_boot, a.size)).mean(axis=1) - rng.choice(b, size=(n_boot, b.size)).mean(axis=1)
    observed = a.mean() - b.mean()
    pooled = np.concatenate([a, b])
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        shuffled = rng.permutation(pooled)
        null[i] = shuffled[: a.size].mean() - shuffled[a.size :].mean()
    return {
        "mean_diff": float(observed),
        "ci_low": float(np.quantile(diffs, 0.025)),
        "ci_high": float(np.quantile(diffs, 0.975)),
        "p_value": float((1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (n_permutations + 1)),
        "n": int(a.size + b.size),
        "test": "label permutation, independent samples",
    }
