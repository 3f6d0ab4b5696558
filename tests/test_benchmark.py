import pytest

from helpers.core.training import TrainConfig
from helpers.course import benchmark


def row(method, arm, tokens_per_second, memory, loss):
    return {
        "method": method,
        "arm": arm,
        "tokens_per_second": tokens_per_second,
        "training_memory_mb": memory,
        "mean_train_loss": loss,
        "padding_share": 0.0,
    }


def test_arms_are_the_baseline_each_lever_and_the_default():
    names = [arm.name for arm in benchmark.arms(["length grouping", "bf16 autocast"], ["length grouping"])]
    assert names == [
        "naive (Trainer defaults)",
        "TRL SFTTrainer (recommended)",
        "+ length grouping",
        "+ bf16 autocast",
        "course default",
    ]
    assert benchmark.ANCHOR.trainer == "sft" and benchmark.ANCHOR.config(TrainConfig()) == TrainConfig()
    naive = benchmark.NAIVE.config(TrainConfig())
    assert naive.group_by_length is False and naive.precision == "fp32"
    with pytest.raises(ValueError, match="torch.compile"):
        benchmark.arms(["torch.compile"], [])


def test_comparison_and_goal_need_speed_memory_and_loss():
    rows = [
        row("lora", benchmark.NAIVE.name, 100, 1000, 2.0),
        row("lora", "course default", 160, 950, 2.1),
        row("lora", "+ bf16 autocast", 200, 900, 2.6),
    ]
    default, bf16 = benchmark.compare(rows)[1:]
    assert (
        default["speed-up"] == pytest.approx(1.6)
        and default["memory ratio"] == pytest.approx(0.95)
        and default["same loss"]
    )
    assert benchmark.goal_met(default)
    assert not bf16["same loss"] and not benchmark.goal_met(bf16)  # faster, but the loss moved by 30%
    assert not benchmark.goal_met({**default, "memory ratio": 1.05})


def test_the_loss_compared_is_the_answer_loss_every_arm_is_scored_on_and_the_anchor_gets_its_ratios():
    rows = [
        row("lora", benchmark.NAIVE.name, 100, 1000, 2.0) | {"answer_loss": 1.0},
        row("lora", benchmark.ANCHOR.name, 80, 900, 9.0) | {"answer_loss": 1.02},  # reports its loss its own way
        row("lora", "course default", 160, 850, 2.1) | {"answer_loss": 1.01},
    ]
    _, anchor, default = benchmark.compare(rows)
    assert anchor["same loss"] and anchor["loss change"] == pytest.approx(0.02)  # not the 350% its report suggests
    assert default["vs SFTTrainer"] == pytest.approx(2.0) and default["memory vs SFTTrainer"] == pytest.approx(
        850 / 900
    )
    assert benchmark.goal_met_vs_anchor(default)
    assert not benchmark.goal_met_vs_anchor({**default, "vs SFTTrainer": 1.4})
    assert benchmark.goal_met_vs_anchor(benchmark.compare(rows[::2])[1]) is None  # no anchor ran


def test_out_of_memory_is_listed_not_compared():
    rows = [
        row("full", benchmark.NAIVE.name, 0, 0, 0) | {"out_of_memory": True},
        row("full", "course default", 150, 900, 2.0),
        row("lora", benchmark.NAIVE.name, 100, 1000, 2.0),
        row("lora", "course default", 60, 0, 0) | {"out_of_memory": True},
    ]
    full_naive, full_default, _, lora_default = benchmark.compare(rows)
    assert full_naive["out of memory"] and "speed-up" not in full_naive
    assert (
        full_default["baseline out of memory"]
        and full_default["tokens/s"] == 150
        and not benchmark.goal_met(full_default)
    )
    assert lora_default["out of memory"] and not benchmark.goal_met(lora_default)
    benchmark.plot(benchmark.compare(rows), "gpu", "with out-of-memory rows")  # plots what was measured


def test_mfu_uses_the_cost_models_flops_and_the_cards_peak():
    from helpers.core.cost_model import KNOWN_ARCHITECTURES

    arch = KNOWN_ARCHITECTURES["Qwen2.5-1.5B"]
    run = {
        "model": "random:Qwen2.5-1.5B",
        "tokens_per_second": 10_000.0,
        "mean_sequence_tokens": 512,
        "logit_share": 1.0,
    }
    full = benchmark.training_flops_per_token(arch, {**run, "method": "full"})
    lora = benchmark.training_flops_per_token(arch, {**run, "method": "lora"})
    assert full == pytest.approx(6 * arch.params(), rel=0.1) and lora == pytest.approx(4 * arch.params(), rel=0.1)
    answers = benchmark.training_flops_per_token(arch, {**run, "method": "full", "logit_share": 0.25})
    assert full - answers == pytest.approx(
        3 * 2 * 0.75 * arch.vocab * arch.hidden
    )  # the head's forward and backward, 3/4 skipped
    assert benchmark.mfu(1000, 6e9, 1000) == pytest.approx(0.006)
    assert (
        benchmark.peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989
        and benchmark.peak_bf16_tflops("NVIDIA H100 PCIe") == 756
    )
    assert benchmark.peak_bf16_tflops("NVIDIA L40S") == 362 and benchmark.peak_bf16_tflops("AMD EPYC") is None
    rows = [{**run, "method": "lora"}]
    benchmark.add_mfu(rows, {"random:Qwen2.5-1.5B": arch}, 989.0)
    assert rows[0]["mfu"] == pytest.approx(10_000 * lora / 989e12)
    benchmark.add_mfu(rows, {"random:Qwen2.5-1.5B": arch}, None)
    assert rows[0]["mfu"] is None


