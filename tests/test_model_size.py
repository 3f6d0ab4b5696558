import numpy as np
import pytest

from helpers.core import cost_model
from helpers.core.inference_cost import RANDOM, REAL, InferenceSpec, cost_per_1k_requests, measure, random_weight_model
from helpers.experiments import nb05_model_size as model_size
from helpers.experiments import verdict
from helpers.experiments.arms import ArmResult
from helpers.experiments.nb05_model_size import Candidate


def test_pareto_front_keeps_only_undominated_points():
    # (cost, score): the second is cheaper and better than the first; the third is dearer but best
    assert model_size.pareto_front([(2.0, 0.5), (1.0, 0.6), (3.0, 0.9), (3.0, 0.8)]) == [False, True, True, False]
    assert model_size.pareto_front([(1.0, 0.5), (1.0, 0.5)]) == [True, True]  # ties dominate nothing


def test_cheapest_meeting_needs_the_whole_interval_above_the_bar():
    arms = [
        {"arm": "small", "cost_per_1k": 0.1, "score": {"mean": 0.9, "ci_low": 0.79, "ci_high": 0.97}},
        {"arm": "large", "cost_per_1k": 1.0, "score": {"mean": 0.88, "ci_low": 0.81, "ci_high": 0.93}},
    ]
    assert model_size.cheapest_meeting(arms, 0.8)["arm"] == "large"
    assert model_size.cheapest_meeting(arms, 0.75)["arm"] == "small"
    assert model_size.cheapest_meeting(arms, 0.95) is None


def test_price_per_thousand_requests_follows_throughput():
    assert cost_per_1k_requests(1.0, 3.6) == pytest.approx(1.0)  # 1,000 s of a 3.6 USD/hour machine
    assert cost_per_1k_requests(10.0, 3.6) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        cost_per_1k_requests(0.0, 1.0)


def test_break_even_is_none_when_the_small_model_is_not_cheaper():
    assert model_size.break_even_requests(1.0, 0.1, 1.1) == pytest.approx(1000)
    assert model_size.break_even_requests(1.0, 0.2, 0.1) is None


@pytest.mark.parametrize(
    "name,expected",
    [
        ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "SmolLM2-1.7B"),
        ("Qwen2.5-7B", "Qwen2.5-7B"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen2.5-0.5B"),
        ("someone/unknown-3B", None),
    ],
)
def test_published_architectures_are_found_by_model_name(name, expected):
    arch = cost_model.architecture_for(name)
    assert (arch.name if arch else None) == expected


@pytest.mark.parametrize("name", ["SmolLM2-360M", "Qwen2.5-0.5B"])
def test_random_weight_models_have_the_published_parameter_count(name):
    from transformers import AutoModelForCausalLM

    arch = cost_model.KNOWN_ARCHITECTURES[name]
    model = AutoModelForCausalLM.from_config(arch.to_transformers_config())
    assert sum(p.numel() for p in model.parameters()) == arch.params()


def test_candidates_offline_are_timed_not_scored_and_sorted_by_size():
    found = model_size.find_candidates(["HuggingFaceTB/SmolLM2-360M-Instruct", "tiny"])
    assert [c.name for c in found] == ["tiny", "HuggingFaceTB/SmolLM2-360M-Instruct"]
    tiny, offline = found
    assert tiny.scored and tiny.weights == REAL
    assert not offline.available and not offline.scored and offline.weights == RANDOM and "offline" in offline.reason
    capped = model_size.find_candidates(["tiny"], max_scored_params_m=0.1)[0]
    assert not capped.scored and "cap" in capped.reason
    with pytest.raises(ValueError, match="someone/unknown-3B"):
        model_size.find_candidates(["tiny", "someone/unknown-3B"])


