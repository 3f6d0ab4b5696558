"""Every notebook ends with exercises that name its own parameters, answered from its published run."""

import json
from pathlib import Path

import pytest

from helpers.course import exercises, profiles

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("experiment", sorted(exercises.EXERCISES))
def test_every_exercise_names_a_parameter_of_its_notebook(experiment):
    names = profiles.parameter_names(profiles.EXPERIMENT_SETTINGS[experiment])
    parameters_cell = next(
        "".join(c["source"])
        for c in json.loads((NOTEBOOKS / f"{experiment}.ipynb").read_text())["cells"]
        if "parameters" in c.get("metadata", {}).get("tags", [])
    )
    assert 2 <= len(exercises.EXERCISES[experiment]) <= 4
    for ex in exercises.EXERCISES[experiment]:
        assert ex.parameter in names and f"{ex.parameter}:" in parameters_cell, ex.parameter


def test_every_notebook_asks_its_exercises_before_the_paste_cell_with_the_answers_folded():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        sources = ["".join(c["source"]) for c in cells]
        asked = sources.index(f'show_exercises("{path.stem}")')
        answers = cells[asked + 1]
        assert "show_answers" in "".join(answers["source"]) and answers["metadata"]["jupyter"]["source_hidden"]
        paste = next(i for i, s in enumerate(sources) if s.startswith("## Use this in your project"))
        assert asked < paste, path.name


@pytest.mark.parametrize("experiment", sorted(exercises.EXERCISES))
def test_answers_come_from_the_published_cpu_run(experiment):
    from helpers.core.paths import RESULTS_DIR

    if not (RESULTS_DIR / "cpu" / f"{experiment}.json").is_file():
        pytest.skip(f"no published cpu run of {experiment} yet")
    for text in exercises.answers(experiment, "cpu"):
        assert text.startswith("published") and "does not record" not in text, text


def test_without_a_published_run_the_answer_says_so(tmp_path, monkeypatch):
    from helpers.core import paths

    monkeypatch.setattr(paths, "RESULTS_DIR", tmp_path)
    assert all("no published gpu run" in text for text in exercises.answers("00_quickstart", "gpu"))
    with pytest.raises(ValueError, match="no exercises"):
        exercises.answers("99_missing", "cpu")
