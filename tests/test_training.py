import pytest
import torch
from transformers import TrainerCallback

from helpers.core.generation import generate
from helpers.core.models import load_model
from helpers.core.training import (
    TrainConfig,
    TrainingOutOfMemoryError,
    finetune,
    latest_checkpoint,
    tokenize_chat,
)

FAST = dict(epochs=12, batch_size=4, learning_rate=3e-3, logging_steps=1, warmup_ratio=0.0, save=False)


def test_loss_falls_on_assistant_tokens_only(tiny):
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "second answer"},
    ]
    row = tokenize_chat(tiny.tokenizer, messages, max_length=512)
    trained = tiny.tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
    assert trained == "first answer<|im_end|>\nsecond answer<|im_end|>\n"
    full = tiny.tokenizer.apply_chat_template(messages, tokenize=False)
    assert tiny.tokenizer.decode(row["input_ids"]) == full


def test_truncation_respects_max_length(tiny, toy_examples):
    row = tokenize_chat(tiny.tokenizer, toy_examples[0].messages, max_length=5)
    assert len(row["input_ids"]) == len(row["labels"]) == 5


@pytest.mark.parametrize("method", ["lora", "qlora", "full"])
def test_each_method_learns_and_reports(method, toy_examples):
    model, record = finetune("tiny", toy_examples, TrainConfig(method=method, **FAST), progress=False)
    losses = [h["loss"] for h in record.loss_history]
    assert losses[-1] < losses[0] - 0.5, losses  # 12 steps on 4 examples: a real drop, not noise
    assert record.tokens_seen > 0 and record.tokens_per_second > 0 and record.peak_memory_mb > 0
    assert record.optimizer_steps == 12
    assert record.precision_used == ("bf16 autocast" if TrainConfig().resolved_precision("cpu") == "bf16" else "fp32")
    if method == "full":
        assert record.trainable_percent == pytest.approx(100.0)
    else:
        assert 0 < record.trainable_percent < 50
        assert model.quantization == ("nf4" if method == "qlora" else None)


def test_same_seed_same_result_and_saved_size(tmp_path, toy_examples):
    config = TrainConfig(method="lora", **{**FAST, "epochs": 3, "save": True})
    first, rec1 = finetune("tiny", toy_examples, config, output_dir=tmp_path / "a", progress=False)
    second, rec2 = finetune("tiny", toy_examples, config, output_dir=tmp_path / "b", progress=False)
    assert rec1.loss_history == rec2.loss_history
    prompts = [ex.prompt for ex in toy_examples]
    assert generate(first, prompts, max_new_tokens=4, progress=False) == generate(
        second, prompts, max_new_tokens=4, progress=False
    )
    assert rec1.saved_bytes > 0 and (tmp_path / "a" / "adapter" / "adapter_config.json").is_file()
    other, rec3 = finetune(
        "tiny", toy_examples, TrainConfig(method="lora", **{**FAST, "epochs": 3, "seed": 1}), progress=False
    )
    assert rec3.loss_history != rec1.loss_history


def test_qlora_needs_a_4bit_base(tiny, toy_examples):
    with pytest.raises(ValueError, match="4-bit base"):
        finetune(tiny, toy_examples, TrainConfig(method="qlora"))
    with pytest.raises(ValueError, match="unknown method"):
        finetune(tiny, toy_examples, TrainConfig(method="adapters"))


