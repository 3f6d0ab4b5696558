"""Verdicts computed from measured differences and their intervals, never written in advance.

The rule, stated once (README, playbook start page and every notebook's verdict cell point here):
  supported      the 95% interval clears the claim's line AND the test's p, Holm-adjusted over the
                 notebook's family of verdicts, is below 0.05;
  not supported  the interval lies on the other side of the line;
  inconclusive   anything else (the run could not tell);
  not run        the run lacked what the comparison needs (a model offline, a GPU).
Intervals include seed-to-seed variance when there are several seeds (two-level bootstrap, see
helpers.core.stats) and proportions use Wilson intervals at the boundary. Each verdict has a stable
id ("02.lora_within_margin") that pages and notebooks cite, and states its scale (model, seeds, items).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..core import stats
from ..core.records import smoke_labelled

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
NOT_RUN = "not run"  # the comparison needs something this run did not have (a model offline, a GPU)
STATUSES = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_RUN)
ALPHA = 0.05  # the family-wise error rate Holm's correction holds each notebook's verdicts to


@dataclass
class Verdict:
    id: str  # stable: notebook number, optional task, claim ("01.intake.more_clean_data_helps")
    claim: str
    status: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    details: str  # the measured part of the text: difference, interval, test
    profile: str = "cpu"
    p_value: float | None = None  # the raw p of the verdict's test (None: nothing sampled, or no test)
    p_holm: float | None = None  # p adjusted over the notebook's family (set by family())
    status_uncorrected: str | None = None  # the status before the family correction
    n_seeds: int | None = None
    n_items: int | None = None
    interval_method: str | None = None
    chance: float | None = None  # chance accuracy where the claim is about a classification score
    model: str | None = None  # the model's size or name, for the scale line (set by family())
    notes: list[str] = field(default_factory=list)
    correction_note: str = ""
    per_seed: list[float] | None = None  # the effect per seed, where the arms share seeds

    def __post_init__(self):
        if self.status_uncorrected is None:
            self.status_uncorrected = self.status

    @property
    def scale(self) -> str:
        """Model, seeds and items behind the verdict, e.g. "135M, 1 seed, n=24"."""
        parts = [self.model] if self.model else []
        if self.n_seeds is not None:
            parts.append(f"{self.n_seeds} seed{'s' if self.n_seeds != 1 else ''}")
        if self.n_items is not None:
            parts.append(f"n={self.n_items}")
        return ", ".join(parts)

    @property
    def text(self) -> str:
        extra = " ".join(note for note in [self.correction_note, *self.notes] if note)
        scale = f" [{self.scale}]" if self.scale else ""
        body = f"{self.claim}: {self.status.upper()}. {self.details}" + (f" {extra}" if extra else "") + scale
        return smoke_labelled(body, self.profile)

    def to_dict(self) -> dict:
        return {**asdict(self), "scale": self.scale, "text": self.text}


def _p_text(comparison: dict) -> str:
    p = comparison.get("p_value")
    return f", {comparison.get('test', 'paired permutation')} p={p:.3g}" if p is not None else ""


def _from_comparison(verdict_id, claim, status, comparison, details, profile, p_value) -> Verdict:
    return Verdict(
        verdict_id,
        claim,
        status,
        comparison["mean_diff"],
        comparison["ci_low"],
        comparison["ci_high"],
        details,
        profile,
        p_value=p_value,
        n_seeds=comparison.get("n_seeds", 1),
        n_items=comparison.get("n"),
        interval_method=comparison.get("interval_method"),
        per_seed=comparison.get("per_seed_diff"),
    )


def judge_difference(
    verdict_id: str,
    claim: str,
    comparison: dict,
    profile: str,
    unit: str = "points",
    scale: float = 100.0,
    margin: float = 0.0,
) -> Verdict:
    """Judge "A is better than B" from a comparison of A - B (stats.paired_comparison or
    independent_comparison).

    supported: the whole 95% interval lies above `margin` and the test agrees (p < 0.05, and after
    family() the Holm-adjusted p); not supported: the interval lies at or below zero; inconclusive
    otherwise. The test is required as well because a bootstrap interval is too narrow on few items:
    on 16 items, +31 points (6 against 1) gave an interval of +6 to +62 while the sign-flip test gave
    p = 0.12.
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
    details = (
        f"Difference {effect * scale:+.1f} {unit} (95% CI {low * scale:+.1f} to {high * scale:+.1f}"
        + _p_text(comparison)
        + ")."
    )
    if low > margin and test_disagrees:
        details += f" The interval excludes the line but the test does not (p >= {ALPHA}): too few items to decide."
    return _from_comparison(verdict_id, claim, status, comparison, details, profile, p)


