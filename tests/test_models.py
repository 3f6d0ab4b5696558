import pytest
import torch

from helpers.core import models
from helpers.core.models import ModelNotAvailableError, load_model


def test_tiny_model_dimensions_are_multiples_of_64(tiny):
    for name, module in tiny.model.named_modules():
        if isinstance(module, torch.nn.Linear):
            assert module.in_features % 64 == 0 and module.out_features % 64 == 0, name
    assert tiny.source == "tiny" and len(tiny.content_hash) == 64


def test_random_weights_are_seeded_and_leave_the_global_random_state_alone():
    from helpers.core.cost_model import Architecture

    arch = Architecture("toy", 64, 2, 128, 2, 1, 512, True)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = models.build_random_model(arch, torch.float32, seed=0, pad_token_id=0)
    assert torch.equal(torch.rand(3), expected)
    again = models.build_random_model(arch, torch.float32, seed=0, pad_token_id=0).state_dict()
    other = models.build_random_model(arch, torch.float32, seed=1, pad_token_id=0).state_dict()
    assert all(torch.equal(value, again[name]) for name, value in first.state_dict().items())
    assert not torch.equal(
        first.state_dict()["model.layers.0.mlp.up_proj.weight"], other["model.layers.0.mlp.up_proj.weight"]
    )
    assert not first.state_dict()["model.embed_tokens.weight"][0].any()  # the pad token's row starts at zero


def test_tiny_model_is_the_same_everywhere(tiny):
    again = load_model("tiny")
    assert again.content_hash == tiny.content_hash
    for (name, a), (_, b) in zip(tiny.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_tiny_tokenizer_round_trips_any_text(tiny):
    text = 'Ünïcödé and JSON {"a": 1} 🚀'
    ids = tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tiny.tokenizer.decode(ids) == text


def test_nf4_quantization_on_cpu(tiny):
    import bitsandbytes as bnb

    quantized = load_model("tiny", quantization="nf4", device="cpu")
    layers = [m for m in quantized.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers, "no 4-bit layers"
    assert layers[0].weight.quant_type == "nf4"
    assert quantized.info()["quantization"] == "nf4"


def test_unknown_hub_id_offline_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("nobody-here/no-such-model-xyz")
    message = str(err.value)
    assert "HF_HUB_OFFLINE=1" in message
    assert "hf download nobody-here/no-such-model-xyz" in message
    assert "tiny" in message  # lists what is available locally


def test_unreachable_hub_is_named_as_such(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def no_network(*args, **kwargs):
        raise LocalEntryNotFoundError("Got: ConnectError: [Errno -2] Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("nobody-here/no-such-model-xyz")
    first_line = str(err.value).splitlines()[0]
    assert first_line == (
        "Model 'nobody-here/no-such-model-xyz' is not available here "
        "(the Hugging Face hub cannot be reached and it is not in the local cache)."
    )


def _hub_raising(monkeypatch, error):
    import huggingface_hub

    def fail(*args, **kwargs):
        raise error

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fail)


def _hub_http_error(cls, message):
    import httpx

    request = httpx.Request("GET", "https://huggingface.co/api/models/x")
    return cls(message, response=httpx.Response(401 if "Gated" in cls.__name__ else 404, request=request))


def test_gated_model_names_the_licence_and_the_token(monkeypatch):
    from huggingface_hub.errors import GatedRepoError

    _hub_raising(monkeypatch, _hub_http_error(GatedRepoError, "Access to model meta-llama/Llama-3.2-1B is restricted"))
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("meta-llama/Llama-3.2-1B")
    message = str(err.value)
    assert "gated" in message and "https://huggingface.co/meta-llama/Llama-3.2-1B" in message
    assert "HF_TOKEN" in message and "hf auth login" in message
    assert err.value.offline is False  # a reachable hub that refused: not to be replaced by an offline stand-in


def test_missing_model_says_check_the_id(monkeypatch):
    from huggingface_hub.errors import RepositoryNotFoundError

    _hub_raising(monkeypatch, _hub_http_error(RepositoryNotFoundError, "Repository Not Found for url"))
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("nobody-here/no-such-model-xyz")
    assert "no such model, or it is private" in str(err.value) and "check the id" in str(err.value)
    assert err.value.offline is False


def test_missing_local_paths_fail_clearly(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="GGUF file not found"):
        load_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        load_model(str(tmp_path))


def test_unknown_quantization_is_rejected():
    with pytest.raises(ValueError, match="unknown quantization"):
        load_model("tiny", quantization="int3")


def test_folder_hash_changes_with_content(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"a")
    first = models.folder_hash(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"b")
    assert models.folder_hash(tmp_path) != first


@pytest.mark.slow
def test_random_weights_with_published_shapes(tmp_path, monkeypatch):
    from helpers.core.cost_model import KNOWN_ARCHITECTURES

    monkeypatch.setenv("FT_COURSE_CACHE", str(tmp_path))
    loaded = load_model("random:SmolLM2-135M", quantization="nf4")
    arch = KNOWN_ARCHITECTURES["SmolLM2-135M"]
    assert loaded.source == "random" and "speed and memory only" in loaded.notes[0]
    assert (loaded.model.config.hidden_size, loaded.model.config.num_hidden_layers) == (arch.hidden, arch.layers)
    assert type(loaded.model.model.layers[0].mlp.down_proj).__name__ == "Linear4bit"
    first_hash = loaded.content_hash
    assert load_model("random:SmolLM2-135M").content_hash == first_hash  # built once, then read from the cache
    with pytest.raises(ModelNotAvailableError, match="Qwen2.5-0.5B"):
        load_model("random:GPT-5")


def test_the_first_load_freezes_the_import_time_objects_once_and_later_garbage_is_still_collected(tiny):
    import gc
    import weakref

    frozen = gc.get_freeze_count()
    assert frozen > 0  # the tiny fixture's load froze what the imports brought in
    later = [[i] for i in range(1000)]  # objects made after the first load
    models.freeze_import_time_objects()
    load_model("tiny")
    assert gc.get_freeze_count() == frozen and later  # once per process: later objects stay collectable

    class Cycle:
        pass

    node = Cycle()
    node.itself = node
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None
