import json
import re
import shutil

import pytest

from helpers.course import playbook, playbook_wording


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


# ---- verdicts cited by id ---------------------------------------------------------------------------

TEMPLATES = sorted(p.name for p in playbook.TEMPLATES_DIR.glob("*.md"))
STATUSES = playbook_wording.STATUSES


def _one_page(tmp_path, monkeypatch, source: str) -> None:
    templates = tmp_path / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "page.md").write_text(source)
    monkeypatch.setattr(playbook, "TEMPLATES_DIR", templates)


def test_a_citation_of_a_missing_verdict_id_names_the_template_file_and_id(tmp_path, monkeypatch):
    _one_page(tmp_path, monkeypatch, '{{ verdict("cpu/02_peft_cost", "02.no_such_claim").status }}')
    with pytest.raises(playbook.CitationError) as raised:
        playbook.render("page.md")
    message = str(raised.value)
    assert "page.md" in message and "results/cpu/02_peft_cost.json" in message and "'02.no_such_claim'" in message
    assert "02.lora_memory_saving" in message  # the ids that exist
    _one_page(tmp_path, monkeypatch, '{{ verdict("cpu/02_peft_cost", 1).status }}')  # a position is no id
    with pytest.raises(playbook.CitationError, match=r"no verdict with id 1"):
        playbook.render("page.md")
    _one_page(tmp_path, monkeypatch, '{{ verdict("cpu/02_peft_cost", "02.lora_memory_saving").status }}')
    assert playbook.render("page.md")[0].endswith("not supported")


@pytest.mark.parametrize("template", TEMPLATES)
def test_templates_cite_verdicts_by_id_never_by_position(template):
    source = (playbook.TEMPLATES_DIR / template).read_text()
    # a number or an expression as the id, or an index into a list of verdicts
    positional = re.findall(
        r"verdict\([^,()]+,\s*[\d(-][^)]*\)?|verdicts\s*\[|verdicts\.\d|\"verdicts\"\)\s*\[", source
    )
    assert positional == [], f"{template} picks verdicts by position: {positional}"


# ---- wording follows status -------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_page_renders_with_every_verdict_forced_to_each_status(template, status):
    page = playbook.render_page(template, trace=True, forced_status={"*": status})
    assert uncited_numbers(page.text) == [], f"{template} under {status!r} prints numbers typed by hand"
    for call in page.findings.calls:
        assert call.shown == call.texts[status], f"{template}: finding on {call.verdict_id} ignored the status"


def _texts_of_other_statuses(page: playbook.Page, verdict_id: str, status: str) -> list[str]:
    """Texts the page registered for verdict_id under another status that it must not show: texts
    that equal or lie inside a text the page did show are left out (a shared phrase is no leak)."""
    shown = [call.shown for call in page.findings.calls]
    return [
        text
        for call in page.findings.calls
        if call.verdict_id == verdict_id
        for other, text in call.texts.items()
        if other != status and text.strip() and not any(text in s for s in shown)
    ]


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_cited_verdict_forced_alone_shows_only_its_status_texts(template):
    cited = sorted(playbook.render_page(template).cited)
    assert cited, f"{template} cites no verdict"
    for verdict_id in cited:
        for status in STATUSES:
            page = playbook.render_page(template, forced_status={verdict_id: status})
            for call in page.findings.calls:
                if call.verdict_id == verdict_id:
                    assert call.shown == call.texts[status]
            leaks = [t for t in _texts_of_other_statuses(page, verdict_id, status) if t in page.text]
            assert leaks == [], f"{template} with {verdict_id} {status!r} shows text meant for another status: {leaks}"


def test_forcing_a_status_changes_the_status_word_in_the_verdicts_own_text():
    text = playbook.render("data.md", forced_status={"01.intake.more_clean_data_helps": "not run"})[0]
    assert "beat 8 on field_f1: NOT RUN." in text and "beat 8 on field_f1: SUPPORTED." not in text
    with pytest.raises(ValueError, match="forced status"):
        playbook.render("data.md", forced_status={"*": "proven"})


