"""The workloads of notebooks 01 (data size) and 02 (PEFT cost): counted from each notebook's design, checked
against the published cpu run, and their token lengths against a fresh measurement with the SmolLM2 tokenizer."""

import json
import statistics
from pathlib import Path

import pytest

from helpers.course import profiles
from helpers.experiments import nb01_data_size as nb01
from helpers.experiments import nb02_peft_cost as nb02

RESULTS = Path(__file__).resolve().parent.parent / "results" / "cpu"


def generated(work, label: str) -> int:
    """Passes of the generation job called `label`."""
    return next(g.count for g in work.generations if g.label == label)


# --- notebook 01 ---


def nb01_design(cfg) -> dict:
    """What notebook 01 runs, counted from its parameters alone: arms, data groups, sweeps and seeds per task."""
    sweep = len(cfg.lr_grid) + cfg.max_extensions if cfg.learning_rate is None else 0
    tasks = {
        "intake": (
            len(cfg.clean_sizes) + 2 * len(cfg.noise_rates) * len(cfg.noisy_sizes),
            1 + 2 * len(cfg.noise_rates),
        ),
        "banking77": (
            len(cfg.bank_clean_sizes) + len(cfg.bank_noise_rates) * len(cfg.bank_noisy_sizes),
            1 + len(cfg.bank_noise_rates),
        ),
    }
    out = {}
    for task, (arms, groups) in tasks.items():
        swept = groups if sweep else 0  # each sweep's chosen fine-tune is its arm's first-seed run
        out[task] = {
            "arms": arms,
            "sweeps": groups * sweep,
            "finetunes": arms * len(cfg.seeds) - swept + groups * sweep,
        }
    return out


def test_nb01_cpu_counts_every_arm_seed_and_sweep_of_the_design():
    cfg = profiles.settings("data_size", "cpu")
    work = nb01.workload(cfg)
    design = nb01_design(cfg)
    project_cell = 2  # the closing cell's learning curve: two subsets of the demo file
    assert work.n_finetunes == design["intake"]["finetunes"] + design["banking77"]["finetunes"] + project_cell
    # cpu: intake 5 arms x 3 seeds, 3 groups swept over 3 rates + 1 extension; banking77 3 arms, 2 groups
    assert work.n_finetunes == (5 * 3 - 3 + 3 * 4) + (3 * 3 - 2 + 2 * 4) + 2 == 41
    assert generated(work, "intake sweep validation") == design["intake"]["sweeps"] == 12
    assert generated(work, "intake fine-tuned arms, test") == design["intake"]["arms"] * len(cfg.seeds)
    assert generated(work, "banking77 sweep validation") == design["banking77"]["sweeps"]
    assert generated(work, "banking77 fine-tuned arms, test") == design["banking77"]["arms"] * len(cfg.seeds)
    sweeps = [f for f in work.finetunes if " sweep (" in f.label]
    assert {f.label for f in sweeps} == {
        "intake clean sweep (clean-32)",
        "intake noisy 40% sweep (noisy40%-64)",
        "intake cleaned 40% sweep (cleaned40%-64)",
        "banking77 clean sweep (clean-128)",
        "banking77 noisy 40% sweep (noisy40%-512)",
    }
    by_label = {f.label: f for f in work.finetunes}
    assert by_label["intake clean-32"].count == len(cfg.seeds) - 1  # its first seed is the sweep's chosen run
    assert by_label["intake noisy40%-64"].sequences == 64 * cfg.epochs
    assert by_label["banking77 noisy40%-512"].sequences == 512 * cfg.bank_epochs


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_nb01_counts_follow_the_design_on_every_profile_and_without_sweeps(profile):
    for rate in (None, 1e-3):
        cfg = profiles.settings("data_size", profile, learning_rate=rate)
        design = nb01_design(cfg)
        assert nb01.workload(cfg).n_finetunes == design["intake"]["finetunes"] + design["banking77"]["finetunes"] + 2


def test_nb01_more_seeds_add_one_fine_tune_per_arm_and_a_fixed_rate_doubles_with_seeds():
    cfg = profiles.settings("data_size", "cpu")
    arms = sum(d["arms"] for d in nb01_design(cfg).values())
    three = nb01.workload(cfg)
    six = nb01.workload(profiles.settings("data_size", "cpu", seeds=[0, 1, 2, 3, 4, 5]))
    assert six.n_finetunes - three.n_finetunes == 3 * arms
    assert sum(f.count for f in six.finetunes if " sweep (" in f.label) == sum(
        f.count for f in three.finetunes if " sweep (" in f.label
    )
    fixed = {"learning_rate": 1e-3}
    project_cell = 2
    three = nb01.workload(profiles.settings("data_size", "cpu", **fixed)).n_finetunes - project_cell
    six = nb01.workload(profiles.settings("data_size", "cpu", seeds=[0, 1, 2, 3, 4, 5], **fixed)).n_finetunes
    assert six - project_cell == 2 * three


