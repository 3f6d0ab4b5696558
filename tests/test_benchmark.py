import pytest

from helpers import benchmark
from helpers.training import TrainConfig


def row(method, arm, tokens_per_second, memory, loss):
    return {"method": method, "arm": arm, "tokens_per_second": tokens_per_second, "training_memory_mb": memory, "mean_train_loss": loss,
            "padding_share": 0.0}


def test_arms_are_the_baseline_each_lever_and_the_default():
    names = [arm.name for arm in benchmark.arms(["length grouping", "bf16 autocast"], ["length grouping"])]
    assert names == ["naive (Trainer defaults)", "+ length grouping", "+ bf16 autocast", "course default"]
    naive = benchmark.NAIVE.config(TrainConfig())
    assert naive.group_by_length is False and naive.precision == "fp32"
    with pytest.raises(ValueError, match="torch.compile"):
        benchmark.arms(["torch.compile"], [])


def test_comparison_and_goal_need_speed_memory_and_loss():
    rows = [row("lora", benchmark.NAIVE.name, 100, 1000, 2.0), row("lora", "course default", 160, 950, 2.1),
            row("lora", "+ bf16 autocast", 200, 900, 2.6)]
    default, bf16 = benchmark.compare(rows)[1:]
    assert default["speed-up"] == pytest.approx(1.6) and default["memory ratio"] == pytest.approx(0.95) and default["same loss"]
    assert benchmark.goal_met(default)
    assert not bf16["same loss"] and not benchmark.goal_met(bf16)  # faster, but the loss moved by 30%
    assert not benchmark.goal_met({**default, "memory ratio": 1.05})


def test_mfu_counts_six_flops_per_parameter_for_full_and_four_for_adapters():
    assert benchmark.mfu(1000, 1e9, 1000, "full") == pytest.approx(0.006)
    assert benchmark.mfu(1000, 1e9, 1000, "lora") == pytest.approx(0.004)


@pytest.mark.slow
def test_benchmark_measures_each_configuration_in_a_fresh_process(toy_examples):
    arms = benchmark.arms([], ["length grouping"])
    rows = benchmark.run_benchmark("tiny", toy_examples * 2, ["lora"], arms, steps=2, batch_size=4, learning_rates={"lora": 1e-3},
                                   progress=lambda line: None)
    assert [r["arm"] for r in rows] == ["naive (Trainer defaults)", "course default"]
    assert all(r["tokens_per_second"] > 0 and r["tokens_seen"] > 0 for r in rows)


def test_auto_precision_follows_the_hardware(monkeypatch):
    from helpers import results, training

    monkeypatch.setattr(training, "cpu_has_bf16", lambda: True)
    assert TrainConfig().uses_bf16("cpu") and not TrainConfig(precision="fp32").uses_bf16("cpu")
    assert results.device_info()["training_precision_auto"] == "bf16 autocast"  # recorded in every result file
    monkeypatch.setattr(training, "cpu_has_bf16", lambda: False)
    assert not TrainConfig().uses_bf16("cpu") and TrainConfig(precision="bf16").uses_bf16("cpu")
    assert results.device_info()["training_precision_auto"] == "fp32"
    with pytest.raises(ValueError, match="fp16"):
        TrainConfig(precision="fp16").uses_bf16("cpu")
