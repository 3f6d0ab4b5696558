"""Run a notebook's code cells in this Python process, as papermill would run them in a kernel.

The course runner executes notebooks with papermill: a fresh kernel per notebook, which pays for importing
torch, transformers and peft (15-30 s on 2 busy cores) before the first cell does any work. The CI
rehearsals (tests/test_rehearsal_runs.py) run every notebook under two more profiles; in one process whose
imports are already warm each run costs only its own work. The cells run in order in one namespace: the
tagged parameters cell, then the parameters papermill would inject, then the rest; what papermill would
change around the kernel is changed here and put back afterwards (working directory, environment
variables, torch's thread count, open figures). Output is not kept: a run passes when no cell raises.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


class CellError(RuntimeError):
    """A cell raised: names the notebook, the cell and the error."""


def code_cells(notebook: Path) -> list[tuple[int, str, bool]]:
    """(index, source, is the parameters cell) of each code cell, in order. Read as plain JSON (the notebook
    format), so that a machine without Jupyter's packages can run it."""
    import json

    cells = json.loads(Path(notebook).read_text())["cells"]
    return [
        (
            i,
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
            "parameters" in c["metadata"].get("tags", []),
        )
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
    ]


@contextlib.contextmanager
def contained(workdir: Path) -> Iterator[None]:
    """Inside the block the working directory is `workdir`; afterwards the directory, the environment, torch's
    thread count and the set of open figures are as before."""
    import matplotlib.pyplot as plt
    import torch

    before_dir, before_env, threads = Path.cwd(), dict(os.environ), torch.get_num_threads()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(before_dir)
        os.environ.clear()
        os.environ.update(before_env)
        torch.set_num_threads(threads)
        plt.close("all")


def run_in_process(notebook: Path, parameters: dict, workdir: Path) -> dict:
    """Execute the notebook's code cells in this process with `parameters` injected after its parameters cell;
    return the namespace. Raises CellError naming the first cell that fails."""
    try:
        from IPython.display import display
    except ImportError:  # a machine without Jupyter: show what a cell displays as text
        display = _print_display
    notebook = Path(notebook).resolve()
    namespace: dict = {"__name__": "__main__", "display": display}  # a kernel's namespace has display too
    injected = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    with contained(workdir):
        for index, source, is_parameters in code_cells(notebook):
            run_cell(notebook, index, source, namespace)
            if is_parameters:
                run_cell(notebook, index, injected, namespace)
    return namespace


def _print_display(*objects, **_) -> None:
    for obj in objects:
        print(obj.to_string() if hasattr(obj, "to_string") else obj)


def run_cell(notebook: Path, index: int, source: str, namespace: dict) -> None:
    try:
        exec(compile(source, f"{notebook.name}[cell {index}]", "exec"), namespace)
    except Exception as err:
        raise CellError(f"{notebook.name}, cell {index}: {type(err).__name__}: {err}") from err
