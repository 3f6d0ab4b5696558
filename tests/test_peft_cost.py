from types import SimpleNamespace

import numpy as np
import pytest

from helpers.core import cost_model
from helpers.core.cost_probe import CostProbeError, measure_training_cost
from helpers.core.training import TrainConfig
from helpers.course import profiles
from helpers.experiments import nb02_peft_cost as peft_cost
from helpers.experiments.arms import ArmResult
from helpers.experiments.lr_sweep import SweepResult
from helpers.experiments.nb02_peft_cost import MethodSpec


def test_method_specs_name_and_configure_their_arms():
    assert MethodSpec("full").arm == "full"
    attention = MethodSpec("lora", 8, "attention")
    assert attention.arm == "lora-attn-r8" and attention.group == "LoRA, attention only"
    config = attention.train_config(1e-3, steps=5, batch_size=4, seed=2)
    assert config.target_modules == list(cost_model.ATTENTION) and config.lora_r == 8 and config.lora_alpha == 16
    assert config.max_steps == 5 and config.seed == 2 and config.resolved_lr() == 1e-3
    assert MethodSpec("qlora", 64).arm == "qlora-all-r64"


def run(spec, lr, val, test_scores, seed=0, mmlu=None, trainable_percent=1.0):
    scores = {
        "accuracy": np.array(test_scores, float),
        "mmlu_correct": np.array(mmlu or [0.5] * 4, float),
        "mmlu_changed": np.zeros(4),
    }
    record = SimpleNamespace(
        trainable_percent=trainable_percent,
        trainable_params=10,
        train_seconds=1.0,
        tokens_per_second=100.0,
        saved_bytes=1,
    )
    info = {"spec": spec.arm, "learning_rate": lr, "val_accuracy": val, "lora_r": spec.lora_r}
    return ArmResult(f"{spec.arm}@{lr:g}", spec.group, 10, seed, scores, [], 0.0, record, info)


def trained(spec, lr, val, seed=0):
    record = SimpleNamespace(final_loss=0.1, optimizer_steps=6, train_seconds=1.0)
    return peft_cost.Trained(spec, lr, seed, object(), record, val)


def synthetic_fit(spec, best_rate, fitted):
    """A fine-tune whose validation score peaks at `best_rate` (log scale); every model it hands out is kept
    in `fitted`, to check which ones the sweep releases."""

    def fit(rate):
        run = trained(spec, rate, 1.0 - abs(np.log10(rate / best_rate)) / 10)
        fitted.append(run)
        return run

    return fit


def test_training_policy_gives_every_arm_the_same_epochs_and_steps():
    assert peft_cost.training_steps(42, 4, 2) == 22 and peft_cost.training_steps(48, 8, 2) == 12
    with pytest.raises(ValueError):
        peft_cost.training_steps(0, 4, 2)
    policy = peft_cost.training_policy(42, 4, 2)
    assert policy["steps"] == 22 and policy["epochs"] == 2 and "every arm trains 2 epochs" in policy["rule"]
    specs = [MethodSpec("full"), MethodSpec("lora", 16), MethodSpec("lora", 64), MethodSpec("lora", 16, "attention")]
    configs = [spec.train_config(1e-3, policy["steps"], 4, seed=0) for spec in [*specs, MethodSpec("qlora", 16)]]
    assert {(c.max_steps, c.batch_size, c.lr_scheduler, c.warmup_ratio) for c in configs} == {(22, 4, "linear", 0.1)}


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_every_profile_sweeps_three_rates_per_method_on_one_ladder(profile):
    cfg = profiles.settings("peft_cost", profile)
    grids = {name: getattr(cfg, name) for name in ("full_lrs", "lora_lrs", "qlora_lrs")}
    for name, grid in grids.items():
        assert len(set(grid)) >= 3, name
        for rate in grid:  # the 1-3-10 ladder: 1e-4, 3e-4, 1e-3, ...
            mantissa = rate / 10 ** np.floor(np.log10(rate) + 1e-9)
            assert min(abs(mantissa - 1), abs(mantissa - 3)) < 1e-6, (name, rate)
    assert set(grids["full_lrs"]) & set(grids["lora_lrs"]), "grids offset apart would build a ratio in"
    assert cfg.max_extensions >= 1 and cfg.epochs >= 2
    if profile == "cpu":
        assert cfg.seeds == [0, 1, 2] and cfg.n_val > 36


