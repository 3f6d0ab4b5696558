import pytest

from helpers.core import drift_monitor as dm
from helpers.data import drift_world as dw


def texts(world, period, n, seed):
    return dm.user_texts(dw.period_examples(world, period, n, seed=seed))


def test_ngram_drift_bounds():
    a = ["how much is shipping", "what is the refund window"]
    assert dm.ngram_drift(a, a) == pytest.approx(0.0)
    assert dm.ngram_drift(a, ["zebra quartz", "violin"]) == pytest.approx(1.0)
    partial = dm.ngram_drift(a, ["how much is the warranty"])
    assert 0.0 < partial < 1.0
    with pytest.raises(ValueError):
        dm.ngram_drift(a, ["?!"])


def test_out_of_vocabulary_and_abstention_rates():
    assert dm.out_of_vocabulary_rate(["how much is it"], ["how much rn", "yo"]) == pytest.approx(2 / 4)
    assert dm.abstention_or_low_confidence_rate(["I don't know.", "$24 per month", "30 days", "Unknown"]) == 0.5
    assert dm.abstention_or_low_confidence_rate(["$24", "30 days"], confidences=[0.9, 0.2]) == 0.5


@pytest.mark.parametrize("world_seed", [0, 1, 2])
def test_monitor_is_quiet_on_the_same_distribution_and_fires_on_a_shifted_period(world_seed):
    world = dw.build_world(seed=world_seed)
    monitor = dm.DriftMonitor(texts(world, 0, 80, seed=0))
    assert not any(monitor.fires(texts(world, 0, 40, seed=s)) for s in range(1, 6))
    assert monitor.fires(texts(world, world.n_periods - 1, 40, seed=9))


def test_drift_grows_with_the_periods_elapsed():
    """Averaged over worlds and samples, each later period drifts further from period 0."""
    means = []
    worlds = [dw.build_world(seed=s) for s in range(3)]
    references = [dm.user_texts(dw.training_set(w, 0, 80, seed=0)) for w in worlds]
    for period in range(4):
        values = [
            dm.ngram_drift(ref, texts(w, period, 40, seed=s)) for w, ref in zip(worlds, references) for s in (1, 2)
        ]
        means.append(sum(values) / len(values))
    assert means == sorted(means) and means[-1] > means[0] + 0.1


def test_fixed_threshold_and_first_firing():
    monitor = dm.DriftMonitor(["a b c", "b c d", "c d e", "d e f"], threshold=0.99)
    assert monitor.threshold_for(10) == 0.99 and not monitor.fires(["a b c"])
    assert dm.first_firing([0.1, 0.2, 0.5, 0.7], 0.4) == 2
    assert dm.first_firing([0.1, 0.2], 0.4) is None


def test_canary_check_needs_a_fall_beyond_drop_and_noise():
    assert dm.canary_check(0.5, 0.9, n=50)
    assert not dm.canary_check(0.85, 0.9, n=50)  # within `drop`
    assert not dm.canary_check(0.6, 0.8, n=5)  # a 20-point fall on 5 canaries is noise
    assert dm.canary_check(0.6, 0.8, n=200)


def test_ngram_drift_is_bit_identical_across_hash_seeds():
    """String hashing is randomised per process; the divergence must not depend on set order."""
    import os
    import subprocess
    import sys

    code = (
        "from helpers.core.drift_monitor import ngram_drift; "
        "print(repr(ngram_drift(['my card was charged twice', 'where is my new card', 'cancel the transfer please'], "
        "['the refund has not arrived yet', 'why was my card declined abroad', 'top up failed again today'])))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in range(6)
    }
    assert len(outputs) == 1, outputs
