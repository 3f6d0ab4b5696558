"""The course runner: execute every notebook with papermill (or in this process), in order, into a run folder."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from ..core.paths import NOTEBOOKS_DIR, RESULTS_DIR, RUNS_DIR
from .cell_runner import run_in_process
from .executed import NOTEBOOKS_SUBDIR, keep_executed
from .profiles import PROFILES, default_profile
from .rehearsal import is_rehearsal

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def list_notebooks(only: list[str] | None = None) -> list[Path]:
    """Notebooks in course order; `only` keeps those whose file name contains any of the given strings."""
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        chosen = [nb for nb in notebooks if any(key in nb.stem for key in only)]
        missing = [key for key in only if not any(key in nb.stem for nb in notebooks)]
        if missing:
            raise SystemExit(f"--only {missing}: no such notebook; have {[nb.stem for nb in notebooks]}")
        return chosen
    return notebooks


def publish_results(items: Iterable[Path], profile: str) -> Path:
    """Copy a run's result files (and folders) into results/<profile>/, where the playbook reads them;
    return that folder. Files of the same name are replaced; folders are merged."""
    target = RESULTS_DIR / profile
    target.mkdir(parents=True, exist_ok=True)
    for item in items:
        destination = target / item.name
        if item.is_dir():
            shutil.copytree(item, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(item, destination)
    return target


def _headline(results_dir: Path, notebook: Path) -> str:
    path = results_dir / f"{notebook.stem}.json"
    if not path.is_file():
        return "-"
    headline = json.loads(path.read_text()).get("headline") or {}
    return f"{headline.get('label', '')}: {headline.get('value', '')}" if headline else "-"


def _error_summary(err: Exception) -> str:
    name = getattr(err, "ename", type(err).__name__)
    value = str(getattr(err, "evalue", err)).strip()
    return f"{name}: {value.splitlines()[0]}"[:300] if value else name


STATUS_FILE = "course_status.json"  # in the run folder: the profile, and each notebook that finished


def _read_status(run_dir: Path) -> dict:
    path = run_dir / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _record_finished(run_dir: Path, profile: str, stem: str, minutes: float) -> None:
    status = _read_status(run_dir) or {"profile": profile, "finished": {}}
    status["finished"][stem] = round(minutes, 2)
    (run_dir / STATUS_FILE).write_text(json.dumps(status, indent=1))


def resume_profile(run_dir: Path, profile: str | None) -> str:
    """The profile a run folder was started with (`course --resume`); a different --profile is an error, since
    its finished notebooks would mix two profiles' results."""
    status = _read_status(Path(run_dir))
    if not status:
        raise SystemExit(f"--resume {run_dir}: no {STATUS_FILE} there (not a course run folder, or nothing finished)")
    if profile and profile != status["profile"]:
        raise SystemExit(f"--resume {run_dir}: that run used profile {status['profile']!r}, not {profile!r}")
    return status["profile"]


