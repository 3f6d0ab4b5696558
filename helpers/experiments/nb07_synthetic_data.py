"""Notebook 07 (synthetic data): generators, the validation filter, diversity, the arms, the verdicts and the
workload.

Splits: a real seed set of n_seed labelled messages (the only real data the generators and the filter see), a
larger real set that starts with the seed (the ceiling), and validation and test messages from banking77's test
split, disjoint from both and from each other (`make_splits` checks it). Learning rates are chosen on the
validation messages; the verdicts score the test messages; nothing scored on test generates, filters or chooses.

Generators (`Generated`): the course model prompted with `shots` seed messages of an intent and asked for a new
one, sampled at a temperature, each output parsed and cleaned (`clean_generation`), unusable outputs counted by
reason; a rule generator that needs no model (`rule_generate`: recombination, word swaps and deletions of seed
messages, deterministic given its seed); on the GPU tiers a larger hub model through the same code as the course
model. Every generator runs once per training seed, so its randomness is part of each arm's seed variance.

The validation filter (`validate`) is built from the seed set alone: a BM25 k-nearest-neighbour vote over the
seed messages must agree with the synthetic label; exact duplicates (of a seed message or an earlier synthetic
one) and messages outside the seed set's length range are removed. Its reference point (`real_reference`): the
same filter on the real messages of the large set outside the seed, whose labels are true.

Arms (`build_arms`), every one trained for the same number of optimizer steps (matched compute: the steps one
pass over the largest arm takes): the real seed; synthetic only; real + synthetic at each ratio; real + the
validated synthetic examples of the largest ratio; real + as many unvalidated examples drawn at random from that
same set (size-matched: it differs from the validated arm in the filter only); real + each other generator's
examples at the largest ratio; the larger real set. Every arm a verdict compares sweeps its own learning rate
on the first seed's data; the others borrow the rate of real + course model at the largest ratio and may run
fewer seeds (`descriptive_seeds`). The arms run through nb01's `run_arms` (ArmSpec: per-seed sets, `sweep`,
`rate_from`); `arms.by_arm` groups the runs.

The client-intake task (where intake_n_seed is above 0) runs the same design on generated law-firm notes:
`make_intake_splits` (seed, larger real set, validation and test notes, checked disjoint);
`model_generate_intake` (the course or larger model shown `shots` seed notes with their details and a target
record whose every field comes from a random seed record; the label is the target, right only if the note holds
it); `rule_generate_intake` (seed notes with name, email, phone and opposing party swapped in from other seed
records, `swap_details`: labels exact by construction, or the swap is refused and counted); `validate_intake`
(filter_noisy_examples's schema, format and note-consistency checks, plus the duplicate and length checks of
`screen`; `intake_filter_name` names it); `build_arms`, `synthetic_verdicts` ("07.intake.*", field F1, no chance
level) and `closing_note` as for banking77; `intake_jobs` counts its work.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core import plots
from ..core.generation import generate
from ..core.models import LoadedModel
from ..core.retrieval import BM25Retriever
from ..core.scoring import normalize
from ..core.seeds import derived_seed
from ..core.tasks import Example, Task, balanced_order
from ..core.words import words
from ..core.workload import FineTune, Generation, Workload
from ..data.intake_task import FIELDS, intake_example, intake_task, swap_phone, target_problem
from ..data.task_library import banking77_task, intent_example
from . import verdict
from .arms import ArmResult, arm_summary, paired_arms
from .lr_sweep import SweepResult
from .nb01_data_size import INTAKE_FINETUNED_PROMPT, ArmSpec, split_validation  # noqa: F401 (the notebook's intake prompt)

COURSE, RULE, LARGER = "course model", "rule", "larger model"
GENERATORS = (COURSE, RULE, LARGER)
REAL, SYNTHETIC, MIXED = "real", "synthetic only", "real + synthetic"  # the arm groups (one sweep each)
REAL_SEED, REAL_LARGE, SYNTHETIC_ONLY = "real seed", "real large", "synthetic only"
NEAR_COPY = 0.8  # word-set Jaccard similarity from which a message counts as a near copy of a seed message


def mixed_arm(ratio: int, generator: str = COURSE) -> str:
    return f"real + {generator} 1:{ratio}"


def validated_arm(generator: str = COURSE) -> str:
    """Real + the examples of the largest ratio's set that pass the filter: as many as it keeps, per seed."""
    return f"real + validated {generator}"


def size_matched_arm(generator: str = COURSE) -> str:
    """Real + a random subset of the largest ratio's set, as many examples as the filter kept (per seed)."""
    return f"real + unvalidated {generator}, size-matched"


def check_settings(generators: list[str], larger_generator: str | None, n_seed: int, n_large: int, ratios: list[int]):
    """Refuse settings the notebook cannot run as designed, with a one-line error naming the fix."""
    unknown = [g for g in generators if g not in GENERATORS]
    if unknown:
        raise ValueError(f"generators: unknown {unknown}; choose from {list(GENERATORS)}")
    if COURSE not in generators:
        raise ValueError(f"generators must include {COURSE!r}: the verdicts compare its examples")
    if LARGER in generators and not larger_generator:
        raise ValueError(f"generators lists {LARGER!r}: set larger_generator to a hub id or folder")
    check_sizes(n_seed, n_large, ratios)


def check_sizes(n_seed: int, n_large: int, ratios: list[int], prefix: str = "") -> None:
    """Refuse a task's sizes when synthetic alone would not be compared with as many real examples
    (`prefix`: the parameters' prefix, "intake_" for the intake task)."""
    if not ratios or n_seed <= 0:
        raise ValueError(f"{prefix}n_seed must be positive and {prefix}ratios non-empty; got {n_seed}, {ratios}")
    if n_large != n_seed * max(ratios):
        raise ValueError(
            f"{prefix}n_large ({n_large}) must equal {prefix}n_seed x max({prefix}ratios) ({n_seed} x {max(ratios)}):"
            " synthetic alone is compared with as many real examples"
        )


def intake_on(cfg) -> bool:
    """Whether the settings run the intake arms (intake_n_seed 0 or None: banking77 only)."""
    return bool(getattr(cfg, "intake_n_seed", 0))


# --- Splits ------------------------------------------------------------------------------------------------


@dataclass
class Splits:
    seed: list[Example]  # the real seed set: all the real data generators and the filter see
    large: list[Example]  # the larger real set (the ceiling); its first n_seed examples are the seed
    test: Task  # scored by the verdicts, nothing else
    validation: Task  # learning rates are chosen on it
    labels: list[str]  # banking77's intents; none for the intake task


