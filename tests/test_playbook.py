import json

import pytest

from helpers import playbook


def test_committed_playbook_pages_match_the_result_files():
    # Every number on the pages is re-read from results/ and the pages must equal a fresh render.
    playbook.build(check=True)


def test_missing_result_or_path_names_the_template_file_and_path(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "page.md").write_text('{{ value("cpu/x", "metrics.acc.mean") | pct }}')
    results = tmp_path / "results"
    (results / "cpu").mkdir(parents=True)
    monkeypatch.setattr(playbook, "TEMPLATES_DIR", templates)
    monkeypatch.setattr(playbook, "RESULTS_DIR", results)
    monkeypatch.setattr(playbook, "REPO_ROOT", tmp_path)
    with pytest.raises(playbook.CitationError, match=r"page.md: cites results/cpu/x.json, which does not exist"):
        playbook.render("page.md")
    (results / "cpu" / "x.json").write_text(json.dumps({"metrics": {"acc": {"mean": 0.5}}}))
    assert playbook.render("page.md").endswith("50.0%")
    (templates / "page.md").write_text('{{ value("cpu/x", "metrics.f1.mean") }}')
    with pytest.raises(playbook.CitationError, match=r"no 'f1' in path 'metrics.f1.mean'"):
        playbook.render("page.md")
