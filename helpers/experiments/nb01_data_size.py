"""Notebook 01 (data size and quality): the arms grid, the learning-curve data and the verdicts.

Compute policy: every fine-tuned arm gets the same number of optimizer steps and the same batch
size, so each sees the same number of training sequences; arms differ only in which data they see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import plots
from ..core.tasks import Example
from ..data.intake_task import filter_noisy_examples, intake_task
from ..data.task_library import banking77_task
from . import verdict
from .arms import ArmResult, arm_summary, arm_values, by_arm, paired_arms


@dataclass
class ArmSpec:
    arm: str
    group: str  # "clean", "noisy 40%", "cleaned 40%"
    examples: list[Example]
    info: dict = field(default_factory=dict)


def intake_arms(
    clean_sizes: list[int], noisy_sizes: list[int], noise_rates: list[float], data_seed: int = 1234
) -> list[ArmSpec]:
    """Clean subsets (nested: each is a prefix of the next), noisy sets, and the noisy sets after the
    rule-based cleaning filter. All draw on the same clean records, so arms differ only in size and noise."""
    specs = []
    pool = intake_task(n_train=max(clean_sizes + noisy_sizes), n_eval=1, data_seed=data_seed).train
    for size in sorted(clean_sizes):
        specs.append(ArmSpec(f"clean-{size}", "clean", pool[:size]))
    for rate in noise_rates:
        for size in sorted(noisy_sizes):
            noisy = intake_task(n_train=size, n_eval=1, noise_rate=rate, data_seed=data_seed).train
            kept, report = filter_noisy_examples(noisy)
            specs.append(ArmSpec(f"noisy{rate:.0%}-{size}", f"noisy {rate:.0%}", noisy, {"noise_rate": rate}))
            specs.append(
                ArmSpec(
                    f"cleaned{rate:.0%}-{size}",
                    f"cleaned {rate:.0%}",
                    kept,
                    {
                        "noise_rate": rate,
                        "filter": report,
                        "kept_noisy": sum(ex.meta["noise_kind"] is not None for ex in kept),
                    },
                )
            )
    return specs


def banking_arms(
    clean_sizes: list[int], noisy_sizes: list[int], noise_rates: list[float], n_intents: int, data_seed: int = 1234
) -> list[ArmSpec]:
    specs = []
    for size in sorted(clean_sizes):
        specs.append(
            ArmSpec(f"clean-{size}", "clean", banking77_task(n_intents, size, 1 * n_intents, data_seed=data_seed).train)
        )
    for rate in noise_rates:
        for size in sorted(noisy_sizes):
            noisy = banking77_task(n_intents, size, 1 * n_intents, label_noise=rate, data_seed=data_seed).train
            specs.append(ArmSpec(f"noisy{rate:.0%}-{size}", f"noisy {rate:.0%}", noisy, {"noise_rate": rate}))
    return specs


def curve_data(results: list[ArmResult], metric: str) -> dict[str, tuple[list[int], list[dict]]]:
    """{group: (training-set sizes, summaries)} for the learning-curve plot (baselines excluded)."""
    curves: dict[str, list[tuple[int, dict]]] = {}
    for arm, runs in by_arm(results).items():
        if runs[0].group == "baseline":
            continue
        curves.setdefault(runs[0].group, []).append((runs[0].n_train, arm_summary(runs, metric)))
    return {
        group: ([n for n, _ in sorted(points, key=lambda p: p[0])], [s for _, s in sorted(points, key=lambda p: p[0])])
        for group, points in curves.items()
    }


def results_table(results: list[ArmResult], metrics: list[str]) -> list[dict]:
    rows = []
    for arm, runs in by_arm(results).items():
        row = {"arm": arm, "group": runs[0].group, "n_train": runs[0].n_train, "seeds": len(runs)}
        for metric in metrics:
            s = arm_summary(runs, metric)
            row[metric] = s["mean"]
            row[f"{metric} 95% CI"] = f"{s['ci_low']:.3f} to {s['ci_high']:.3f}"
        if runs[0].record is not None:
            row["train_seconds"] = sum(r.record.train_seconds for r in runs) / len(runs)
        rows.append(row)
    return rows


def largest(results: list[ArmResult], group: str) -> str | None:
    """The arm with the most training examples in `group` ("clean" or "noisy", any noise rate);
    ties go to the highest noise rate."""
    candidates = [(r.n_train, r.info.get("noise_rate", 0.0), r.arm) for r in results if r.group.split(" ")[0] == group]
    return max(candidates)[2] if candidates else None


def data_size_verdicts(
    results: list[ArmResult],
    metric: str,
    profile: str,
    format_metric: str | None = None,
    format_threshold: float = 0.95,
    task_key: str = "intake",
    chance: float | None = None,
) -> list[verdict.Verdict]:
    """The notebook's claims, judged from paired comparisons on the same evaluation items, every seed
    kept. Ids are "01.<task_key>.<claim>". chance: the task's chance score, flagged where an arm's
    interval includes it (classification tasks).

    The "small clean" arm is fixed in advance as the largest clean arm (no picking the best on the
    test set); the "large noisy" arm is the largest set at the highest noise rate.
    """
    arms = by_arm(results)
    clean, noisy = largest(results, "clean"), largest(results, "noisy")
    verdicts = []
    if clean and noisy:
        verdicts.append(
            verdict.judge_difference(
                f"01.{task_key}.small_clean_beats_large_noisy",
                f"A small clean set ({arms[clean][0].n_train}) beats a larger noisy set ({arms[noisy][0].n_train}, "
                f"{arms[noisy][0].group}) on {metric}",
                paired_arms(arms[clean], arms[noisy], metric),
                profile,
            )
        )
    cleaned = noisy and noisy.replace("noisy", "cleaned")
    if cleaned in arms:
        verdicts.append(
            verdict.judge_difference(
                f"01.{task_key}.filtering_beats_all_noisy",
                f"Filtering the noisy set ({arms[cleaned][0].n_train} of {arms[noisy][0].n_train} kept) beats "
                f"training on all of it, on {metric}",
                paired_arms(arms[cleaned], arms[noisy], metric),
                profile,
            )
        )
    clean_sizes = sorted({r.n_train for r in results if r.group == "clean"})
    if len(clean_sizes) > 1:
        small, big = f"clean-{clean_sizes[0]}", f"clean-{clean_sizes[-1]}"
        verdicts.append(
            verdict.judge_difference(
                f"01.{task_key}.more_clean_data_helps",
                f"More clean data helps: {clean_sizes[-1]} clean examples beat {clean_sizes[0]} on {metric}",
                paired_arms(arms[big], arms[small], metric),
                profile,
            )
        )
    if format_metric and clean:
        verdicts.append(
            verdict.judge_threshold(
                f"01.{task_key}.format_adherence",
                f"{arms[clean][0].n_train} clean examples give over {format_threshold:.0%} format adherence "
                f"({format_metric})",
                arm_values(arms[clean], format_metric),
                format_threshold,
                profile,
                unit="%",
                scale=100,
            )
        )
    if chance is not None:
        compared = {
            f"01.{task_key}.small_clean_beats_large_noisy": (clean, noisy),
            f"01.{task_key}.filtering_beats_all_noisy": (cleaned, noisy),
            f"01.{task_key}.more_clean_data_helps": (f"clean-{clean_sizes[-1]}", f"clean-{clean_sizes[0]}")
            if len(clean_sizes) > 1
            else (),
        }
        for v in verdicts:
            if v.id in compared:
                verdict.flag_chance(v, chance, {name: arm_summary(arms[name], metric) for name in compared[v.id]})
    return verdicts


def plot_learning_curves(
    results: list[ArmResult],
    metrics: list[str],
    titles: list[str],
    subtitle: str,
    profile: str,
    chance: float | None = None,
):
    """One panel per metric: a line per data group with 95% bands, prompted baselines as dashed lines,
    and chance (where given, for a classification accuracy) as a dotted line."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.2), squeeze=False)
    baselines = {arm: runs for arm, runs in by_arm(results).items() if runs[0].group == "baseline"}
    for ax, metric, title in zip(axes[0], metrics, titles):
        for i, (group, (xs, summaries)) in enumerate(curve_data(results, metric).items()):
            plots.line_with_band(
                ax,
                xs,
                summaries,
                label=group,
                color=plots.PALETTE[i % len(plots.PALETTE)],
                marker="o" if group == "clean" else "s",
            )
        for j, (arm, runs) in enumerate(baselines.items()):
            ax.axhline(
                arm_summary(runs, metric)["mean"] * 100,
                ls="--",
                lw=1,
                color=plots.PALETTE[-1 - j],
                label=f"base, {arm}",
            )
        if metric == "accuracy":
            plots.chance_line(ax, chance)
        plots.plain_log_ticks(ax, [r.n_train for r in results if r.group != "baseline"])
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(f"{title} (%)")
        ax.set_ylim(-2, 102)
        ax.set_title(f"{title}: {subtitle}")
        ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    return fig
