"""Verdicts computed from measured differences and their intervals, never written in advance."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.records import smoke_labelled

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
ALPHA = 0.05  # a difference counts only when the permutation test agrees with the interval
NOT_RUN = "not run"  # the comparison needs something this run did not have (a model offline, a GPU)


@dataclass
class Verdict:
    claim: str
    status: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def judge_difference(
    claim: str, comparison: dict, profile: str, unit: str = "points", scale: float = 100.0, margin: float = 0.0
) -> Verdict:
    """Judge "A is better than B" from a paired comparison of A - B.

    supported: the whole 95% interval lies above `margin` and the permutation test agrees (p < 0.05);
    not supported: the interval lies at or below zero (B is as good or better); inconclusive otherwise.
    The test is required as well because a bootstrap interval is too narrow on few items: on 16 items,
    +31 points (6 against 1) gave an interval of +6 to +62 while the sign-flip test gave p = 0.12.
    """
    effect, low, high = comparison["mean_diff"], comparison["ci_low"], comparison["ci_high"]
    p = comparison.get("p_value")
    test_disagrees = p is not None and p >= ALPHA
    if low > margin and not test_disagrees:
        status = SUPPORTED
    elif high <= 0:
        status = NOT_SUPPORTED
    else:
        status = INCONCLUSIVE
    text = (
        f"{claim}: {status.upper()}. Difference {effect * scale:+.1f} {unit} "
        f"(95% CI {low * scale:+.1f} to {high * scale:+.1f}"
        + (f", {comparison.get('test', 'paired permutation')} p={p:.3g}" if p is not None else "")
        + f", n={comparison.get('n')})."
    )
    if low > margin and test_disagrees:
        text += (
            f" The interval excludes the line but the permutation test does not (p >= {ALPHA}): "
            "too few items to decide."
        )
    text = smoke_labelled(text, profile)
    return Verdict(claim, status, effect, low, high, text)


def judge_threshold(
    claim: str, summary: dict, threshold: float, profile: str, above: bool = True, unit: str = "", scale: float = 1.0
) -> Verdict:
    """Judge "the value is above (or below) threshold" from a mean and its interval."""
    mean, low, high = summary["mean"], summary["ci_low"], summary["ci_high"]
    if above:
        status = SUPPORTED if low > threshold else NOT_SUPPORTED if high < threshold else INCONCLUSIVE
    else:
        status = SUPPORTED if high < threshold else NOT_SUPPORTED if low > threshold else INCONCLUSIVE
    text = (
        f"{claim}: {status.upper()}. Measured {mean * scale:.3g}{unit} "
        f"(95% CI {low * scale:.3g} to {high * scale:.3g}{unit}); "
        f"threshold {'>' if above else '<'} {threshold * scale:.3g}{unit}."
    )
    text = smoke_labelled(text, profile)
    return Verdict(claim, status, mean - threshold, low, high, text)


def judge_non_inferiority(
    claim: str, comparison: dict, margin: float, profile: str, unit: str = "points", scale: float = 100.0
) -> Verdict:
    """Judge "A is no worse than B by more than `margin`" from a paired comparison of A - B.

    supported: the whole 95% interval lies above -margin; not supported: it lies below -margin
    (A is worse by more than the margin); inconclusive: the interval contains -margin.
    """
    effect, low, high = comparison["mean_diff"], comparison["ci_low"], comparison["ci_high"]
    status = SUPPORTED if low > -margin else NOT_SUPPORTED if high < -margin else INCONCLUSIVE
    text = (
        f"{claim}: {status.upper()}. Difference {effect * scale:+.1f} {unit} "
        f"(95% CI {low * scale:+.1f} to {high * scale:+.1f}, "
        f"n={comparison.get('n')}); margin -{margin * scale:.1f} {unit}."
    )
    text = smoke_labelled(text, profile)
    return Verdict(claim, status, effect, low, high, text)


def judge_measured(
    claim: str,
    values: list[float],
    threshold: float,
    profile: str,
    above: bool = True,
    unit: str = "",
    scale: float = 1.0,
) -> Verdict:
    """Judge a measured quantity with no sampling error to speak of (a parameter count, a memory
    ratio) against a threshold. With several runs, every run must clear the threshold."""
    mean, low, high = sum(values) / len(values), min(values), max(values)
    if above:
        status = SUPPORTED if low > threshold else NOT_SUPPORTED if high <= threshold else INCONCLUSIVE
    else:
        status = SUPPORTED if high < threshold else NOT_SUPPORTED if low >= threshold else INCONCLUSIVE
    spread = (
        f" (range over {len(values)} runs {low * scale:.3g} to {high * scale:.3g}{unit})" if len(values) > 1 else ""
    )
    text = (
        f"{claim}: {status.upper()}. Measured {mean * scale:.3g}{unit}{spread}; "
        f"threshold {'>' if above else '<'} {threshold * scale:.3g}{unit}."
    )
    text = smoke_labelled(text, profile)
    return Verdict(claim, status, mean - threshold, low, high, text)


def not_run(claim: str, reason: str, profile: str) -> Verdict:
    """A claim this run could not test, with the reason; it carries no numbers."""
    text = f"{claim}: NOT RUN. {reason}"
    text = smoke_labelled(text, profile)
    return Verdict(claim, NOT_RUN, None, None, None, text)
