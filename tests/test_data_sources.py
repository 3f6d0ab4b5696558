import pytest

from helpers.core.paths import data_dir
from helpers.data import sources as data_sources
from helpers.data.task_library import banking77_task

needs_data = pytest.mark.skipif(
    data_dir() is None or not (data_dir() / "banking77").is_dir(), reason="no local banking77 copy"
)


def write_banking(folder, train_rows, test_rows=("hello,card_arrival",)):
    folder.mkdir()
    (folder / "train.csv").write_text("text,category\n" + "\n".join(train_rows) + "\n")
    (folder / "test.csv").write_text("text,category\n" + "\n".join(test_rows) + "\n")
    return folder


def test_empty_field_names_file_line_and_field(tmp_path):
    folder = write_banking(tmp_path / "banking77", ["fine,card_arrival", "no label,"])
    with pytest.raises(ValueError, match=r"train.csv, line 3: field 'category' is empty"):
        data_sources.load_banking77(folder)


def test_missing_folder_and_offline_hub_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(data_sources.DatasetNotAvailableError, match="does not exist"):
        data_sources.load_banking77(tmp_path / "nope")
    monkeypatch.setenv("FT_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(data_sources.DatasetNotAvailableError, match="FT_COURSE_DATA"):
        data_sources.load_banking77()


@needs_data
def test_banking77_task_is_balanced_and_noise_is_exact():
    clean = banking77_task(n_intents=4, n_train=80, n_eval=40)
    noisy = banking77_task(n_intents=4, n_train=80, n_eval=40, label_noise=0.25)
    assert clean.labels == noisy.labels and len(clean.labels) == 4
    assert sorted(ex.reference for ex in clean.eval).count(clean.labels[0]) == 10
    flipped = sum(ex.reference != ex.meta["true_label"] for ex in noisy.train)
    assert flipped == 20
    assert [ex.meta["true_label"] for ex in noisy.train] == [ex.reference for ex in clean.train]
    assert clean.dataset_info()["eval_sha256"] == noisy.dataset_info()["eval_sha256"]


@needs_data
def test_every_quickstart_profile_fits_the_data():
    from helpers.course.profiles import PROFILES, settings

    for profile in PROFILES:
        cfg = settings("quickstart", profile)
        task = banking77_task(n_intents=cfg.n_intents, n_train=cfg.n_train, n_eval=cfg.n_eval)
        assert len(task.train) == cfg.n_train and len(task.eval) == cfg.n_eval
