"""The GPU table, the tiers and the course plan that sizes them."""

import pytest

from helpers.core import cost_model, gpus
from helpers.course import cli, plan, profiles, workloads
from helpers.course.benchmark import peak_bf16_tflops


@pytest.mark.parametrize(
    "device, card",
    [
        ("Tesla T4", "T4"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA A10G", "A10G"),
        ("NVIDIA A10", "A10"),
        ("NVIDIA A100-SXM4-40GB", "A100-40GB"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A100 80GB PCIe", "A100"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
    ],
)
def test_a_device_name_finds_its_own_card_not_a_prefix_of_it(device, card):
    assert gpus.for_device(device).name == card


def test_precision_follows_compute_capability_not_emulation():
    assert gpus.spec("T4").precision == "fp16" and gpus.spec("T4").tflops == 65
    assert gpus.spec("V100").precision == "fp16"
    assert gpus.spec("A10G").precision == "bf16" and gpus.spec("h100").tflops == 989
    assert gpus.for_device("AMD EPYC 7763") is None


def test_one_table_feeds_the_cost_model_and_the_benchmark():
    by_name = {g.name: g for g in cost_model.COMMON_GPUS}
    assert by_name["80 GB (A100 / H100 class)"].bf16_tflops == gpus.spec("A100").bf16_tflops == 312
    assert by_name["24 GB (RTX 4090 / L4 class)"].bf16_tflops == gpus.spec("L4").bf16_tflops == 121
    assert peak_bf16_tflops("NVIDIA L4") == 121 and peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert peak_bf16_tflops("Tesla T4") is None  # no bf16 hardware: no bf16 peak to divide by


def test_unknown_gpu_is_one_line_naming_the_known_ones():
    with pytest.raises(gpus.UnknownGPUError, match="unknown GPU 'P100': choose one of T4, V100"):
        gpus.spec("P100")


@pytest.mark.parametrize(
    "reported_gb, tier",
    [(11.7, "t4"), (15.8, "t4"), (23.6, "gpu"), (25.4, "gpu"), (42.5, "gpu"), (85.1, "full"), (150.0, "full")],
)
def test_the_default_tier_is_the_largest_whose_memory_the_card_has(reported_gb, tier):
    assert profiles.tier_for_memory(reported_gb) == tier


def test_every_tier_has_every_notebooks_parameters():
    for notebook, by_profile in profiles.NOTEBOOK_DEFAULTS.items():
        assert set(by_profile) == set(profiles.PROFILES), notebook
        for tier in profiles.GPU_TIERS:
            assert set(by_profile[tier]) == set(by_profile["cpu"]), (notebook, tier)


def test_every_notebook_has_a_workload():
    assert set(workloads.WORKLOADS) == {
        key for stem, key in profiles.EXPERIMENT_SETTINGS.items() if not stem.startswith("benchmark")
    }


@pytest.mark.parametrize("tier", profiles.GPU_TIERS)
def test_each_tier_fits_the_card_and_the_time_it_is_sized_for(tier):
    budget = profiles.TIERS[tier]
    card = gpus.spec(budget.gpu)
    assert card.memory_gb == budget.memory_gb
    for notebook in plan.plan(tier, card):
        assert notebook.peak_gb <= 0.9 * budget.memory_gb, (notebook.notebook, notebook.peak_job)
        assert notebook.minutes <= budget.minutes_per_notebook, notebook.notebook


def test_the_plan_counts_more_work_for_more_seeds():
    card = gpus.spec("L4")
    cfg = profiles.settings("quickstart", "gpu")
    one = plan.price(workloads.workload("quickstart", cfg), card)
    cfg.seeds = [0, 1, 2, 3, 4, 5]
    more = plan.price(workloads.workload("quickstart", cfg), card)
    assert more.fine_tunes - one.fine_tunes == 3 and more.minutes > one.minutes  # one QLoRA run per seed


def test_a_slower_card_takes_longer_and_fp16_cards_price_in_fp16():
    work = workloads.workload("quickstart", profiles.settings("quickstart", "full"))
    assert plan.price(work, gpus.spec("T4")).minutes > plan.price(work, gpus.spec("H100")).minutes


def test_plan_command_prints_the_table_and_its_budget(capsys):
    assert cli.main(["course", "--plan", "--profile", "t4", "--only", "00"]) == 0
    out = capsys.readouterr().out
    assert "Plan for profile 't4' on T4 (16 GB, fp16)" in out and "| 00_quickstart |" in out
    assert "| total |" in out


def test_plan_command_rejects_cpu_profiles_and_unknown_cards_in_one_line(capsys):
    assert cli.main(["course", "--plan", "--profile", "cpu"]) == cli.USER_ERROR_STATUS
    assert cli.main(["course", "--plan", "--profile", "t4", "--gpu", "P100"]) == cli.USER_ERROR_STATUS
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)


@pytest.mark.parametrize("tier", profiles.GPU_TIERS)
def test_the_readme_shows_each_tiers_current_plan(tier):
    from helpers.core.paths import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    assert plan.table(plan.plan(tier, gpus.spec(profiles.TIERS[tier].gpu))) in readme, f"README plan of {tier}"
