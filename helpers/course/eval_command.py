"""`python -m helpers eval`: score a model, or a base model with a LoRA adapter from `python -m helpers train`,
on a JSONL file of examples (the training format: the last assistant message is the reference answer).

Greedy generation from each example's prompt (everything before the answer), scored by exact match
(normalized text) or by label accuracy (the course's label extraction: the label the output names).
Prints the score with a 95% bootstrap interval over the examples, and writes one JSON line per
example (input, reference, prediction, correct) with --output.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .train_command import positive_int

METRICS = ("exact_match", "label")


def label_list(text: str) -> list[str]:
    labels = [label.strip() for label in text.split(",") if label.strip()]
    if not labels:
        raise ValueError(text)
    return labels


label_list.__name__ = "comma-separated label list"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="hub id, local folder, .gguf file, 'smollm2-135m' or 'tiny'; with --adapter, the base model "
        "(default: the base recorded in the adapter)",
    )
    parser.add_argument("--adapter", help="a LoRA adapter folder saved by `python -m helpers train` (OUTPUT/adapter)")
    parser.add_argument(
        "--data", required=True, help="JSONL file: {'messages': [...]} or {'prompt', 'completion'} per line"
    )
    parser.add_argument(
        "--metric",
        choices=METRICS,
        default="exact_match",
        help="exact_match: normalized text equality; label: the label the output names equals the reference",
    )
    parser.add_argument("--labels", type=label_list, help="with --metric label: a,b,c (default: the references seen)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=32)
    parser.add_argument("--batch-size", type=positive_int, default=16, help="prompts generated together")
    parser.add_argument("--output", help="JSONL file for the predictions (one line per example)")


def adapter_base(adapter: Path) -> tuple[str | None, str | None]:
    """(base model, quantization) the adapter was trained on: the base from adapter_config.json, and 4-bit
    NF4 when the record that `python -m helpers train` wrote next to it says QLoRA."""
    from .cli import UserError

    config_file = adapter / "adapter_config.json"
    if not adapter.is_dir():
        raise UserError(f"--adapter {adapter}: no such folder")
    try:
        base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except FileNotFoundError:
        raise UserError(f"--adapter {adapter}: no adapter_config.json (not a peft adapter folder)") from None
    except (ValueError, OSError) as err:
        raise UserError(f"--adapter {config_file}: cannot be read ({err})") from None
    quantization = None
    record = adapter.parent / "record-rank0.json"
    try:
        if json.loads(record.read_text(encoding="utf-8"))["config"]["method"] == "qlora":
            quantization = "nf4"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return base, quantization


def load_for_eval(model: str | None, adapter: str | None):
    """The model to evaluate: `model`, or its base with the adapter applied (merged where it can be)."""
    from ..core.models import load_model
    from ..core.training import merged_for_inference
    from .cli import UserError

    if adapter is None:
        return load_model(model)
    adapter_dir = Path(adapter)
    base, quantization = adapter_base(adapter_dir)
    if model is None and base is None:
        raise UserError(f"--adapter {adapter_dir}: records no base model; pass --model")
    loaded = load_model(model or base, quantization=quantization)
    from peft import PeftModel

    loaded.model = PeftModel.from_pretrained(loaded.model, adapter_dir)
    loaded.model.eval()
    loaded.notes = loaded.notes + [f"adapter {adapter_dir}"]
    return merged_for_inference(loaded)


def scored_task(examples, metric: str, labels: list[str] | None, data: str):
    """A Task over the examples with the chosen scorer; per item it gives `correct` (and `predicted_label`)."""
    from ..core import scoring
    from ..core.tasks import Task
    from .cli import UserError

    references = [ex.reference for ex in examples]
    if metric == "exact_match":

        def scorer(predictions, items):
            return {"correct": scoring.exact_match(predictions, [ex.reference for ex in items])}

        return Task(Path(data).stem, [], examples, scorer, "correct")
    labels = labels or list(dict.fromkeys(ref.strip() for ref in references))
    unknown = next((i for i, ref in enumerate(references) if ref.strip() not in labels), None)
    if unknown is not None:
        with open(data, "rb") as handle:  # the file loaded, so its non-blank lines are the examples in order
            line = [n for n, raw in enumerate(handle, start=1) if raw.strip()][unknown]
        raise UserError(
            f"{data}, line {line}: the reference answer {references[unknown]!r} is not one of --labels "
            f"{','.join(labels)}"
        )

    def label_scorer(predictions, items):
        scores = scoring.label_scores(predictions, [ex.reference.strip() for ex in items], labels)
        return {"correct": scores["accuracy"], "predicted_label": scores["predicted_label"]}

    return Task(Path(data).stem, [], examples, label_scorer, "correct", labels=labels)


def run(args: argparse.Namespace) -> int:
    from ..core.tasks import load_jsonl_examples
    from .cli import UserError

    if args.model is None and args.adapter is None:
        raise UserError("--model is needed (or --adapter, whose base model is recorded)")
    if args.labels and args.metric != "label":
        raise UserError("--labels needs --metric label")
    examples = load_jsonl_examples(args.data)  # before torch loads: a bad file fails at once
    task = scored_task(examples, args.metric, args.labels, args.data)
    output = Path(args.output) if args.output else None
    if output is not None:  # before the model loads and generates: a bad path fails at once
        if output.is_dir():
            raise UserError(f"--output {output}: is a folder; give a file name, e.g. {output / 'predictions.jsonl'}")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--output {output}: cannot create its folder ({err.strerror or err})") from None
        if not os.access(output.parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
            raise UserError(f"--output {output}: not writable")

    from ..core.generation import generate
    from ..core.stats import summarize

    loaded = load_for_eval(args.model, args.adapter)
    predictions = generate(loaded, task.prompts(), max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    scores = task.score(predictions)
    if output is not None:
        with open(output, "w", encoding="utf-8") as handle:
            for i, (example, prediction) in enumerate(zip(examples, predictions)):
                row = {
                    "input": example.prompt,
                    "reference": example.reference,
                    "prediction": prediction,
                    "correct": bool(scores["correct"][i]),
                }
                if "predicted_label" in scores:
                    row["predicted_label"] = scores["predicted_label"][i] or None
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = summarize(scores["correct"])
    name = "label accuracy" if args.metric == "label" else "exact match"
    subject = loaded.name + (f" + adapter {args.adapter}" if args.adapter else "")
    print(
        f"{name}: {summary['mean']:.3f} (95% CI {summary['ci_low']:.3f}-{summary['ci_high']:.3f}), "
        f"n={summary['n']}  [{subject} on {args.data}]"
    )
    if "predicted_label" in scores:
        unnamed = sum(1 for label in scores["predicted_label"] if not label)
        print(f"outputs naming none of the labels: {unnamed} of {len(predictions)} ({', '.join(task.labels)})")
    if output is not None:
        print(f"predictions written to {output}")
    return 0