def judge_non_inferiority(
    verdict_id: str,
    claim: str,
    comparison: dict,
    margin: float,
    profile: str,
    unit: str = "points",
    scale: float = 100.0,
) -> Verdict:
    """Judge "A is no worse than B by more than `margin`" from a paired comparison of A - B.

    supported: the whole 95% interval lies above -margin (and the one-sided test of "A is worse by the
    margin or more" rejects it, where the comparison was run against that null: paired_comparison(
    ..., null=-margin, alternative="greater")); not supported: the interval lies below -margin;
    inconclusive: the interval contains -margin.
    """
    effect, low, high = comparison["mean_diff"], comparison["ci_low"], comparison["ci_high"]
    tested = comparison.get("alternative") == "greater" and abs(comparison.get("null", 0.0) + margin) < 1e-12
    p = comparison.get("p_value") if tested else None
    if low > -margin and (p is None or p < ALPHA):
        status = SUPPORTED
    elif high < -margin:
        status = NOT_SUPPORTED
    else:
        status = INCONCLUSIVE
    details = (
        f"Difference {effect * scale:+.1f} {unit} (95% CI {low * scale:+.1f} to {high * scale:+.1f}"
        + (f", one-sided {comparison.get('test', 'test')} p={p:.3g}" if p is not None else "")
        + f"); margin -{margin * scale:.1f} {unit}."
    )
    return _from_comparison(verdict_id, claim, status, comparison, details, profile, p)


def judge_threshold(
    verdict_id: str,
    claim: str,
    values,
    threshold: float,
    profile: str,
    above: bool = True,
    unit: str = "",
    scale: float = 1.0,
) -> Verdict:
    """Judge "the mean is above (or below) threshold" from per-item scores ((items,) or (seeds, items)).

    supported: the interval (Wilson for proportions, so never zero-width at 0 or 1) lies beyond the
    threshold and the one-sided test agrees; not supported: it lies on the other side; else inconclusive.
    """
    summary = stats.threshold_test(values, threshold, above=above)
    mean, low, high, p = summary["mean"], summary["ci_low"], summary["ci_high"], summary["p_value"]
    clears, fails = (low > threshold, high < threshold) if above else (high < threshold, low > threshold)
    status = SUPPORTED if clears and p < ALPHA else NOT_SUPPORTED if fails else INCONCLUSIVE
    details = (
        f"Measured {mean * scale:.3g}{unit} (95% CI {low * scale:.3g} to {high * scale:.3g}{unit}, "
        f"{summary['interval_method']}; one-sided p={p:.3g}); threshold {'>' if above else '<'} "
        f"{threshold * scale:.3g}{unit}."
    )
    return Verdict(
        verdict_id,
        claim,
        status,
        mean - threshold,
        low,
        high,
        details,
        profile,
        p_value=p,
        n_seeds=summary["n_seeds"],
        n_items=summary["n"],
        interval_method=summary["interval_method"],
    )


def judge_measured(
    verdict_id: str,
    claim: str,
    values: list[float],
    threshold: float,
    profile: str,
    above: bool = True,
    unit: str = "",
    scale: float = 1.0,
) -> Verdict:
    """Judge a measured quantity with no sampling error to speak of (a parameter count, a memory
    ratio) against a threshold. With several runs, every run must clear the threshold. It has no
    p-value, so it is not part of the family correction."""
    mean, low, high = sum(values) / len(values), min(values), max(values)
    if above:
        status = SUPPORTED if low > threshold else NOT_SUPPORTED if high <= threshold else INCONCLUSIVE
    else:
        status = SUPPORTED if high < threshold else NOT_SUPPORTED if low >= threshold else INCONCLUSIVE
    spread = (
        f" (range over {len(values)} runs {low * scale:.3g} to {high * scale:.3g}{unit})" if len(values) > 1 else ""
    )
    details = (
        f"Measured {mean * scale:.3g}{unit}{spread}; threshold {'>' if above else '<'} {threshold * scale:.3g}{unit}."
    )
    return Verdict(
        verdict_id,
        claim,
        status,
        mean - threshold,
        low,
        high,
        details,
        profile,
        n_seeds=len(values),
        interval_method="range over runs (measured, no sampling)",
    )