def test_nb01_lengths_follow_the_profile():
    cpu, gpu = profiles.settings("data_size", "cpu"), profiles.settings("data_size", "gpu")
    prompts = {
        p: {g.label: g.prompt_tokens for g in nb01.workload(profiles.settings("data_size", p)).generations}
        for p in ("cpu", "gpu")
    }
    assert prompts["gpu"]["banking77 zero-shot"] - prompts["cpu"]["banking77 zero-shot"] == pytest.approx(
        nb01.BANK_TOKENS_PER_INTENT * (gpu.bank_intents - cpu.bank_intents), abs=1
    )
    assert prompts["gpu"][f"intake {gpu.few_shot}-shot"] - prompts["cpu"][f"intake {cpu.few_shot}-shot"] == (
        nb01.INTAKE_SHOT_TOKENS * (gpu.few_shot - cpu.few_shot)
    )
    work = nb01.workload(profiles.settings("data_size", "cpu", max_new_tokens=50))
    assert {g.new_tokens for g in work.generations if g.label.startswith("intake")} == {50}


def test_nb01_lengths_bound_the_published_cpu_run():
    """The published cpu run trained on the same data: its widest batch fits the counted sequence length, and its
    answer-only logits per sequence match the counted answer tokens."""
    published = json.loads((RESULTS / "01_data_size.json").read_text())
    runs = [r for r in published["metrics"]["runs"] if r["training"]]
    widest = max(nb01.INTAKE_SEQ_TOKENS, nb01.bank_seq_tokens(published["parameters"]["bank_intents"]))
    assert runs and all(r["training"]["max_batch_tokens"] / r["training"]["batch_size_used"] <= widest for r in runs)
    clean = next(r["training"] for r in runs if r["arm"] == "clean-32")
    sequences = clean["optimizer_steps"] * clean["batch_size_used"]
    assert clean["logit_positions"] / sequences == pytest.approx(nb01.INTAKE_ANSWER_TOKENS, rel=0.1)


# --- notebook 02 ---


def nb02_design(cfg, seeded_arms: int) -> int:
    """Fine-tunes of notebook 02: a sweep per arm (full, each LoRA rank and attention rank, QLoRA), the seeded
    verdict arms on every other seed, four memory probes."""
    sweeps = 1 + len(cfg.ranks) + len(cfg.attention_ranks) + 1
    return sweeps * (3 + cfg.max_extensions) + seeded_arms * (len(cfg.seeds) - 1) + 4


def test_nb02_cpu_counts_every_sweep_rerun_and_probe():
    cfg = profiles.settings("peft_cost", "cpu")
    work = nb02.workload(cfg)
    # full, lora-all-r16 (placement), lora-all-r64 (may be the best rank), lora-attn-r16, qlora
    assert work.n_finetunes == nb02_design(cfg, seeded_arms=5) == 5 * 5 + 5 * 2 + 4 == 39
    gpu = profiles.settings("peft_cost", "gpu")  # ranks 4, 16, 64; attention ranks 4, 16, 64
    assert nb02.workload(gpu).n_finetunes == nb02_design(gpu, seeded_arms=5) == 8 * 5 + 5 * 2 + 4
    assert all(f.sequences == 18 * 4 for f in work.finetunes if "probe" not in f.label)  # 36 x 2 epochs in 4s
    assert generated(work, "sweep validation") == 25
    assert generated(work, "test, chosen rates and other seeds") == generated(work, "MMLU-Redux after fine-tuning")


def test_nb02_cpu_bounds_the_published_run():
    published = json.loads((RESULTS / "02_peft_cost.json").read_text())
    names = profiles.parameter_names("peft_cost")
    cfg = profiles.settings("peft_cost", "cpu", **{k: v for k, v in published["parameters"].items() if k in names})
    work = nb02.workload(cfg)
    extra = published["extra"]
    sweep_jobs = {f.label.removesuffix(" sweep"): f for f in work.finetunes if f.label.endswith(" sweep")}
    for arm, record in extra["sweeps"].items():
        assert len(record["rates"]) <= sweep_jobs[arm].count, arm
    reruns = {f.label.removesuffix(", other seeds") for f in work.finetunes if f.label.endswith(", other seeds")}
    assert reruns == set(extra["seeded_arms"])  # the run's best rank (64) is the largest, as counted
    trained = sum(f.count for f in work.finetunes if "probe" not in f.label)
    assert published["timings"]["trainings"] <= trained
    assert len(published["metrics"]["runs"]) == generated(work, "test, chosen rates and other seeds")
    assert {f.label.removesuffix(" memory probe") for f in work.finetunes if "probe" in f.label} == set(
        published["metrics"]["probes"]
    )
    steps = published["parameters"]["steps"]
    assert all(f.sequences == steps * cfg.batch_size for f in work.finetunes if "probe" not in f.label)
    for probe in published["metrics"]["probes"].values():
        assert probe["max_batch_tokens"] / probe["batch_size_used"] <= work.finetunes[0].seq_len