@pytest.mark.slow
def test_benchmark_measures_each_configuration_in_a_fresh_process(toy_examples):
    arms = benchmark.arms([], ["length grouping", "answer-only logits"])
    rows = benchmark.run_benchmark(
        "tiny",
        toy_examples * 2,
        ["lora"],
        arms,
        steps=2,
        batch_size=4,
        learning_rates={"lora": 1e-3},
        progress=lambda line: None,
    )
    assert [r["arm"] for r in rows] == ["naive (Trainer defaults)", "TRL SFTTrainer (recommended)", "course default"]
    assert all(r["tokens_per_second"] > 0 and r["tokens_seen"] > 0 and r["model"] == "tiny" for r in rows)
    assert rows[1]["trainer"].startswith("trl SFTTrainer") and rows[2]["trainer"] == "course"
    assert (
        rows[0]["logit_share"] == 1.0 and 0 < rows[2]["logit_share"] < 1
    )  # the default takes logits at answer tokens only
    # the same examples, steps and adapters: SFTTrainer and the course's trainer end at the same answer loss
    assert rows[1]["answer_loss"] == pytest.approx(rows[2]["answer_loss"], rel=0.02)
    assert rows[1]["tokens_seen"] == rows[2]["tokens_seen"]


def test_auto_precision_follows_the_hardware(monkeypatch):
    from helpers.core import records, training

    monkeypatch.setattr(training, "cpu_has_bf16", lambda: True)
    assert (
        TrainConfig().resolved_precision("cpu") == "bf16"
        and TrainConfig(precision="fp32").resolved_precision("cpu") == "fp32"
    )
    assert records.device_info()["training_precision_auto"] == "bf16 autocast"  # recorded in every result file
    monkeypatch.setattr(training, "cpu_has_bf16", lambda: False)
    assert (
        TrainConfig().resolved_precision("cpu") == "fp32"
        and TrainConfig(precision="bf16").resolved_precision("cpu") == "bf16"
    )
    assert records.device_info()["training_precision_auto"] == "fp32"
    with pytest.raises(ValueError, match="fp16.*needs a GPU"):
        TrainConfig(precision="fp16").resolved_precision("cpu")
    with pytest.raises(ValueError, match="unknown precision"):
        TrainConfig(precision="fp8").resolved_precision("cpu")


def test_plot_groups_bars_by_model_and_method():
    rows = [
        row(model_method[1], arm, tps, 1000, 1.0) | {"model": model_method[0]}
        for model_method in [("random:Qwen2.5-0.5B", "lora"), ("random:Qwen2.5-7B", "lora")]
        for arm, tps in [(benchmark.NAIVE.name, 100), ("course default", 180)]
    ]
    figure = benchmark.plot(benchmark.compare(rows), "gpu", "two models")
    labels = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    assert labels == ["random:Qwen2.5-0.5B\nlora", "random:Qwen2.5-7B\nlora"]
    assert figure.axes[0].get_yscale() == "log"


def test_answer_loss_is_the_mean_cross_entropy_of_the_answer_tokens(tiny, toy_examples):
    import torch

    from helpers.core.sft_baseline import answer_loss, prompt_completion_rows
    from helpers.core.training import tokenize_chat

    losses = []
    for ex in toy_examples:
        row = tokenize_chat(tiny.tokenizer, ex.messages, 1024)
        with torch.no_grad():
            logits = tiny.model(input_ids=torch.tensor([row["input_ids"]])).logits[0, :-1].float()
        targets = torch.tensor(row["labels"][1:])
        keep = targets != -100
        losses.append(torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="none"))
    expected = float(torch.cat(losses).mean())  # every answer token weighs the same, across examples
    assert answer_loss(tiny.model, tiny.tokenizer, toy_examples, batch_size=3) == pytest.approx(expected, rel=1e-5)
    rows = prompt_completion_rows(toy_examples)
    assert (
        rows[0]["completion"] == [toy_examples[0].messages[-1]] and rows[0]["prompt"] == toy_examples[0].messages[:-1]
    )
