"""Learning-rate sweeps that end inside their grid, and a learning-rate suggestion for your own data.

A sweep that picks its lowest or highest rate has not found the best rate: the best may lie beyond the
edge. `sweep_learning_rates` scores a grid of at least three rates on a validation split and, while the
best sits at an edge, adds the next rate beyond that edge (one grid step further), up to
`max_extensions` times. The result records every rate tried, its score, the chosen rate and, when the
extensions ran out with the best still at an edge, which edge (`edge`), so a notebook and its result
file can say so instead of presenting an edge rate as the optimum.

The chosen rate must be chosen on data that is never scored: pass a validation split, never the
evaluation set.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..core.cost_model import architecture_for
from ..core.tasks import Example, Task
from ..core.training import TrainConfig, default_learning_rate
from .arms import train_and_evaluate

MIN_POINTS = 3


@dataclass
class SweepResult:
    rates: list[float]  # every rate tried, ascending
    scores: list[float]  # validation score per rate (higher is better; a diverged run scores -inf)
    chosen: float
    edge: str | None  # "low" or "high" when the chosen rate is still the sweep's lowest or highest rate
    extensions: int  # rates added beyond the first grid

    @property
    def interior(self) -> bool:
        return self.edge is None

    def to_dict(self) -> dict:
        return {**asdict(self), "interior": self.interior}

    def note(self, name: str = "") -> str:
        """One line for the notebook: the chosen rate and whether it lies inside the sweep."""
        label = f"{name}: " if name else ""
        tried = ", ".join(f"{r:g}" for r in self.rates)
        if self.interior:
            return f"{label}learning rate {self.chosen:g} chosen inside the sweep ({tried})"
        return (
            f"{label}learning rate {self.chosen:g} is the sweep's {self.edge}est rate ({tried}) after "
            f"{self.extensions} extension(s): the best rate may lie beyond it"
        )

    def edge_note(self, arm: str) -> str | None:
        """The note a verdict carries when `arm` was trained at this sweep's chosen rate and that rate is still
        at an edge of the sweep (None when it lies inside)."""
        if self.interior:
            return None
        return (
            f"{arm}'s learning rate {self.chosen:g} is still the {self.edge}est of its sweep "
            f"({', '.join(f'{r:g}' for r in self.rates)}): a better rate may lie beyond it."
        )


def grid_step(grid: Sequence[float]) -> float:
    """The geometric step of a grid: the median ratio between neighbouring rates."""
    rates = sorted(grid)
    return float(np.median([b / a for a, b in zip(rates, rates[1:])]))


LADDER_MANTISSAS = (1.0, 3.0)  # the usual learning-rate ladder: 1e-4, 3e-4, 1e-3, 3e-3, ...


def _on_ladder(rate: float) -> bool:
    mantissa = rate / 10 ** math.floor(math.log10(rate))
    return any(math.isclose(mantissa, m, rel_tol=0.02) for m in LADDER_MANTISSAS)


def next_rate(rate: float, direction: str, step: float) -> float:
    """The rate one step beyond `rate` ("low": below, "high": above). On a half-decade grid, a rate on the
    1-3-10 ladder steps to its ladder neighbour (3e-3 -> 1e-2, 1e-3 -> 3e-4) and on a decade grid by exactly
    10, so that arms swept from ladder grids try the same rates; any other rate steps by the grid's ratio."""
    up = direction == "high"
    if not _on_ladder(rate):
        return _tidy(rate * step if up else rate / step)
    exponent = math.floor(math.log10(rate))
    if step > 5:  # a decade grid: 1e-4, 1e-3, 1e-2
        mantissa = round(rate / 10.0**exponent)
        return _tidy(mantissa * 10.0 ** (exponent + (1 if up else -1)))
    rungs = sorted(_tidy(m * 10.0**e) for e in (exponent - 1, exponent, exponent + 1) for m in LADDER_MANTISSAS)
    return next(r for r in rungs if r > rate * 1.02) if up else max(r for r in rungs if r < rate / 1.02)


def _tidy(rate: float) -> float:
    """A rate rounded to 12 significant digits, so that 3 x 1e-4 is recorded as 0.0003, the float a grid
    written as 3e-4 holds, not 0.00030000000000000003."""
    return float(f"{rate:.12g}")


def _best_index(scores: list[float]) -> int:
    """Index of the best score; among ties, the rate nearest the middle of the sweep (an interior one
    rather than an edge when both score the same)."""
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if s == best]
    middle = (len(scores) - 1) / 2
    return min(tied, key=lambda i: (abs(i - middle), i))