def test_out_of_memory_becomes_advice(monkeypatch, toy_examples):
    import transformers

    def explode(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(transformers.Trainer, "train", explode)
    with pytest.raises(TrainingOutOfMemoryError) as err:
        finetune(
            load_model("tiny"), toy_examples, TrainConfig(method="lora", batch_size=8, oom_retries=0), progress=False
        )
    message = str(err.value)
    assert "batch_size=4" in message and "grad_accum=2" in message
    assert "gradient_checkpointing=True" in message and "qlora" in message


def test_merging_lora_keeps_the_answers(toy_examples):
    from peft import PeftModel

    from helpers.core.training import merged_for_inference

    tuned, _ = finetune("tiny", toy_examples, TrainConfig(method="lora", **FAST), progress=False)
    prompts = [ex.prompt for ex in toy_examples]
    before = generate(tuned, prompts, max_new_tokens=6, progress=False)
    merged = merged_for_inference(tuned)
    assert not isinstance(merged.model, PeftModel)
    assert generate(merged, prompts, max_new_tokens=6, progress=False) == before
    full, _ = finetune("tiny", toy_examples, TrainConfig(method="full", **FAST), progress=False)
    assert merged_for_inference(full) is full


def test_answer_logits_mark_the_positions_that_predict_answer_tokens(tiny, toy_examples):
    from helpers.core.training import CompletionCollator, build_dataset

    dataset, _ = build_dataset(tiny.tokenizer, toy_examples, 512)
    rows = [dataset[i] for i in range(len(dataset))]
    plain = CompletionCollator(tiny.tokenizer.pad_token_id)(rows)
    batch = CompletionCollator(tiny.tokenizer.pad_token_id, answer_logits_only=True)(rows)
    assert "logits_to_keep" not in plain
    keep, labels = batch["logits_to_keep"], batch["labels"]
    for r in range(labels.shape[0]):
        answer_positions = (labels[r] != -100).nonzero().flatten().tolist()
        assert keep[r].nonzero().flatten().tolist() == [
            p - 1 for p in answer_positions
        ]  # position p-1 predicts token p
    assert batch["shift_labels"].tolist() == labels[labels != -100].tolist()
    with torch.no_grad():
        every_position = tiny.model(**plain).loss
        answers_only = tiny.model(**batch).loss
    assert answers_only.item() == pytest.approx(every_position.item(), rel=1e-5)


def test_answer_logits_train_like_full_logits_and_fall_back_where_unsupported(toy_examples):
    from helpers.core.training import supports_answer_logits

    config = TrainConfig(method="lora", **{**FAST, "epochs": 3, "precision": "fp32"})
    _, sliced = finetune("tiny", toy_examples, config, progress=False)
    _, full = finetune(
        "tiny", toy_examples, TrainConfig(**{**config.__dict__, "answer_logits_only": False}), progress=False
    )
    assert sliced.answer_logits_only_used and not full.answer_logits_only_used
    assert full.logit_positions == full.padded_tokens_seen > sliced.logit_positions > 0
    assert [h["loss"] for h in sliced.loss_history] == pytest.approx([h["loss"] for h in full.loss_history], rel=1e-4)

    class NoSlicing(torch.nn.Module):
        def forward(self, input_ids, labels=None):
            return input_ids

    assert not supports_answer_logits(NoSlicing())


def test_optimizer_is_chosen_by_its_trainer_name(toy_examples):
    from transformers import TrainerCallback

    class SeeOptimizer(TrainerCallback):
        seen = []

        def on_step_end(self, args, state, control, optimizer=None, **kwargs):
            self.seen.append(type(getattr(optimizer, "optimizer", optimizer)).__module__)

    config = TrainConfig(method="full", max_steps=2, batch_size=2, save=False, optimizer="adamw_bnb_8bit")
    _, record = finetune("tiny", toy_examples, config, progress=False, callbacks=[SeeOptimizer()])
    assert (
        SeeOptimizer.seen
        and SeeOptimizer.seen[-1].startswith("bitsandbytes.optim")
        and record.config["optimizer"] == "adamw_bnb_8bit"
    )


def test_no_examples_left_names_max_length(tiny, toy_examples):
    from helpers.core.training import NoTrainingExamplesError, build_dataset

    with pytest.raises(NoTrainingExamplesError, match="no training examples given"):
        build_dataset(tiny.tokenizer, [], 512)
    with pytest.warns(UserWarning), pytest.raises(NoTrainingExamplesError, match="max_length=2; raise max_length"):
        build_dataset(tiny.tokenizer, toy_examples, 2)


class StopAt(TrainerCallback):
    """Ends training after `step` optimizer steps, as an interrupted run would stop."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def test_an_interrupted_run_resumed_from_its_checkpoint_ends_as_the_uninterrupted_run(tmp_path, toy_examples):
    config = TrainConfig(method="lora", **{**FAST, "epochs": 3, "batch_size": 2, "checkpoint_steps": 2})
    whole, whole_record = finetune("tiny", toy_examples, config, output_dir=tmp_path / "whole", progress=False)
    assert whole_record.optimizer_steps == 6 and latest_checkpoint(tmp_path / "whole").name == "checkpoint-6"

    finetune("tiny", toy_examples, config, output_dir=tmp_path / "cut", progress=False, callbacks=[StopAt(3)])
    assert latest_checkpoint(tmp_path / "cut").name == "checkpoint-2"  # the step-3 work is lost, as in a crash
    resumed, resumed_record = finetune(
        "tiny", toy_examples, config, output_dir=tmp_path / "cut", progress=False, resume=True
    )
    assert resumed_record.optimizer_steps == 6 and resumed_record.resumed_from_step == 2
    assert resumed_record.mean_train_loss == pytest.approx(whole_record.mean_train_loss, rel=1e-3)
    # the history carries on from the checkpoint's: the same losses at the same steps as the uninterrupted run
    assert [h["step"] for h in resumed_record.loss_history] == [h["step"] for h in whole_record.loss_history]
    assert [h["loss"] for h in resumed_record.loss_history] == pytest.approx(
        [h["loss"] for h in whole_record.loss_history], rel=1e-4
    )
    trained = {name: p for name, p in whole.model.named_parameters() if p.requires_grad}
    for name, p in resumed.model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p, trained[name], rtol=1e-4, atol=1e-6)

    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        finetune("tiny", toy_examples, config, output_dir=tmp_path / "none", progress=False, resume=True)
