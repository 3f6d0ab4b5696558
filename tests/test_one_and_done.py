import numpy as np
import torch

from helpers.core.training import TrainConfig, finetune
from helpers.experiments import nb04_one_and_done as one_and_done
from helpers.experiments.nb04_one_and_done import WORLD_KINDS, WORLD_STRATEGIES, PeriodScores, Strategy


def world_scores(once_last, replay_last, new_only_unchanged, n=80):
    s = PeriodScores()
    for name in WORLD_STRATEGIES.values():
        for kind in WORLD_KINDS:
            s.add(name, 0, kind, np.ones(n))
    for name in WORLD_STRATEGIES.values():
        for kind in WORLD_KINDS:
            s.add(name, 2, kind, np.full(n, once_last if name == WORLD_STRATEGIES["once"] else replay_last))
    s.add(WORLD_STRATEGIES["new_only"], 2, "unchanged", np.full(n, new_only_unchanged))
    return s


def test_verdicts_follow_the_scores():
    decayed = world_scores(once_last=0.0, replay_last=1.0, new_only_unchanged=0.0)
    verdicts = one_and_done.maintenance_verdicts(
        decayed, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, drift_first=2, drop_period=2, monitor_first=1
    )
    assert [v.status for v in verdicts] == ["supported"] * 5
    assert "independent samples" in verdicts[0].text
    stable = world_scores(once_last=1.0, replay_last=1.0, new_only_unchanged=1.0)
    verdicts = one_and_done.maintenance_verdicts(
        stable, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, drift_first=None, drop_period=None
    )
    # nothing changed: every comparison is a tie, whose interval (Wilson-based, never zero-width) still
    # holds small gains either way, so the run cannot say "no" to a claim of improvement
    assert [v.status for v in verdicts] == ["inconclusive"] * 5
    assert all(v.ci_low < 0 < v.ci_high for v in verdicts[:3])
    worse = one_and_done.maintenance_verdicts(
        world_scores(once_last=1.0, replay_last=0.0, new_only_unchanged=1.0),
        2,
        WORLD_KINDS,
        "cpu",
        WORLD_STRATEGIES,
        drift_first=None,
        drop_period=None,
    )
    assert [v.status for v in worse[1:3]] == ["not supported", "not supported"]  # replay did worse: a clear "no"
    late = one_and_done.maintenance_verdicts(
        decayed, 2, WORLD_KINDS, "cpu", WORLD_STRATEGIES, drift_first=None, drop_period=1, monitor_first=2
    )
    assert late[3].status == "not supported" and late[4].status == "not supported" and "never" in late[3].text


def test_first_significant_drop_and_seed_average():
    s = world_scores(once_last=0.2, replay_last=1.0, new_only_unchanged=1.0)
    assert one_and_done.first_significant_drop(s, WORLD_STRATEGIES["once"], WORLD_KINDS) == 2
    assert one_and_done.first_significant_drop(s, WORLD_STRATEGIES["replay"], WORLD_KINDS) is None
    averaged = one_and_done.stack_seeds([world_scores(0.0, 1.0, 1.0), world_scores(1.0, 1.0, 1.0)])
    assert averaged.pooled(WORLD_STRATEGIES["once"], 2, WORLD_KINDS).mean() == 0.5


def test_continued_training_leaves_other_strategies_untouched(toy_examples):
    config = TrainConfig(method="lora", max_steps=2, batch_size=2, learning_rate=1e-2, save=False)
    base, _ = finetune("tiny", toy_examples, config, progress=False)
    before = {n: p.detach().clone() for n, p in base.model.named_parameters() if "lora_" in n}
    once, retrained = Strategy("once", base), Strategy("retrained", base)
    retrained.continue_training(toy_examples, config, period=1)
    assert once.model is base and retrained.retrains == [1] and retrained.examples_used == 4
    assert all(torch.equal(before[n], p) for n, p in base.model.named_parameters() if "lora_" in n)
    changed = dict(retrained.model.model.named_parameters())
    assert any(not torch.equal(before[n], changed[n]) for n in before)
