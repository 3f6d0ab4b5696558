"""GPU-only behaviour rehearsed on the CPU: precision chosen by compute capability, and out-of-memory errors
injected into training and generation, which retry smaller instead of failing."""

import pytest
import torch

from helpers.core import models, training
from helpers.core.generation import generate
from helpers.core.models import load_model
from helpers.core.tasks import Example
from helpers.core.training import TrainConfig, TrainingOutOfMemoryError, finetune, precision_arguments


def _capability(monkeypatch, major, minor):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what a T4 says, through emulation


@pytest.mark.parametrize(
    ("capability", "precision", "dtype"),
    [
        ((7, 5), "fp16", torch.float16),
        ((7, 0), "fp16", torch.float16),
        ((8, 0), "bf16", torch.bfloat16),
        ((9, 0), "bf16", torch.bfloat16),
    ],
)
def test_auto_precision_follows_compute_capability_not_emulated_bf16(monkeypatch, capability, precision, dtype):
    _capability(monkeypatch, *capability)
    assert TrainConfig().resolved_precision("cuda") == precision
    assert models.default_dtype("cuda") == dtype
    assert TrainConfig(precision="fp32").resolved_precision("cuda") == "fp32"


def test_precision_reaches_the_trainer_as_autocast_flags():
    assert precision_arguments("fp16") == {"fp16": True, "bf16": False}  # the Trainer adds its gradient scaler
    assert precision_arguments("bf16") == {"fp16": False, "bf16": True}
    assert precision_arguments("fp32") == {"fp16": False, "bf16": False}
    assert training.precision_label("fp16") == "fp16 autocast" and training.precision_label("fp32") == "fp32"


def examples(n=8):
    return [
        Example([{"role": "user", "content": f"say {w}"}, {"role": "assistant", "content": w}])
        for w in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"][:n]
    ]


class OutOfMemoryAfter:
    """Stands in for Trainer.train: raises CUDA's out-of-memory error the first `times` calls, optionally after
    taking `steps` real optimizer steps (the error can come mid-run), then trains for real."""

    def __init__(self, real, times=1, steps=0):
        self.real, self.times, self.steps, self.calls, self.batch_sizes = real, times, steps, 0, []

    def __call__(self, trainer, *args, **kwargs):
        self.calls += 1
        self.batch_sizes.append(trainer.args.per_device_train_batch_size)
        if self.calls <= self.times:
            if self.steps:
                trainer.args.max_steps = self.steps
                self.real(trainer)
                with torch.no_grad():  # make the damage visible: a retry must start from the untouched weights
                    for p in trainer.model.parameters():
                        if p.requires_grad:
                            p.add_(1.0)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.real(trainer, *args, **kwargs)

    def install(self, monkeypatch):
        """Trainer.train becomes this (a plain function, so that it binds to each trainer)."""
        from transformers import Trainer

        monkeypatch.setattr(Trainer, "train", lambda trainer, *a, **k: self(trainer, *a, **k))
        return self


def test_out_of_memory_retries_with_half_the_batch_and_twice_the_accumulation(monkeypatch):
    from transformers import Trainer

    fake = OutOfMemoryAfter(Trainer.train, times=2).install(monkeypatch)
    with pytest.warns(UserWarning, match="out of memory at batch_size=8: retrying with batch_size=4"):
        _, record = finetune("tiny", examples(), TrainConfig(method="lora", batch_size=8, max_steps=2, save=False))
    assert fake.batch_sizes == [8, 4, 2]
    assert (record.batch_size_used, record.grad_accum_used, record.oom_retries_used) == (2, 4, 2)
    assert record.batch_size_used * record.grad_accum_used == 8  # the same examples per optimizer step
    assert record.optimizer_steps == 2


