"""Batched greedy generation from chat prompts."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
from tqdm.auto import tqdm

from .chat import render_chat, stop_token_ids
from .models import LoadedModel, free_accelerator_memory


def prompt_token_ids(tokenizer, prompts: list[list[dict]]) -> list[list[int]]:
    """The token ids of chat prompts rendered with the assistant's turn opened (`chat.render_chat`: the model's
    chat template, or the course's fallbacks for templates without a system role and for models without one)."""
    texts = [render_chat(tokenizer, p, add_generation_prompt=True) for p in prompts]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def left_padded_batches(
    tokenizer, prompts: list[list[dict]], batch_size: int, device
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Chat prompts, tokenized (prompt_token_ids) and sorted by length, in left-padded batches.

    Yields (indices into `prompts`, input_ids, attention_mask) per batch. Sorting puts prompts of similar
    length together, so little compute goes to padding; left padding keeps every prompt's last token in
    the last position, where generation continues and where the next-token logits are read.
    """
    encoded = prompt_token_ids(tokenizer, prompts)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    pad_id = tokenizer.pad_token_id
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        longest = max(len(encoded[i]) for i in batch)
        ids = torch.tensor([[pad_id] * (longest - len(encoded[i])) + encoded[i] for i in batch], device=device)
        mask = torch.tensor([[0] * (longest - len(encoded[i])) + [1] * len(encoded[i]) for i in batch], device=device)
        yield batch, ids, mask


def generate(
    loaded: LoadedModel,
    prompts: list[list[dict]],
    max_new_tokens: int = 32,
    batch_size: int = 16,
    progress: bool = True,
    description: str = "generating",
    min_new_tokens: int | None = None,
) -> list[str]:
    """Greedy completions for chat prompts, in input order.

    Prompts are sorted by length and left-padded in batches (left_padded_batches).
    min_new_tokens: generate at least this many tokens (timing runs set it to max_new_tokens so that
    every request does the same work).
    """
    tokenizer = loaded.tokenizer
    stop_ids = stop_token_ids(loaded.model, tokenizer)  # a model may end a reply with any of several tokens
    outputs: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc=description, disable=not progress, leave=False)
    with torch.inference_mode():
        for batch, ids, mask in left_padded_batches(tokenizer, prompts, batch_size, loaded.device):
            continuations = _generate_rows(
                loaded.model,
                ids,
                mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                **({"min_new_tokens": min_new_tokens} if min_new_tokens else {}),
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop_ids,
            )
            for index, tokens in zip(batch, continuations):
                outputs[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
            bar.update(len(batch))
    bar.close()
    return outputs


def _generate_rows(model, ids: torch.Tensor, mask: torch.Tensor, **kwargs) -> list[torch.Tensor]:
    """The generated tokens of each row. A batch that runs out of accelerator memory is split in halves (and
    those again, down to single rows), so a long evaluation finishes at a smaller batch instead of failing."""
    try:
        generated = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        return [generated[row, ids.shape[1] :] for row in range(len(ids))]
    except torch.OutOfMemoryError:
        if len(ids) == 1:
            raise
    # outside the except block: its traceback would keep the failed call's tensors alive
    free_accelerator_memory()
    half = len(ids) // 2
    warnings.warn(f"out of memory generating {len(ids)} prompts at once: splitting into {half} and the rest")
    return _generate_rows(model, ids[:half], mask[:half], **kwargs) + _generate_rows(
        model, ids[half:], mask[half:], **kwargs
    )