def check_disjoint(**named: list[Example]) -> None:
    """Raise if any two of the named sets share a message (after normalisation)."""
    texts = {name: {normalize(ex.last_user_message) for ex in examples} for name, examples in named.items()}
    names = list(texts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = texts[a] & texts[b]
            if shared:
                raise ValueError(f"{a} and {b} share {len(shared)} message(s), e.g. {sorted(shared)[0]!r}")


def make_splits(n_intents: int, n_seed: int, n_large: int, n_test: int, n_val: int, data_seed: int = 1234) -> Splits:
    """banking77 on `n_intents` intents: the seed and the larger real set from its train split (nested,
    label-balanced), validation and test messages from its test split (split_validation). A training message
    that also appears among the validation or test messages is dropped before the sets are drawn."""
    if not 0 < n_seed <= n_large:
        raise ValueError(f"need 0 < n_seed <= n_large; got {n_seed} and {n_large}")
    task = banking77_task(n_intents, n_large + 2 * n_intents, n_test + n_val, data_seed=data_seed)
    test, validation = split_validation(task, n_val)
    held_out = {normalize(ex.last_user_message) for ex in task.eval}
    train = balanced_order([ex for ex in task.train if normalize(ex.last_user_message) not in held_out])
    if len(train) < n_large:
        raise ValueError(f"only {len(train)} training messages remain for a real set of {n_large}")
    large = train[:n_large]
    seed = large[:n_seed]
    check_disjoint(real=large, validation=validation.eval, test=test.eval)
    return Splits(seed, large, test, validation, list(task.labels))


def make_intake_splits(n_seed: int, n_large: int, n_test: int, n_val: int, data_seed: int = 1234) -> Splits:
    """Client intake (generated notes, clean targets): the seed is the start of the larger real set, both from
    intake_task's training records; validation and test notes from its evaluation records (which exclude every
    training note), split by split_validation. Disjointness is checked."""
    if not 0 < n_seed <= n_large:
        raise ValueError(f"need 0 < intake_n_seed <= intake_n_large; got {n_seed} and {n_large}")
    task = intake_task(n_train=n_large, n_eval=n_test + n_val, data_seed=data_seed)
    test, validation = split_validation(task, n_val)
    large = list(task.train)
    seed = large[:n_seed]
    check_disjoint(real=large, validation=validation.eval, test=test.eval)
    return Splits(seed, large, test, validation, [])


# --- Generators --------------------------------------------------------------------------------------------


@dataclass
class Generated:
    """One generator's synthetic examples for one seed, with what it could not use."""

    generator: str
    seed: int
    examples: list[Example]
    requested: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> unusable outputs

    def skip_line(self) -> str:
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        return (
            f"{self.generator}, seed {self.seed}: {len(self.examples)} of {self.requested} requested examples "
            f"usable; skipped: {parts}"
        )


def _by_label(examples: list[Example]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for ex in examples:
        grouped.setdefault(ex.meta.get("label", ex.reference), []).append(ex.last_user_message)
    return dict(sorted(grouped.items()))


def request_labels(labels: list[str], n: int) -> list[str]:
    """n labels round-robin over `labels`: every intent gets as equal a share of the requests as n allows."""
    return [labels[i % len(labels)] for i in range(n)]


def synthetic_example(text: str, label: str, labels: list[str], generator: str, seed: int) -> Example:
    example = intent_example(text, label, labels)
    example.meta.update({"synthetic": generator, "generator_seed": seed})
    return example


def rule_variant(texts: list[str], rng: random.Random) -> str:
    """One new message from seed messages of one intent, no model: recombine the start of one message with the
    end of another (when there are two), then swap two words or delete some (each with probability 0.15,
    keeping at least two words)."""
    first = rng.choice(texts).split()
    if len(texts) > 1 and rng.random() < 0.6:
        second = rng.choice([t for t in texts if t.split() != first] or texts).split()
        cut_a, cut_b = rng.randint(1, max(1, len(first) - 1)), rng.randint(0, max(0, len(second) - 1))
        tokens = first[:cut_a] + second[cut_b:]
    else:
        tokens = list(first)
    if len(tokens) > 2 and rng.random() < 0.5:
        i, j = rng.sample(range(len(tokens)), 2)
        tokens[i], tokens[j] = tokens[j], tokens[i]
    if len(tokens) > 3:
        kept = [t for t in tokens if rng.random() >= 0.15]
        tokens = kept if len(kept) >= 2 else tokens
    return " ".join(tokens)


def rule_generate(seed_examples: list[Example], n: int, seed: int, labels: list[str]) -> Generated:
    """n synthetic examples by `rule_variant`, label-balanced over the seed set's intents; the same seed gives
    the same examples. Needs no model."""
    rng = random.Random(derived_seed(seed, "rule generator"))
    texts = _by_label(seed_examples)
    examples = [
        synthetic_example(rule_variant(texts[label], rng), label, labels, RULE, seed)
        for label in request_labels(sorted(texts), n)
    ]
    return Generated(RULE, seed, examples, n)


GENERATOR_SYSTEM = "You write realistic messages that customers send to their bank's support chat."


def generator_prompt(label: str, shots: list[str]) -> list[dict]:
    """The request for one new message of intent `label`, shown `shots` seed messages of that intent."""
    listed = "\n".join(f"- {text}" for text in shots)
    request = (
        f'Here are messages from bank customers, all with the intent "{label.replace("_", " ")}":\n{listed}\n'
        "Write one new message with the same intent, worded differently from these. "
        "Answer with the message only."
    )
    return [{"role": "system", "content": GENERATOR_SYSTEM}, {"role": "user", "content": request}]


# An assistant declining, not a customer who cannot do something ("I can't use my card" is a banking77 message).
REFUSAL = re.compile(
    r"(?i)^(?:i'?m sorry,? but\b|i am sorry,? but\b|(?:i cannot|i can'?t|i'?m unable to|i am unable to) "
    r"(?:help|assist|provide|write|generate|create|fulfil)|as an ai\b|i'?m not able to "
    r"(?:help|assist|provide))"
)
_LEAD = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_PREFIX = re.compile(r"^(?:new message|message|customer|answer)\s*:\s*", re.IGNORECASE)
INTAKE_PREFIX = re.compile(r"^(?:new intake note|new note|intake note|note|answer)\s*:\s*", re.IGNORECASE)


# A small model often introduces its answer on a line of its own ("Here's a new message:", "Sure, here it is.").
LEAD_IN = re.compile(r"(?i)^(?:.*:\s*$|(?:here'?s|here is|sure|certainly|of course|okay)\b)")


def clean_generation(text: str, prefix: re.Pattern = _PREFIX) -> tuple[str | None, str]:
    """(the message, "ok") from a generator's raw output, or (None, reason): its first non-empty line that is not
    a lead-in (`LEAD_IN`: a line ending with a colon, or one starting "Here's", "Sure"...), without a list
    marker, a `prefix` ("Message:" style; INTAKE_PREFIX for notes) or surrounding quotes. Reasons: "empty"
    (nothing left), "lead-in only" (no line after the lead-in), "no words" (no letter), "refusal" (the model
    declines)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, "empty"
    content = [line for line in lines if not LEAD_IN.match(line) or (prefix.match(line) and prefix.sub("", line))]
    if not content:
        return None, "lead-in only"
    line = prefix.sub("", _LEAD.sub("", content[0])).strip().strip("\"'“”").strip()
    if not line:
        return None, "empty"
    if not re.search(r"[A-Za-z]", line):
        return None, "no words"
    if REFUSAL.match(line):
        return None, "refusal"
    return line, "ok"


def model_generate(
    loaded: LoadedModel,
    seed_examples: list[Example],
    n: int,
    seed: int,
    labels: list[str],
    shots: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    generator: str = COURSE,
) -> Generated:
    """n requests to `loaded`, label-balanced over the seed set's intents; each shows `shots` seed messages of
    its intent (drawn with `seed`) and is sampled at `temperature` (torch seeded with `seed`), stopping at the
    first line break (only the first line is used). Outputs that `clean_generation` cannot use are counted,
    not replaced, so the set may hold fewer than n examples; none usable at all is an error."""
    rng = random.Random(derived_seed(seed, "generator prompts"))
    texts = _by_label(seed_examples)
    wanted = request_labels(sorted(texts), n)
    prompts = [generator_prompt(label, rng.sample(texts[label], min(shots, len(texts[label])))) for label in wanted]
    outputs = sample(loaded, prompts, seed, temperature, top_p, max_new_tokens, batch_size, generator)
    return collect(
        generator,
        seed,
        outputs,
        lambda i, text: synthetic_example(text, wanted[i], labels, generator, seed),
        "gen_max_new_tokens",
    )


def sample(
    loaded: LoadedModel,
    prompts: list[list[dict]],
    seed: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    generator: str,
) -> list[str]:
    """A model generator's raw outputs: sampled at `temperature` (torch seeded with `seed`), each stopping at
    its first line break (only the first line is used)."""
    return generate(
        loaded,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description=f"{generator} generating (seed {seed})",
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        first_line=True,
    )


def collect(
    generator: str,
    seed: int,
    outputs: list[str],
    make: Callable[[int, str], Example],
    budget_name: str,
    prefix: re.Pattern = _PREFIX,
) -> Generated:
    """The examples `make(request index, cleaned text)` builds from the outputs `clean_generation` can use; the
    others counted by reason, not replaced. None usable at all is an error naming `budget_name`."""
    examples, skipped = [], Counter()
    for i, output in enumerate(outputs):
        text, reason = clean_generation(output, prefix)
        if text is None:
            skipped[reason] += 1
        else:
            examples.append(make(i, text))
    if not examples:
        raise ValueError(
            f"{generator}, seed {seed}: no usable output of {len(outputs)} ({dict(skipped)}); raise {budget_name} "
            "or check the generator's prompt"
        )
    return Generated(generator, seed, examples, len(outputs), dict(skipped))


# --- Generators for the intake task --------------------------------------------------------------------------

INTAKE_GENERATOR_SYSTEM = "You write realistic intake notes that a law firm's receptionist takes from new clients."


def _fields(example: Example) -> dict:
    return dict(example.meta["fields"])


def intake_target(seed_examples: list[Example], rng: random.Random) -> dict:
    """A target record: each field's value from a seed record drawn at random (per field, with `rng`)."""
    return {key: _fields(rng.choice(seed_examples))[key] for key in FIELDS}


def _as_json(fields: dict) -> str:
    import json

    return json.dumps(fields, ensure_ascii=False)


def intake_generator_prompt(target: dict, shots: list[Example]) -> list[dict]:
    """The request for one new intake note holding the details of `target`, shown `shots` seed notes with the
    details extracted from each."""
    listed = "\n\n".join(f"Note: {ex.last_user_message}\nDetails: {_as_json(_fields(ex))}" for ex in shots)
    request = (
        f"Here are intake notes, each with the details extracted from it:\n\n{listed}\n\n"
        "Write one new intake note in the same style that contains exactly these details, no others:\n"
        f"Details: {_as_json(target)}\nAnswer with the note only, on one line."
    )
    return [{"role": "system", "content": INTAKE_GENERATOR_SYSTEM}, {"role": "user", "content": request}]


def intake_synthetic(note: str, fields: dict, generator: str, seed: int) -> Example:
    example = intake_example(note, fields)
    example.meta.update({"synthetic": generator, "generator_seed": seed})
    return example


def model_generate_intake(
    loaded: LoadedModel,
    seed_examples: list[Example],
    n: int,
    seed: int,
    shots: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    generator: str = COURSE,
) -> Generated:
    """n requests to `loaded`: each a target record recombined from the seed records (`intake_target`) and
    `shots` seed notes with their details, all drawn with `seed`; the label of the note written is the target,
    whether or not the note holds it (the filter checks). Sampled and cleaned as `model_generate` does."""
    rng = random.Random(derived_seed(seed, "intake generator prompts"))
    targets, prompts = [], []
    for _ in range(n):
        targets.append(intake_target(seed_examples, rng))
        prompts.append(intake_generator_prompt(targets[-1], rng.sample(seed_examples, min(shots, len(seed_examples)))))
    outputs = sample(loaded, prompts, seed, temperature, top_p, max_new_tokens, batch_size, generator)
    return collect(
        generator,
        seed,
        outputs,
        lambda i, note: intake_synthetic(note, targets[i], generator, seed),
        "intake_gen_max_new_tokens",
        INTAKE_PREFIX,
    )


VERBATIM_FIELDS = ("client_name", "email", "opposing_party")  # written in a note exactly as in its record


def swap_details(note: str, fields: dict, donor: dict, keys: tuple[str, ...]) -> tuple[str, dict] | None:
    """The note and its record with the `keys` values replaced by `donor`'s where the note writes them (the
    verbatim fields as written, the phone in its own format), or None when a swap cannot be made exact: the old
    value is not written, or is written a different number of times after the swap, or the result fails the
    intake filter's checks (`target_problem`)."""
    new_note, new_fields = note, dict(fields)
    for key in keys:
        old, new = fields[key], donor[key]
        if old == new:
            continue
        if key == "phone":
            swapped = swap_phone(new_note, old, new)
            if swapped is None:
                return None
            new_note = swapped
        else:
            if old not in new_note or old.lower() in new.lower() or new.lower() in old.lower():
                return None
            count = new_note.count(old)
            new_note = new_note.replace(old, new)
            if new_note.count(new) != count:
                return None
        new_fields[key] = new
    for key in keys:
        if key != "phone" and new_fields[key] != fields[key] and fields[key].lower() in new_note.lower():
            return None  # an old value still written (inside another swapped value)
    if target_problem(new_note, _as_json(new_fields)) is not None:
        return None
    return new_note, new_fields


def rule_generate_intake(seed_examples: list[Example], n: int, seed: int) -> Generated:
    """n synthetic intake examples, no model, from the seed set alone: seed note i mod len(seed) with the
    client's name, email and phone swapped in from another seed record, and the opposing party from a third
    where its matter type matches (`swap_details`; the label is the base record with the swapped values, exact
    by construction). A swap that cannot be made exact is counted as skipped; the same seed gives the same
    examples."""
    rng = random.Random(derived_seed(seed, "intake rule generator"))
    examples, skipped = [], Counter()
    for i in range(n):
        base = seed_examples[i % len(seed_examples)]
        others = [ex for ex in seed_examples if ex is not base] or [base]
        result = swap_details(
            base.last_user_message, _fields(base), _fields(rng.choice(others)), ("client_name", "email", "phone")
        )
        if result is not None:
            same_matter = [ex for ex in others if _fields(ex)["matter_type"] == result[1]["matter_type"]]
            if same_matter:
                result = swap_details(*result, _fields(rng.choice(same_matter)), ("opposing_party",)) or result
        if result is None:
            skipped["swap not exact"] += 1
        else:
            examples.append(intake_synthetic(result[0], result[1], RULE, seed))
    return Generated(RULE, seed, examples, n, dict(skipped))


# --- The validation filter ---------------------------------------------------------------------------------


class SeedClassifier:
    """A cheap classifier trained on the real seed set only: BM25 over the seed messages, the label voted by
    the k nearest (each vote weighted by its score). A message sharing no word with any seed message gets no
    label (None)."""

    def __init__(self, seed_examples: list[Example], k: int = 3):
        self.k = k
        self.labels = [ex.meta.get("label", ex.reference) for ex in seed_examples]
        self.documents = {f"{i:06d}": ex.last_user_message for i, ex in enumerate(seed_examples)}
        self._retriever = BM25Retriever(self.documents)

    def predict(self, text: str) -> str | None:
        votes: Counter = Counter()
        for doc, score in self._retriever.scored(text, self.k):
            if score > 0:
                votes[self.labels[int(doc)]] += score
        if not votes:
            return None
        return max(sorted(votes), key=lambda label: votes[label])


def length_bounds(seed_examples: list[Example]) -> tuple[int, int]:
    """(fewest, most) words a synthetic message may have: half the seed set's shortest message (at least 2) to
    twice its longest."""
    counts = [len(words(ex.last_user_message)) for ex in seed_examples]
    return max(2, min(counts) // 2), 2 * max(counts)


@dataclass
class FilterReport:
    kept: list[Example]
    n_in: int
    removed: dict[str, int]  # reason -> examples removed for it (each counted under its first failing check)
    agreement: float | None  # share of all the examples whose label the seed classifier gives too (None: none in)
    bounds: tuple[int, int]

    @property
    def removed_share(self) -> float | None:
        """The share removed; None when nothing came in."""
        return 1 - len(self.kept) / self.n_in if self.n_in else None

    def to_dict(self) -> dict:
        return {
            "n_in": self.n_in,
            "kept": len(self.kept),
            "removed": dict(self.removed),
            "removed_share": self.removed_share,
            "label_agreement": self.agreement,
            "length_bounds_words": list(self.bounds),
        }


def screen(
    synthetic: list[Example], seed_examples: list[Example], label_problem: Callable[[Example], str | None]
) -> FilterReport:
    """Keep the examples that pass, in order: not a duplicate (after normalisation) of a seed example's text or
    of an earlier synthetic one; within `length_bounds` of the seed set; no `label_problem` (a reason, or None
    when the label is consistent with the text). Agreement: the share with no label problem."""
    low, high = length_bounds(seed_examples)
    seen = {normalize(ex.last_user_message) for ex in seed_examples}
    kept, removed, agree = [], Counter(), 0
    for ex in synthetic:
        text = ex.last_user_message
        problem = label_problem(ex)
        agree += problem is None
        key, n_words = normalize(text), len(words(text))
        if key in seen:
            removed["duplicate"] += 1
        elif n_words < low:
            removed["too short"] += 1
        elif n_words > high:
            removed["too long"] += 1
        elif problem is not None:
            removed[problem] += 1
        else:
            kept.append(ex)
        seen.add(key)
    return FilterReport(kept, len(synthetic), dict(removed), agree / len(synthetic) if synthetic else None, (low, high))


def validate(synthetic: list[Example], seed_examples: list[Example], k: int = 3) -> FilterReport:
    """banking77's filter (`screen`): the label must be the one the seed classifier (`SeedClassifier`, built on
    `seed_examples` alone) gives, else "label disagrees". Nothing else is seen."""
    classifier = SeedClassifier(seed_examples, k)

    def problem(ex: Example) -> str | None:
        return (
            None
            if classifier.predict(ex.last_user_message) == ex.meta.get("label", ex.reference)
            else ("label disagrees")
        )

    return screen(synthetic, seed_examples, problem)


def validate_intake(synthetic: list[Example], seed_examples: list[Example]) -> FilterReport:
    """The intake filter (`screen`): the target must pass filter_noisy_examples's schema, format and
    note-consistency checks against its own note (`target_problem`; the reason names the first check failed,
    e.g. "email not in note"). It sees the note and the target only, and the seed notes for duplicates and
    length."""

    def problem(ex: Example) -> str | None:
        reason = target_problem(ex.last_user_message, ex.reference)
        return reason and reason.replace("_", " ")

    return screen(synthetic, seed_examples, problem)


def filter_name(n_seed: int, k: int) -> str:
    """The filter, named precisely, for claims and notes."""
    return (
        f"a BM25 {k}-nearest-neighbour vote over the {n_seed} seed messages must give the label; no duplicates; "
        "length within the seed set's range"
    )


def intake_filter_name(n_seed: int) -> str:
    """The intake filter, named precisely, for claims and notes."""
    return (
        f"the target must be JSON with the {len(FIELDS)} fields, ISO dates, a +1-XXX-XXX-XXXX phone and allowed "
        "matter and urgency values, and the name, email, opposing party, dates and phone it gives must be written "
        f"in the note (filter_noisy_examples's checks); no duplicates; length within the {n_seed} seed notes' range"
    )


def real_reference(
    splits: Splits, k: int = 3, check: Callable[[list[Example], list[Example]], FilterReport] | None = None
) -> FilterReport | None:
    """The filter (`check`, default banking77's `validate`) run on the real examples of the large set outside
    the seed (true labels, never scored): how much it removes and how often it agrees with a true label, the
    reference for each generator's shares."""
    rest = splits.large[len(splits.seed) :]
    check = check or (lambda examples, seed: validate(examples, seed, k))
    return check(rest, splits.seed) if rest else None


# --- Diversity ---------------------------------------------------------------------------------------------


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct word n-grams over all n-grams of the texts (0 when there are none)."""
    grams = [tuple(ws[i : i + n]) for ws in map(words, texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def jaccard(a: str, b: str) -> float:
    """Word-set Jaccard similarity of two messages (1 for two messages with no words)."""
    x, y = set(words(a)), set(words(b))
    return len(x & y) / len(x | y) if x | y else 1.0


def nearest_similarity(texts: list[str], reference: list[str]) -> list[float]:
    """For each text, its Jaccard similarity to the most similar reference message."""
    return [max((jaccard(t, r) for r in reference), default=0.0) for t in texts]


def diversity(
    texts: list[str], seed_texts: list[str], near: float = NEAR_COPY, equal_n: int | None = None, seed: int = 0
) -> dict:
    """distinct-1 and distinct-2 of the texts (over a random subsample of `equal_n` of them, drawn with `seed`,
    so that sets of different sizes are compared at one size: distinct-n falls as a set grows), their mean
    nearest-neighbour similarity to the seed messages, and the shares that are exact copies (after
    normalisation) and near copies (similarity >= `near`, exact copies included) of a seed message."""
    seeds = {normalize(t) for t in seed_texts}
    similarity = nearest_similarity(texts, seed_texts)
    sample = texts
    if equal_n is not None and equal_n < len(texts):
        sample = random.Random(derived_seed(seed, "distinct-n subsample")).sample(texts, equal_n)
    return {
        "n": len(texts),
        "distinct_n_over": len(sample),
        "distinct_1": distinct_n(sample, 1),
        "distinct_2": distinct_n(sample, 2),
        "nn_similarity": float(np.mean(similarity)) if texts else 0.0,
        "exact_copy_share": float(np.mean([normalize(t) in seeds for t in texts])) if texts else 0.0,
        "near_copy_share": float(np.mean([s >= near for s in similarity])) if texts else 0.0,
    }


def mean_over_seeds(rows: list[dict]) -> dict:
    """The mean of each numeric field over one generator's per-seed rows (None where no row has a value)."""

    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if row.get(key) is not None]
        return float(np.mean(values)) if values else None

    return {key: mean(key) for key in rows[0]} if rows else {}


# --- Arms ---------------------------------------------------------------------------------------------------


def verdict_arms(generator: str, top: int) -> list[str]:
    """The arms the verdicts compare: each sweeps its own learning rate and runs every seed."""
    return [
        REAL_SEED,
        mixed_arm(top, generator),
        validated_arm(generator),
        size_matched_arm(generator),
        SYNTHETIC_ONLY,
        REAL_LARGE,
    ]


def size_matched(examples: list[Example], n: int, seed: int) -> list[Example]:
    """A random subset of n of the examples (drawn with a seed derived from `seed`), in their order."""
    chosen = sorted(random.Random(derived_seed(seed, "size-matched unvalidated")).sample(range(len(examples)), n))
    return [examples[i] for i in chosen]


def build_arms(
    splits: Splits,
    synthetic: dict[str, dict[int, Generated]],
    validated: dict[int, FilterReport],
    ratios: list[int],
    seeds: list[int],
    descriptive_seeds: int | None = None,
) -> list[ArmSpec]:
    """The arms, each holding exactly the data its name says, per seed (`ArmSpec.examples` is {seed: set}):
    real seed; synthetic only (the course model's examples for the largest ratio, no real one); real + the
    course model's examples at each ratio (ratio x n_seed synthetic, label-balanced, nested); real + those of
    the largest ratio that pass the filter (`validated`: the filter's report per seed on that same set); real +
    a random subset of that same set as large as the filter kept (size-matched, unvalidated); real + each other
    generator's examples at the largest ratio; the larger real set.

    The arms the verdicts compare (`verdict_arms`) sweep their own learning rate and run every seed; the others
    (smaller ratios, other generators) borrow the rate swept on real + course model at the largest ratio and
    run the first `descriptive_seeds` seeds (None: all)."""
    n_seed, top = len(splits.seed), max(ratios)
    verdict_names = verdict_arms(COURSE, top)
    side_seeds = seeds if descriptive_seeds is None else seeds[:descriptive_seeds]
    borrowed = mixed_arm(top)

    def course(seed: int, ratio: int) -> list[Example]:
        return synthetic_set(synthetic[COURSE][seed], ratio * n_seed)

    def arm(name: str, group: str, by_seed: Callable[[int], list[Example]], info: dict) -> ArmSpec:
        if name in verdict_names:
            return ArmSpec(name, group, {s: by_seed(s) for s in seeds}, {**info, "learning_rate_from": name}, True)
        info = {**info, "learning_rate_from": borrowed}
        return ArmSpec(name, group, {s: by_seed(s) for s in side_seeds}, info, rate_from=borrowed)

    for s in seeds:
        chosen = {id(ex) for ex in course(s, top)}
        if any(id(ex) not in chosen for ex in validated[s].kept):
            raise ValueError("the validated examples must come from the largest ratio's synthetic set")
    arms = [arm(REAL_SEED, REAL, lambda s: list(splits.seed), {"real": n_seed, "synthetic": 0})]
    arms.append(arm(SYNTHETIC_ONLY, SYNTHETIC, lambda s: course(s, top), {"real": 0, "ratio": top}))
    for ratio in sorted(ratios):
        arms.append(
            arm(
                mixed_arm(ratio),
                MIXED,
                lambda s, ratio=ratio: list(splits.seed) + course(s, ratio),
                {"real": n_seed, "ratio": ratio, "generator": COURSE},
            )
        )
    arms.append(
        arm(
            validated_arm(),
            MIXED,
            lambda s: list(splits.seed) + validated[s].kept,
            {"real": n_seed, "from_ratio": top, "generator": COURSE, "validated": True},
        )
    )
    arms.append(
        arm(
            size_matched_arm(),
            MIXED,
            lambda s: list(splits.seed) + size_matched(course(s, top), len(validated[s].kept), s),
            {"real": n_seed, "from_ratio": top, "generator": COURSE, "validated": False, "size_matched": True},
        )
    )
    for generator in GENERATORS[1:]:
        if generator in synthetic:
            arms.append(
                arm(
                    mixed_arm(top, generator),
                    MIXED,
                    lambda s, g=generator: list(splits.seed) + synthetic_set(synthetic[g][s], top * n_seed),
                    {"real": n_seed, "ratio": top, "generator": generator},
                )
            )
    arms.append(arm(REAL_LARGE, REAL, lambda s: list(splits.large), {"real": len(splits.large)}))
    return arms


def synthetic_set(generated: Generated, n: int) -> list[Example]:
    """The first n of a generator's examples, in label-balanced order for a classification task (examples with
    a meta "label"), else in the order generated: the set an arm at ratio n / n_seed uses (sets at smaller
    ratios are the start of those at larger ones). The filter runs on this set too."""
    examples = generated.examples
    labelled = all("label" in ex.meta for ex in examples)
    return (balanced_order(examples) if labelled else list(examples))[:n]


def matched_steps(arms: list[ArmSpec], epochs: float, batch_size: int) -> int:
    """Optimizer steps every arm trains for: `epochs` passes over the largest arm (any seed)."""
    largest = max(len(examples) for arm in arms for examples in arm.examples.values())
    return max(1, math.ceil(largest * epochs / batch_size))


def passes(n_examples: int, steps: int, batch_size: int) -> float:
    """How many passes over its examples an arm of n_examples makes in `steps` steps of `batch_size`."""
    return steps * batch_size / n_examples if n_examples else 0.0


def rate_label(arm: ArmSpec, fixed_rate: float | None) -> str:
    """Where an arm's learning rate comes from, for tables and plots."""
    if fixed_rate is not None:
        return "fixed"
    return "own sweep" if arm.sweep else f"borrowed from {arm.rate_from}"


# --- Verdicts ----------------------------------------------------------------------------------------------

ADDS_TO_REAL, VALIDATION_MATTERS, ALONE_MATCHES_REAL = (
    "synthetic_adds_to_real",
    "validation_matters",
    "synthetic_alone_matches_real",
)
# Why a 5-point margin (profiles.py, "margin"): it is set before the run as the loss in accuracy a team would
# accept for not labelling the real messages at all; the run shows the interval, not the smallest gap it can
# detect.
MARGIN_REASON = "the accuracy a team would accept losing for not labelling the real messages, set in advance"
# The intake task's margin is the same 5 points, of field F1: the extraction quality a team would accept losing.
INTAKE_MARGIN_REASON = "the field F1 a team would accept losing for not labelling the real notes, set in advance"


def sizes(runs: list[ArmResult]) -> str:
    """An arm's training examples over its seeds: "n", or "low-high" when they vary."""
    counts = sorted({r.n_train for r in runs})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def passes_text(runs: list[ArmResult], steps: int | None, batch_size: int | None) -> str:
    """How many passes over its examples an arm makes in the matched steps ("5 passes over 40")."""
    if not steps or not batch_size:
        return f"{sizes(runs)} examples"
    low = min(passes(r.n_train, steps, batch_size) for r in runs)
    high = max(passes(r.n_train, steps, batch_size) for r in runs)
    times = f"{low:.1f}" if math.isclose(low, high, abs_tol=0.05) else f"{low:.1f}-{high:.1f}"
    return f"{times} passes over {sizes(runs)} examples"


def synthetic_verdicts(
    task_key: str,
    runs: dict[str, list[ArmResult]],
    ratios: list[int],
    metric: str,
    profile: str,
    margin: float,
    chance: float | None = None,
    sweeps: dict[str, SweepResult] | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    filter_text: str = "the seed-set filter",
    min_kept: int = 1,
    margin_reason: str = MARGIN_REASON,
) -> list[verdict.Verdict]:
    """Three comparisons fixed in advance, each paired on the test items with every seed kept:

    - "07.<task>.synthetic_adds_to_real": real + synthetic at the largest ratio beats the real seed alone;
    - "07.<task>.validation_matters": real + the validated synthetic examples beat real + a random subset of
      the same set as large as the filter kept (size-matched: the arms differ in the filter only); not run
      when the filter kept fewer than `min_kept` examples for some seed;
    - "07.<task>.synthetic_alone_matches_real": synthetic only is no worse than the larger real set by more
      than `margin` (non-inferiority; a one-sided test against -margin).
    Every arm trains for the same optimizer steps (`steps` of `batch_size`, when given each claim states the
    passes each arm makes over its examples); every arm compared has its own learning-rate sweep. `chance`: the
    task's chance score where it has one (classification; the intake extraction has none: None)."""
    top = max(ratios)
    seed_n = runs[REAL_SEED][0].n_train
    mixed, checked, matched = mixed_arm(top), validated_arm(), size_matched_arm()

    def over(arm: str) -> str:
        return passes_text(runs[arm], steps, batch_size)

    kept = min(r.n_train for r in runs[checked]) - seed_n
    plan = [
        (
            ADDS_TO_REAL,
            f"{task_key}: adding synthetic examples ({COURSE}, 1:{top}) to {seed_n} real ones beats the real ones "
            f"alone (same steps: {over(mixed)} against {over(REAL_SEED)})",
            mixed,
            REAL_SEED,
            None,
        ),
        (
            VALIDATION_MATTERS,
            f"{task_key}: the synthetic examples that pass the filter ({filter_text}) beat as many examples drawn "
            f"at random from the same 1:{top} set, unvalidated, beside the {seed_n} real ones (same steps: "
            f"{over(checked)} against {over(matched)})",
            checked,
            matched,
            None,
        ),
        (
            ALONE_MATCHES_REAL,
            f"{task_key}: {sizes(runs[SYNTHETIC_ONLY])} synthetic examples alone are no worse than "
            f"{sizes(runs[REAL_LARGE])} real ones by more than {margin * 100:.0f} points ({margin_reason}; same "
            f"steps: {over(SYNTHETIC_ONLY)} against {over(REAL_LARGE)})",
            SYNTHETIC_ONLY,
            REAL_LARGE,
            margin,
        ),
    ]
    verdicts = []
    for name, claim, a, b, noninferiority in plan:
        vid = f"07.{task_key}.{name}"
        if name == VALIDATION_MATTERS and kept < min_kept:
            reason = (
                f"the filter kept {kept} synthetic example(s) for some seed, fewer than {min_kept}: the validated "
                "arm is the real seed with next to nothing added, so this comparison would not test the filter"
            )
            verdicts.append(verdict.not_run(vid, claim, reason, profile))
            continue
        if noninferiority is None:
            result = verdict.judge_difference(vid, claim, paired_arms(runs[a], runs[b], metric), profile)
        else:
            comparison = paired_arms(runs[a], runs[b], metric, null=-noninferiority, alternative="greater")
            result = verdict.judge_non_inferiority(vid, claim, comparison, noninferiority, profile)
        if chance is not None:
            verdict.flag_chance(result, chance, {arm: arm_summary(runs[arm], metric) for arm in (a, b)})
        for arm in (a, b):
            note = sweeps and arm in sweeps and sweeps[arm].edge_note(f"the {arm} arm")
            if note:
                result.notes.append(note)
        verdicts.append(result)
    return verdicts


def closing_note(
    verdicts: list[verdict.Verdict],
    task_key: str,
    removed_share: float | None,
    margin: float,
    n_synthetic: str,
    n_real: str,
    reference_share: float | None = None,
    score: str = "accuracy",
    items: str = "messages",
) -> str:
    """The notebook's closing note for one task: one sentence per verdict whose wording follows its status (a
    finding is asserted only when its verdict is supported or not supported), each with its numbers and scale.
    `n_synthetic` and `n_real`: the measured sizes of the synthetic-only and real-large arms;
    `reference_share`: the share the filter removes from real examples outside the seed; `score`: the metric's
    name in the sentences; `items`: what the task's inputs are called ("messages", "notes")."""

    def share(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.0%}"

    removed = f"it removed {share(removed_share)} of them"
    if reference_share is not None:
        removed += f", and {share(reference_share)} of real {items} outside the seed"
    points = f"{margin * 100:.0f} points"

    def line(name: str, *wordings: str) -> str:
        return verdict.status_line(verdict.by_id(verdicts, f"07.{task_key}.{name}"), *wordings)

    return "\n".join(
        [
            line(
                ADDS_TO_REAL,
                f"synthetic examples added to the small real set improved {score} at the same training steps.",
                f"synthetic examples added to the small real set did not improve {score}.",
                "this run cannot tell whether adding synthetic examples helps the small real set.",
            ),
            line(
                VALIDATION_MATTERS,
                f"the filtered synthetic examples ({removed}) beat as many unfiltered ones from the same set.",
                f"the filtered synthetic examples ({removed}) did not beat as many unfiltered ones.",
                f"this run cannot tell whether the filter ({removed}) matters.",
            ),
            line(
                ALONE_MATCHES_REAL,
                f"{n_synthetic} synthetic examples alone came within {points} of {n_real} real ones.",
                f"{n_synthetic} synthetic examples alone fell short of {n_real} real ones by more than {points}.",
                f"this run cannot tell whether {n_synthetic} synthetic examples alone match {n_real} real ones.",
            ),
        ]
    )


# --- Plots -------------------------------------------------------------------------------------------------


def arm_label(name: str, runs: list[ArmResult]) -> str:
    """A bar's label: the arm, its examples over seeds, its seeds and, when borrowed, whose rate it trains at."""
    borrowed = runs[0].info.get("learning_rate_from", name)
    extra = [f"{sizes(runs)} ex.", f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"]
    if borrowed != name:
        extra.append(f"rate of {borrowed}")
    return f"{name}\n({', '.join(extra)})"


def plot_arms(
    runs: dict[str, list[ArmResult]],
    metric: str,
    title: str,
    profile: str,
    chance: float | None = None,
    items: str = "messages",
):
    """Test score per arm with its 95% interval (seeds, then items), chance dotted where the task has one."""
    import matplotlib.pyplot as plt

    names = list(runs)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.25 * len(names)), 4.6))
    colors = [
        plots.PALETTE[{REAL: 0, SYNTHETIC: 1, MIXED: 2}.get(runs[n][0].group, 3) % len(plots.PALETTE)] for n in names
    ]
    labels = [arm_label(n, runs[n]) for n in names]
    plots.bars_with_ci(ax, labels, [arm_summary(runs[n], metric) for n in names], colors=colors)
    plots.chance_line(ax, chance)
    ax.set_ylabel(f"{metric} on the test {items} (%)")
    ax.set_ylim(0, 105)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(title, fontsize=10)
    if chance is not None:
        ax.legend(fontsize=8, loc="upper left")
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


