import json
import subprocess
import sys

import nbformat
import pytest

from helpers.core import paths
from helpers.core.paths import REPO_ROOT
from helpers.course import runner as course

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)  # the slowest notebook takes about 4 minutes of the smoke course's 11 on 2 cores
@pytest.mark.parametrize("notebook", course.list_notebooks(), ids=lambda nb: nb.stem)
def test_smoke_course_runs_each_notebook(tmp_path, notebook):
    """The course runner on each notebook in turn (one test per notebook, so that pytest -n spreads them)."""
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "course",
            "--profile",
            "smoke",
            "--only",
            notebook.stem,
            "--run-dir",
            str(run_dir),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=850,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (run_dir / notebook.name).is_file()
    [row] = [line for line in done.stdout.splitlines() if line.startswith(notebook.stem + " ")]
    assert row.split()[1] == "ok", row
    result = json.loads((run_dir / "results" / f"{notebook.stem}.json").read_text())
    assert result["profile"] == "smoke" and result["is_finding"] is False
    assert result["models"][0]["content_hash"] and result["datasets"]
    assert all(v["text"].startswith("[SMOKE RUN") for v in result["verdicts"])


def test_a_failing_notebook_is_named_and_exit_code_is_nonzero(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "cpu"\nresults_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('broken on purpose')")]
    nbformat.write(nb, notebooks / "99_broken.ipynb")
    monkeypatch.setattr(course, "NOTEBOOKS_DIR", notebooks)
    code = course.run_course("smoke", run_dir=tmp_path / "run")
    captured = capsys.readouterr()
    assert code == 1
    assert "99_broken" in captured.err and "broken on purpose" in captured.err


def test_only_rejects_unknown_names():
    with pytest.raises(SystemExit, match="no such notebook"):
        course.list_notebooks(["not-a-notebook"])
    assert course.list_notebooks(["quickstart"])[0].name == "00_quickstart.ipynb"
    assert paths.NOTEBOOKS_DIR.is_dir()


def test_publish_replaces_files_and_merges_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(course, "RESULTS_DIR", tmp_path / "results")
    run = tmp_path / "run"
    (run / "figures").mkdir(parents=True)
    (run / "01_data_size.json").write_text("new")
    (run / "figures" / "new.png").write_bytes(b"new")
    published = tmp_path / "results" / "smoke"
    (published / "figures").mkdir(parents=True)
    (published / "01_data_size.json").write_text("old")
    (published / "figures" / "old.png").write_bytes(b"old")
    assert course.publish_results(run.iterdir(), "smoke") == published
    assert (published / "01_data_size.json").read_text() == "new"
    assert sorted(p.name for p in (published / "figures").iterdir()) == ["new.png", "old.png"]


def test_resume_keeps_finished_notebooks_and_runs_the_rest(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("98_first", "99_second"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("pass")]
        nbformat.write(nb, notebooks / f"{name}.ipynb")
    monkeypatch.setattr(course, "NOTEBOOKS_DIR", notebooks)
    ran = []

    def execute(source, target, **kwargs):
        ran.append(source.rsplit("/", 1)[-1])
        if source.endswith("99_second.ipynb") and ran.count("99_second.ipynb") == 1:
            raise RuntimeError("killed")  # the first run stops at the second notebook

    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    run_dir = tmp_path / "run"
    assert course.run_course("smoke", run_dir=run_dir) == 1
    assert course.run_course(None, run_dir=run_dir, resume=True) == 0
    assert ran == ["98_first.ipynb", "99_second.ipynb", "99_second.ipynb"]  # the first is not run again
    with pytest.raises(SystemExit, match="used profile 'smoke', not 'cpu'"):
        course.run_course("cpu", run_dir=run_dir, resume=True)
    with pytest.raises(SystemExit, match="no course_status.json"):
        course.run_course(None, run_dir=tmp_path / "elsewhere", resume=True)


def test_set_reads_python_literals_and_plain_text_and_names_a_malformed_item():
    assert course.parse_overrides(["seeds=[0, 1]", "learning_rate=3e-4", "model=smollm2-135m", "n_eval=None"]) == {
        "seeds": [0, 1],
        "learning_rate": 3e-4,
        "model": "smollm2-135m",
        "n_eval": None,
    }
    with pytest.raises(ValueError, match="write NAME=VALUE"):
        course.parse_overrides(["seeds"])


def test_set_refuses_an_unknown_parameter_and_publishing(tmp_path):
    with pytest.raises(SystemExit, match=r"00_quickstart has no parameter n_epochs; its parameters: .*epochs"):
        course.run_course("smoke", ["00"], tmp_path / "run", overrides={"n_epochs": 1})
    with pytest.raises(SystemExit, match="a published result runs the profile's defaults"):
        course.run_course("smoke", ["00"], tmp_path / "run", publish=True, overrides={"epochs": 1.0})
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_no_kernel_runs_the_notebook_in_this_process_with_the_overrides_recorded(tmp_path, capsys):
    code = course.run_course("smoke", ["00"], tmp_path / "run", overrides={"n_eval": 8}, in_process=True)
    assert code == 0, capsys.readouterr().err[-2000:]
    result = json.loads((tmp_path / "run" / "results" / "00_quickstart.json").read_text())
    assert result["profile"] == "smoke" and result["parameters"]["n_eval"] == 8
    assert not (tmp_path / "run" / "00_quickstart.ipynb").exists()  # no kernel, no executed notebook