def test_a_sweep_extends_until_the_chosen_rate_is_interior_and_keeps_only_that_model():
    spec, fitted = MethodSpec("lora", 16), []
    sweep, chosen, points = peft_cost.sweep_arm(synthetic_fit(spec, 1e-4, fitted), [3e-4, 1e-3, 3e-3], 3)
    assert sweep.interior and sweep.extensions == 2 and len(sweep.rates) == 5
    assert sweep.chosen == pytest.approx(1e-4, rel=0.1) and sweep.chosen == sweep.rates[1]
    assert chosen.learning_rate == sweep.chosen and chosen.model is not None
    assert all(run.model is None for run in fitted if run is not chosen)  # released: no second copy kept
    assert [p["learning_rate"] for p in points] == sweep.rates and all(p["optimizer_steps"] == 6 for p in points)
    record = peft_cost.sweep_record(sweep, points)
    assert record["interior"] and record["edge"] is None and "inside the sweep" in record["note"]


def test_a_sweep_that_runs_out_of_extensions_records_its_edge():
    spec = MethodSpec("full")
    sweep, chosen, _ = peft_cost.sweep_arm(synthetic_fit(spec, 1e-6, []), [1e-4, 3e-4, 1e-3], 1)
    assert sweep.edge == "low" and not sweep.interior and chosen.learning_rate == min(sweep.rates)
    assert "lowest of its sweep" in peft_cost.edge_note("full", sweep)


def test_rank_is_chosen_on_the_sweeps_validation_scores_and_rate_ratios_need_interior_rates():
    specs = {s.arm: s for s in [MethodSpec("lora", 4), MethodSpec("lora", 16), MethodSpec("lora", 16, "attention")]}
    sweeps = {
        "lora-all-r4": SweepResult([1e-3, 3e-3, 1e-2], [0.5, 0.7, 0.6], 3e-3, None, 0),
        "lora-all-r16": SweepResult([1e-3, 3e-3, 1e-2], [0.5, 0.7, 0.6], 3e-3, None, 0),
        "lora-attn-r16": SweepResult([1e-3, 3e-3, 1e-2], [0.5, 0.9, 0.6], 3e-3, None, 0),  # not all linear
    }
    assert peft_cost.best_rank(sweeps, specs) == 4  # tie on validation: the smaller rank
    sweeps["full"] = SweepResult([1e-4, 3e-4, 1e-3], [0.5, 0.8, 0.6], 3e-4, None, 0)
    ratio = peft_cost.rate_ratio(sweeps, "lora-all-r16")
    assert ratio["interior"] and ratio["ratio"] == pytest.approx(10) and "both inside" in ratio["note"]
    sweeps["full"] = SweepResult([1e-4, 3e-4, 1e-3], [0.8, 0.7, 0.6], 1e-4, "low", 0)
    ratio = peft_cost.rate_ratio(sweeps, "lora-all-r16")
    assert not ratio["interior"] and "no measured ratio" in ratio["note"] and "full at its low edge" in ratio["note"]
    with pytest.raises(ValueError, match="no LoRA sweep"):
        peft_cost.best_rank(sweeps, {"full": MethodSpec("full")})


