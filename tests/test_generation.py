"""Generation reuses the prompts' shared start (one cached forward pass) without changing the answers."""

import torch

from helpers.core import generation
from helpers.core.generation import generate, shared_prefix_length
from helpers.core.models import load_model

SYSTEM = "You sort customer messages into intents. Answer with one label: card_arrival, lost_card, refund, other."


def prompts(n=7):
    return [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "where is it " * (1 + i % 4) + str(i)}]
        for i in range(n)
    ]


def test_shared_prefix_leaves_every_prompt_a_token_of_its_own():
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2  # identical prompts: the last token stays
    assert shared_prefix_length([[1, 2], [3, 4]]) == 0
    assert shared_prefix_length([]) == 0


def test_reusing_the_shared_prefix_gives_the_same_answers_and_is_used(monkeypatch):
    tiny = load_model("tiny")
    plain = generate(tiny, prompts(), max_new_tokens=6, batch_size=3, progress=False, reuse_prefix=False)
    calls = []
    real = tiny.model.generate

    def spy(**kwargs):
        calls.append(kwargs.get("cache"))
        return real(**kwargs)

    monkeypatch.setattr(tiny.model, "generate", spy)
    reused = generate(tiny, prompts(), max_new_tokens=6, batch_size=3, progress=False)
    assert reused == plain
    assert len(calls) == 3 and all(cache is not None for cache in calls)
    encoded = generation.prompt_token_ids(tiny.tokenizer, prompts())
    assert shared_prefix_length(encoded) >= generation.MIN_SHARED_PREFIX


def test_the_prefix_cache_is_copied_per_batch_and_split_on_out_of_memory(monkeypatch):
    tiny = load_model("tiny")
    expected = generate(tiny, prompts(6), max_new_tokens=4, batch_size=6, progress=False, reuse_prefix=False)
    real = tiny.model.generate
    sizes = []

    def fails_above_two(**kwargs):
        assert kwargs["cache"] is not None
        sizes.append(len(kwargs["input_ids"]))
        if len(kwargs["input_ids"]) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real(**kwargs)

    monkeypatch.setattr(tiny.model, "generate", fails_above_two)
    split = generate(tiny, prompts(6), max_new_tokens=4, batch_size=6, progress=False)
    assert sizes == [6, 3, 1, 2, 3, 1, 2]  # each call gets a cache copied for its own rows
    assert split == expected


def test_prompts_without_a_long_shared_start_take_the_plain_path(monkeypatch):
    tiny = load_model("tiny")
    short = [[{"role": "user", "content": f"q{i}"}] for i in range(3)]
    seen = []
    real = tiny.model.generate
    monkeypatch.setattr(tiny.model, "generate", lambda **kw: seen.append("cache" in kw) or real(**kw))
    generate(tiny, short, max_new_tokens=2, batch_size=3, progress=False)
    assert seen == [False]


def test_sampling_follows_its_seed_and_greedy_stays_the_default():
    tiny = load_model("tiny")
    greedy = generate(tiny, prompts(4), max_new_tokens=6, batch_size=4, progress=False)
    assert generate(tiny, prompts(4), max_new_tokens=6, batch_size=4, progress=False) == greedy
    sampled = [
        generate(tiny, prompts(4), max_new_tokens=6, batch_size=4, progress=False, temperature=1.5, seed=s)
        for s in (0, 0, 1)
    ]
    assert sampled[0] == sampled[1] and sampled[0] != sampled[2]
    assert sampled[0] != greedy
    try:
        generate(tiny, prompts(1), max_new_tokens=2, progress=False, temperature=0.0)
    except ValueError as error:
        assert "temperature" in str(error)
    else:
        raise AssertionError("a temperature of 0 must be refused")


def test_sampling_needs_a_seed_and_leaves_the_global_random_state_as_it_was():
    import pytest
    import torch

    tiny = load_model("tiny")
    with pytest.raises(ValueError, match="seed"):
        generate(tiny, prompts(1), max_new_tokens=2, progress=False, temperature=1.0)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    generate(tiny, prompts(2), max_new_tokens=4, batch_size=2, progress=False, temperature=1.0, seed=7)
    assert torch.equal(torch.get_rng_state(), before)


def test_first_line_stops_a_row_after_its_first_line_of_text():
    import torch

    from helpers.core.generation import FirstLineStop

    class Tokenizer:
        def batch_decode(self, rows, skip_special_tokens=True):
            return ["".join(chr(int(t)) for t in row) for row in rows]

    ids = torch.tensor([[0, ord("\n"), ord("a")], [0, ord("a"), ord("\n")], [0, ord(" "), ord("b")]])
    assert FirstLineStop(Tokenizer(), 1)(ids, None).tolist() == [False, True, False]  # a leading break is no line
    rows = torch.tensor([[0] + [ord(c) for c in text] for text in ("ab:\n  ", "a:\nbc\n", "ab: \n ")])
    assert FirstLineStop(Tokenizer(), 1)(rows, None).tolist() == [False, True, False]  # a lead-in is no line
    outputs = generate(load_model("tiny"), prompts(3), max_new_tokens=12, batch_size=3, progress=False, first_line=True)
    assert all("\n" not in out.strip() for out in outputs)
