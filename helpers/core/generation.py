"""Batched greedy generation from chat prompts."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .models import LoadedModel


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

    Prompts are sorted by length and left-padded in batches, so little compute goes to padding.
    min_new_tokens: generate at least this many tokens (timing runs set it to max_new_tokens so that
    every request does the same work).
    """
    tokenizer = loaded.tokenizer
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    outputs: list[str] = [""] * len(encoded)
    pad_id = tokenizer.pad_token_id
    device = loaded.device
    bar = tqdm(total=len(order), desc=description, disable=not progress, leave=False)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            longest = max(len(encoded[i]) for i in batch)
            ids = torch.tensor([[pad_id] * (longest - len(encoded[i])) + encoded[i] for i in batch], device=device)
            mask = torch.tensor(
                [[0] * (longest - len(encoded[i])) + [1] * len(encoded[i]) for i in batch], device=device
            )
            generated = loaded.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                **({"min_new_tokens": min_new_tokens} if min_new_tokens else {}),
                pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            for row, index in enumerate(batch):
                outputs[index] = tokenizer.decode(generated[row, longest:], skip_special_tokens=True).strip()
            bar.update(len(batch))
    bar.close()
    return outputs
