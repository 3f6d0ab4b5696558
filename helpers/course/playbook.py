"""Render the playbook: Markdown templates whose numbers are read from the committed result files,
and build them into a static HTML site (MkDocs).

Templates (playbook/templates/*.md) use Jinja2 with these helpers:
  value("cpu/01_data_size", "metrics.intake.clean-48.field_f1.mean")  -> the number at that path
  pct(x), pts(x), num(x, digits)                                      -> formatting filters
  verdict("cpu/01_data_size", "01.intake.more_clean_data_helps")      -> the verdict dict with that id
  finding(v, supported=..., not_supported=..., inconclusive=..., not_run=...)
                                                                      -> the text for v's status: every
                                                                         sentence or heading that states a
                                                                         finding goes through it
                                                                         (playbook_wording)
  status(v), scale(v)                                                 -> "inconclusive at 135M, 1 seed, n=24",
                                                                         "135M, 1 seed, n=24"
  report(v)                                                           -> the verdict's own sentence (its
                                                                         claim, status and numbers), then
                                                                         its scale
  source("cpu/01_data_size")                                          -> a one-line provenance citation
  figure("cpu/02_peft_cost_quality.png", "alt text")                  -> the figure, copied beside the pages
  literal("500 clean examples")                                       -> a number that is not a measurement of
                                                                         ours (a claim quoted from an article)
  published("cpu/06_prompt_or_finetune")                               -> whether that result file exists: a
                                                                         page may cite a notebook whose run is
                                                                         not published yet only inside
                                                                         {% if published(...) %}, and says so
                                                                         in its {% else %}
Every number a page prints must come through one of these: a test renders the pages in trace mode
and fails on any other number.
A cited result file that is missing, lacks the path, or is stale (run with parameters that are no
longer the notebook's defaults for its profile), and a verdict id the file lacks, are errors that name
the template and the file.
Verdicts are cited by their stable id, never by position: the notebooks may add, drop or reorder them.
Wherever a page states a verdict's status it shows the scale beside it (status(), report()).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..core.paths import REPO_ROOT, RESULTS_DIR
from ..core.records import machine_description
from .playbook_wording import Findings, force_statuses, scale

PLAYBOOK_DIR = REPO_ROOT / "playbook"
TEMPLATES_DIR = PLAYBOOK_DIR / "templates"
DOCS_DIR = PLAYBOOK_DIR / "docs"
FIGURES_SUBDIR = "figures"
COURSE_SUBDIR = "course"  # the executed notebooks, as the site's Course section
COURSE_PROFILE = "cpu"  # whose published run the site shows
CITED = "\x02"  # marks the start and end of every cited value in a traced render (see render(trace=True))


class CitationError(LookupError):
    pass


class _CitedStr(str):
    def __str__(self):
        return f"{CITED}{str.__str__(self)}{CITED}"


class _CitedInt(int):
    def __str__(self):
        return f"{CITED}{int.__repr__(self)}{CITED}"


class _CitedFloat(float):
    def __str__(self):
        return f"{CITED}{float.__repr__(self)}{CITED}"


def _traced(node):
    """A copy of a result-file value whose leaves print with CITED marks (and compute as before)."""
    if isinstance(node, dict):
        return {key: _traced(item) for key, item in node.items()}
    if isinstance(node, list):
        return [_traced(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return _CitedInt(node)
    if isinstance(node, float):
        return _CitedFloat(node)
    if isinstance(node, str):
        return _CitedStr(node)
    return node


def stale_parameters(record: dict) -> dict[str, tuple]:
    """Parameters whose value in the run differs from the notebook's current default for that profile:
    {name: (value in the run, default now)}. Empty when the result is current.

    A parameter the run did not record counts as "(absent)", and so as stale, unless it was added to the
    notebook after publication (profiles.ADDED_AFTER_PUBLICATION): then the run used the value the
    notebook hard-coded before, which is compared with the default like a recorded one."""
    from .profiles import ADDED_AFTER_PUBLICATION, EXPERIMENT_SETTINGS, NOTEBOOK_DEFAULTS

    notebook = EXPERIMENT_SETTINGS.get(record.get("experiment", ""))
    defaults = NOTEBOOK_DEFAULTS.get(notebook, {}).get(record.get("profile", ""), {})
    ran = {**ADDED_AFTER_PUBLICATION.get(notebook, {}), **record.get("parameters", {})}
    ran = json.loads(json.dumps(ran))
    return {
        name: (ran.get(name, "(absent)"), default)
        for name, default in defaults.items()
        if json.loads(json.dumps(default)) != ran.get(name, "(absent)")
    }


def _load(result: str, template: str) -> dict:
    path = RESULTS_DIR / f"{result}.json"
    if not path.is_file():
        raise CitationError(
            f"{template}: cites {path.relative_to(REPO_ROOT)}, which does not exist; run the notebook with --publish"
        )
    record = json.loads(path.read_text())
    stale = stale_parameters(record)
    if stale:
        changes = ", ".join(f"{name} was {ran!r}, now {now!r}" for name, (ran, now) in stale.items())
        raise CitationError(
            f"{template}: cites {path.relative_to(REPO_ROOT)}, which is stale ({changes}); "
            f"rerun it: python -m helpers course --profile {record.get('profile')} "
            f"--only {record.get('experiment', '')[:2]} --publish"
        )
    return record


def _walk(record: dict, dotted: str, where: str):
    node = record
    dotted = dotted.replace(CITED, "")  # a path built from traced values
    for key in dotted.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise CitationError(f"{where}: no '{key}' in path '{dotted}'")
    return node


@dataclass
class Page:
    """A rendered page: its Markdown, the result figures it shows, the verdict ids it cites and the
    finding() calls it made (with the texts registered for every status)."""

    text: str
    figures: list[str] = field(default_factory=list)
    cited: set[str] = field(default_factory=set)
    findings: Findings = field(default_factory=Findings)


def _find_verdict(record: dict, verdict_id: str, where: str) -> int:
    """The position of the verdict with that id; a missing id is an error that lists the ids there."""
    ids = [v.get("id") for v in record.get("verdicts", [])]
    if verdict_id not in ids:
        raise CitationError(
            f"{where}: no verdict with id {verdict_id!r}; its verdicts: {', '.join(map(str, ids)) or '(none)'}"
        )
    return ids.index(verdict_id)


def _filters(mark) -> dict:
    """The formatting filters; each marks its output as cited. A value the run did not produce (None:
    an effect of a comparison that was not run) prints as "n/a"."""

    def cited(function):
        return lambda x, *args: mark("n/a" if x is None else function(x, *args))

    return {
        "pct": cited(lambda x, digits=1: f"{100 * x:.{digits}f}%"),
        "pts": cited(lambda x, digits=1: f"{100 * x:+.{digits}f} points"),
        "num": cited(lambda x, digits=1: f"{x:,.{digits}f}"),
        # a value shown as it is (a count)
        "cited": cited(
            lambda x: (
                str.__str__(x) if isinstance(x, str) else repr(x) if not isinstance(x, float) else float.__repr__(x)
            )
        ),
    }


def render(
    template_name: str, trace: bool = False, forced_status: dict[str, str] | None = None
) -> tuple[str, list[str]]:
    """The page's Markdown and the result figures it shows (see render_page)."""
    page = render_page(template_name, trace=trace, forced_status=forced_status)
    return page.text, page.figures


