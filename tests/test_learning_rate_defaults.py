"""Default learning rates are looked up by method and model size and recorded with their source; the
small-model row is the one notebook 02's published sweeps chose."""

import json

import pytest

from helpers.core import training
from helpers.core.paths import RESULTS_DIR
from helpers.core.training import DEFAULT_LR_BY_SIZE, TrainConfig, default_learning_rate, learning_rate_source


def test_the_first_row_the_model_fits_gives_the_rate(monkeypatch):
    table = (
        (0.5e9, {"full": 3e-4, "lora": 2e-3, "qlora": 1e-3}, "small"),
        (float("inf"), {"full": 2e-5, "lora": 2e-4, "qlora": 2e-4}, "large"),
    )
    monkeypatch.setattr(training, "DEFAULT_LR_BY_SIZE", table)
    monkeypatch.setattr(training, "DEFAULT_LR", table[-1][1])
    assert default_learning_rate("lora", 134_515_008) == 2e-3
    assert default_learning_rate("qlora", 7_600_000_000) == 2e-4
    assert default_learning_rate("full", None) == 2e-5  # unknown size: the last row
    assert learning_rate_source(134_515_008) == "small" and learning_rate_source(None) == "large"
    with pytest.raises(ValueError, match="unknown method"):
        default_learning_rate("adapters", 1)


def test_a_config_records_the_rate_it_resolved_and_where_it_came_from():
    found = TrainConfig(method="qlora").to_dict(n_params=134_515_008)
    assert found["learning_rate"] == default_learning_rate("qlora", 134_515_008)
    assert found["learning_rate_source"].startswith("default: measured by notebook 02")
    chosen = TrainConfig(method="qlora", learning_rate=5e-4).to_dict(n_params=134_515_008)
    assert chosen["learning_rate"] == 5e-4 and "learning_rate_source" not in chosen


def test_the_measured_row_equals_the_rates_notebook_02_chose():
    """The small-model row must be what the published cpu sweeps chose, each inside its sweep: LoRA at the
    default rank 16 (all linear layers), QLoRA at the rank the sweeps chose, full fine-tuning."""
    published = json.loads((RESULTS_DIR / "cpu" / "02_peft_cost.json").read_text())
    sweeps = published["extra"]["sweeps"]
    small_row = DEFAULT_LR_BY_SIZE[0]
    assert published["models"][0]["parameters"] <= small_row[0]
    arms = {"full": "full", "lora": "lora-all-r16", "qlora": published["extra"]["qlora_arm"]}
    for method, arm in arms.items():
        assert sweeps[arm]["interior"], f"{arm}: the chosen rate sits at the edge of its sweep"
        assert small_row[1][method] == pytest.approx(sweeps[arm]["chosen"]), method
