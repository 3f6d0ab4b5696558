"""Render the playbook: Markdown templates whose numbers are read from the committed result files.

Templates (playbook/templates/*.md) use Jinja2 with these helpers:
  value("cpu/01_data_size", "metrics.intake.clean-48.field_f1.mean")  -> the number at that path
  pct(x), num(x, digits)                                              -> formatting
  verdict("cpu/01_data_size", i)                                      -> the i-th verdict dict
  source("cpu/01_data_size")                                          -> a one-line provenance citation
A missing result file or path is an error that names the template, the file and the path.
"""

from __future__ import annotations

import json
from pathlib import Path

from .paths import REPO_ROOT, RESULTS_DIR

PLAYBOOK_DIR = REPO_ROOT / "playbook"
TEMPLATES_DIR = PLAYBOOK_DIR / "templates"
DOCS_DIR = PLAYBOOK_DIR / "docs"


class CitationError(LookupError):
    pass


def _load(result: str, template: str) -> dict:
    path = RESULTS_DIR / f"{result}.json"
    if not path.is_file():
        raise CitationError(f"{template}: cites {path.relative_to(REPO_ROOT)}, which does not exist; run the notebook with --publish")
    return json.loads(path.read_text())


def _walk(record: dict, dotted: str, where: str):
    node = record
    for key in dotted.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise CitationError(f"{where}: no '{key}' in path '{dotted}'")
    return node


def render(template_name: str) -> str:
    import jinja2

    def value(result, dotted):
        return _walk(_load(result, template_name), dotted, f"{template_name}: results/{result}.json")

    def verdict(result, index):
        return _walk(_load(result, template_name), f"verdicts.{index}", f"{template_name}: results/{result}.json")

    def source(result):
        record = _load(result, template_name)
        model = record["models"][0]
        device = record["device"].get("accelerator", "")
        device = device if device and not device.startswith("none") else f"CPU ({record['device'].get('cpu', 'unknown')}, {record['device'].get('cpu_count')} cores)"
        return (f"`results/{result}.json`: notebook {record['experiment']}, {record['profile']} profile, model {model['name']} "
                f"(sha256 {model['content_hash'][:12]}), seeds {record['seeds']}, {device}, {record['created_utc'][:10]}")

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["pct"] = lambda x, digits=1: f"{100 * x:.{digits}f}%"
    env.filters["pts"] = lambda x, digits=1: f"{100 * x:+.{digits}f} points"
    env.filters["num"] = lambda x, digits=1: f"{x:.{digits}f}"
    header = f"<!-- generated from playbook/templates/{template_name} by `python -m helpers playbook`; edit the template -->\n"
    return header + env.get_template(template_name).render(value=value, verdict=verdict, source=source)


def build(check: bool = False) -> list[Path]:
    """Render every template into playbook/docs; with check=True, fail if a committed page is stale."""
    DOCS_DIR.mkdir(parents=True, exist_ok=True)
    written, stale = [], []
    for template in sorted(TEMPLATES_DIR.glob("*.md")):
        text = render(template.name)
        target = DOCS_DIR / template.name
        if check:
            if not target.is_file() or target.read_text() != text:
                stale.append(str(target.relative_to(REPO_ROOT)))
            continue
        target.write_text(text)
        written.append(target)
    if stale:
        raise CitationError(f"stale playbook page(s), regenerate with `python -m helpers playbook`: {', '.join(stale)}")
    return written
