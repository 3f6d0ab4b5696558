from types import SimpleNamespace

import numpy as np
import pytest

from helpers.core import cost_model
from helpers.core.cost_probe import CostProbeError, measure_training_cost
from helpers.core.training import TrainConfig
from helpers.experiments import nb02_peft_cost as peft_cost
from helpers.experiments.arms import ArmResult
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


def test_learning_rate_and_rank_are_chosen_on_validation_only():
    lora4, lora16 = MethodSpec("lora", 4), MethodSpec("lora", 16)
    runs = [
        run(lora16, 1e-3, 0.5, [1] * 10),
        run(lora16, 3e-3, 0.7, [0] * 10),  # test would prefer 1e-3; validation decides
        run(lora4, 3e-3, 0.7, [0] * 10),
    ]
    assert peft_cost.best_learning_rate(runs, lora16) == 3e-3
    chosen = {lora16.arm: 3e-3, lora4.arm: 3e-3}
    assert peft_cost.best_rank(runs, chosen) == 4  # tie on validation: the smaller rank
    assert [r.info["learning_rate"] for r in peft_cost.selected_runs(runs, chosen)[lora16.arm]] == [3e-3]
    with pytest.raises(ValueError, match="qlora-all-r16"):
        peft_cost.best_learning_rate(runs, MethodSpec("qlora", 16))


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
    verdicts = peft_cost.peft_verdicts(selected, probes, lora.arm, qlora.arm, (lora.arm, attn.arm), 0.05, 2.0, "cpu")
    status = {v.claim: v.status for v in verdicts}
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
