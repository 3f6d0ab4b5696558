"""Exercises at the end of every notebook: change one parameter, predict the result first, then rerun.

Each exercise names a parameter of its notebook's `parameters` cell (a test checks that it exists), says
what to change and what to predict, and has an answer read from the published run of the profile
(results/<profile>/<notebook>.json): what that run measured, so a learner compares a prediction with a
number, not with a sentence written in advance.

In a notebook:

    show_exercises("01_data_size")          # the questions
    show_answers("01_data_size", "cpu")     # in a cell whose source is hidden: the published numbers
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from . import profiles


@dataclass(frozen=True)
class Exercise:
    parameter: str  # a parameter of the notebook's parameters cell
    change: str  # what to set it to
    predict: str  # what to predict before rerunning
    answer: Callable[[dict], str]  # what the published run measured, from its record


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _verdict(record: dict, verdict_id: str) -> str:
    found = next((v for v in record.get("verdicts", []) if v.get("id") == verdict_id), None)
    if found is None:
        return f"{verdict_id}: not in this result file"
    scale = f" ({found['scale']})" if found.get("scale") else ""
    return f"{verdict_id} was {found['status']}{scale}"


def _interval(summary: dict) -> str:
    return f"{_pct(summary['mean'])} (95% CI {_pct(summary['ci_low'])} to {_pct(summary['ci_high'])})"


EXERCISES: dict[str, list[Exercise]] = {
    "00_quickstart": [
        Exercise(
            "epochs",
            "halve it",
            "Is the fine-tuned accuracy closer to the base model's or to the published fine-tuned one?",
            lambda r: (
                f"published: base {_interval(r['metrics']['base']['accuracy'])}, fine-tuned "
                f"{_interval(r['metrics']['finetuned_across_seeds'])} at epochs={r['parameters']['epochs']}."
            ),
        ),
        Exercise(
            "n_intents",
            "double it",
            "Chance accuracy halves. Does the fine-tuned accuracy fall by more or by less than chance does?",
            lambda r: (
                f"published with {r['parameters']['n_intents']} intents: fine-tuned "
                f"{_interval(r['metrics']['finetuned_across_seeds'])}; {_verdict(r, '00.qlora_beats_base')}."
            ),
        ),
        Exercise(
            "learning_rate",
            "set it to 2e-4, the usual starting rate for 7B-13B adapters",
            "On this small model, does the fine-tuned accuracy stay above the base model's, or fall towards chance?",
            lambda r: (
                f"published at learning rate {r['metrics']['training'][0]['config']['learning_rate']:g} with seeds "
                f"{r['seeds']}: fine-tuned {_interval(r['metrics']['finetuned_across_seeds'])}, base "
                f"{_interval(r['metrics']['base']['accuracy'])}."
            ),
        ),
    ],
    "01_data_size": [
        Exercise(
            "noise_rates",
            "raise the noise rate to [0.6]",
            "Which curve moves, clean or noisy, and does the noisy set still reach the clean one's field F1?",
            lambda r: (
                "published: "
                + ", ".join(f"{arm} {_pct(row['field_f1']['mean'])}" for arm, row in r["metrics"]["intake"].items())
                + f"; {_verdict(r, '01.intake.small_clean_beats_large_noisy')}."
            ),
        ),
        Exercise(
            "clean_sizes",
            "add a larger clean set, e.g. [8, 16, 32, 64]",
            "Is the learning curve still rising at 64, or flat? (Each arm trains the same epochs, so 64 also trains "
            "twice the steps of 32.)",
            lambda r: (
                "published clean arms: "
                + ", ".join(
                    f"{arm} {_pct(row['field_f1']['mean'])}"
                    for arm, row in r["metrics"]["intake"].items()
                    if arm.startswith("clean-")
                )
                + f"; {_verdict(r, '01.intake.more_clean_data_helps')}."
            ),
        ),
        Exercise(
            "few_shot",
            "set it to 0",
            "How much of the prompted baseline's JSON validity came from the demonstration?",
            lambda r: (
                "published baselines: "
                + ", ".join(
                    f"{arm} valid JSON {_pct(row['json_valid']['mean'])}"
                    for arm, row in r["metrics"]["intake"].items()
                    if "shot" in arm
                )
                + "."
            ),
        ),
    ],
    "02_peft_cost": [
        Exercise(
            "epochs",
            "double it",
            "Does LoRA close the gap to full fine-tuning with more epochs, or does the gap stay? Do the chosen "
            "learning rates move?",
            lambda r: (
                "published test accuracy: "
                + ", ".join(f"{arm} {_pct(row['accuracy']['mean'])}" for arm, row in r["metrics"]["arms"].items())
                + f" after {r['parameters'].get('epochs', 1):g} epoch(s), {r['parameters']['steps']} steps; "
                + f"chosen rates {r['parameters'].get('chosen_learning_rates')}; "
                + f"{_verdict(r, '02.lora_within_margin')}."
            ),
        ),
        Exercise(
            "lora_lrs",
            "start every LoRA sweep at one rate ten times higher (multiply each rate by 10)",
            "Does each LoRA sweep come back to the same chosen rate, and how many extensions does it need?",
            lambda r: (
                "published sweeps: "
                + "; ".join(f"{arm} {sweep['note']}" for arm, sweep in r.get("extra", {}).get("sweeps", {}).items())
                if r.get("extra", {}).get("sweeps")
                else f"published chosen rates: {r['parameters'].get('chosen_learning_rates')}; "
                f"sweep {r['parameters']['lora_lrs']}."
            ),
        ),
        Exercise(
            "fit_seq_len",
            "set it to 4096",
            "Which methods still fit a 24 GB card for a 7B model?",
            lambda r: (
                "published fit table at "
                + f"{r['parameters']['fit_seq_len']} tokens: "
                + ", ".join(
                    f"{row['model']} {row['method']} {row['memory (GB)']} GB"
                    for row in r["metrics"]["fit_table"]
                    if "7B" in str(row["model"])
                )
                + "."
            ),
        ),
    ],
    "03_hallucination": [
        Exercise(
            "qa_epochs",
            "halve it",
            "Does accuracy on the seen questions fall, and does hallucination on unseen facts change?",
            lambda r: (
                f"published fine-tuned: seen accuracy "
                f"{_interval(r['metrics']['outcomes']['fine-tuned']['seen']['accuracy'])}, unseen hallucination "
                f"{_interval(r['metrics']['outcomes']['fine-tuned']['unseen']['hallucination_rate'])}."
            ),
        ),
        Exercise(
            "n_abstain",
            "set it to 0",
            "Does the abstention + RAG arm still abstain on unanswerable questions?",
            lambda r: (
                "published abstention rate on unanswerable questions: "
                + _interval(
                    r["metrics"]["outcomes"]["fine-tuned w/ abstention + RAG"]["unanswerable"]["abstention_rate"]
                )
                + f" with n_abstain={r['parameters']['n_abstain']}; {_verdict(r, '03.abstention_cuts_hallucination')}."
            ),
        ),
        Exercise(
            "top_k",
            "set it to 1",
            "Does retrieval's advantage on unseen facts shrink when only one document is retrieved?",
            lambda r: (
                f"published recall at k={r['parameters']['top_k']}: {r['metrics']['retrieval_recall']}; "
                f"{_verdict(r, '03.rag_beats_ft')}."
            ),
        ),
    ],
    "04_one_and_done": [
        Exercise(
            "replay_share",
            "set it to 0 (new data only)",
            "How much of the unchanged facts does the retrained model still get right?",
            lambda r: (
                f"published with replay_share={r['parameters']['replay_share']}: "
                f"{_verdict(r, '04.replay_prevents_forgetting')}; {_verdict(r, '04.clinc.replay_keeps_old_intents')}."
            ),
        ),
        Exercise(
            "n_canary",
            "set it to 4",
            "Does the labelled canary still fire in the same period?",
            lambda r: (
                f"published first firing (monitor or canary): period {r['metrics']['monitor']['first_firing']}; "
                f"first significant drop: period {r['metrics']['monitor']['first_significant_drop']}."
            ),
        ),
    ],
    "05_model_size": [
        Exercise(
            "bank_few_shot",
            "set it to 0",
            "How much does the prompted small model lose without demonstrations?",
            lambda r: (
                "published banking77 arms: "
                + ", ".join(
                    f"{arm} {_pct(row['accuracy']['mean'])}" for arm, row in r["metrics"]["arms"]["banking77"].items()
                )
                + "."
            ),
        ),
        Exercise(
            "price_per_hour",
            "multiply it by ten",
            "Does the break-even point of the fine-tune move, and by how much?",
            lambda r: (
                f"published: the fine-tune cost {r['metrics']['fine_tuning']['usd']:.4f} USD at "
                f"{r['parameters']['price_per_hour']} USD/hour; "
                + (
                    r["metrics"]["fine_tuning"].get("break_even_note")
                    or f"break-even {r['metrics']['fine_tuning'].get('break_even_requests') or 0:,.0f} requests"
                )
                + "; "
                + _verdict(r, "05.banking77.small_within_margin_of_large")
                + "."
            ),
        ),
    ],
    "06_prompt_or_finetune": [
        Exercise(
            "shots",
            "set it to 1",
            "Do retrieved demonstrations keep their advantage over random ones when there is only one of each?",
            lambda r: (
                f"published with shots={r['parameters']['shots']}: "
                + ", ".join(
                    f"{arm} {_pct(row['accuracy']['mean'])}"
                    for arm, row in r["metrics"]["banking77"]["prompted"].items()
                    if row["strategy"] in ("random k-shot", "retrieved k-shot")
                )
                + f"; {_verdict(r, '06.banking77.retrieved_beats_random')}."
            ),
        ),
        Exercise(
            "n_intents",
            "halve it",
            "With fewer labels in the prompt, does the crossover move to a smaller or a larger n?",
            lambda r: (
                f"published with {r['parameters']['n_intents']} intents: "
                f"{r['metrics']['banking77']['crossover']['text']}; "
                f"{_verdict(r, '06.banking77.finetune_beats_best_prompt')}."
            ),
        ),
        Exercise(
            "price_per_hour",
            "multiply it by ten",
            "Does the number of requests after which the fine-tune has paid for itself change?",
            lambda r: (
                f"published at {r['parameters']['price_per_hour']} USD/hour: {r['metrics']['break_even']['note']} "
                "(training and serving run on the same machine, so the price scales both sides)."
            ),
        ),
    ],
    "07_synthetic_data": [
        Exercise(
            "temperature",
            "set it to 0.3",
            "Do cooler generations keep more of the filter's agreement but lose diversity (distinct-2, near copies)?",
            lambda r: (
                f"published at temperature {r['parameters']['temperature']}: "
                + ", ".join(
                    f"{g}: distinct-2 {row['distinct_2']:.2f}, near copies {_pct(row['near_copy_share'])}, "
                    f"label agreement {_pct(row.get('label_agreement'))}"
                    for g, row in r["metrics"]["banking77"]["diversity"].items()
                )
                + "."
            ),
        ),
        Exercise(
            "n_seed",
            "double it, and n_large with it (n_large must stay n_seed x max(ratios))",
            "With more real messages to start from, does adding synthetic ones still help?",
            lambda r: (
                f"published with n_seed={r['parameters']['n_seed']}: "
                + ", ".join(
                    f"{arm} {_pct(row['mean'])}"
                    for arm, row in r["metrics"]["banking77"]["arms"].items()
                    if arm in ("real seed", "real large") or arm.startswith("real + course model")
                )
                + f"; {_verdict(r, '07.banking77.synthetic_adds_to_real')}."
            ),
        ),
        Exercise(
            "filter_k",
            "set it to 1",
            "Does a filter that trusts the single nearest seed message remove more or fewer examples?",
            lambda r: (
                f"published with filter_k={r['parameters']['filter_k']}: the filter removed "
                + ", ".join(
                    f"{_pct(row['removed_share'])} of the {g}'s examples"
                    for g, row in r["metrics"]["banking77"]["diversity"].items()
                    if "removed_share" in row
                )
                + f"; {_verdict(r, '07.banking77.validation_matters')}."
            ),
        ),
    ],
}


def _notebook(experiment: str) -> str:
    if experiment not in EXERCISES:
        raise ValueError(f"no exercises for {experiment!r}: known {sorted(EXERCISES)}")
    return profiles.EXPERIMENT_SETTINGS[experiment]


def show_exercises(experiment: str) -> None:
    """Print the notebook's exercises: parameter, change, what to predict."""
    _notebook(experiment)
    for i, ex in enumerate(EXERCISES[experiment], 1):
        print(f"{i}. Set `{ex.parameter}`: {ex.change}. Predict first: {ex.predict}")


def answers(experiment: str, profile: str) -> list[str]:
    """Each exercise's answer from the published run of `profile`, or why there is none."""
    from ..core.paths import RESULTS_DIR

    _notebook(experiment)
    path = RESULTS_DIR / profile / f"{experiment}.json"
    if not path.is_file():
        return [f"no published {profile} run of {experiment}: run the notebook to find out"] * len(
            EXERCISES[experiment]
        )
    record = json.loads(path.read_text())
    out = []
    for ex in EXERCISES[experiment]:
        try:
            out.append(ex.answer(record))
        except (KeyError, TypeError) as missing:
            out.append(f"the published {profile} run does not record {missing} (rerun and compare)")
    return out


def show_answers(experiment: str, profile: str) -> None:
    """Print what the published run measured, exercise by exercise, to compare with your predictions."""
    for i, text in enumerate(answers(experiment, profile), 1):
        print(f"{i}. {text}")
