"""Default learning rates depend on the model's size, are recorded with their source, and the paste cell
that cannot import course code carries the same numbers."""

import re

import nbformat
import pytest

from helpers.core.training import DEFAULT_LR_BY_SIZE, TrainConfig, default_learning_rate, learning_rate_source

SMALL, LARGE = DEFAULT_LR_BY_SIZE[0][1], DEFAULT_LR_BY_SIZE[-1][1]


def test_small_models_get_the_measured_rates_and_large_ones_the_usual():
    assert default_learning_rate("lora", 134_515_008) == SMALL["lora"]
    assert default_learning_rate("qlora", 7_600_000_000) == LARGE["qlora"]
    assert default_learning_rate("full", None) == LARGE["full"]
    # the point of the table: a 135M model needs a larger rate than the 7B rate guides quote
    assert all(SMALL[method] > LARGE[method] for method in SMALL)
    assert learning_rate_source(134_515_008).startswith("measured")
    with pytest.raises(ValueError, match="unknown method"):
        default_learning_rate("adapters", 1)


def test_a_config_records_the_rate_it_resolved_and_where_it_came_from():
    found = TrainConfig(method="qlora").to_dict(n_params=134_515_008)
    assert found["learning_rate"] == SMALL["qlora"]
    assert found["learning_rate_source"].startswith("default: measured")
    chosen = TrainConfig(method="qlora", learning_rate=5e-4).to_dict(n_params=134_515_008)
    assert chosen["learning_rate"] == 5e-4 and "learning_rate_source" not in chosen


def test_the_quickstart_paste_cell_uses_the_same_defaults():
    nb = nbformat.read("notebooks/00_quickstart.ipynb", as_version=4)
    paste = nb.cells[-1].source
    found = re.search(
        r"LEARNING_RATE = \(([\d.e-]+) if QUANTIZE_4BIT else ([\d.e-]+)\) if small_model else ([\d.e-]+)", paste
    )
    assert found, "the paste cell no longer picks its rate by model size"
    qlora, lora, large = (float(x) for x in found.groups())
    assert (qlora, lora) == (SMALL["qlora"], SMALL["lora"])
    assert large == LARGE["lora"] == LARGE["qlora"]
    assert f"<= {DEFAULT_LR_BY_SIZE[0][0]:g}" in paste.replace("0.5e9", "5e+08")


def test_the_measured_row_equals_the_rates_notebook_02_chose():
    """The small-model defaults cite notebook 02's published sweeps: they must be the rates those chose
    (LoRA and QLoRA at TrainConfig's default rank when that arm was swept), and inside their sweeps."""
    import json
    from pathlib import Path

    published = json.loads(Path("results/cpu/02_peft_cost.json").read_text())
    sweeps = published["extra"]["sweeps"]
    rank = TrainConfig().lora_r
    arms = {"full": "full", "lora": f"lora-all-r{rank}", "qlora": f"qlora-all-r{rank}"}
    if arms["qlora"] not in sweeps:  # QLoRA is swept at the rank notebook 02 chose for LoRA
        arms["qlora"] = next(arm for arm in sweeps if arm.startswith("qlora-all-"))
    for method, arm in arms.items():
        assert sweeps[arm]["chosen"] == pytest.approx(SMALL[method]), f"{method}: notebook 02 chose {sweeps[arm]}"
        assert sweeps[arm]["interior"], f"{arm}'s chosen rate is at the sweep's edge: not a measured optimum"
