"""Every notebook rehearsed under each GPU tier's code paths on the CPU (helpers/course/rehearsal.py): the
tier's branches and grid shapes, two seeds, the tiny model for every hub model, smoke sizes. The cells run in
this test process (helpers/course/cell_runner.py), whose imports are already warm, so a run costs its own work.

13 runs (a t4 rehearsal whose settings equal the gpu one's runs once), 497 s on one core: part of `make test` and
so of CI; `make rehearse` runs only these."""

import json

import pytest

from helpers.course import profiles, rehearsal
from helpers.course.cell_runner import run_in_process
from helpers.course.runner import list_notebooks

pytestmark = pytest.mark.slow


def settings(notebook, tier: str) -> dict:
    values = vars(profiles.settings(profiles.EXPERIMENT_SETTINGS[notebook.stem], rehearsal.profile_name(tier)))
    return {key: value for key, value in values.items() if key != "profile"}


def cases() -> list:
    """(notebook, tier) for each notebook and rehearsed tier, leaving out a tier whose rehearsal settings equal
    an earlier tier's for that notebook: the same settings run the same code."""
    out = []
    for notebook in list_notebooks():
        seen: list[dict] = []
        for tier in rehearsal.REHEARSED_TIERS:
            values = settings(notebook, tier)
            if values not in seen:
                out.append(pytest.param(notebook, tier, id=f"{notebook.stem}-{tier}"))
                seen.append(values)
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("notebook", "tier"), cases())
def test_each_notebook_runs_each_gpu_tiers_code_paths_on_the_cpu(tmp_path, notebook, tier):
    profile = rehearsal.profile_name(tier)
    results = tmp_path / "results"
    run_in_process(notebook, {"profile": profile, "results_dir": str(results)}, tmp_path / "work")
    result = json.loads((results / f"{notebook.stem}.json").read_text())
    assert result["profile"] == profile and result["is_finding"] is False
    values = settings(notebook, tier)
    kept = {key: value for key, value in values.items() if key in rehearsal.KEEP}
    assert {key: result["parameters"][key] for key in kept} == kept  # the tier's branches ran
    assert all(v["text"].startswith(f"[REHEARSAL of the {tier} tier") for v in result["verdicts"])  # never a finding
    if "seeds" in values:
        assert result["seeds"] == rehearsal.SEEDS  # every branch that pools seeds ran
