import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest  # noqa: E402

from helpers.core.tasks import Example  # noqa: E402


@pytest.fixture(scope="session")
def tiny():
    from helpers.core.models import load_model

    return load_model("tiny")


def make_examples(pairs, system=None):
    examples = []
    for question, answer in pairs:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        examples.append(Example(messages))
    return examples


@pytest.fixture
def toy_examples():
    return make_examples(
        [
            ("color of sky?", "blue"),
            ("color of grass?", "green"),
            ("color of snow?", "white"),
            ("color of coal?", "black"),
        ]
    )