def judge_event_order(
    verdict_id: str, claim: str, first_event: int | None, deadline: int | None, profile: str, what: str, by: str
) -> Verdict:
    """Judge "the event happened no later than the deadline" from two measured periods (no sampling
    statistic of its own): supported when the event came at or before the deadline; not supported when
    the deadline came first or the event never happened; inconclusive when there was no deadline."""
    if deadline is None:
        status = INCONCLUSIVE
    else:
        status = SUPPORTED if first_event is not None and first_event <= deadline else NOT_SUPPORTED
    happened = f"period {first_event}" if first_event is not None else "never"
    due = f"period {deadline}" if deadline is not None else "none measured"
    return Verdict(verdict_id, claim, status, None, None, None, f"{what}: {happened}; {by}: {due}.", profile)


def not_run(verdict_id: str, claim: str, reason: str, profile: str) -> Verdict:
    """A claim this run could not test, with the reason; it carries no numbers."""
    return Verdict(verdict_id, claim, NOT_RUN, None, None, None, reason, profile)


def flag_chance(result: Verdict, chance: float, arms: dict[str, dict]) -> Verdict:
    """Record the chance level of a classification verdict and flag every arm whose 95% interval
    includes it (a score there cannot be told from guessing), and every arm wholly below it (it does
    not even guess: most often it does not answer with a label)."""
    result.chance = chance
    near = [name for name, s in arms.items() if s["ci_low"] <= chance <= s["ci_high"]]
    below = [name for name, s in arms.items() if s["ci_high"] < chance]
    if near:
        result.notes.append(f"Chance ({chance:.1%}) is within the interval of: {', '.join(near)}.")
    if below:
        result.notes.append(f"Below chance ({chance:.1%}) by its whole interval: {', '.join(below)}.")
    return result


def model_label(model_info: dict | None) -> str | None:
    """A short model label for a scale line: the parameter count ("135M", "1.7B") or the name."""
    if not model_info:
        return None
    n = model_info.get("parameters")
    if isinstance(n, (int, float)) and n > 0:
        return (
            f"{n / 1e9:.1f}B".replace(".0B", "B") if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"
        )
    return model_info.get("name")


def family(verdicts: list[Verdict], model: dict | str | None = None) -> list[Verdict]:
    """Correct one notebook's verdicts for multiple comparisons (Holm-Bonferroni) and set the model on
    each scale line. A "supported" verdict whose adjusted p is not below ALPHA becomes inconclusive.
    Idempotent: it works from each verdict's uncorrected status and raw p, so calling it twice (the
    notebook, then NotebookRun.finish) changes nothing."""
    ids = [v.id for v in verdicts]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"verdict ids must be unique within a notebook: {', '.join(duplicates)}")
    label = model_label(model) if isinstance(model, dict) else model
    tested = [v.p_value if v.status_uncorrected != NOT_RUN else None for v in verdicts]
    size = sum(p is not None for p in tested)
    for v, adjusted in zip(verdicts, stats.holm(tested)):
        if label and not v.model:
            v.model = label
        v.p_holm = adjusted
        v.status, v.correction_note = v.status_uncorrected, ""
        if adjusted is not None and size > 1 and v.status_uncorrected == SUPPORTED and adjusted >= ALPHA:
            v.status = INCONCLUSIVE
            v.correction_note = (
                f"Supported before correction; Holm-adjusted p={adjusted:.3g} over {size} tested verdicts "
                f"is not below {ALPHA}, so inconclusive."
            )
    return verdicts


def by_id(verdicts: list[Verdict], verdict_id: str) -> Verdict:
    """The verdict with this id; a missing id is an error naming the ids there are."""
    for v in verdicts:
        if v.id == verdict_id:
            return v
    raise KeyError(f"no verdict {verdict_id!r}; there are: {', '.join(v.id for v in verdicts)}")


def status_line(v: Verdict, supported: str, not_supported: str, open_: str) -> str:
    """A closing-note line whose wording follows the verdict's status: `supported` or `not_supported` asserts a
    finding only under that status; any other status gets `open_` (the run cannot tell). Ends with the verdict's
    measured numbers and scale."""
    text = {SUPPORTED: supported, NOT_SUPPORTED: not_supported}.get(v.status, open_)
    return f"- **{v.status}** ({v.id}): {text} {v.details} [{v.scale}]"
