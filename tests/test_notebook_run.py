"""One place per parameter: the profiles hold every default, each notebook's parameters cell names exactly
those parameters, and NotebookRun reads them and writes the result record."""

import ast
import json

import matplotlib.pyplot as plt
import pytest

from helpers.core.paths import NOTEBOOKS_DIR, RESULTS_DIR
from helpers.course import playbook, profiles
from helpers.course.notebook_run import NotebookRun

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
FIXED = {"profile", "results_dir"}  # set by the course runner, not profile defaults


def parameters_cell(path) -> dict[str, ast.AnnAssign]:
    nb = json.loads(path.read_text())
    [cell] = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    assert all(isinstance(node, ast.AnnAssign) for node in tree.body), "the parameters cell only declares names"
    return {node.target.id: node for node in tree.body}


def test_every_notebook_has_defaults():
    assert {path.stem for path in NOTEBOOKS} <= set(profiles.EXPERIMENT_SETTINGS)


@pytest.mark.parametrize("notebook", sorted(profiles.NOTEBOOK_DEFAULTS))
def test_the_profiles_of_a_notebook_have_the_same_parameters(notebook):
    assert set(profiles.NOTEBOOK_DEFAULTS[notebook]) == set(profiles.PROFILES)
    names = set(profiles.parameter_names(notebook))
    for profile in profiles.PROFILES:
        assert set(profiles.NOTEBOOK_DEFAULTS[notebook][profile]) == names, profile


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_parameters_cell_names_exactly_the_profile_parameters(path):
    declared = parameters_cell(path)
    notebook = profiles.EXPERIMENT_SETTINGS[path.stem]
    assert FIXED <= set(declared)
    names = set(declared) - FIXED
    for profile in profiles.PROFILES:
        assert names == set(profiles.NOTEBOOK_DEFAULTS[notebook][profile]), profile
    for name in names:  # the default lives in the profiles only
        value = declared[name].value
        assert isinstance(value, ast.Constant) and value.value is None, f"{path.name}: {name} must be None"


def test_parameters_added_after_publication_are_parameters_of_their_notebook():
    for notebook, added in profiles.ADDED_AFTER_PUBLICATION.items():
        assert set(added) <= set(profiles.parameter_names(notebook)), notebook


def test_every_published_result_records_its_parameters_or_they_were_added_later():
    for path in sorted(RESULTS_DIR.glob("*/*.json")):
        record = json.loads(path.read_text())
        notebook = profiles.EXPERIMENT_SETTINGS.get(record.get("experiment"))
        if notebook is None:
            continue
        later = profiles.ADDED_AFTER_PUBLICATION.get(notebook, {})
        missing = set(profiles.parameter_names(notebook)) - set(record["parameters"]) - set(later)
        assert not missing, f"{path.name} does not record {sorted(missing)}"


def test_a_parameter_absent_from_a_result_is_current_only_if_added_later_with_the_default(monkeypatch):
    record = {
        "experiment": "01_data_size",
        "profile": "cpu",
        "parameters": dict(profiles.NOTEBOOK_DEFAULTS["data_size"]["cpu"]),
    }
    del record["parameters"]["bank_max_new_tokens"]
    monkeypatch.setattr(profiles, "ADDED_AFTER_PUBLICATION", {"data_size": {"bank_max_new_tokens": 12}})
    assert playbook.stale_parameters(record) == {}
    changed = {**profiles.NOTEBOOK_DEFAULTS["data_size"]["cpu"], "bank_max_new_tokens": 16}
    monkeypatch.setitem(profiles.NOTEBOOK_DEFAULTS["data_size"], "cpu", changed)
    assert playbook.stale_parameters(record) == {"bank_max_new_tokens": (12, 16)}
    monkeypatch.setattr(profiles, "ADDED_AFTER_PUBLICATION", {})
    assert playbook.stale_parameters(record) == {"bank_max_new_tokens": ("(absent)", 16)}


def test_a_recorded_value_wins_over_the_value_before_publication(monkeypatch):
    parameters = {**profiles.NOTEBOOK_DEFAULTS["data_size"]["cpu"], "bank_max_new_tokens": 20}
    record = {"experiment": "01_data_size", "profile": "cpu", "parameters": parameters}
    monkeypatch.setattr(profiles, "ADDED_AFTER_PUBLICATION", {"data_size": {"bank_max_new_tokens": 12}})
    assert playbook.stale_parameters(record) == {"bank_max_new_tokens": (20, 12)}


