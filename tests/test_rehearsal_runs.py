"""Every notebook rehearsed under the GPU tiers' code paths on the CPU (helpers/course/rehearsal.py): a tier's
branches and grid shapes, two seeds, the tiny model for every hub model, smoke sizes. The cells run in this test
process (helpers/course/cell_runner.py), whose imports are already warm, so a run costs its own work.

`make test` (and so CI) runs each notebook's gpu-tier rehearsal: 8 runs, 322 s on one core. The t4 tier differs
from the gpu tier only in the values of its grids and counts, never in a switch that opens a branch
(test_the_t4_rehearsal_differs_from_the_gpu_one_only_in_grid_values fails otherwise), so its five rehearsals that
differ from the gpu tier's (171 s more) run with `make rehearse`, which runs all 13 (marker `rehearsal`)."""

import json
import numbers

import pytest

from helpers.course import profiles, rehearsal
from helpers.course.cell_runner import run_in_process
from helpers.course.runner import list_notebooks

pytestmark = pytest.mark.slow


def settings(notebook_stem: str, tier: str) -> dict:
    values = vars(profiles.settings(profiles.EXPERIMENT_SETTINGS[notebook_stem], rehearsal.profile_name(tier)))
    return {key: value for key, value in values.items() if key != "profile"}


def cases() -> list:
    """(notebook, tier): each notebook's gpu-tier rehearsal, and its t4 one (marked `rehearsal`, left to `make
    rehearse`) where the settings differ: the same settings run the same code."""
    out = []
    for notebook in list_notebooks():
        out.append(pytest.param(notebook, "gpu", id=f"{notebook.stem}-gpu"))
        if settings(notebook.stem, "t4") != settings(notebook.stem, "gpu"):
            out.append(pytest.param(notebook, "t4", id=f"{notebook.stem}-t4", marks=pytest.mark.rehearsal))
    return out


def same_branch(one, other) -> bool:
    """Whether two values of a setting run the same code: grids of numbers (any length or values) or positive
    counts. A switch, a string, a None or an empty grid that differs may open or close a branch."""
    if isinstance(one, list) and isinstance(other, list):
        kinds = {type(v) for v in one + other}
        return bool(one) and bool(other) and len(kinds) == 1 and issubclass(kinds.pop(), numbers.Real)
    plain_number = isinstance(one, numbers.Real) and not isinstance(one, bool)
    return plain_number and type(one) is type(other) and one > 0 and other > 0


@pytest.mark.parametrize("notebook", list_notebooks(), ids=lambda nb: nb.stem)
def test_the_t4_rehearsal_differs_from_the_gpu_one_only_in_grid_values(notebook):
    """What lets CI run only the gpu-tier rehearsals: no t4 setting opens or closes a branch."""
    t4, gpu = settings(notebook.stem, "t4"), settings(notebook.stem, "gpu")
    assert t4.keys() == gpu.keys()
    own = {key: (t4[key], gpu[key]) for key in t4 if t4[key] != gpu[key] and not same_branch(t4[key], gpu[key])}
    assert not own, f"{notebook.stem}: the t4 tier has settings of its own (t4, gpu): {own}"


def test_same_branch_tells_grid_values_from_a_switch():
    assert same_branch([2, 5, 8], [2, 4, 6, 8]) and same_branch([1, 2, 3, 4], [1, 3, 4]) and same_branch(1, 2)
    assert not same_branch(["qlora"], ["lora"]) and not same_branch(0, 2) and not same_branch(True, False)
    assert not same_branch([], [1, 3]) and not same_branch(None, 2) and not same_branch(1, 2.0)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("notebook", "tier"), cases())
def test_each_notebook_runs_each_gpu_tiers_code_paths_on_the_cpu(tmp_path, notebook, tier):
    profile = rehearsal.profile_name(tier)
    results = tmp_path / "results"
    run_in_process(notebook, {"profile": profile, "results_dir": str(results)}, tmp_path / "work")
    result = json.loads((results / f"{notebook.stem}.json").read_text())
    assert result["profile"] == profile and result["is_finding"] is False
    values = settings(notebook.stem, tier)
    kept = {key: value for key, value in values.items() if key in rehearsal.KEEP}
    assert {key: result["parameters"][key] for key in kept} == kept  # the tier's branches ran
    assert all(v["text"].startswith(f"[REHEARSAL of the {tier} tier") for v in result["verdicts"])  # never a finding
    if "seeds" in values:
        assert result["seeds"] == rehearsal.SEEDS  # every branch that pools seeds ran