def test_a_retry_after_steps_were_taken_starts_from_the_initial_adapter(monkeypatch):
    from transformers import Trainer

    config = TrainConfig(method="lora", batch_size=4, grad_accum=2, max_steps=2, save=False, seed=3)
    clean_model, clean = finetune(
        "tiny", examples(), TrainConfig(**{**config.__dict__, "batch_size": 2, "grad_accum": 4})
    )
    OutOfMemoryAfter(Trainer.train, times=1, steps=1).install(monkeypatch)
    retried_model, retried = finetune("tiny", examples(), config)
    assert retried.oom_retries_used == 1 and retried.batch_size_used == 2
    clean_weights = {n: p for n, p in clean_model.model.named_parameters() if p.requires_grad}
    for name, p in retried_model.model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p, clean_weights[name])  # as if the first attempt had never run


def test_full_fine_tuning_that_ran_out_mid_run_is_not_retried_on_damaged_weights(monkeypatch):
    from transformers import Trainer

    OutOfMemoryAfter(Trainer.train, times=1, steps=1).install(monkeypatch)
    with pytest.raises(TrainingOutOfMemoryError, match="Out of GPU memory"):
        finetune("tiny", examples(), TrainConfig(method="full", batch_size=4, max_steps=2, save=False))


def test_retries_stop_at_the_limit_with_the_remedies(monkeypatch):
    from transformers import Trainer

    OutOfMemoryAfter(Trainer.train, times=99).install(monkeypatch)
    with pytest.raises(TrainingOutOfMemoryError, match=r"(?s)retried down to batch_size=1.*gradient checkpointing"):
        with pytest.warns(UserWarning):
            finetune("tiny", examples(), TrainConfig(method="lora", batch_size=8, max_steps=1, save=False))
    with pytest.raises(TrainingOutOfMemoryError):
        finetune("tiny", examples(), TrainConfig(method="lora", batch_size=8, max_steps=1, save=False, oom_retries=0))


def test_full_fine_tuning_by_name_keeps_fp32_master_weights():
    _, record = finetune("tiny", examples(4), TrainConfig(method="full", batch_size=4, max_steps=1, save=False))
    assert record.weights_dtype == "float32"


def test_generation_splits_a_batch_that_runs_out_of_memory(monkeypatch):
    tiny = load_model("tiny")
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(6)]
    expected = generate(tiny, prompts, max_new_tokens=4, batch_size=6, progress=False)
    real = tiny.model.generate
    sizes = []

    def fails_above_two(**kwargs):
        sizes.append(len(kwargs["input_ids"]))
        if len(kwargs["input_ids"]) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real(**kwargs)

    monkeypatch.setattr(tiny.model, "generate", fails_above_two)
    with pytest.warns(UserWarning, match="out of memory generating 6 prompts"):
        split = generate(tiny, prompts, max_new_tokens=4, batch_size=6, progress=False)
    assert sizes == [6, 3, 1, 2, 3, 1, 2]
    assert split == expected


def test_child_probes_get_the_memory_back_first(monkeypatch):
    from helpers.core import cost_probe

    freed = []
    monkeypatch.setattr(cost_probe, "free_accelerator_memory", lambda: freed.append(True))
    with pytest.raises(cost_probe.CostProbeError):
        cost_probe.run_helpers_command(["no-such-command"], "probe", timeout=60)
    assert freed == [True]


def test_an_odd_batch_keeps_at_least_its_examples_per_step(monkeypatch):
    from transformers import Trainer

    fake = OutOfMemoryAfter(Trainer.train, times=1).install(monkeypatch)
    with pytest.warns(UserWarning, match=r"retrying with batch_size=1, grad_accum=3 \(3 examples per optimizer step"):
        _, record = finetune("tiny", examples(6), TrainConfig(method="lora", batch_size=3, max_steps=1, save=False))
    assert fake.batch_sizes == [3, 1] and (record.batch_size_used, record.grad_accum_used) == (1, 3)


def test_full_fine_tuning_of_16_bit_weights_under_fp16_autocast_is_refused(monkeypatch):
    monkeypatch.setattr(TrainConfig, "resolved_precision", lambda self, device: "fp16")  # a T4, rehearsed
    half = load_model("tiny", dtype=torch.float16)
    with pytest.raises(ValueError, match="fp16 autocast needs fp32 weights"):
        finetune(half, examples(4), TrainConfig(method="full", batch_size=4, max_steps=1, save=False))