def test_verdicts_follow_the_measurements():
    full, lora, attn, qlora = (
        MethodSpec("full"),
        MethodSpec("lora", 16),
        MethodSpec("lora", 16, "attention"),
        MethodSpec("qlora", 16),
    )
    rng = np.random.default_rng(0)
    truth = rng.binomial(1, 0.8, 400).astype(float)
    worse = np.where(rng.random(400) < 0.3, 0.0, truth)  # loses 30% of items: far outside a 5-point margin
    selected = {
        "full": [run(full, 1e-4, 0.8, truth, trainable_percent=100.0)],
        lora.arm: [run(lora, 1e-3, 0.8, truth, trainable_percent=0.5)],
        attn.arm: [run(attn, 1e-3, 0.6, worse)],
        qlora.arm: [run(qlora, 1e-3, 0.6, worse)],
    }
    probes = {
        "full": {"peak_memory_mb": 5000, "memory_before_mb": 1000},
        lora.arm: {"peak_memory_mb": 2000, "memory_before_mb": 1000},
        qlora.arm: {"peak_memory_mb": 4000, "memory_before_mb": 1000},
    }
    sweeps = {
        arm: SweepResult([1e-4, 1e-3, 1e-2], [0.5, 0.8, 0.6], 1e-3, None, 0) for arm in (lora.arm, qlora.arm, attn.arm)
    }
    sweeps["full"] = SweepResult([1e-4, 3e-4, 1e-3], [0.8, 0.7, 0.6], 1e-4, "low", 2)
    verdicts = peft_cost.peft_verdicts(
        selected, probes, lora.arm, qlora.arm, (lora.arm, attn.arm), 0.05, 2.0, "cpu", sweeps=sweeps
    )
    status = {v.claim: v.status for v in verdicts}
    notes = {v.id: " ".join(v.notes) for v in verdicts}
    for verdict_id in ("02.lora_within_margin", "02.qlora_within_margin", "02.lora_forgets_less"):
        assert "full's learning rate 0.0001 is still the lowest of its sweep" in notes[verdict_id]
    assert "learning rate" not in notes["02.all_linear_beats_attention"]  # both arms interior
    assert "learning rate" not in notes["02.lora_memory_saving"]  # memory does not depend on the rate
    assert status["LoRA (lora-all-r16) trains under 1% of the parameters"] == "supported"
    assert (
        status["lora-all-r16 needs at least 2x less training memory than full fine-tuning"] == "supported"
    )  # 4 GB vs 1 GB
    assert (
        status["qlora-all-r16 needs at least 2x less training memory than full fine-tuning"] == "not supported"
    )  # 4 GB vs 3 GB
    assert status["lora-all-r16 is within 5 points of full fine-tuning on test accuracy"] == "supported"
    assert status["qlora-all-r16 is within 5 points of full fine-tuning on test accuracy"] == "not supported"
    assert any(v.status == "supported" and "attention-only" in v.claim for v in verdicts)


def test_estimator_check_compares_memory_and_speed_ratios():
    arch = cost_model.KNOWN_ARCHITECTURES["SmolLM2-135M"]
    specs = {"full": MethodSpec("full"), "lora-all-r16": MethodSpec("lora", 16)}
    probes = {
        arm: {
            "peak_memory_mb": 3000.0,
            "memory_before_mb": 200.0,
            "max_batch_tokens": 512,
            "tokens_per_second": tps,
            "padded_tokens_seen": 2048,
            "logit_positions": 2048,
        }
        for arm, tps in (("full", 100.0), ("lora-all-r16", 120.0))
    }
    rows = {row["arm"]: row for row in peft_cost.estimator_check(probes, specs, arch, "fp32")}
    assert rows["full"]["measured memory MB"] == pytest.approx(2800.0)
    assert rows["full"]["predicted weights MB"] == pytest.approx(arch.params() * 4 / 2**20)
    assert rows["lora-all-r16"]["measured speed vs full"] == pytest.approx(1.2)
    assert rows["lora-all-r16"]["predicted speed vs full"] > 1.3  # no weight gradients for the frozen base
    # answer-only logits on a quarter of the positions: the estimate keeps a quarter of the logits
    quarter = {arm: {**probe, "logit_positions": 512} for arm, probe in probes.items()}
    fewer = {row["arm"]: row for row in peft_cost.estimator_check(quarter, specs, arch, "fp32")}
    logits_mb = 512 * arch.vocab * 8 / 2**20  # fp32 logits and their fp32 copy for the loss, per position
    assert rows["full"]["predicted activations MB"] - fewer["full"]["predicted activations MB"] == pytest.approx(
        0.75 * logits_mb
    )


def test_cost_probe_trains_in_a_fresh_process_and_reports(toy_examples):
    record = measure_training_cost(
        "tiny", toy_examples, TrainConfig(method="lora", batch_size=2, learning_rate=1e-3), steps=2
    )
    assert record["optimizer_steps"] == 2 and record["method"] == "lora"
    assert record["peak_memory_mb"] > record["memory_before_mb"] > 0
    assert record["saved_bytes"] > 0 and record["max_batch_tokens"] > 0


def test_cost_probe_failure_names_the_model(toy_examples):
    with pytest.raises(CostProbeError, match="no-such-model"):
        measure_training_cost("no-such-model", toy_examples, TrainConfig(method="lora"), steps=1)


def test_recommendation_follows_memory():
    seven_b = cost_model.KNOWN_ARCHITECTURES["Qwen2.5-7B"]
    assert cost_model.recommend_method(seven_b, 80).startswith(
        "LoRA"
    ) and "Full fine-tuning also fits" not in cost_model.recommend_method(seven_b, 48)
    assert cost_model.recommend_method(seven_b, 24).startswith("QLoRA")
    assert cost_model.recommend_method(cost_model.KNOWN_ARCHITECTURES["Llama-3.1-70B"], 24).startswith("Nothing fits")