# Phrases that assert a finding. A sentence or heading that reads the same whatever the cited verdicts'
# statuses must contain none of them: it would assert the finding even where the verdict does not
# support it. Built from the review's examples (each is caught, see the test below) and the verbs the
# claims use; words that also describe the method ("trained", "compared", "measured") are not in it.
FINDING_PHRASES = [
    r"saved (no )?memory",
    r"would have",
    r"(was|were) ahead",
    r"fired late",
    r"(was|were) in time",
    r"keep documents",
    r"try first",
    r"not because the effect",
    r"beats?",
    r"helps",
    r"(is|was|are|were) within",
    r"within the (margin|noise)",
    r"(?<!-)match(es|ed)",  # not a compound like "size-matched" (an arm's name in a table)
    r"outperform\w*",
    r"forg(ets|ot|otten)",
    r"(does|did) not (stay|make)",
    r"prefer",
    r"decay(s|ed)",
    r"restor(es|ed)",
    r"prevent(s|ed)",
    r"cuts",
    r"hurts?",
    r"removes the harm",
    r"more reliable",
    r"pa(ys|id) off",
    r"repays",
    r"catches",
    r"stored",
]
FINDING_WORDS = re.compile(r"\b(" + "|".join(FINDING_PHRASES) + r")\b", re.I)


def _sentences(text: str) -> set[str]:
    """The page's headings and sentences. A table row stays whole, so a claim quoted in a row beside
    its status counts as one unit with the status."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    units = set()
    for line in text.splitlines():
        line = re.sub(r"^\s*(#+|-( \[ \])?|\d+\.)\s*", "", line).strip()
        if line.startswith("|"):
            units.add(line)
            continue
        units.update(s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip())
    return units


def _verdict_report_sentences() -> set[str]:
    """Sentences of the verdicts' own texts (computed by the run from its numbers, e.g. a chance note),
    which a page quotes as they are: they are measurements, not the template's prose."""
    units = set()
    for path in sorted((playbook.RESULTS_DIR).glob("*/*.json")):
        for v in json.loads(path.read_text()).get("verdicts", []):
            units |= _sentences(v.get("text", ""))
    return units


def status_invariant_assertions(template: str) -> list[str]:
    """Sentences and headings identical under every forced status that contain a finding phrase
    (the verdicts' own computed sentences aside)."""
    renders = [_sentences(playbook.render(template, forced_status={"*": status})[0]) for status in STATUSES]
    invariant = set.intersection(*renders) - _verdict_report_sentences()
    return sorted(unit for unit in invariant if FINDING_WORDS.search(unit))


def test_finding_words_find_a_claim_of_matching_but_not_an_arm_named_size_matched():
    assert FINDING_WORDS.search("LoRA matched full fine-tuning.")
    assert not FINDING_WORDS.search("| real + unvalidated course model, size-matched | 70 to 80 | 63% |")


@pytest.mark.parametrize("template", TEMPLATES)
def test_no_sentence_asserts_a_finding_whatever_the_status(template):
    assert status_invariant_assertions(template) == [], (
        f"{template} states a finding in fixed text; write it through finding(v, supported=..., ...)"
    )


REVIEW_EXAMPLES = [
    "Estimate memory before choosing: at 135M on a CPU, LoRA saved no memory.",
    "## Rule 4: PEFT saved no memory at 135M; the savings come with model size",
    "A LoRA run at full fine-tuning's rate would have lost for the wrong reason.",
    "Compare the two on a validation split: here full fine-tuning was ahead.",
    "Here the drift monitor alone fired late, with the canary it was in time.",
    "- [ ] Keep documents that change in retrieval rather than in the weights.",
    "| it hallucinates | try first: retrieval plus an instruction to abstain |",
    "- **Fine-tuning does not make a model know what it was not taught.**",
    "- **A fine-tuned model does not stay right by itself.**",
    "- **Retraining on new data alone forgets what still holds.**",
    "## Rule 1: prefer a small clean set to a larger noisy one, and check that on your own data",
    "Several verdicts in this course are inconclusive for that reason, not because the effect is absent.",
    "Serving it instead of the large model repays that after many requests.",
]


@pytest.mark.parametrize("example", REVIEW_EXAMPLES)
def test_the_status_invariant_check_catches_each_example_from_the_review(example, tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    shutil.copytree(playbook.TEMPLATES_DIR, templates)
    (templates / "decide.md").write_text((templates / "decide.md").read_text() + "\n" + example + "\n")
    monkeypatch.setattr(playbook, "TEMPLATES_DIR", templates)
    assert status_invariant_assertions("decide.md") != []