def run_course(
    profile: str | None = None,
    only: list[str] | None = None,
    run_dir: Path | None = None,
    publish: bool = False,
    kernel: str = "python3",
    resume: bool = False,
    overrides: dict | None = None,
    in_process: bool = False,
) -> int:
    """Run the notebooks; print a summary table; return a process exit code (0: all succeeded). With `resume`,
    `run_dir` is an earlier run's folder: the notebooks that finished there are kept, not run again.
    `overrides` sets notebook parameters beyond the profile's defaults (never published); `in_process` runs each
    notebook's cells in this process instead of a Jupyter kernel (a machine without ipykernel or papermill, e.g.
    a bare GPU container): results and figures are written as usual, but no executed notebook is kept."""
    overrides = dict(overrides or {})
    if publish and overrides:
        names = ", ".join(overrides)
        raise SystemExit(f"--set {names}: a published result runs the profile's defaults; drop --publish or --set")
    if resume:
        profile = resume_profile(run_dir, profile)
    profile = profile or default_profile()
    if profile not in PROFILES and not is_rehearsal(profile):
        raise SystemExit(f"unknown profile {profile!r}: choose one of {PROFILES}")
    if publish and is_rehearsal(profile):
        raise SystemExit(f"{profile}: a rehearsal checks that the code runs; its results are never published")
    notebooks = list_notebooks(only)
    for notebook in notebooks:
        check_overrides(notebook.stem, overrides)
    run_dir = Path(run_dir or RUNS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-{profile}")
    results_dir = run_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    finished = _read_status(run_dir).get("finished", {}) if resume else {}
    backend = os.environ.get("MPLBACKEND")
    print(f"Running {len(notebooks)} notebook(s), profile '{profile}', into {run_dir}", flush=True)
    rows = []
    for notebook in notebooks:
        if notebook.stem in finished:
            print(f"\n=== {notebook.name}: finished in this run folder before, kept ===", flush=True)
            rows.append((notebook.stem, "ok", finished[notebook.stem], _headline(results_dir, notebook)))
            continue
        started = time.perf_counter()
        status, error = "ok", ""
        print(f"\n=== {notebook.name} ===", flush=True)
        workdir = run_dir / "work" / notebook.stem  # each notebook writes its scratch files apart
        workdir.mkdir(parents=True, exist_ok=True)
        parameters = {"profile": profile, "results_dir": str(results_dir.resolve()), **overrides}
        try:
            if in_process:
                run_in_process(notebook, parameters, workdir)
            else:
                import papermill

                os.environ["MPLBACKEND"] = INLINE_BACKEND  # the kernel draws figures into the executed notebook
                papermill.execute_notebook(
                    str(notebook),
                    str(run_dir / notebook.name),
                    parameters=parameters,
                    kernel_name=kernel,
                    cwd=str(workdir),
                    progress_bar=True,
                    log_output=False,
                )
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's error
            status, error = "FAILED", _error_summary(err)
            print(f"{notebook.name} failed: {error}", file=sys.stderr)
            if not hasattr(err, "ename"):
                traceback.print_exc()
        minutes = (time.perf_counter() - started) / 60
        if status == "ok":
            _record_finished(run_dir, profile, notebook.stem, minutes)
        rows.append((notebook.stem, status, minutes, error or _headline(results_dir, notebook)))

    if backend is None:
        os.environ.pop("MPLBACKEND", None)
    else:
        os.environ["MPLBACKEND"] = backend
    print("\n" + _table(rows))
    print(f"\nExecuted notebooks and results: {run_dir}")
    failed = [row for row in rows if row[1] != "ok"]
    kept = keep_executed(run_dir, results_dir, [nb.stem for nb in notebooks])
    if kept:
        print(f"Readable executed copies: {results_dir / NOTEBOOKS_SUBDIR}")
    if publish and not failed:
        target = publish_results(results_dir.iterdir(), profile)
        print(f"Published results to {target}")
    if failed:
        print(f"\n{len(failed)} notebook(s) failed: " + ", ".join(f"{r[0]} ({r[3]})" for r in failed), file=sys.stderr)
        return 1
    return 0


def check_overrides(stem: str, overrides: dict) -> None:
    """Stop, naming the notebook's parameters, when an override names none of them."""
    from .profiles import EXPERIMENT_SETTINGS, parameter_names

    known = parameter_names(EXPERIMENT_SETTINGS[stem]) if stem in EXPERIMENT_SETTINGS else []
    unknown = [name for name in overrides if name not in known]
    if unknown:
        raise SystemExit(f"--set: {stem} has no parameter {', '.join(unknown)}; its parameters: {', '.join(known)}")


def parse_overrides(items: list[str] | None) -> dict:
    """`--set NAME=VALUE` items as a dict: VALUE as a Python literal (3e-4, [0, 1], None, 'text'), else as text."""
    import ast

    overrides = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {item!r}: write NAME=VALUE, e.g. --set model=smollm2-135m or --set seeds=[0]")
        try:
            overrides[name.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[name.strip()] = text
    return overrides


def _table(rows) -> str:
    header = ("notebook", "status", "minutes", "headline")
    lines = [header] + [(name, status, f"{minutes:.1f}", headline) for name, status, minutes, headline in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(3)]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(str(line[j]).ljust(widths[j]) for j in range(3)) + "  " + str(line[3]))
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    return "\n".join(out)