def render_page(template_name: str, trace: bool = False, forced_status: dict[str, str] | None = None) -> Page:
    """Render one template. With trace=True every cited value is wrapped in CITED marks, so a test can
    tell cited numbers from numbers typed into the template. forced_status ({verdict id or "*": status})
    renders the page as if those verdicts had that status, so a test can check the wording of every
    status without a result that has it."""
    import jinja2

    page = Page(text="")
    records: dict[str, dict] = {}
    result_of: dict[str, str] = {}  # verdict id -> the result file it was cited from

    def record_of(result):
        if result not in records:
            records[result] = force_statuses(_load(result, template_name), forced_status)
        return records[result]

    def mark(text):
        return f"{CITED}{text}{CITED}" if trace else text

    def value(result, dotted):
        dotted = str(dotted).replace(CITED, "")  # a path built from cited values (an arm's name) is plain
        found = _walk(record_of(result), dotted, f"{template_name}: results/{result}.json")
        return _traced(found) if trace else found

    def verdict(result, verdict_id):
        index = _find_verdict(record_of(result), verdict_id, f"{template_name}: results/{result}.json")
        page.cited.add(verdict_id)
        result_of[verdict_id] = result
        return value(result, f"verdicts.{index}")

    def scale_of(v):
        verdict_id = str.__str__(v["id"])
        record = record_of(result_of[verdict_id])
        raw = record["verdicts"][_find_verdict(record, verdict_id, template_name)]  # untraced numbers
        return mark(scale(raw, record))

    def status(v):
        return f"{v['status']} at {scale_of(v)}"

    def report(v):
        if v.get("scale"):  # the verdict's own text ends with its scale
            return v["text"]
        return f"{v['text']} Scale: {scale_of(v)}."

    def source(result):
        return mark(_provenance(result, record_of(result)))

    def figure(name, alt):
        path = RESULTS_DIR / name
        if not path.is_file():
            raise CitationError(
                f"{template_name}: shows {path.relative_to(REPO_ROOT)}, which does not exist; "
                "run the notebook with --publish"
            )
        page.figures.append(name)
        return f'[![{alt}]({FIGURES_SUBDIR}/{name})]({FIGURES_SUBDIR}/{name} "open the figure at full size")'

    def published(result):
        return (RESULTS_DIR / f"{result}.json").is_file()

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    env.filters.update(_filters(mark))
    header = (
        f"<!-- generated from playbook/templates/{template_name} by `python -m helpers playbook`; "
        "edit the template -->\n"
    )
    page.text = header + env.get_template(template_name).render(
        value=value,
        verdict=verdict,
        finding=page.findings.finding,
        status=status,
        scale=scale_of,
        report=report,
        source=source,
        figure=figure,
        literal=mark,
        published=published,
    )
    return page


