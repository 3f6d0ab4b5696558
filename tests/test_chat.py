"""Prompts for any model: its own template, a template that rejects the system role, no template at all."""

import pytest
from jinja2.exceptions import TemplateError

from helpers.core.chat import PLAIN_CHAT_TEMPLATE, render_chat, stop_token_ids, system_merged
from helpers.core.tiny import build_tiny_tokenizer

CHAT = [
    {"role": "system", "content": "Answer with one word."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris"},
]
# Gemma's templates refuse a system turn with raise_exception; this one does the same, in Gemma's turn markup.
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture
def tokenizer():
    return build_tiny_tokenizer()


def test_a_model_template_is_used_as_it_is(tokenizer):
    assert render_chat(tokenizer, CHAT[:2], True) == tokenizer.apply_chat_template(
        CHAT[:2], tokenize=False, add_generation_prompt=True
    )


def test_a_template_that_rejects_the_system_role_gets_it_in_the_first_user_turn(tokenizer):
    tokenizer.chat_template = NO_SYSTEM_TEMPLATE
    with pytest.raises(TemplateError):
        tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    text = render_chat(tokenizer, CHAT[:2], True)
    assert (
        text == "<start_of_turn>user\nAnswer with one word.\n\nCapital of France?<end_of_turn>\n<start_of_turn>model\n"
    )


def test_other_template_errors_are_not_hidden(tokenizer):
    tokenizer.chat_template = "{{ raise_exception('broken template') }}"
    with pytest.raises(TemplateError, match="broken template"):
        render_chat(tokenizer, CHAT[1:2], True)


def test_a_model_without_a_template_gets_the_plain_format_ending_answers_in_eos(tokenizer):
    tokenizer.chat_template = None
    assert (
        render_chat(tokenizer, CHAT[:2], True)
        == "System: Answer with one word.\n\nUser: Capital of France?\n\nAssistant:"
    )
    full = render_chat(tokenizer, CHAT, False)
    assert (
        full
        == f"System: Answer with one word.\n\nUser: Capital of France?\n\nAssistant: Paris{tokenizer.eos_token}\n\n"
    )
    assert full.startswith(render_chat(tokenizer, CHAT[:2], True))  # training masks the prompt by this prefix
    assert "eos_token" in PLAIN_CHAT_TEMPLATE


def test_system_merged_keeps_other_turns_and_handles_a_lone_system_turn():
    assert system_merged(CHAT)[0] == {"role": "user", "content": "Answer with one word.\n\nCapital of France?"}
    assert system_merged(CHAT)[1] == CHAT[2]
    assert system_merged([{"role": "system", "content": "Hi"}]) == [{"role": "user", "content": "Hi"}]
    assert system_merged(CHAT[1:]) == CHAT[1:]


def test_stop_tokens_are_the_union_of_generation_config_and_tokenizer(tokenizer):
    class Config:
        eos_token_id = [7, 3]

    class Model:
        generation_config = Config()

    assert stop_token_ids(Model(), tokenizer) == sorted({7, 3, tokenizer.eos_token_id})
    Config.eos_token_id = tokenizer.eos_token_id
    assert stop_token_ids(Model(), tokenizer) == [tokenizer.eos_token_id]


def test_training_labels_a_base_model_answer_up_to_its_eos(tokenizer):
    from helpers.core.training import tokenize_chat

    tokenizer.chat_template = None
    row = tokenize_chat(tokenizer, CHAT, max_length=512)
    answer = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
    assert answer == f" Paris{tokenizer.eos_token}\n\n"
    assert tokenizer.decode(row["input_ids"]).startswith("System: Answer with one word.")


def test_generation_runs_without_a_template_and_without_a_system_role():
    from helpers.core.generation import generate, prompt_token_ids
    from helpers.core.models import load_model

    tiny = load_model("tiny")
    tiny.tokenizer.chat_template = None
    ids = prompt_token_ids(tiny.tokenizer, [CHAT[:2]])[0]
    assert tiny.tokenizer.decode(ids).endswith("User: Capital of France?\n\nAssistant:")
    assert len(generate(tiny, [CHAT[:2]], max_new_tokens=3, progress=False)) == 1
    tiny.tokenizer.chat_template = NO_SYSTEM_TEMPLATE
    assert tiny.tokenizer.decode(prompt_token_ids(tiny.tokenizer, [CHAT[:2]])[0]).startswith(
        "<start_of_turn>user\nAnswer with one word.\n\nCapital of France?"
    )
    assert len(generate(tiny, [CHAT[:2]], max_new_tokens=3, progress=False)) == 1


def test_generation_stops_at_any_of_the_model_stop_tokens(monkeypatch):
    from helpers.core.generation import generate
    from helpers.core.models import load_model

    tiny = load_model("tiny")
    seen = {}
    real = tiny.model.generate

    def spy(**kwargs):
        seen["eos_token_id"] = kwargs["eos_token_id"]
        return real(**kwargs)

    monkeypatch.setattr(tiny.model, "generate", spy)
    tiny.model.generation_config.eos_token_id = [tiny.tokenizer.eos_token_id, 5]
    generate(tiny, [CHAT[:2]], max_new_tokens=2, progress=False)
    assert seen["eos_token_id"] == sorted({tiny.tokenizer.eos_token_id, 5})
