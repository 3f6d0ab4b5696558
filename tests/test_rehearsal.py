"""Rehearsals keep a GPU tier's branches and grid shapes, with local stand-in models and smoke-sized data."""

import pytest

from helpers.core.records import build_record, smoke_labelled
from helpers.course import profiles, rehearsal


@pytest.mark.parametrize("tier", rehearsal.REHEARSED_TIERS)
@pytest.mark.parametrize("notebook", list(profiles.NOTEBOOK_DEFAULTS))
def test_a_rehearsal_keeps_the_tiers_branches_and_grid_shapes_with_smoke_sizes(notebook, tier):
    tier_cfg = vars(profiles.settings(notebook, tier))
    smoke = vars(profiles.settings(notebook, "smoke"))
    cfg = vars(profiles.settings(notebook, rehearsal.profile_name(tier)))
    assert cfg.pop("profile") == f"rehearse-{tier}"
    for key, value in cfg.items():
        if key in rehearsal.KEEP:
            assert value == tier_cfg[key], key
        elif key in rehearsal.OFF and tier_cfg[key] == rehearsal.OFF[key]:
            assert value == rehearsal.OFF[key], key  # a branch the tier has off stays off
        elif key == "seeds":
            assert len(value) >= 2, "every branch that pools seeds must run"
        elif key == "model":
            assert value in ("tiny", smoke[key]), value  # never a hub download or a large random model
        elif key in rehearsal.SMOKE_MODEL_LISTS:
            assert value == smoke[key]
        elif isinstance(value, list):
            assert len(value) == len(tier_cfg[key]), key  # every arm of the tier's grid
            assert max(value, default=0) <= max(smoke[key], default=0), key
        else:
            assert value == smoke[key], key  # sizes, steps and tokens are the smoke profile's


def test_shaped_spreads_smoke_sizes_over_the_tiers_length():
    assert rehearsal.shaped([4, 8], 2) == [4, 8]
    assert rehearsal.shaped([4, 8], 3) == [2, 5, 8]
    assert rehearsal.shaped([8], 4) == [4, 5, 7, 8]
    values = rehearsal.shaped([1], 3)
    assert values == sorted(set(values)) and len(values) == 3
    assert rehearsal.shaped(["P17", "P36"], 3) == ["P17", "P36", "P17"]


def test_stand_ins_are_local():
    assert rehearsal.stand_in("HuggingFaceTB/SmolLM2-1.7B-Instruct") == "tiny"
    assert rehearsal.stand_in("random:Qwen2.5-7B") == "tiny"
    assert rehearsal.stand_in("smollm2-135m") == "smollm2-135m"
    assert rehearsal.stand_in("/models/mine") == "/models/mine"


def test_unknown_tiers_and_profiles_are_refused():
    with pytest.raises(ValueError, match="rehearsals exist for t4, gpu"):
        rehearsal.profile_name("full")
    assert not rehearsal.is_rehearsal("rehearse-full") and not rehearsal.is_rehearsal("cpu")
    with pytest.raises(ValueError, match="or a rehearsal: rehearse-t4, rehearse-gpu"):
        profiles.settings("quickstart", "rehearse-full")


def test_a_rehearsals_results_are_never_findings():
    record = build_record(
        experiment="00_quickstart",
        profile="rehearse-gpu",
        parameters={},
        models=[],
        datasets=[],
        seeds=[0, 1],
        metrics={},
        timings={},
    )
    assert record["is_finding"] is False and record["label"].startswith("REHEARSAL of the gpu tier")
    assert smoke_labelled("claim", "rehearse-t4").startswith("[REHEARSAL of the t4 tier")
    assert smoke_labelled("claim", "gpu") == "claim"


def test_a_rehearsal_is_never_published(tmp_path):
    from helpers.course.runner import run_course

    with pytest.raises(SystemExit, match="never published"):
        run_course("rehearse-t4", only=["00"], run_dir=tmp_path / "run", publish=True)