def test_an_unreachable_hub_reads_as_offline(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def no_network(*args, **kwargs):
        raise LocalEntryNotFoundError("Got: ConnectError: [Errno -2] Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    candidate = model_size.find_candidates(["HuggingFaceTB/SmolLM2-360M-Instruct"])[0]
    assert candidate.reason == "offline and not in the local Hugging Face cache"


def test_a_model_the_hub_refuses_is_reported_not_replaced_by_random_weights(monkeypatch):
    import httpx
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    from helpers.core.models import ModelNotAvailableError

    def gated(*args, **kwargs):
        request = httpx.Request("GET", "https://huggingface.co/api/models/HuggingFaceTB/SmolLM2-360M-Instruct")
        raise GatedRepoError("restricted", response=httpx.Response(401, request=request))

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", gated)
    with pytest.raises(ModelNotAvailableError, match="gated"):
        model_size.find_candidates(["tiny", "HuggingFaceTB/SmolLM2-360M-Instruct"])


def arm(model, kind, scores, record=None):
    return ArmResult(
        f"{model}: {kind}",
        kind,
        0,
        0,
        {"accuracy": np.array(scores, float)},
        [],
        0.0,
        record,
        {"model": model, "kind": kind},
    )


def test_quality_verdicts_compare_with_the_largest_scored_model_or_say_not_run():
    small = Candidate("small", True, cost_model.KNOWN_ARCHITECTURES["SmolLM2-135M"])
    large = Candidate("large", True, cost_model.KNOWN_ARCHITECTURES["SmolLM2-1.7B"])
    results = [
        arm("small", "zero-shot", [0] * 30),
        arm("small", "few-shot", [0, 1] * 15),
        arm("small", "fine-tuned", [1] * 30),
        arm("large", "zero-shot", [1] * 30),
    ]
    beats, within = model_size.quality_verdicts("task", results, [small, large], "accuracy", 0.05, "cpu")
    assert beats.status == "supported" and "few-shot" in beats.claim  # compared with the better prompt
    assert within.status == "inconclusive" and within.effect == 0.0  # 30 of 30 each: within +-11 points, not 5
    many = [
        arm("small", "few-shot", [0, 1] * 300),
        arm("small", "fine-tuned", [1] * 600),
        arm("large", "zero-shot", [1] * 600),
    ]
    assert model_size.quality_verdicts("task", many, [small, large], "accuracy", 0.05, "cpu")[1].status == "supported"
    worse = results[:2] + [arm("small", "fine-tuned", [0] * 30), results[3]]
    assert (
        model_size.quality_verdicts("task", worse, [small, large], "accuracy", 0.05, "cpu")[1].status == "not supported"
    )
    large.scored, large.reason = False, "offline"
    _, not_run = model_size.quality_verdicts("task", results, [small, large], "accuracy", 0.05, "cpu")
    assert not_run.status == "not run" and not_run.effect is None and "offline" in not_run.text


def test_cost_verdict_uses_measured_throughput_and_names_random_weights():
    small = Candidate("small", True, cost_model.KNOWN_ARCHITECTURES["SmolLM2-135M"])
    large = Candidate("large", False, cost_model.KNOWN_ARCHITECTURES["SmolLM2-1.7B"], "offline", scored=False)
    probes = {
        "small": {"requests_per_second": 6.0, "weights": REAL},
        "large": {"requests_per_second": 1.0, "weights": RANDOM},
    }
    result = model_size.cost_verdict([small, large], probes, 5.0, "cpu")
    assert result.status == "supported" and result.ci_low == pytest.approx(6.0) and "random weights" in result.text
    assert (
        model_size.cost_verdict(
            [small, large], {**probes, "large": {"requests_per_second": 2.0, "weights": REAL}}, 5.0, "cpu"
        ).status
        == "not supported"
    )
    assert model_size.cost_verdict([small], {"small": probes["small"]}, 5.0, "cpu").status == "not run"


def test_inference_measurement_times_exactly_the_requested_tokens(tiny):
    prompts = [[{"role": "user", "content": f"message {i}"}] for i in range(3)]
    result = measure(
        InferenceSpec("tiny", REAL, prompts, new_tokens=3, n_latency=2, batch_size=3, tokenizer_model="tiny")
    )
    assert len(result["latency_seconds"]) == 2 and result["latency_p95_s"] >= result["latency_p50_s"] > 0
    assert result["requests_per_second"] > 0 and result["generated_tokens_per_second"] == pytest.approx(
        3 * result["requests_per_second"]
    )
    assert result["mean_prompt_tokens"] > 3 and result["parameters"] == sum(p.numel() for p in tiny.model.parameters())


def test_random_weight_model_generates_with_the_family_tokenizer():
    arch = cost_model.Architecture("toy", 64, 2, 128, 2, 1, 4096, True)
    loaded = random_weight_model(arch, "tiny", device="cpu")
    assert loaded.source == "random" and sum(p.numel() for p in loaded.model.parameters()) == arch.params()


def test_break_even_only_where_quality_was_matched():
    def margin(status):
        return verdict.Verdict("05.bank.small_within_margin_of_large", "claim", status, None, None, None, "", "cpu")

    requests, note = model_size.break_even_where_matched([margin("not run")], 1.0, 0.1, 1.1)
    assert requests is None and "not computed" in note and "not run" in note
    requests, note = model_size.break_even_where_matched([margin("inconclusive")], 1.0, 0.1, 1.1)
    assert requests is None
    requests, note = model_size.break_even_where_matched([margin("supported")], 1.0, 0.1, 1.1)
    assert requests == pytest.approx(1000) and "1,000 requests" in note
    requests, note = model_size.break_even_where_matched([margin("supported")], 1.0, 0.2, 0.1)
    assert requests is None and "does not serve cheaper" in note
