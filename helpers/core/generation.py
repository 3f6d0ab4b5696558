"""Batched generation from chat prompts: greedy by default, sampled on request (`temperature`).

Evaluation prompts mostly start alike: the same system prompt, label list or few-shot demonstrations,
then one item's question. The shared start is computed once (one forward pass, its key/value cache
kept) and every batch continues from a copy of it, so each prompt only pays for its own tokens. On
notebook 00's banking77 prompts 74 of about 90 tokens are shared. The cached prefix is computed in
another batch shape than the plain path would use, so on some hardware a prediction can differ in
the last bits of a logit; `reuse_prefix=False` gives the plain path, and `python -m helpers benchmark
--eval` records how often the two agree on each evaluation set.
"""

from __future__ import annotations

import contextlib
import copy
import re
import warnings
from collections.abc import Iterator

import torch
from tqdm.auto import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList

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
    return left_padded_ids(prompt_token_ids(tokenizer, prompts), batch_size, tokenizer.pad_token_id, device)


def left_padded_ids(encoded: list[list[int]], batch_size: int, pad_id: int, device):
    """left_padded_batches for prompts already tokenized (prompt_token_ids)."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        longest = max(len(encoded[i]) for i in batch)
        ids = torch.tensor([[pad_id] * (longest - len(encoded[i])) + encoded[i] for i in batch], device=device)
        mask = torch.tensor([[0] * (longest - len(encoded[i])) + [1] * len(encoded[i]) for i in batch], device=device)
        yield batch, ids, mask


MIN_SHARED_PREFIX = 16  # tokens; a shorter shared start is not worth a separate forward pass


def shared_prefix_length(encoded: list[list[int]]) -> int:
    """How many tokens every prompt starts with, leaving each prompt at least one token of its own."""
    if not encoded:
        return 0
    limit = min(len(ids) for ids in encoded) - 1
    first = encoded[0]
    length = 0
    while length < limit and all(ids[length] == first[length] for ids in encoded):
        length += 1
    return length


def prefixed_batches(
    encoded: list[list[int]], prefix: int, batch_size: int, pad_id: int, device
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Like left_padded_batches, for prompts that share their first `prefix` tokens: each row is the
    shared prefix, then padding, then the prompt's own tokens, so the prefix's cached keys and values
    line up with every row; the attention mask skips the padding and the positions continue from the
    prefix (generate derives them from the mask)."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    shared = encoded[order[0]][:prefix] if order else []
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        longest = max(len(encoded[i]) for i in batch)
        pads = [longest - len(encoded[i]) for i in batch]
        ids = torch.tensor([shared + [pad_id] * p + encoded[i][prefix:] for i, p in zip(batch, pads)], device=device)
        mask = torch.tensor(
            [[1] * prefix + [0] * p + [1] * (len(encoded[i]) - prefix) for i, p in zip(batch, pads)], device=device
        )
        yield batch, ids, mask


def cached_prefix_batches(loaded: LoadedModel, encoded: list[list[int]], batch_size: int, reuse_prefix: bool = True):
    """(shared prefix length, its key/value cache, batches) for tokenized prompts: with a shared start of at
    least MIN_SHARED_PREFIX tokens, that start is computed once and the batches are prefixed_batches; else
    (0, None, left-padded batches). Call it under torch.inference_mode."""
    prefix = shared_prefix_length(encoded) if reuse_prefix else 0
    pad = loaded.tokenizer.pad_token_id
    if prefix >= MIN_SHARED_PREFIX:
        prefix_ids = torch.tensor([encoded[0][:prefix]], device=loaded.device)
        prefix_cache = loaded.model(input_ids=prefix_ids, use_cache=True)["cache"]
        return prefix, prefix_cache, prefixed_batches(encoded, prefix, batch_size, pad, loaded.device)
    return 0, None, left_padded_ids(encoded, batch_size, pad, loaded.device)


def generate(
    loaded: LoadedModel,
    prompts: list[list[dict]],
    max_new_tokens: int = 32,
    batch_size: int = 16,
    progress: bool = True,
    description: str = "generating",
    min_new_tokens: int | None = None,
    reuse_prefix: bool = True,
    temperature: float | None = None,
    top_p: float = 1.0,
    seed: int | None = None,
    first_line: bool = False,
) -> list[str]:
    """Completions for chat prompts, in input order: greedy, or sampled when `temperature` is set.

    Prompts are sorted by length and left-padded in batches (left_padded_batches). With reuse_prefix,
    the tokens all prompts share are computed once and their cache reused by every batch (see the
    module docstring). min_new_tokens: generate at least this many tokens (timing runs set it to
    max_new_tokens so that every request does the same work). temperature: None (the default) decodes
    greedily; a positive value samples at that temperature within nucleus `top_p`, with torch's CPU
    generator and the current CUDA device's (if any) seeded with `seed` (required) for the call and restored
    afterwards, so a seed gives the same samples again and the caller's random numbers do not move.
    first_line: a row stops once it has written a line of text followed by a line break (only its first line is
    wanted), which saves the rest of max_new_tokens; a line that ends with a colon is a lead-in ("Here is the
    message:"), not that line, so the row goes on past it.
    """
    if temperature is not None and temperature <= 0:
        raise ValueError(f"temperature must be positive (None: greedy); got {temperature}")
    if temperature is not None and seed is None:
        raise ValueError("sampling (a temperature) needs a seed: pass seed=")
    tokenizer = loaded.tokenizer
    stop_ids = stop_token_ids(loaded.model, tokenizer)  # a model may end a reply with any of several tokens
    outputs: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc=description, disable=not progress, leave=False)
    options = dict(
        max_new_tokens=max_new_tokens,
        do_sample=temperature is not None,
        **({"temperature": temperature, "top_p": top_p} if temperature is not None else {}),
        **({"min_new_tokens": min_new_tokens} if min_new_tokens else {}),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=stop_ids,
    )
    if first_line:
        options["first_line_of"] = tokenizer
    seeded = sampling_seeded(seed) if temperature is not None else contextlib.nullcontext()
    with torch.inference_mode(), seeded:
        encoded = prompt_token_ids(tokenizer, prompts)
        _, prefix_cache, batches = cached_prefix_batches(loaded, encoded, batch_size, reuse_prefix)
        for batch, ids, mask in batches:
            for index, tokens in zip(batch, _generate_rows(loaded.model, ids, mask, prefix_cache, **options)):
                outputs[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
            bar.update(len(batch))
    bar.close()
    return outputs


@contextlib.contextmanager
def sampling_seeded(seed: int) -> Iterator[None]:
    """Inside the block torch's CPU generator and the current CUDA device's (if any) start from `seed`;
    afterwards both are back where they were."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class FirstLineStop(StoppingCriteria):
    """A stopping criterion: a row is done once its new tokens (from `start`) hold a line of text that does not
    end with a colon, followed by a line break."""

    def __init__(self, tokenizer, start: int):
        self.tokenizer, self.start = tokenizer, start

    def __call__(self, input_ids: torch.Tensor, scores, **_) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        return torch.tensor([bool(_FIRST_LINE.search(t)) for t in texts], device=input_ids.device)


_FIRST_LINE = re.compile(r"[^\s:][ \t]*\n")  # a line whose last visible character is not a colon


def repeated_cache(prefix_cache, rows: int):
    """A copy of the prefix's cache for `rows` rows (generate extends the cache it is given in place)."""
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(rows)
    return cache


def _generate_rows(model, ids: torch.Tensor, mask: torch.Tensor, prefix_cache=None, **kwargs) -> list[torch.Tensor]:
    """The generated tokens of each row. A batch that runs out of accelerator memory is split in halves (and
    those again, down to single rows), so a long evaluation finishes at a smaller batch instead of failing."""
    try:
        extra = {"cache": repeated_cache(prefix_cache, len(ids))} if prefix_cache is not None else {}
        options = {key: value for key, value in kwargs.items() if key != "first_line_of"}
        if "first_line_of" in kwargs:
            extra["stopping_criteria"] = StoppingCriteriaList([FirstLineStop(kwargs["first_line_of"], ids.shape[1])])
        generated = model.generate(input_ids=ids, attention_mask=mask, **extra, **options)
        return [generated[row, ids.shape[1] :] for row in range(len(ids))]
    except torch.OutOfMemoryError:
        if len(ids) == 1:
            raise
    # outside the except block: its traceback would keep the failed call's tensors alive
    free_accelerator_memory()
    half = len(ids) // 2
    warnings.warn(f"out of memory generating {len(ids)} prompts at once: splitting into {half} and the rest")
    return _generate_rows(model, ids[:half], mask[:half], prefix_cache, **kwargs) + _generate_rows(
        model, ids[half:], mask[half:], prefix_cache, **kwargs
    )
