"""Chat prompts as text for any model, the same way for training and for generation.

- A model with a chat template uses it.
- A template that rejects the system role (Gemma's, for one) gets the system text merged into the first
  user turn, separated by a blank line.
- A model without a chat template (a base model) gets one plain format, PLAIN_CHAT_TEMPLATE:

      System: <system text>

      User: <message>

      Assistant: <answer><eos>

  Generation prompts end in "Assistant:"; the end-of-sequence token closes every answer in training, so a
  fine-tuned base model learns where to stop.
"""

from __future__ import annotations

from jinja2.exceptions import TemplateError

PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ 'Assistant: ' + message['content'] + (eos_token or '') + '\n\n' }}"
    "{% else %}"
    "{{ message['role'] | capitalize + ': ' + message['content'] + '\n\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def system_merged(messages: list[dict]) -> list[dict]:
    """The conversation without a system turn: its text opens the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}\n\n{message['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def render_chat(tokenizer, messages: list[dict], add_generation_prompt: bool) -> str:
    """The conversation as the model's prompt text (see the module docstring for the fallbacks)."""
    if not getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            messages,
            chat_template=PLAIN_CHAT_TEMPLATE,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except TemplateError:
        if not any(m["role"] == "system" for m in messages):
            raise
        return tokenizer.apply_chat_template(
            system_merged(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )


def stop_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a reply: the model's generation config (often a list: end of turn and end of text)
    together with the tokenizer's end-of-sequence token."""
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if value is None:
            continue
        ids.update(value if isinstance(value, (list, tuple)) else [value])
    return sorted(ids)
