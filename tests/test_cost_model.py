import pytest

from helpers.core import cost_model
from helpers.core.cost_model import KNOWN_ARCHITECTURES, Architecture, Setup, fit_table, training_memory


@pytest.mark.parametrize(
    "name, published",
    [
        ("SmolLM2-135M", 134.5e6),
        ("Qwen2.5-0.5B", 494e6),
        ("Qwen2.5-1.5B", 1.54e9),
        ("SmolLM2-1.7B", 1.71e9),
        ("Qwen2.5-7B", 7.62e9),
        ("Llama-3.1-8B", 8.03e9),
        ("Qwen2.5-32B", 32.8e9),
        ("Llama-3.1-70B", 70.6e9),
    ],
)
def test_parameter_counts_match_the_published_sizes(name, published):
    assert KNOWN_ARCHITECTURES[name].params() == pytest.approx(published, rel=0.01)


def test_counts_match_the_real_model_and_peft(tiny):
    from peft import LoraConfig, get_peft_model

    arch = Architecture.from_config(tiny.model.config, "tiny")
    assert arch.params() == sum(p.numel() for p in tiny.model.parameters())
    for targets, modules in [("all-linear", "all-linear"), ("attention", list(cost_model.ATTENTION))]:
        import copy

        peft_model = get_peft_model(copy.deepcopy(tiny.model), LoraConfig(r=8, target_modules=modules))
        trainable, _ = peft_model.get_nb_trainable_parameters()
        assert arch.lora_params(8, targets) == trainable


def test_method_ordering_and_parts():
    arch = KNOWN_ARCHITECTURES["Qwen2.5-7B"]
    full, lora, qlora = (
        training_memory(arch, Setup(method=m, gradient_checkpointing=True)) for m in ("full", "lora", "qlora")
    )
    assert full.total > 3 * lora.total > 0 and lora.total > qlora.total
    assert full.optimizer == 2 * full.weights  # AdamW: two moments per parameter, same dtype
    # mixed precision: fp32 master weights, gradients and moments (16 bytes a parameter) whatever autocast computes in
    for dtype in ("bf16", "fp16", "fp32"):
        states = training_memory(arch, Setup(method="full", dtype=dtype))
        assert states.weights + states.gradients + states.optimizer == 16 * arch.params()
    assert lora.weights == 2 * arch.params() + 4 * lora.trainable_params  # frozen base in bf16, adapters in fp32
    assert lora.trainable_params / lora.total_params < 0.01  # r16 all-linear on 7B: about 0.5%
    # QLoRA stores the 6.5B linear weights in about 4.1 bits, but prepare_model_for_kbit_training
    # upcasts the 1.1B embedding and head weights to fp32: 7.9 GB, about half of bf16's 15.2 GB
    assert qlora.weights == pytest.approx(7.89e9, rel=0.01)
    assert qlora.weights < 0.55 * lora.weights


def test_activations_grow_with_tokens_and_shrink_with_checkpointing():
    arch = KNOWN_ARCHITECTURES["Qwen2.5-1.5B"]
    short, long = (training_memory(arch, Setup(seq_len=s)).activations for s in (512, 2048))
    assert long == pytest.approx(4 * short)
    assert (
        training_memory(arch, Setup(gradient_checkpointing=True)).activations
        < training_memory(arch, Setup()).activations
    )


def test_answer_only_logits_shrink_the_logits_and_the_head_flops():
    arch = KNOWN_ARCHITECTURES["SmolLM2-135M"]  # a 49k vocabulary on a 576-wide model: the head is a fifth of the work
    every, answers = (Setup(method="lora", dtype="bf16", seq_len=1000, logit_share=share) for share in (1.0, 0.25))
    saved_activations = training_memory(arch, every).activations - training_memory(arch, answers).activations
    assert saved_activations == pytest.approx(0.75 * 1000 * arch.vocab * (2 + 8))  # bf16 logits and their fp32 copy
    head_forward = 2 * arch.vocab * arch.hidden
    assert cost_model.flops_per_token(arch, every) - cost_model.flops_per_token(arch, answers) == pytest.approx(
        2 * 0.75 * head_forward
    )
    with pytest.raises(ValueError, match="logit_share"):
        Setup(logit_share=0)


def test_fit_table_marks_what_fits():
    rows = fit_table(
        [KNOWN_ARCHITECTURES["Qwen2.5-7B"], KNOWN_ARCHITECTURES["Llama-3.1-70B"]],
        {m: Setup(method=m, gradient_checkpointing=True) for m in ("full", "qlora")},
    )
    by_key = {(r["model"], r["method"]): r for r in rows}
    assert by_key[("Llama-3.1-70B", "full")]["80 GB"] == "no"
    assert by_key[("Llama-3.1-70B", "qlora")]["80 GB"] == "yes"
    assert by_key[("Qwen2.5-7B", "qlora")]["24 GB"] == "yes"


def test_time_scales_with_tokens_and_method():
    arch = KNOWN_ARCHITECTURES["Qwen2.5-1.5B"]
    full = cost_model.training_time_hours(arch, Setup(method="full"), 1e8, 989)
    lora = cost_model.training_time_hours(arch, Setup(method="lora"), 1e8, 989)
    assert 1.3 < full / lora < 1.6  # full does the extra weight-gradient matmuls
    assert cost_model.training_time_hours(arch, Setup(method="full"), 2e8, 989) == pytest.approx(2 * full)
    with pytest.raises(ValueError, match="utilisation"):
        cost_model.training_time_hours(arch, Setup(), 1e8, 989, utilisation=0)


def test_bad_setup_is_rejected_by_name():
    with pytest.raises(ValueError, match="method"):
        Setup(method="adapter")
    with pytest.raises(ValueError, match="gate"):
        KNOWN_ARCHITECTURES["SmolLM2-135M"].lora_params(8, ["gate"])
