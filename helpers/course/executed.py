"""Executed notebooks for reading: the published run's notebooks, kept beside its result files and shown
in the playbook site's Course section, so a learner can read the results before running anything.

`--publish` keeps each notebook as the run executed it (outputs and figures), lightened: widget state,
progress bars and per-cell timing metadata are dropped (they change on every run and weigh the most),
and a header cell states the run's provenance from its result file.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from ..core.records import machine_description

NOTEBOOKS_SUBDIR = "notebooks"
WIDGET_OUTPUT = "application/vnd.jupyter.widget-view+json"
VOLATILE_CELL_METADATA = ("papermill", "execution", "collapsed", "scrolled")


def _is_progress(output: dict) -> bool:
    """A tqdm bar or other carriage-return progress line on stderr."""
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return False
    text = "".join(output.get("text", ""))
    return "\r" in text or "%|" in text or "it/s]" in text


def _is_trainer_progress(output: dict) -> bool:
    """The Trainer's notebook progress table (HTML with a <progress> bar), redrawn on every log step."""
    html = "".join((output.get("data") or {}).get("text/html", ""))
    return "<progress" in html


def _kept_outputs(outputs: list[dict]) -> list[dict]:
    kept = []
    for output in outputs:
        if _is_progress(output) or _is_trainer_progress(output):
            continue
        data = output.get("data")
        if data and WIDGET_OUTPUT in data:
            data = {kind: value for kind, value in data.items() if kind != WIDGET_OUTPUT}
            if not data or set(data) == {"text/plain"}:
                continue  # a widget's text stand-in ("HBox(...)") says nothing without the widget
            output = {**output, "data": data}
        kept.append(output)
    return kept


def provenance_header(record: dict, result_name: str) -> str:
    """The header cell: where this executed copy comes from."""
    machine = machine_description(record.get("device", {}))
    minutes = record.get("timings", {}).get("notebook_seconds", 0) / 60
    model = (record.get("models") or [{}])[0].get("name", "?")
    return (
        f"> **Executed copy, for reading.** This is the notebook as the published **{record.get('profile')}** "
        f"run executed it on {record.get('created_utc', '')[:10]}: model {model}, seeds {record.get('seeds')}, "
        f"{machine}, {minutes:.1f} min, commit `{record.get('git_commit')}`. Its numbers are in "
        f"`results/{record.get('profile')}/{result_name}.json`; the source, without outputs, is "
        f"`notebooks/{result_name}.ipynb`. Progress bars and widget state were removed."
    )


FIGURE_NAME = re.compile(r"[\"']([\w.-]+\.png)[\"']")


def _figure_outputs(cell: dict, figures_dir: Path | None) -> list[dict]:
    """The figures a cell saved (a literal "name.png" in its source, found in figures_dir) as image
    outputs, for a run whose kernel drew without an inline backend (MPLBACKEND=Agg shows nothing)."""
    if figures_dir is None or any("image/png" in (o.get("data") or {}) for o in cell.get("outputs", [])):
        return []
    source = "".join(cell.get("source", ""))
    found = []
    for name in FIGURE_NAME.findall(source):
        path = figures_dir / name
        if path.is_file():
            found.append(
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": base64.b64encode(path.read_bytes()).decode(), "text/plain": name},
                }
            )
    return found


def readable_copy(executed: dict, record: dict, result_name: str, figures_dir: Path | None = None) -> dict:
    """The executed notebook without widget state, progress output or volatile metadata, with a header;
    figures the kernel did not draw inline are taken from figures_dir (see _figure_outputs)."""
    notebook = json.loads(json.dumps(executed))
    notebook["metadata"] = {
        key: value for key, value in notebook.get("metadata", {}).items() if key in ("kernelspec", "language_info")
    }
    for cell in notebook["cells"]:
        for key in VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell["cell_type"] == "code":
            cell["outputs"] = _kept_outputs(cell.get("outputs", [])) + _figure_outputs(cell, figures_dir)
    header = {
        "cell_type": "markdown",
        "id": "published-run",
        "metadata": {},
        "source": provenance_header(record, result_name),
    }
    notebook["cells"].insert(0, header)
    return notebook


def keep_executed(run_dir: Path, results_dir: Path, names: list[str]) -> list[Path]:
    """Readable copies of the run's executed notebooks in results_dir/notebooks/ (those with a result
    file); the paths written."""
    target = results_dir / NOTEBOOKS_SUBDIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        executed, result = run_dir / f"{name}.ipynb", results_dir / f"{name}.json"
        if not executed.is_file() or not result.is_file():
            continue
        copy = readable_copy(json.loads(executed.read_text()), json.loads(result.read_text()), name, results_dir)
        path = target / f"{name}.ipynb"
        path.write_text(json.dumps(copy, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written