def test_nb02_more_seeds_rerun_only_the_verdict_arms():
    three = nb02.workload(profiles.settings("peft_cost", "cpu"))
    five = nb02.workload(profiles.settings("peft_cost", "cpu", seeds=[0, 1, 2, 3, 4]))  # twice the other seeds
    reruns = lambda w: sum(f.count for f in w.finetunes if f.label.endswith(", other seeds"))  # noqa: E731
    assert reruns(five) == 2 * reruns(three) == 20
    assert five.n_finetunes - three.n_finetunes == reruns(three)
    one = nb02.workload(profiles.settings("peft_cost", "cpu", seeds=[0]))
    assert reruns(one) == 0 and one.n_finetunes == 5 * 5 + 4


# --- token lengths, measured again (about 6 s: the tokenizers library and the chat template, no transformers) ---


@pytest.fixture(scope="module")
def measure():
    """(prompt tokens, whole-sequence tokens) of a chat, with the embedded SmolLM2 tokenizer and its template."""
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from tokenizers import Tokenizer

    from helpers.core.models import ModelNotAvailableError, resolve

    try:
        folder = resolve("smollm2-135m")[0]
    except ModelNotAvailableError as err:
        pytest.skip(f"no embedded model: {err}")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    template = env.from_string((folder / "chat_template.jinja").read_text())

    def count(messages: list[dict], generation_prompt: bool = True) -> int:
        text = template.render(messages=messages, add_generation_prompt=generation_prompt)
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def test_intake_lengths_match_a_fresh_measurement(measure):
    from helpers.core.tasks import replace_system_prompt
    from helpers.data.intake_task import intake_task

    task = intake_task(n_train=64, n_eval=40)
    noisy = intake_task(n_train=64, n_eval=1, noise_rate=0.4).train
    prompt = "Extract the client-intake fields from the note as a JSON object."
    train = replace_system_prompt(task.train + noisy, prompt)
    lengths = [measure(ex.messages, False) for ex in train]
    answers = [n - measure(ex.prompt) for n, ex in zip(lengths, train)]
    assert 0.9 * nb01.INTAKE_SEQ_TOKENS <= max(lengths) <= nb01.INTAKE_SEQ_TOKENS
    assert statistics.mean(answers) == pytest.approx(nb01.INTAKE_ANSWER_TOKENS, rel=0.1)
    finetuned = statistics.mean(measure(ex.prompt) for ex in replace_system_prompt(task.eval, prompt))
    assert finetuned == pytest.approx(nb01.INTAKE_FINETUNED_PROMPT_TOKENS, rel=0.1)
    zero_shot = statistics.mean(measure(p) for p in task.prompts())
    assert zero_shot == pytest.approx(nb01.INTAKE_PROMPT_TOKENS, rel=0.1)
    two_shot = statistics.mean(measure(p) for p in task.prompts(few_shot=2))
    assert two_shot == pytest.approx(nb01.INTAKE_PROMPT_TOKENS + 2 * nb01.INTAKE_SHOT_TOKENS, rel=0.1)


@pytest.mark.parametrize("n_intents", [6, 20])
def test_banking77_lengths_match_a_fresh_measurement(measure, n_intents):
    from helpers.core.tasks import replace_system_prompt
    from helpers.data.task_library import banking77_task

    task = banking77_task(n_intents, 10 * n_intents, 60)
    assert statistics.mean(measure(ex.prompt) for ex in task.eval) == pytest.approx(
        nb01.bank_prompt_tokens(n_intents), rel=0.1
    )
    assert max(measure(ex.messages, False) for ex in task.train) <= nb01.bank_seq_tokens(n_intents)
    finetuned = replace_system_prompt(task.eval + task.train, nb01.BANK_FINETUNED_PROMPT)
    assert statistics.mean(measure(ex.prompt) for ex in finetuned) == pytest.approx(
        nb01.bank_finetuned_prompt_tokens(), rel=0.1
    )
    assert max(measure(ex.messages, False) for ex in finetuned) <= nb01.bank_finetuned_seq_tokens()
    short = replace_system_prompt(task.eval + task.train, "Classify the bank customer's message by intent.")
    assert statistics.mean(measure(ex.prompt) for ex in short) == pytest.approx(
        nb02.SHORT_PROMPT_TOKENS + nb01.BANK_MESSAGE_TOKENS, rel=0.1
    )
    assert (
        max(measure(ex.messages, False) for ex in short)
        <= nb02.workload(profiles.settings("peft_cost", "cpu")).finetunes[0].seq_len
    )
    answers = [measure(ex.messages, False) - measure(ex.prompt) for ex in task.train]
    assert statistics.mean(answers) == pytest.approx(nb01.BANK_ANSWER_TOKENS, rel=0.1)
    assert max(answers) <= nb01.BANK_ANSWER_MAX_TOKENS


@pytest.mark.parametrize("max_chars", [300, 700])
def test_mmlu_prompt_length_matches_a_fresh_measurement(measure, max_chars):
    from helpers.experiments.forgetting import mmlu_sample, question_prompt

    questions = mmlu_sample(48, seed=0, max_chars=max_chars)["questions"]
    mean = statistics.mean(measure(question_prompt(q)) for q in questions)
    assert mean == pytest.approx(nb02.mmlu_prompt_tokens(max_chars), rel=0.1)
