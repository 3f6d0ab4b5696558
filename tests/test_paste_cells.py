"""Each notebook's "Use this in your project" cell works when pasted into another project: it imports only
the standard library and the usual ML packages (never the course's `helpers`, which a project's own
helpers.py would shadow), has no course-only lines, and runs alone in a fresh namespace and folder."""

import ast
import json
import re
import sys

import pytest

from helpers.core.models import tiny_folder
from helpers.core.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
ALLOWED = set(sys.stdlib_module_names) | {
    "numpy",
    "pandas",
    "matplotlib",
    "torch",
    "transformers",
    "peft",
    "datasets",
    "bitsandbytes",
}
HEADING = "## Use this in your project"


def cells(path):
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(path.read_text())["cells"]]


def paste_cell(path) -> str:
    """The code cell after the "Use this in your project" heading; it is the notebook's last code cell."""
    all_cells = cells(path)
    heading = max(i for i, (kind, text) in enumerate(all_cells) if kind == "markdown" and text.startswith(HEADING))
    code = [text for kind, text in all_cells[heading + 1 :] if kind == "code"]
    assert len(code) == 1, "one code cell after the heading, the notebook's last"
    return code[0]


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add("." if node.level else node.module.split(".")[0])
    return modules


def test_every_notebook_has_a_paste_cell():
    assert len(NOTEBOOKS) == 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_paste_cell_imports_only_common_packages(path):
    source = paste_cell(path)
    assert imported_modules(source) <= ALLOWED, f"imports outside the allowed set: {imported_modules(source) - ALLOWED}"
    for word in ("helpers", "profile"):  # the course's package, and the course-only smoke switch
        assert not re.search(rf"\b{word}\b", source), f"the cell mentions `{word}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_course_points_the_paste_cell_at_its_model(path):
    """Where the paste cell reads BASE_MODEL, the code cell before its heading sets it to the course's model."""
    all_cells = cells(path)
    heading = max(i for i, (kind, text) in enumerate(all_cells) if kind == "markdown" and text.startswith(HEADING))
    if "BASE_MODEL" in paste_cell(path):
        kind, text = all_cells[heading - 1]
        assert kind == "code" and 'os.environ["BASE_MODEL"]' in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_paste_cell_runs_alone(path, tmp_path, monkeypatch):
    """Executed alone, as a user would paste it, on the tiny model; it writes its demo files where it runs."""
    monkeypatch.setenv("BASE_MODEL", str(tiny_folder()))
    monkeypatch.chdir(tmp_path)
    source = paste_cell(path)
    exec(compile(source, f"<{path.name}: use this in your project>", "exec"), {"__name__": "__main__"})
