"""The online branch of every dataset loader: the pinned upstream files, fetched into the cache, parse to
exactly the rows the local copy gives. The "download" reads a file:// mirror of the local copies laid out
as GitHub's raw URLs, so the URL construction, the download, the hash check and the cache are all real."""

import shutil

import pytest

from helpers.core.paths import data_dir
from helpers.data import clinc150, entity_questions, sources, upstream
from helpers.data.sources import DatasetNotAvailableError
from helpers.data.upstream_files import UPSTREAM

LOCAL = data_dir()
needs_data = pytest.mark.skipif(
    LOCAL is None or not all((LOCAL / name).is_dir() for name in UPSTREAM), reason="no local dataset copies"
)


def _mirror(root, names=tuple(UPSTREAM)):
    """A file:// tree shaped like raw.githubusercontent.com/<repo>/<commit>/<folder>/<file>."""
    for name in names:
        spec = UPSTREAM[name]
        for relative in spec["files"]:
            target = root / spec["repository"] / spec["commit"] / spec["folder"] / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(LOCAL / name / relative, target)
    return root


@pytest.fixture
def online(tmp_path, monkeypatch):
    """No local copy, downloads allowed, the raw-file host replaced by a local mirror; yields the mirror."""
    (tmp_path / "no-local-copies").mkdir()
    monkeypatch.setenv("FT_COURSE_DATA", str(tmp_path / "no-local-copies"))
    monkeypatch.setenv("FT_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(upstream, "RAW_BASE", mirror.as_uri())
    return mirror


def _rows(loaded: dict) -> dict:
    return {key: value for key, value in loaded.items() if key != "source"}


@needs_data
def test_banking77_online_rows_equal_the_local_copy(online):
    _mirror(online, ["banking77"])
    fetched = sources.load_banking77()
    assert fetched["source"]["origin"].startswith("github:PolyAI-LDN/task-specific-datasets@57ec275d8078")
    assert _rows(fetched) == _rows(sources.load_banking77(LOCAL / "banking77"))


@needs_data
def test_clinc150_online_rows_equal_the_local_copy(online):
    _mirror(online, ["clinc150"])
    assert _rows(clinc150.load_clinc150()) == _rows(clinc150.load_clinc150(LOCAL / "clinc150"))


@needs_data
def test_mmlu_redux_online_is_version_2_with_57_subjects_and_equals_the_local_copy(online):
    _mirror(online, ["mmlu_redux"])
    fetched = sources.load_mmlu_redux()
    local = sources.load_mmlu_redux(LOCAL / "mmlu_redux")
    assert fetched["questions"] == local["questions"]
    assert len({q["subject"] for q in fetched["questions"]}) == 57
    some = sources.load_mmlu_redux(subjects=["anatomy", "virology"])
    assert {q["subject"] for q in some["questions"]} == {"anatomy", "virology"}
    with pytest.raises(DatasetNotAvailableError, match="no subject"):
        sources.load_mmlu_redux(subjects=["astrology"])


@needs_data
def test_entity_questions_online_fetches_only_the_needed_files(online, tmp_path):
    _mirror(online, ["entity_questions"])
    fetched = entity_questions.load_entity_questions("dev", relations=["P36", "P50"])
    local = entity_questions.load_entity_questions("dev", relations=["P36", "P50"], folder=LOCAL / "entity_questions")
    assert fetched["questions"] == local["questions"]
    cached = sorted(p.relative_to(tmp_path / "cache").as_posix() for p in (tmp_path / "cache").rglob("*.json"))
    assert cached == ["datasets/entity_questions/dev/P36.dev.json", "datasets/entity_questions/dev/P50.dev.json"]


@needs_data
def test_files_are_downloaded_once_then_read_from_the_cache(online, monkeypatch):
    _mirror(online, ["clinc150"])
    calls = []
    real = upstream.download
    monkeypatch.setattr(upstream, "download", lambda url, dest: (calls.append(url), real(url, dest)))
    clinc150.load_clinc150()
    clinc150.load_clinc150()
    assert len(calls) == 1 and calls[0].endswith("/828f8093932c8fe6ca7936c3d2e52903b1c523de/data/data_full.json")


@needs_data
def test_a_file_whose_hash_differs_is_refused_and_removed(online, tmp_path):
    _mirror(online, ["clinc150"])
    spec = UPSTREAM["clinc150"]
    (online / spec["repository"] / spec["commit"] / spec["folder"] / "data_full.json").write_text('{"train": []}')
    with pytest.raises(DatasetNotAvailableError, match="sha256"):
        clinc150.load_clinc150()
    assert not (tmp_path / "cache" / "datasets" / "clinc150" / "data_full.json").exists()


def test_offline_without_a_local_copy_names_both_remedies_and_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("FT_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(upstream, "download", lambda url, dest: pytest.fail("must not download while offline"))
    for load in (sources.load_banking77, sources.load_mmlu_redux, clinc150.load_clinc150):
        with pytest.raises(DatasetNotAvailableError, match="FT_COURSE_DATA.*HF_HUB_OFFLINE=1"):
            load()


def test_an_unreachable_host_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("FT_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(upstream, "RAW_BASE", (tmp_path / "nowhere").as_uri())
    with pytest.raises(DatasetNotAvailableError, match="could not download .*data_full.json"):
        clinc150.load_clinc150()
    assert list((tmp_path / "cache" / "datasets" / "clinc150").iterdir()) == []  # no partial file left


def test_the_pinned_table_matches_the_local_copies():
    """upstream_files.py was generated from the local copies; they must still agree byte for byte."""
    if LOCAL is None:
        pytest.skip("no local dataset copies")
    import hashlib

    for name, spec in UPSTREAM.items():
        if not (LOCAL / name).is_dir():
            continue
        for relative, digest in spec["files"].items():
            assert hashlib.sha256((LOCAL / name / relative).read_bytes()).hexdigest() == digest, (name, relative)
