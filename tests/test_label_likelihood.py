import copy
import dataclasses

import numpy as np
import pytest
import torch

from helpers.core.chat import render_chat
from helpers.core.generation import MIN_SHARED_PREFIX, prompt_token_ids, shared_prefix_length
from helpers.core.label_likelihood import rank_labels, reply_tokens

LABELS = ["card_arrival", "top_up_failed", "lost_or_stolen_card", "refund"]
SYSTEM = "Classify the banking message into exactly one of these intents: " + ", ".join(LABELS) + ". " * 8


def _prompts(system=SYSTEM):
    messages = ["where is my card", "my top up did not work at all today", "I lost it", "money back please now"]
    head = [{"role": "system", "content": system}] if system else []
    return [[*head, {"role": "user", "content": m}] for m in messages]


def _direct_log_prob(loaded, prompt, reply):
    """The reply's log-probability from one plain forward pass over prompt + reply, no cache, no padding."""
    tok = loaded.tokenizer
    start = tok(render_chat(tok, prompt, add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    ids = torch.tensor([start + reply])
    with torch.inference_mode():
        logits = loaded.model(input_ids=ids)["logits"][0].float()
    steps = torch.log_softmax(logits[len(start) - 1 : -1], dim=-1)
    return float(steps.gather(-1, torch.tensor(reply)[:, None]).sum())


@pytest.fixture(scope="module")
def sharp(tiny):
    """The tiny model with sharpened attention: at random initialisation attention is nearly uniform, so
    positions and padding barely change a logit and a test of them could not fail."""
    model = copy.deepcopy(tiny.model)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(12)
            layer.self_attn.k_proj.weight.mul_(12)
    return dataclasses.replace(tiny, model=model)


@pytest.mark.parametrize("system", [SYSTEM, None], ids=["shared prefix", "no shared prefix"])
def test_label_log_probs_equal_a_plain_forward_pass(sharp, system):
    tiny = sharp
    prompts = _prompts(system)
    shared = shared_prefix_length(prompt_token_ids(tiny.tokenizer, prompts))
    assert (shared >= MIN_SHARED_PREFIX) == (system is not None)  # both paths of rank_labels are exercised
    ranking = rank_labels(tiny, prompts, LABELS, batch_size=3, progress=False)
    replies = reply_tokens(tiny.tokenizer, tiny.model, prompts[0], LABELS)
    expected = np.array([[_direct_log_prob(tiny, p, r) for r in replies] for p in prompts])
    assert ranking.log_probs.shape == (4, 4)
    np.testing.assert_allclose(ranking.log_probs, expected, rtol=1e-4, atol=1e-4)
    assert ranking.predictions == [LABELS[i] for i in expected.argmax(axis=1)]


def test_replies_end_with_the_templates_end_of_turn(tiny):
    replies = reply_tokens(tiny.tokenizer, tiny.model, _prompts()[0], LABELS)
    stops = set(
        tiny.model.generation_config.eos_token_id
        if isinstance(tiny.model.generation_config.eos_token_id, list)
        else [tiny.model.generation_config.eos_token_id]
    )
    stops.add(tiny.tokenizer.eos_token_id)
    for label, reply in zip(LABELS, replies):
        assert reply[-1] in stops and sum(t in stops for t in reply) == 1
        assert tiny.tokenizer.decode(reply[:-1]).strip() == label
