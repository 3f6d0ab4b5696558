"""The evaluation benchmark: every path on every kind of set, agreement listed answer by answer."""

import json

from helpers.course import eval_benchmark


def test_compare_paths_lists_every_changed_answer_and_the_speed_up():
    runs = {
        "naive": {
            "answers": ["a", "b", "c", "d"],
            "seconds": 4.0,
            "items_per_second": 1.0,
            "generated_tokens_per_second": 3,
        },
        "course default": {
            "answers": ["a", "x", "c", "d"],
            "seconds": 1.0,
            "items_per_second": 4.0,
            "generated_tokens_per_second": 12,
        },
    }
    rows = {row["path"]: row for row in eval_benchmark.compare_paths(runs)}
    assert rows["naive"]["speed_up"] == 1.0 and rows["naive"]["identical_share"] == 1.0
    default = rows["course default"]
    assert default["speed_up"] == 4.0 and default["identical_share"] == 0.75
    assert default["changed"] == [{"item": 1, "naive": "b", "course default": "x"}]


def test_the_smoke_benchmark_writes_a_record_with_every_set_and_path(tmp_path):
    assert eval_benchmark.run("smoke", run_dir=tmp_path) == 0
    record = json.loads((tmp_path / "results" / "benchmark_eval.json").read_text())
    comparison = record["metrics"]["comparison"]
    assert set(comparison) == {"banking77 labels", "client-intake JSON", "short answers with retrieval"}
    for rows in comparison.values():
        assert [r["path"] for r in rows] == list(eval_benchmark.PATHS)
        assert all(0.0 <= r["identical_share"] <= 1.0 and r["items_per_second"] > 0 for r in rows)
    shapes = record["metrics"]["prompt_shapes"]
    assert shapes["banking77 labels"]["shared_prefix_tokens"] > 16  # the label list is shared by every prompt
    assert "SMOKE" in record["headline"]["label"] or record["profile"] == "smoke"
    assert (tmp_path / "results" / "benchmark_eval.png").is_file()
    [option] = record["metrics"]["label_likelihood_option"].values()  # only the label set has a closed label list
    assert option["path"] == "label likelihood (option)" and option["items_per_second"] > 0
    assert len(option["changed"]) == round((1 - option["same_label_share"]) * shapes["banking77 labels"]["items"])
    assert 0.0 <= option["accuracy"] <= 1.0 and 0.0 <= option["greedy_accuracy"] <= 1.0
