"""Shared matplotlib helpers so every notebook's figures look alike."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .records import is_plumbing, plumbing_watermark

PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#b8445a", "#7a5ea8", "#8c8c8c", "#c9a227"]


def apply_style() -> None:
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "font.size": 10,
            "axes.titlesize": 11,
        }
    )


def bars_with_ci(
    ax, labels: list[str], summaries: list[dict], scale: float = 100.0, ylabel: str = "score (%)", colors=None
):
    """Bars of means with 95% interval whiskers; summaries are {mean, ci_low, ci_high}."""
    means = [s["mean"] * scale for s in summaries]
    lower = [max(0.0, s["mean"] - s["ci_low"]) * scale for s in summaries]
    upper = [max(0.0, s["ci_high"] - s["mean"]) * scale for s in summaries]
    colors = colors or PALETTE[: len(labels)]
    bars = ax.bar(labels, means, yerr=[lower, upper], capsize=6, color=colors, alpha=0.9)
    for bar, mean, up in zip(bars, means, upper):
        ax.annotate(
            f"{mean:.1f}",
            (bar.get_x() + bar.get_width() / 2, mean + up),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_ylabel(ylabel)
    return bars


def line_with_band(ax, xs, summaries: list[dict], label: str, scale: float = 100.0, color=None, marker="o"):
    """A line of means with a shaded 95% interval band (error bars when there is a single point)."""
    means = [s["mean"] * scale for s in summaries]
    lows = [s["ci_low"] * scale for s in summaries]
    highs = [s["ci_high"] * scale for s in summaries]
    if len(xs) == 1:
        ax.errorbar(
            xs,
            means,
            yerr=[[means[0] - lows[0]], [highs[0] - means[0]]],
            fmt=marker,
            capsize=5,
            label=label,
            color=color,
        )
        return
    ax.plot(xs, means, marker=marker, label=label, color=color)
    ax.fill_between(xs, lows, highs, alpha=0.2, color=ax.lines[-1].get_color())


def chance_line(ax, level: float | None, scale: float = 100.0, label: str = "chance") -> None:
    """A dotted horizontal line at the chance score, so an arm near it is seen to be guessing."""
    if level is not None:
        ax.axhline(level * scale, ls=":", lw=1.2, color="#555555", label=f"{label} ({level * scale:.1f})")


def plain_log_ticks(ax, values) -> None:
    """Log-scaled x axis labelled with the actual values (8, 16, 32) instead of powers of ten."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ticks = sorted(set(values))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(t) for t in ticks])


def sweep_curve(ax, rates: list[float], scores: list[float], chosen: float, label: str, color=None) -> None:
    """One learning-rate sweep: validation score (%) against rate on a log axis, the chosen rate circled."""
    line = ax.plot(rates, [100 * s for s in scores], marker="o", label=label, color=color)[0]
    ax.plot([chosen], [100 * scores[rates.index(chosen)]], "o", ms=12, mfc="none", color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale; circled: chosen)")


def loss_curve(ax, history: list[dict], label: str | None = None):
    ax.plot([h["step"] for h in history], [h["loss"] for h in history], label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")


def smoke_watermark(fig, profile: str) -> None:
    """Stamp figures from the smoke profile and the rehearsals so they are never mistaken for findings (once
    per figure)."""
    mark = plumbing_watermark(profile)
    if is_plumbing(profile) and not any(text.get_text() == mark for text in fig.texts):
        fig.text(
            0.5,
            0.5,
            mark,
            ha="center",
            va="center",
            fontsize=28,
            color="red",
            alpha=0.25,
            rotation=20,
        )


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", dpi=120)
    return path
