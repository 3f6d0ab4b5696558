"""Readable copies of executed notebooks: outputs kept, progress and widget state dropped, provenance on top."""

import json

from helpers.course import executed

RECORD = {
    "profile": "cpu",
    "created_utc": "2026-12-02T08:00:00",
    "models": [{"name": "smollm2-135m"}],
    "seeds": [0],
    "device": {"accelerator": "none (CPU)", "cpu": "AMD EPYC", "cpu_count": 2},
    "timings": {"notebook_seconds": 300.0},
    "git_commit": "abc123",
}


def code(source, outputs, **metadata):
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": outputs, "execution_count": 1}


def notebook():
    widget = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "Loading: 0%|"},
    }
    bar = {"output_type": "stream", "name": "stderr", "text": "train:  50%|#####     | 1/2 [00:01<00:01]\r"}
    trainer = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": "<progress value='2' max='4'></progress>", "text/plain": "<HTML>"},
    }
    printed = {"output_type": "stream", "name": "stdout", "text": "accuracy 25.8%\n"}
    warning = {"output_type": "stream", "name": "stderr", "text": "UserWarning: 4 examples dropped\n"}
    return {
        "metadata": {
            "widgets": {"state": {"x": {}}},
            "papermill": {"duration": 3.2},
            "kernelspec": {"name": "python3"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": [
            code("train()", [widget, bar, trainer, printed, warning], papermill={"duration": 1.0}, execution={"t": 1}),
            code('nb.save_figure(fig, "00_quickstart.png")\nplt.show()', []),
        ],
    }


def test_a_readable_copy_keeps_results_and_drops_what_changes_every_run(tmp_path):
    (tmp_path / "00_quickstart.png").write_bytes(b"\x89PNG fake")
    copy = executed.readable_copy(notebook(), RECORD, "00_quickstart", tmp_path)
    header, trained, plotted = copy["cells"]
    assert "published **cpu** run" in header["source"] and "abc123" in header["source"]
    assert "results/cpu/00_quickstart.json" in header["source"] and "5.0 min" in header["source"]
    assert [o.get("text") for o in trained["outputs"]] == ["accuracy 25.8%\n", "UserWarning: 4 examples dropped\n"]
    assert trained["metadata"] == {}
    assert (
        "widgets" not in copy["metadata"] and "papermill" not in copy["metadata"] and "kernelspec" in copy["metadata"]
    )
    assert plotted["outputs"][0]["data"]["text/plain"] == "00_quickstart.png"  # drawn without an inline backend


def test_a_figure_drawn_inline_is_not_added_twice(tmp_path):
    (tmp_path / "00_quickstart.png").write_bytes(b"\x89PNG fake")
    source = notebook()
    source["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": "AAA"}}]
    plotted = executed.readable_copy(source, RECORD, "00_quickstart", tmp_path)["cells"][2]
    assert len(plotted["outputs"]) == 1


def test_keep_executed_writes_only_notebooks_with_a_result(tmp_path):
    run_dir, results = tmp_path / "run", tmp_path / "run" / "results"
    results.mkdir(parents=True)
    for name in ("00_quickstart", "01_data_size"):
        (run_dir / f"{name}.ipynb").write_text(json.dumps(notebook()))
    (results / "00_quickstart.json").write_text(json.dumps(RECORD))
    written = executed.keep_executed(run_dir, results, ["00_quickstart", "01_data_size"])
    assert [p.name for p in written] == ["00_quickstart.ipynb"]
    assert json.loads(written[0].read_text())["cells"][0]["id"] == "published-run"