DIVERSITY_FIELDS = {
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "nn_similarity": "similarity to nearest seed",
    "near_copy_share": "near copies of seed",
    "removed_share": "removed by filter",
    "label_agreement": "label agrees with filter",
}


def plot_diversity(rows: dict[str, dict], title: str, profile: str, names: dict[str, str] | None = None):
    """Grouped bars: per source (each generator, and held-out real examples), the diversity measures and the
    filter's shares (a source without a field gets no bar there). `names`: bar-group labels that differ from
    DIVERSITY_FIELDS (the intake filter's agreement is "target consistent with note")."""
    names = {**DIVERSITY_FIELDS, **(names or {})}
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    fields = list(DIVERSITY_FIELDS)
    width = 0.8 / max(1, len(rows))
    for i, (source, row) in enumerate(rows.items()):
        xs = [j + i * width for j, f in enumerate(fields) if f in row]
        ax.bar(xs, [100 * row[f] for f in fields if f in row], width, label=source, color=plots.PALETTE[i % 8])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(fields))])
    ax.set_xticklabels([names[f] for f in fields], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer. Fine-tuned banking77 arms use notebook 06's short system prompt (nb05
# holds its prompt and longest sequence); a generator prompt is the system line, the request and `shots` seed
# messages. Fine-tuned intake arms use notebook 01's one-line prompt (nb01's INTAKE_* constants were measured
# under it); an intake generator prompt is the system line, the request, the target's details (a JSON record,
# INTAKE_ANSWER_TOKENS) and `intake_shots` seed notes with their details (INTAKE_SHOT_TOKENS each).
GENERATOR_PROMPT_TOKENS = 75  # system line, the request and the chat template, without the seed messages
SEED_MESSAGE_TOKENS = 15  # one listed seed message ("- " and the message; banking77 messages average 13 tokens)
# System line, request and chat template, without shots or the target's details: 78 (40 requests). With 3 shots the
# whole prompt measured 844 on average (885 at most); these constants give 78 + 111 + 3 x 224 = 861.
INTAKE_GENERATOR_LEAD_TOKENS = 78


def arm_plan(
    n_seed: int, ratios: list[int], n_large: int, generators: list[str], seeds: list[int], descriptive_seeds
) -> list[tuple[str, str, int, bool, int]]:
    """(arm, group, training examples, sweeps its own rate, seeds) as build_arms names them, every synthetic
    set counted full (the filter and skipped outputs make some smaller; the validated and size-matched arms
    are counted at the full largest-ratio set)."""
    top, n = max(ratios), n_seed
    side = len(seeds) if descriptive_seeds is None else min(descriptive_seeds, len(seeds))
    specs = [(REAL_SEED, REAL, n), (SYNTHETIC_ONLY, SYNTHETIC, top * n)]
    specs += [(mixed_arm(r), MIXED, (1 + r) * n) for r in sorted(ratios)]
    specs += [(validated_arm(), MIXED, (1 + top) * n), (size_matched_arm(), MIXED, (1 + top) * n)]
    specs += [(mixed_arm(top, g), MIXED, (1 + top) * n) for g in GENERATORS[1:] if g in generators]
    specs.append((REAL_LARGE, REAL, n_large))
    swept = verdict_arms(COURSE, top)
    return [(arm, group, size, arm in swept, len(seeds) if arm in swept else side) for arm, group, size in specs]


def planned_sizes(cfg) -> list[tuple[str, str, int, bool, int]]:
    """banking77's arm_plan under `cfg`."""
    return arm_plan(cfg.n_seed, cfg.ratios, cfg.n_large, cfg.generators, cfg.seeds, cfg.descriptive_seeds)


def planned_intake_sizes(cfg) -> list[tuple[str, str, int, bool, int]]:
    """The intake task's arm_plan under `cfg`; none when intake is off."""
    if not intake_on(cfg):
        return []
    return arm_plan(
        cfg.intake_n_seed, cfg.intake_ratios, cfg.intake_n_large, cfg.generators, cfg.seeds, cfg.descriptive_seeds
    )


def arm_jobs(
    cfg, task: str, specs: list, epochs: float, train: dict, n_val: int, n_test: int, score: dict
) -> tuple[list[FineTune], list[Generation]]:
    """One task's fine-tunes and scoring passes: every fine-tune trains the same steps (`epochs` passes over the
    largest planned arm); each verdict arm's sweep runs its grid and every extension and scores the validation
    items; every other (arm, seed) trains once; every (arm, seed) scores the test items. Labels start with
    `task`."""
    steps = max(1, math.ceil(max(size for _, _, size, _, _ in specs) * epochs / cfg.batch_size))
    from .nb01_data_size import sweep_size

    swept = cfg.learning_rate is None
    per_sweep = sweep_size(cfg.lr_grid, cfg.max_extensions)
    sequences = steps * cfg.batch_size
    finetunes = []
    if swept:
        finetunes += [
            FineTune(f"{task}{arm} sweep", sequences=sequences, count=per_sweep, **train)
            for arm, _, _, own, _ in specs
            if own
        ]
    for arm, _, _, own, n_seeds in specs:
        count = n_seeds - (swept and own)
        if count:
            finetunes.append(FineTune(f"{task}{arm}", sequences=sequences, count=count, **train))
    generations = []
    if swept:
        n_sweeps = sum(own for _, _, _, own, _ in specs)
        generations.append(Generation(f"{task}sweep validation", prompts=n_val, count=n_sweeps * per_sweep, **score))
    runs = sum(n_seeds for _, _, _, _, n_seeds in specs)
    generations.append(Generation(f"{task}arms, test", prompts=n_test, count=runs, **score))
    return finetunes, generations


def generator_jobs(cfg, task: str, requests: int, prompt_tokens: int, new_tokens: int) -> list[Generation]:
    """The model generators' passes for one task: every one answers the same requests, once per seed."""
    requested = dict(
        prompts=requests,
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        batch_size=cfg.gen_batch_size,
        count=len(cfg.seeds),
    )
    jobs = [Generation(f"{task}{COURSE} generator", model=cfg.model, **requested)]
    if LARGER in cfg.generators and cfg.larger_generator:
        jobs.append(
            Generation(f"{task}{LARGER} generator ({cfg.larger_generator})", model=cfg.larger_generator, **requested)
        )
    return jobs


def job_fields(cfg, seq_len: int, answer_tokens: int, prompt_tokens: int, new_tokens: int) -> tuple[dict, dict]:
    """The fields a task's fine-tunes (FineTune) and scoring passes (Generation) share under the settings `cfg`:
    training sequences of seq_len tokens, answer_tokens of them in the loss; prompt_tokens scored with up to
    new_tokens generated."""
    train = dict(
        model=cfg.model,
        method=cfg.method,
        lora_r=cfg.lora_r,
        batch_size=cfg.batch_size,
        seq_len=seq_len,
        answer_share=answer_tokens / seq_len,
    )
    score = dict(model=cfg.model, prompt_tokens=prompt_tokens, new_tokens=new_tokens, batch_size=cfg.eval_batch_size)
    return train, score


def intake_jobs(cfg) -> tuple[list[FineTune], list[Generation]]:
    """The intake arms' fine-tunes and generation passes (none when intake is off): training sequences as long
    as nb01's longest intake sequence or a generated note at its full budget with the longest target, whichever
    is longer; scoring at the longest target + 16 new tokens (target_token_budget) unless intake_max_new_tokens
    is set."""
    if not intake_on(cfg):
        return [], []
    from .nb01_data_size import (
        INTAKE_ANSWER_TOKENS,
        INTAKE_FINETUNED_PROMPT_TOKENS,
        INTAKE_SEQ_TOKENS,
        INTAKE_SHOT_TOKENS,
        INTAKE_TARGET_MAX_TOKENS,
    )

    seq = max(INTAKE_SEQ_TOKENS, INTAKE_SEQ_TOKENS - INTAKE_FINETUNED_PROMPT_TOKENS + cfg.intake_gen_max_new_tokens)
    new_tokens = cfg.intake_max_new_tokens or INTAKE_TARGET_MAX_TOKENS + 16
    train, score = job_fields(cfg, seq, INTAKE_ANSWER_TOKENS, INTAKE_FINETUNED_PROMPT_TOKENS, new_tokens)
    specs = planned_intake_sizes(cfg)
    finetunes, scoring = arm_jobs(
        cfg, "intake ", specs, cfg.intake_epochs, train, cfg.intake_n_val, cfg.intake_n_test, score
    )
    prompt = INTAKE_GENERATOR_LEAD_TOKENS + INTAKE_ANSWER_TOKENS + INTAKE_SHOT_TOKENS * cfg.intake_shots
    requests = cfg.intake_n_seed * max(cfg.intake_ratios)
    return finetunes, generator_jobs(cfg, "intake ", requests, prompt, cfg.intake_gen_max_new_tokens) + scoring


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 07 under the settings `cfg` (upper bounds: each sweep
    runs its grid and every extension). Per task, every fine-tune trains the same steps (matched over that
    task's planned sizes). Generation: the course model (and the larger one where listed) answers
    n_seed x max(ratios) requests per seed, each up to gen_max_new_tokens (most stop at the first line break);
    each sweep fine-tune scores the validation messages, every (arm, seed) the test ones. The intake arms, when
    on, add the same jobs at the intake sizes (`intake_jobs`)."""
    from .nb01_data_size import BANK_ANSWER_TOKENS, BANK_LABEL_MAX_TOKENS
    from .nb05_model_size import BANK_FINETUNED_PROMPT_TOKENS, BANK_SEQ_TOKENS

    train, score = job_fields(
        cfg, BANK_SEQ_TOKENS, BANK_ANSWER_TOKENS, BANK_FINETUNED_PROMPT_TOKENS, BANK_LABEL_MAX_TOKENS + 2
    )
    finetunes, scoring = arm_jobs(cfg, "", planned_sizes(cfg), cfg.epochs, train, cfg.n_val, cfg.n_test, score)
    gen_prompt = GENERATOR_PROMPT_TOKENS + SEED_MESSAGE_TOKENS * cfg.shots
    generations = generator_jobs(cfg, "", cfg.n_seed * max(cfg.ratios), gen_prompt, cfg.gen_max_new_tokens) + scoring
    intake_finetunes, intake_generations = intake_jobs(cfg)
    notes = [
        "every fine-tune trains the same steps: epochs passes over the task's largest planned arm",
        "synthetic sets are counted full; skipped outputs and the filter make some arms smaller (same steps)",
        "sweeps are counted at their full grid plus max_extensions rates, one per arm a verdict compares",
        "arms no verdict compares (smaller ratios, other generators) run descriptive_seeds seeds at a borrowed rate",
        "not counted: the closing cell's demo generation on the learner's own model",
    ]
    if intake_finetunes:
        notes.append(
            "intake arms: the same design at the intake sizes; generated notes stop at their first line break, most "
            "well before intake_gen_max_new_tokens"
        )
    return Workload("synthetic_data", finetunes + intake_finetunes, generations + intake_generations, notes)