def namespace(tmp_path, **values) -> dict:
    ns = {name: None for name in profiles.parameter_names("quickstart")}
    return ns | {"profile": "smoke", "results_dir": str(tmp_path / "results")} | values


def test_start_takes_the_profile_defaults_and_the_overrides(tmp_path, capsys):
    nb = NotebookRun.start("00_quickstart", namespace(tmp_path, n_train=5))
    assert vars(nb.cfg) == {"profile": "smoke", **profiles.NOTEBOOK_DEFAULTS["quickstart"]["smoke"], "n_train": 5}
    assert nb.results_path == tmp_path / "results"
    assert nb.artifacts_path == tmp_path / "artifacts" / "00_quickstart"
    assert "n_train=5" in capsys.readouterr().out


def test_start_names_a_parameter_the_notebook_does_not_define(tmp_path):
    ns = namespace(tmp_path)
    del ns["n_eval"]
    with pytest.raises(NameError, match="n_eval"):
        NotebookRun.start("00_quickstart", ns)


def test_save_figure_watermarks_smoke_figures_once(tmp_path):
    nb = NotebookRun.start("00_quickstart", namespace(tmp_path), show=False)
    fig, _ = plt.subplots()
    path = nb.save_figure(fig, "x.png")
    nb.save_figure(fig, "x.png")
    assert path == tmp_path / "results" / "x.png" and path.is_file()
    assert [t.get_text() for t in fig.texts] == ["SMOKE RUN\nnot a finding"]
    plt.close(fig)
    cpu = NotebookRun.start("00_quickstart", namespace(tmp_path, profile="cpu"), show=False)
    fig, _ = plt.subplots()
    cpu.save_figure(fig, "y.png")
    assert fig.texts == []
    plt.close(fig)


class FakeVerdict:
    claim, status = "a claim", "supported"

    def to_dict(self):
        return {"claim": self.claim, "status": self.status, "text": "[SMOKE RUN] a claim: supported"}


def test_finish_writes_the_record_with_the_usual_keys(tmp_path, capsys):
    nb = NotebookRun.start("00_quickstart", namespace(tmp_path), show=False)
    path = nb.finish(
        models=[{"name": "tiny"}],
        datasets=[{"dataset": "d"}],
        metrics={"acc": 0.5},
        verdicts=[FakeVerdict(), {"claim": "other"}],
        headline=FakeVerdict(),
        timings={"train_seconds_total": 1.0},
        parameters={"prompt": "p"},
        extra={"figures": ["x.png"]},
    )
    assert path == tmp_path / "results" / "00_quickstart.json"
    assert f"wrote {path}" in capsys.readouterr().out
    record = json.loads(path.read_text())
    assert set(record) >= {
        "schema_version",
        "experiment",
        "profile",
        "is_finding",
        "label",
        "created_utc",
        "git_commit",
        "parameters",
        "models",
        "datasets",
        "seeds",
        "packages",
        "device",
        "timings",
        "metrics",
        "headline",
        "verdicts",
        "extra",
    }
    assert record["experiment"] == "00_quickstart" and record["profile"] == "smoke"
    assert record["parameters"] == {
        "profile": "smoke",
        **profiles.NOTEBOOK_DEFAULTS["quickstart"]["smoke"],
        "prompt": "p",
    }
    assert record["seeds"] == profiles.NOTEBOOK_DEFAULTS["quickstart"]["smoke"]["seeds"]
    assert set(record["timings"]) == {"notebook_seconds", "train_seconds_total"}
    assert record["headline"] == {"label": "a claim", "value": "supported"}
    assert record["verdicts"][1] == {"claim": "other"} and record["verdicts"][0]["status"] == "supported"
    assert record["extra"] == {"figures": ["x.png"]}


def test_a_notebook_opens_with_the_run_time_of_its_published_run(tmp_path, monkeypatch):
    import json

    from helpers.core import paths
    from helpers.course import notebook_run

    monkeypatch.setattr(paths, "RESULTS_DIR", tmp_path)
    assert "no published cpu run" in notebook_run.expected_run_time("02_peft_cost", "cpu")
    (tmp_path / "cpu").mkdir()
    record = {
        "timings": {"notebook_seconds": 545.0},
        "device": {"accelerator": "none (CPU)", "cpu": "AMD EPYC", "cpu_count": 2},
        "created_utc": "2026-12-02T07:00:00",
    }
    (tmp_path / "cpu" / "02_peft_cost.json").write_text(json.dumps(record))
    text = notebook_run.expected_run_time("02_peft_cost", "cpu")
    assert "about 9 min" in text and "AMD EPYC, 2 cores" in text and "2026-12-02" in text
