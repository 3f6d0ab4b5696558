"""A general-knowledge check for forgetting: MMLU-Redux multiple choice, scored by the next token.

Each question is asked with its four options; the model's answer is the option letter with the
highest next-token logit after the assistant turn opens. One forward pass per question, no
generation, so it is cheap enough to run before and after every fine-tune. Besides accuracy it
reports how many answers changed from the base model's, a sensitive sign of drift even when
accuracy is near chance (as it is for very small models).
"""

from __future__ import annotations

import hashlib
import json
import math
import random

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.generation import left_padded_batches
from ..core.models import LoadedModel
from ..data.sources import load_mmlu_redux

LETTERS = "ABCD"


def mmlu_sample(n: int, seed: int = 0, max_chars: int = 700, folder=None) -> dict:
    """`n` four-option MMLU-Redux questions drawn with `seed` from those shorter than `max_chars`."""
    data = load_mmlu_redux(folder)
    pool = [
        q
        for q in data["questions"]
        if len(q["choices"]) == 4 and len(q["question"]) + sum(map(len, q["choices"])) <= max_chars
    ]
    if n > len(pool):
        raise ValueError(
            f"asked for {n} MMLU-Redux questions; only {len(pool)} have 4 options and at most {max_chars} characters"
        )
    questions = random.Random(seed).sample(pool, n)
    digest = hashlib.sha256(json.dumps(questions, sort_keys=True).encode()).hexdigest()[:16]
    source = {
        **data["source"],
        "n": n,
        "seed": seed,
        "max_chars": max_chars,
        "sha256_16": digest,
        "subjects": len({q["subject"] for q in questions}),
    }
    return {"questions": questions, "source": source}


def question_prompt(question: dict) -> list[dict]:
    options = "\n".join(f"{letter}. {choice}" for letter, choice in zip(LETTERS, question["choices"]))
    return [
        {"role": "user", "content": f"{question['question']}\n{options}\nAnswer with the letter of the correct option."}
    ]


def _letter_ids(tokenizer) -> list[int]:
    ids = []
    for letter in LETTERS:
        tokens = tokenizer(letter, add_special_tokens=False)["input_ids"]
        if not tokens:
            raise ValueError(f"the tokenizer has no token for {letter!r}")
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise ValueError("the tokenizer maps the option letters to the same first token")
    return ids


def choose_options(
    loaded: LoadedModel,
    questions: list[dict],
    batch_size: int = 16,
    progress: bool = True,
    description: str = "MMLU-Redux",
) -> np.ndarray:
    """The chosen option index for each question (argmax of the letters' next-token logits)."""
    letter_ids = torch.tensor(_letter_ids(loaded.tokenizer))
    batches = left_padded_batches(loaded.tokenizer, [question_prompt(q) for q in questions], batch_size, loaded.device)
    chosen = np.zeros(len(questions), dtype=int)
    model = loaded.model
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch, ids, mask in tqdm(
            batches, total=math.ceil(len(questions) / batch_size), desc=description, disable=not progress, leave=False
        ):
            # only the last position's logits: the next token after the assistant turn opens
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[:, -1, :]
            picks = logits[:, letter_ids.to(logits.device)].argmax(dim=-1).cpu().numpy()
            for row, index in enumerate(batch):
                chosen[index] = picks[row]
    model.train(was_training)
    return chosen


def knowledge_scores(
    loaded: LoadedModel,
    questions: list[dict],
    base_choices: np.ndarray | None = None,
    batch_size: int = 16,
    progress: bool = True,
    description: str = "MMLU-Redux",
) -> dict[str, np.ndarray]:
    """Per-question correctness, the chosen options, and (given the base model's choices) whether each changed."""
    chosen = choose_options(loaded, questions, batch_size=batch_size, progress=progress, description=description)
    scores = {
        "mmlu_correct": (chosen == np.array([q["answer"] for q in questions])).astype(float),
        "mmlu_choice": chosen,
    }
    if base_choices is not None:
        scores["mmlu_changed"] = (chosen != base_choices).astype(float)
    return scores
