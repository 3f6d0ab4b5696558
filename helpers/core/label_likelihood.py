"""Closed-label classification by likelihood: each label's complete answer scored in one pass, instead of
generating an answer token by token.

For a prompt and a fixed list of labels, the model's log-probability of every label as the whole reply
(the label's tokens and the end-of-turn token after them, as the chat template writes the reply) is
computed, and the most probable label is the prediction. This is another method, not a faster way to
compute greedy decoding: greedy decoding picks the most probable token at each step and may write text
that is no label at all; this always names a label. It is therefore an option (`python -m helpers
benchmark --eval` records how often it agrees with greedy generation), never the course's default.

The work per batch of prompts: one forward pass over the prompts' own tokens (their shared start, such
as the system prompt and label list, is computed once and its cache reused, as in
`helpers.core.generation`), then one forward pass over every label's reply tokens for every prompt,
attending to that prompt's cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .chat import render_chat, stop_token_ids
from .generation import (
    cached_prefix_batches,
    prompt_token_ids,
    repeated_cache,
)
from .models import LoadedModel


@dataclass
class LabelRanking:
    predictions: list[str]  # the most probable label per prompt
    log_probs: np.ndarray  # prompts x labels: log-probability of each label as the whole reply


def reply_tokens(tokenizer, model, prompt: list[dict], labels: list[str]) -> list[list[int]]:
    """Each label's reply as token ids, up to and including the token that ends the reply: taken from the
    chat template's rendering of the conversation with the label as the assistant's answer, so that the
    reply is tokenized exactly as in training. Where the prompt's rendering is not a prefix of that (a
    template that rewrites earlier turns), the label's own tokens and the first stop token."""
    stops = stop_token_ids(model, tokenizer)
    start = tokenizer(render_chat(tokenizer, prompt, add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    replies = []
    for label in labels:
        full = render_chat(tokenizer, [*prompt, {"role": "assistant", "content": label}], add_generation_prompt=False)
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        if ids[: len(start)] == start and len(ids) > len(start):
            tail = ids[len(start) :]
            end = next((i for i, token in enumerate(tail) if token in stops), None)
            reply = tail[: end + 1] if end is not None else tail + stops[:1]
        else:
            reply = tokenizer(label, add_special_tokens=False)["input_ids"] + stops[:1]
        replies.append(reply)
    return replies


def rank_labels(
    loaded: LoadedModel,
    prompts: list[list[dict]],
    labels: list[str],
    batch_size: int = 16,
    progress: bool = True,
    description: str = "scoring labels",
) -> LabelRanking:
    """The most probable label for each chat prompt, with every label's log-probability (see the module
    docstring). The replies are tokenized once, from the first prompt (`reply_tokens`): every prompt of a
    closed-label evaluation ends the same way, with the assistant's turn opened."""
    if not prompts:
        return LabelRanking([], np.zeros((0, len(labels))))
    tokenizer, model = loaded.tokenizer, loaded.model
    replies = reply_tokens(tokenizer, model, prompts[0], labels)
    width = max(map(len, replies))
    pad = tokenizer.pad_token_id
    reply_ids = torch.tensor([r + [pad] * (width - len(r)) for r in replies], device=loaded.device)
    reply_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in replies], device=loaded.device)
    log_probs = np.zeros((len(prompts), len(labels)))
    bar = tqdm(total=len(prompts), desc=description, disable=not progress, leave=False)
    with torch.inference_mode():
        encoded = prompt_token_ids(tokenizer, prompts)
        prefix, prefix_cache, batches = cached_prefix_batches(loaded, encoded, batch_size)
        for batch, ids, mask in batches:
            log_probs[batch] = _batch_log_probs(model, ids, mask, prefix, prefix_cache, reply_ids, reply_mask)
            bar.update(len(batch))
    bar.close()
    return LabelRanking([labels[i] for i in log_probs.argmax(axis=1)], log_probs)


def _batch_log_probs(model, ids, mask, prefix, prefix_cache, reply_ids, reply_mask) -> np.ndarray:
    """rows x labels log-probabilities of each reply after each (left-padded) prompt."""
    rows, n_labels = len(ids), len(reply_ids)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    extra = {"cache": repeated_cache(prefix_cache, rows)} if prefix_cache is not None else {}
    out = model(
        input_ids=ids[:, prefix:],
        attention_mask=mask,
        position_ids=positions[:, prefix:],
        use_cache=True,
        logits_to_keep=1,
        **extra,
    )
    first = torch.log_softmax(out["logits"][:, -1].float(), dim=-1)[:, reply_ids[:, 0]]  # rows x labels
    cache = out["cache"]
    cache.batch_repeat_interleave(n_labels)  # row r's copies for every label sit together
    tiled_ids = reply_ids.repeat(rows, 1)
    tiled_mask = reply_mask.repeat(rows, 1)
    attention = torch.cat([mask.repeat_interleave(n_labels, dim=0), tiled_mask], dim=1)
    start = positions[:, -1:].repeat_interleave(n_labels, dim=0) + 1
    reply_positions = start + torch.arange(reply_ids.shape[1], device=ids.device)
    logits = model(input_ids=tiled_ids, attention_mask=attention, position_ids=reply_positions, cache=cache)["logits"]
    steps = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # predictions of reply tokens 2..n
    following = steps.gather(-1, tiled_ids[:, 1:, None]).squeeze(-1) * tiled_mask[:, 1:]
    rest = following.sum(dim=1).view(rows, n_labels)
    return (first + rest).cpu().numpy()
