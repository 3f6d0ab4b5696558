"""Wording that follows a verdict's status, and the scale a verdict was measured at.

A page may assert a finding only when the cited verdict supports it. Templates therefore write every
sentence or heading that states a finding through finding(), which names one text per status:

  finding(v, supported="...", not_supported="...", inconclusive="...", not_run="...")

The branching stays visible in the template, and each call registers all its texts (a Findings
record), so a test can render a page with a verdict forced to each status and check that no text meant
for another status appears. not_run may be left out: it then falls back to the inconclusive text (both
say this run cannot tell).

Forced statuses (render(..., forced_status={id or "*": status})) replace a verdict's status, and the
status word in its text, before the template sees it; the numbers stay as measured.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..experiments import verdict as verdict_module

STATUSES = verdict_module.STATUSES


def model_label(record: dict) -> str:
    """A short label for the result's model: its parameter count ("135M", "1.7B"), else its name."""
    return verdict_module.model_label((record.get("models") or [{}])[0]) or "model unknown"


def scale(verdict: dict, record: dict) -> str:
    """Model, seeds and items behind a verdict, e.g. "135M, 1 seed, n=24"; the verdict's own "scale"
    when the result file records one. A count the verdict does not have (a threshold on one number,
    a comparison that was not run) is left out rather than shown as zero."""
    if verdict.get("scale"):
        return str(verdict["scale"])
    parts = [model_label(record)]
    seeds, items = verdict.get("n_seeds"), verdict.get("n_items")
    if seeds:
        parts.append(f"{seeds} seed{'' if seeds == 1 else 's'}")
    if items:
        parts.append(f"n={items}")
    return ", ".join(parts)


def force_statuses(record: dict, forced: dict[str, str] | None) -> dict:
    """A copy of the record whose verdicts carry the forced statuses ({id: status}, "*" for all)."""
    if not forced:
        return record
    unknown = set(forced.values()) - set(STATUSES)
    if unknown:
        raise ValueError(f"forced status must be one of {STATUSES}, not {sorted(unknown)}")
    record = copy.deepcopy(record)
    for verdict in record.get("verdicts", []):
        status = forced.get(verdict.get("id"), forced.get("*"))
        if status is None:
            continue
        old = verdict["status"]
        verdict["status"] = status
        verdict["text"] = verdict.get("text", "").replace(f": {old.upper()}.", f": {status.upper()}.", 1)
    return record


@dataclass
class Finding:
    """One finding() call: the verdict it rests on, its text for every status, and the text shown."""

    verdict_id: str
    texts: dict[str, str]
    shown: str


@dataclass
class Findings:
    """The finding() calls of one render."""

    calls: list[Finding] = field(default_factory=list)

    def finding(
        self, verdict: dict, supported: str, not_supported: str, inconclusive: str, not_run: str | None = None
    ) -> str:
        """The text for the verdict's status (see the module docstring)."""
        texts = {
            "supported": supported,
            "not supported": not_supported,
            "inconclusive": inconclusive,
            "not run": inconclusive if not_run is None else not_run,
        }
        status = str.__str__(verdict["status"])
        if status not in texts:
            raise ValueError(f"verdict {verdict.get('id')} has status {status!r}, not one of {STATUSES}")
        texts = {key: str(text) for key, text in texts.items()}
        self.calls.append(Finding(str.__str__(verdict["id"]), texts, texts[status]))
        return texts[status]
