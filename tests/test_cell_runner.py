import os
from pathlib import Path

import nbformat
import pytest

from helpers.course.cell_runner import CellError, run_in_process


def notebook(tmp_path, *sources, parameters='profile = "cpu"\nresults_dir = "."'):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), params, *map(nbformat.v4.new_code_cell, sources)]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_parameters_are_injected_after_the_parameters_cell_and_the_process_is_left_as_it_was(tmp_path):
    path = notebook(
        tmp_path,
        'import os\nos.environ["DEMO_VAR"] = "set by the notebook"\nseen = (profile, os.getcwd())\n'
        'display("shown")\nopen("scratch.txt", "w").write("x")',
    )
    before_dir, before_env = Path.cwd(), dict(os.environ)
    namespace = run_in_process(path, {"profile": "smoke"}, tmp_path / "work")
    assert namespace["seen"] == ("smoke", str((tmp_path / "work").resolve()))
    assert (tmp_path / "work" / "scratch.txt").is_file()
    assert Path.cwd() == before_dir and dict(os.environ) == before_env


def test_a_failing_cell_is_named_with_its_error(tmp_path):
    path = notebook(tmp_path, "x = 1", "raise ValueError('broken on purpose')")
    with pytest.raises(CellError, match=r"99_demo.ipynb, cell 3: ValueError: broken on purpose"):
        run_in_process(path, {}, tmp_path / "work")


def test_without_jupyter_a_displayed_value_is_printed(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "IPython.display", None)  # importing it now raises ImportError
    run_in_process(notebook(tmp_path, 'display("shown as text")'), {}, tmp_path / "work")
    assert "shown as text" in capsys.readouterr().out
