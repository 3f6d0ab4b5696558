import json
import math

import numpy as np

from helpers.core import records


def test_record_carries_provenance_and_is_strict_json(tmp_path):
    record = records.build_record(
        experiment="x",
        profile="smoke",
        parameters={"n": np.int64(3)},
        models=[{"name": "tiny", "content_hash": "h"}],
        datasets=[{"task": "t", "train_sha256": "d"}],
        seeds=[0],
        metrics={"acc": {"mean": np.float64(0.5), "nan": math.nan}},
        timings={"total_seconds": 1.0},
    )
    for key in (
        "parameters",
        "profile",
        "models",
        "datasets",
        "seeds",
        "packages",
        "device",
        "timings",
        "created_utc",
        "git_commit",
    ):
        assert key in record
    assert record["is_finding"] is False and "SMOKE" in record["label"]
    assert record["packages"]["torch"].startswith("2.13.0")
    path = records.write_record(record, tmp_path)
    loaded = json.loads(path.read_text())
    assert loaded["metrics"]["acc"] == {"mean": 0.5, "nan": None}
    assert loaded["parameters"]["n"] == 3