def _provenance(result: str, record: dict) -> str:
    """A one-line citation of a result file: notebook, profile, model, seeds, device, date."""
    model = record["models"][0]
    device = machine_description(record["device"])
    if "training_precision_auto" in record["device"]:  # recorded since precision="auto" became the default
        device += f", training in {record['device']['training_precision_auto']}"
    return (
        f"`results/{result}.json`: notebook {record['experiment']}, {record['profile']} profile, "
        f"model {model['name']} "
        f"(sha256 {model['content_hash'][:12]}), seeds {record['seeds']}, {device}, {record['created_utc'][:10]}"
    )


def course_notebooks() -> list[tuple[Path, Path]]:
    """(source, page) for every executed notebook of the published cpu run (helpers.course.executed),
    shown in the site's Course section."""
    from .executed import NOTEBOOKS_SUBDIR

    source = RESULTS_DIR / COURSE_PROFILE / NOTEBOOKS_SUBDIR
    return [(path, DOCS_DIR / COURSE_SUBDIR / path.name) for path in sorted(source.glob("*.ipynb"))]


def build(check: bool = False) -> list[Path]:
    """Render every template into playbook/docs and copy the figures they show, and the published run's
    executed notebooks, beside them; with check=True write nothing and fail if a committed page, figure
    or notebook is stale."""
    DOCS_DIR.mkdir(parents=True, exist_ok=True)
    written, stale = [], []
    outputs = [(page, source.read_bytes()) for source, page in course_notebooks()]
    for template in sorted(TEMPLATES_DIR.glob("*.md")):
        text, figures = render(template.name)
        outputs += [(DOCS_DIR / template.name, text.encode())]
        outputs += [(DOCS_DIR / FIGURES_SUBDIR / name, (RESULTS_DIR / name).read_bytes()) for name in figures]
    for target, content in outputs:
        if check:
            if not target.is_file() or target.read_bytes() != content:
                stale.append(str(target.relative_to(REPO_ROOT)))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    if stale:
        raise CitationError(
            f"stale playbook file(s), regenerate with `python -m helpers playbook`: {', '.join(sorted(set(stale)))}"
        )
    return written


def build_site(site_dir: str | Path) -> Path:
    """Build the static HTML site (MkDocs, strict: a broken link or a missing image is an error)."""
    site_dir = Path(site_dir).resolve()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--clean",
            "-f",
            str(PLAYBOOK_DIR / "mkdocs.yml"),
            "-d",
            str(site_dir),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mkdocs build failed:\n{done.stderr[-3000:]}")
    return site_dir / "index.html"
