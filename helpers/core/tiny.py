"""A tiny random-init Llama model and a locally trained tokenizer, for tests and the smoke profile.

Every dimension is a multiple of 64 so bitsandbytes' CPU 4-bit kernels accept it. The model is
built from a fixed seed, so it is the same on every machine; it knows nothing, and smoke-profile
numbers measured with it are plumbing checks, never findings.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from .seeds import torch_seeded

TINY_VERSION = "tiny-llama-v1"
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = """
The quick brown fox jumps over the lazy dog. What is the capital of France? Paris is the capital.
I want to transfer money to my account. My card has not arrived yet. How do I top up by card?
Name: Alice Smith. Date of birth: 1984-03-12. Phone: +1 555 0100. Email: alice@example.com.
{"name": "Bob", "date": "2024-01-31", "amount": 120.50, "type": "contract", "valid": true}
Answer with one label. Label: card_arrival, exchange_rate, top_up_failed, lost_or_stolen_card.
I don't know. The answer is not in the context. Question: Who founded the company? Answer: Ada.
Products, prices, policies and customers change every quarter; the model must keep up.
0 1 2 3 4 5 6 7 8 9 10 100 1000 2023 2024 2025 - _ : ; , . ! ? ' " ( ) [ ] { } / @ # $ % & * +
""".strip()


def build_tiny_tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on a built-in corpus: encodes any text, deterministic."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines() * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<|pad|>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    if len(tokenizer) > config.vocab_size:
        raise ValueError(f"tiny tokenizer has {len(tokenizer)} tokens, more than vocab_size {config.vocab_size}")
    with torch_seeded(seed):
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def save_tiny(folder: Path) -> None:
    """Build the tiny model and tokenizer and save them as an ordinary model folder."""
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
