"""The command line as a tool: a user's mistake is one line and exit status 2 (a traceback only with --debug),
`--help` loads nothing heavy, `train --max-length` reaches the config, and `eval` scores a model on a JSONL file."""

import json
import logging
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from helpers.core.paths import REPO_ROOT
from helpers.course import cli, eval_command, train_command

ROWS = [
    {"prompt": "Is an apple a fruit or a vegetable?", "completion": "fruit"},
    {"prompt": "Is a carrot a fruit or a vegetable?", "completion": "vegetable"},
    {
        "messages": [
            {"role": "user", "content": "Is a pear a fruit or a vegetable?"},
            {"role": "assistant", "content": "fruit"},
        ]
    },
    {"prompt": "Is kale a fruit or a vegetable?", "completion": "vegetable"},
]


def write(path, text: str | bytes):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.fixture
def good(tmp_path):
    return write(tmp_path / "good.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS))


def run_cli(capsys, *argv):
    """main() in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as done:  # argparse
        status = done.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments):
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


BAD_FILES = {
    "missing": (None, ["missing.jsonl: no such file"]),
    "non-utf8": (
        b'{"prompt": "caf\xe9", "completion": "x"}\n',
        ["line 1: not UTF-8 text", "0xe9", "save the file as UTF-8"],
    ),
    "empty": (b"\n\n", ["empty.jsonl: no examples", "empty"]),
    "bad-json": (b'{"prompt": "a", "completion": "b"}\n{"prompt": "a",\n', ["bad-json.jsonl, line 2: not valid JSON"]),
    "missing-field": (
        b'{"prompt": "a", "completion": "b"}\n\n{"prompt": "a"}\n{"messages": []}\n',
        ["missing-field.jsonl, line 3: field 'completion' is missing", "+1 more malformed row"],
    ),
}


@pytest.mark.parametrize("command", ["train", "eval"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_data_file_is_one_line_naming_file_line_and_field(tmp_path, capsys, command, case):
    content, fragments = BAD_FILES[case]
    name = {"non-utf8": "latin1", "missing": "missing"}.get(case, case)
    path = tmp_path / f"{name}.jsonl"
    if content is not None:
        write(path, content)
    extra = ["--output", tmp_path / "out"] if command == "train" else []
    status, _, err = run_cli(capsys, command, "--model", "tiny", "--data", path, *extra)
    assert_one_line_error(status, err, str(tmp_path), *fragments)


def test_unknown_models_are_one_line(tmp_path, capsys, good):
    status, _, err = run_cli(capsys, "eval", "--model", "no-such-org/no-such-model", "--data", good)
    assert_one_line_error(status, err, "no-such-org/no-such-model", "not available")
    status, _, err = run_cli(
        capsys, "train", "--model", tmp_path / "nowhere", "--data", good, "--output", tmp_path / "out"
    )
    assert_one_line_error(status, err, f"No model folder or file at {tmp_path / 'nowhere'}")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--steps", "0"], "argument --steps: invalid positive int value: '0'"),
        (["train", "--max-length", "-5"], "argument --max-length: invalid positive int value: '-5'"),
        (["train", "--lora-dropout", "1.5"], "argument --lora-dropout: invalid fraction"),
        (["train", "--method", "adapters"], "argument --method: invalid choice: 'adapters'"),
        (["eval", "--model", "tiny", "--metric", "bleu"], "argument --metric: invalid choice"),
        (["eval", "--model", "tiny", "--labels", ","], "argument --labels: invalid comma-separated label list"),
    ],
)
def test_bad_option_values_are_one_line(tmp_path, capsys, good, argv, fragment):
    extra = ["--output", tmp_path / "out"] if argv[0] == "train" else []
    status, _, err = run_cli(capsys, *argv, "--data", good, *extra)
    assert_one_line_error(status, err, fragment, "--help")


def test_option_mistakes_found_after_parsing_are_one_line(tmp_path, capsys, good):
    status, _, err = run_cli(capsys, "eval", "--data", good)
    assert_one_line_error(status, err, "--model is needed")
    status, _, err = run_cli(capsys, "eval", "--model", "tiny", "--data", good, "--labels", "fruit")
    assert_one_line_error(status, err, "--labels needs --metric label")
    status, _, err = run_cli(capsys, "eval", "--model", "tiny", "--data", good, "--output", tmp_path)
    assert_one_line_error(status, err, "is a folder")
    status, _, err = run_cli(capsys, "eval", "--adapter", tmp_path / "no-adapter", "--data", good)
    assert_one_line_error(status, err, "no-adapter: no such folder")
    status, _, err = run_cli(
        capsys, "eval", "--model", "tiny", "--data", good, "--metric", "label", "--labels", "fruit,mineral"
    )
    assert_one_line_error(status, err, "good.jsonl, line 2: the reference answer 'vegetable' is not one of --labels")


def test_debug_shows_the_traceback_before_or_after_the_command(tmp_path):
    from helpers.core.tasks import DataFileError

    for argv in (["--debug", "train"], ["train", "--debug"]):
        with pytest.raises(DataFileError, match="no such file"):
            cli.main(argv + ["--data", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "out")])


def test_in_a_real_process_the_error_is_one_line_and_debug_adds_the_traceback(tmp_path):
    command = [sys.executable, "-m", "helpers", "train", "--data", str(tmp_path / "none.jsonl"), "--output", "x"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"error: {tmp_path / 'none.jsonl'}: no such file\n")
    done = subprocess.run(command + ["--debug"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" in done.stderr and "DataFileError" in done.stderr


def test_help_loads_nothing_heavy_and_prints_no_kernels_warning():
    script = (
        "import sys\n"
        "from helpers.course.cli import main\n"
        "for argv in ([], ['train'], ['eval']):\n"
        "    try:\n"
        "        main(argv + ['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert "--max-length" in done.stdout and "--adapter" in done.stdout and "--debug" in done.stdout
    assert done.stderr == ""


def test_the_kernels_warning_is_silenced_and_nothing_else():
    def record(msg, *args):
        return logging.LogRecord("bitsandbytes.backends.cpu.ops", logging.WARNING, __file__, 1, msg, args, None)

    missing = ModuleNotFoundError("No module named 'kernels'", name="kernels")
    message = "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure ..."
    keep = cli.MissingKernelsFilter().filter
    assert not keep(record(message, missing))
    assert keep(record(message, RuntimeError("hub unreachable")))  # kernels installed but failing: still said
    assert keep(record("some other warning %s", missing))
    cli.quiet_missing_kernels_warning()
    cli.quiet_missing_kernels_warning()
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    assert sum(isinstance(f, cli.MissingKernelsFilter) for f in logger.filters) == 1


def test_the_kernels_warning_stays_silent_when_bitsandbytes_loads():
    script = (
        "from helpers.course.cli import quiet_missing_kernels_warning\n"
        "quiet_missing_kernels_warning()\n"
        "import bitsandbytes\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "gemm_4bit_forward" not in done.stderr


def test_the_command_line_uses_the_one_definition_of_profiles_and_methods():
    from helpers.core.training import METHODS
    from helpers.course.profiles import PROFILES

    assert cli.PROFILES is PROFILES and train_command.METHODS is METHODS


def test_max_length_reaches_the_training_config(tmp_path, capsys, good, monkeypatch):
    import helpers.core.training as training

    seen = {}

    def fake_finetune(model, examples, config, output_dir, progress, resume=False):
        seen.update(model=model, n=len(examples), config=config)
        output_dir.mkdir(parents=True)
        record = SimpleNamespace(to_dict=dict, saved_path="", optimizer_steps=0, final_loss=0.0)
        return SimpleNamespace(tokenizer=None), record

    monkeypatch.setattr(training, "finetune", fake_finetune)
    status, out, _ = run_cli(
        capsys, "train", "--model", "tiny", "--data", good, "--output", tmp_path / "out", "--max-length", "64"
    )
    assert status == 0 and "trained 0 steps" in out
    assert seen["config"].max_length == 64 and seen["n"] == len(ROWS) and seen["model"] == "tiny"
    args = cli.build_parser().parse_args(["train", "--data", "x", "--output", "y"])
    assert train_command.config_from_args(args).max_length == training.TrainConfig().max_length


def test_when_max_length_cuts_every_answer_the_error_names_the_option(tmp_path, capsys, good):
    status, _, err = run_cli(
        capsys, "train", "--model", "tiny", "--method", "lora", "--data", good, "--output", tmp_path / "out",
        "--max-length", "2", "--steps", "1",
    )  # fmt: skip
    line = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == 2 and "Traceback" not in err and len(line) == 1
    assert "no training examples left" in line[0] and "max_length=2" in line[0] and "--max-length" in line[0]


SCORE_LINE = r"{}: (\d\.\d{{3}}) \(95% CI (\d\.\d{{3}})-(\d\.\d{{3}})\), n=4"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_eval_on_the_tiny_model_prints_a_score_with_an_interval_and_writes_predictions(tmp_path, capsys, good):
    for metric, name in (("exact_match", "exact match"), ("label", "label accuracy")):
        output = tmp_path / metric / "predictions.jsonl"
        status, out, err = run_cli(
            capsys, "eval", "--model", "tiny", "--data", good, "--metric", metric, "--max-new-tokens", "3",
            "--batch-size", "2", "--output", output,
        )  # fmt: skip
        assert status == 0, err
        mean, low, high = map(float, re.search(SCORE_LINE.format(name), out).groups())
        assert 0 <= low <= mean <= high <= 1
        rows = read_jsonl(output)
        assert [r["reference"] for r in rows] == ["fruit", "vegetable", "fruit", "vegetable"]
        assert rows[0]["input"] == [{"role": "user", "content": ROWS[0]["prompt"]}]
        assert all(isinstance(r["prediction"], str) and isinstance(r["correct"], bool) for r in rows)
        assert ("predicted_label" in rows[0]) == (metric == "label")
        assert f"predictions written to {output}" in out


def test_eval_scores_with_the_course_scorers(tmp_path, capsys, good, monkeypatch):
    import helpers.core.generation as generation

    answers = ["Fruit.", "It is a vegetable", "vegetable", "banana"]
    monkeypatch.setattr(generation, "generate", lambda loaded, prompts, **kwargs: answers[: len(prompts)])
    status, out, _ = run_cli(capsys, "eval", "--model", "tiny", "--data", good, "--output", tmp_path / "em.jsonl")
    assert status == 0 and re.search(SCORE_LINE.format("exact match"), out).group(1) == "0.250"  # "Fruit." only
    assert [r["correct"] for r in read_jsonl(tmp_path / "em.jsonl")] == [True, False, False, False]
    status, out, _ = run_cli(
        capsys, "eval", "--model", "tiny", "--data", good, "--metric", "label", "--output", tmp_path / "label.jsonl"
    )
    assert status == 0 and re.search(SCORE_LINE.format("label accuracy"), out).group(1) == "0.500"
    rows = read_jsonl(tmp_path / "label.jsonl")
    assert [r["predicted_label"] for r in rows] == ["fruit", "vegetable", "vegetable", None]
    assert [r["correct"] for r in rows] == [True, True, False, False]
    assert "naming none of the labels: 1 of 4 (fruit, vegetable)" in out


def test_eval_applies_an_adapter_saved_by_train(tmp_path, capsys, good, monkeypatch):
    from peft import PeftModel

    import helpers.core.generation as generation

    status, out, err = run_cli(
        capsys, "train", "--model", "tiny", "--method", "lora", "--data", good, "--output", tmp_path / "run",
        "--steps", "1", "--batch-size", "4", "--precision", "fp32",
    )  # fmt: skip
    assert status == 0, err
    seen = {}

    def fake_generate(loaded, prompts, **kwargs):
        seen["loaded"] = loaded
        return ["fruit"] * len(prompts)

    monkeypatch.setattr(generation, "generate", fake_generate)
    status, out, err = run_cli(capsys, "eval", "--adapter", tmp_path / "run" / "adapter", "--data", good)
    assert status == 0, err
    assert "+ adapter" in out and re.search(SCORE_LINE.format("exact match"), out).group(1) == "0.500"
    loaded = seen["loaded"]
    assert any("adapter" in note for note in loaded.notes)
    assert not isinstance(loaded.model, PeftModel)  # a LoRA on a full-precision base is merged for generation
    assert eval_command.adapter_base(tmp_path / "run" / "adapter") == (str(loaded.folder), None)


def test_a_qlora_adapter_is_evaluated_on_a_4bit_base(tmp_path):
    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "some/base"}))
    assert eval_command.adapter_base(adapter) == ("some/base", None)  # no record next to it
    (tmp_path / "run" / "record-rank0.json").write_text(json.dumps({"config": {"method": "qlora"}}))
    assert eval_command.adapter_base(adapter) == ("some/base", "nf4")


def test_warnings_print_as_one_line():
    assert cli.one_line_warning("3 example(s)\n dropped", UserWarning, "x.py", 1) == "warning: 3 example(s) dropped\n"
    assert cli.one_line_warning("old", FutureWarning, "x.py", 1) == "warning: FutureWarning: old\n"


def test_resume_without_a_checkpoint_is_one_line(tmp_path, capsys, good):
    status, _, err = run_cli(
        capsys, "train", "--model", "tiny", "--data", good, "--output", tmp_path / "out", "--resume"
    )
    assert_one_line_error(status, err, "--resume: no checkpoint in", "--checkpoint-every STEPS")