def sweep_learning_rates(
    score: Callable[[float], float],
    grid: Sequence[float],
    max_extensions: int = 3,
    min_rate: float = 1e-7,
    max_rate: float = 1.0,
) -> SweepResult:
    """Score every rate in `grid` (at least three, ascending or not) with `score(rate)` (higher is better),
    then extend the grid one step past whichever edge holds the best score, until the best is interior
    or `max_extensions` rates were added (or the next rate would leave [min_rate, max_rate])."""
    rates = sorted({float(r) for r in grid})
    if len(rates) < MIN_POINTS:
        raise ValueError(f"a learning-rate sweep needs at least {MIN_POINTS} distinct rates, got {rates}")
    step = grid_step(rates)
    if step <= 1:
        raise ValueError(f"the grid's rates must differ: {rates}")
    results: dict[float, float] = {}

    def measured(rate: float) -> float:
        value = float(score(rate))
        return value if math.isfinite(value) else -math.inf

    for rate in rates:
        results[rate] = measured(rate)
    extensions = 0
    while True:
        ordered = sorted(results)
        scores = [results[r] for r in ordered]
        best = _best_index(scores)
        edge = "low" if best == 0 else "high" if best == len(ordered) - 1 else None
        if edge is None or extensions >= max_extensions:
            break
        beyond = next_rate(ordered[0] if edge == "low" else ordered[-1], edge, step)
        if not min_rate <= beyond <= max_rate:
            break
        results[beyond] = measured(beyond)
        extensions += 1
    return SweepResult(ordered, scores, ordered[best], edge, extensions)


@dataclass
class KeptAtBest:
    """What the fits whose score equals the best so far produced (a fine-tuned model, say). The sweep's chosen
    rate always has the best score, so its fit is among these and can be scored on the test split instead of
    trained again. Anything worse is released at once (`release`, then dropped), so at most the tied fits are
    held in memory."""

    release: Callable[[Any], None] = lambda fitted: None
    best: float = -math.inf
    kept: dict[float, Any] = field(default_factory=dict)

    def _release_all(self) -> None:
        for fitted in self.kept.values():
            self.release(fitted)
        self.kept = {}

    def offer(self, rate: float, fitted: Any, score: float) -> None:
        if score > self.best:
            self._release_all()
            self.best = score
        if score == self.best:
            self.kept[rate] = fitted
        else:
            self.release(fitted)
        gc.collect()

    def take(self, rate: float) -> Any:
        if rate not in self.kept:
            raise KeyError(f"nothing kept at rate {rate:g} (kept: {sorted(self.kept)})")
        chosen = self.kept.pop(rate)
        self._release_all()
        gc.collect()
        return chosen


def sweep_keeping_best(
    fit: Callable[[float], tuple[float, Any]],
    grid: Sequence[float],
    max_extensions: int = 3,
    release: Callable[[Any], None] | None = None,
) -> tuple[SweepResult, Any]:
    """`sweep_learning_rates` where `fit(rate)` returns (validation score, what it fitted): returns the sweep
    and what was fitted at the chosen rate, so the chosen fine-tune is not trained twice. `release(fitted)`
    frees what a worse rate fitted (for example, drops its model)."""
    keep = KeptAtBest(release) if release else KeptAtBest()

    def score(rate: float) -> float:
        value, fitted = fit(rate)
        keep.offer(rate, fitted, value if math.isfinite(value) else -math.inf)
        return value

    sweep = sweep_learning_rates(score, grid, max_extensions=max_extensions)
    return sweep, keep.take(sweep.chosen)


def suggest_learning_rate(
    model_name: str,
    train: list[Example],
    validation: Task,
    config: TrainConfig,
    grid: Sequence[float] | None = None,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    max_extensions: int = 3,
    n_params: int | None = None,
) -> SweepResult:
    """Fine-tune `model_name` on `train` at each rate of a short sweep and keep the rate whose model scores
    best on `validation` (a Task whose eval examples are a validation split, never your test set), on its
    headline metric. `config` fixes everything else (method, steps or epochs, seed). The default grid is
    the default rate for the method and model size times 1/3, 1 and 3 (`training.default_learning_rate`; the
    size is `n_params`, or the published size of a known model name).

    Usage: `sweep = suggest_learning_rate("smollm2-135m", train, validation_task, TrainConfig(method="lora"))`,
    then train with `TrainConfig(method="lora", learning_rate=sweep.chosen)`; `sweep.note()` says whether the
    chosen rate lies inside the sweep.
    """
    if n_params is None and (arch := architecture_for(model_name)) is not None:
        n_params = arch.params()
    centre = default_learning_rate(config.method, n_params)
    grid = list(grid) if grid is not None else [centre / 3, centre, centre * 3]

    def score(rate: float) -> float:
        trial = replace(config, learning_rate=rate, save=False)
        run = train_and_evaluate(
            model_name, validation, train, trial, f"lr {rate:g}", "sweep", max_new_tokens, batch_size
        )
        return float(np.mean(run.scores[validation.headline_metric]))

    return sweep_learning_rates(score, grid, max_extensions=max_extensions)
