import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

# Under `pytest -n N` (make test), N workers share the machine's cores: each worker and the notebooks it
# starts get an equal share of threads, as many as the cores allow, instead of every one using them all.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(_threads))

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


# Longest first: the course's notebook runs and rehearsals (up to a minute or two each), then the other tests
# marked slow, then the rest, each group in its collected order. Under `--dist worksteal` the workers then end
# together instead of one finishing the notebooks alone while the others wait.
LONGEST_TESTS = (
    "test_course.py::test_smoke_course_runs_each_notebook",
    "test_rehearsal_runs.py::test_each_notebook_runs_each_gpu_tiers_code_paths_on_the_cpu",
)


def _running_order(item) -> int:
    if any(name in item.nodeid for name in LONGEST_TESTS):
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(config, items):
    items.sort(key=_running_order)  # stable: collected order within each group
