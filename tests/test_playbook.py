import json
import re

import pytest

from helpers.course import playbook


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
    assert playbook.render("page.md")[0].endswith("50.0%")
    (templates / "page.md").write_text('{{ value("cpu/x", "metrics.f1.mean") }}')
    with pytest.raises(playbook.CitationError, match=r"no 'f1' in path 'metrics.f1.mean'"):
        playbook.render("page.md")


NUMBER = re.compile(r"(?<![\w.\-/])[-+−]?\d[\d,]*(?:\.\d+)?(?![\w\-/]|\.\d)")


def uncited_numbers(text: str) -> list[str]:
    """Numbers a traced page prints that did not come from a result file or an explicit literal()."""
    text = re.sub(f"{playbook.CITED}.*?{playbook.CITED}", " ", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)  # the generated-file header
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link and image targets (file names)
    text = re.sub(r"`[^`]*`", " ", text)  # code: commands, paths, function names
    text = re.sub(r"95% (CI|interval|confidence)", " ", text)  # the interval level, a convention
    text = re.sub(r"^#+ Rule \d+", " ", text, flags=re.M)  # rule numbering
    text = re.sub(r"^\s*\d+\. ", " ", text, flags=re.M)  # numbered lists
    text = re.sub(r"\bnotebooks? \d\d( to \d\d)?\b", " ", text, flags=re.I)  # notebook names ("notebook 02")
    text = re.sub(r"\bper 1,000\b", " ", text)  # a unit ("USD per 1,000 requests")
    return NUMBER.findall(text)


@pytest.mark.parametrize("template", sorted(p.name for p in playbook.TEMPLATES_DIR.glob("*.md")))
def test_every_number_a_page_prints_comes_from_a_result_file(template):
    text, _ = playbook.render(template, trace=True)
    assert uncited_numbers(text) == [], (
        f"{template} prints numbers typed by hand; cite them with value()/filters or mark them literal()"
    )


def test_the_number_check_catches_a_typed_number():
    cited = f"{playbook.CITED}42.0%{playbook.CITED}"
    assert uncited_numbers(f"accuracy {cited} (95% CI {cited} to {cited}) with 500 examples") == ["500"]
    assert uncited_numbers("banking77 on SmolLM2-135M, see [fig](figures/cpu/01_x.png) and `--only 05`") == []


def test_a_result_run_with_other_parameters_than_the_defaults_is_stale(tmp_path, monkeypatch):
    from helpers.course.profiles import NOTEBOOK_DEFAULTS

    templates, results = tmp_path / "templates", tmp_path / "results"
    templates.mkdir()
    (results / "cpu").mkdir(parents=True)
    (templates / "page.md").write_text('{{ value("cpu/00_quickstart", "metrics.acc") }}')
    monkeypatch.setattr(playbook, "TEMPLATES_DIR", templates)
    monkeypatch.setattr(playbook, "RESULTS_DIR", results)
    monkeypatch.setattr(playbook, "REPO_ROOT", tmp_path)
    record = {
        "experiment": "00_quickstart",
        "profile": "cpu",
        "parameters": dict(NOTEBOOK_DEFAULTS["quickstart"]["cpu"]),
        "metrics": {"acc": 1},
    }
    (results / "cpu" / "00_quickstart.json").write_text(json.dumps(record))
    assert playbook.render("page.md")[0].endswith("1")
    record["parameters"]["n_train"] += 1
    (results / "cpu" / "00_quickstart.json").write_text(json.dumps(record))
    with pytest.raises(playbook.CitationError, match=r"00_quickstart.json, which is stale \(n_train was"):
        playbook.render("page.md")


def test_the_site_builds_with_every_page_and_figure(tmp_path):
    index = playbook.build_site(tmp_path / "site")
    pages = {p.stem for p in playbook.DOCS_DIR.glob("*.md")}
    assert {p.stem for p in (tmp_path / "site").glob("*.html")} >= pages
    html = index.read_text()
    assert "Fine-tuning myths" in html
    for page in (tmp_path / "site").glob("*.html"):
        for image in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text()):
            assert (page.parent / image).is_file(), f"{page.name} shows {image}, which the site lacks"
