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

The validation filter (`validate`) is built from the seed set alone: a BM25 nearest-neighbour classifier over
the seed messages must agree with the synthetic label; exact duplicates (of a seed message or an earlier
synthetic one) and messages outside the seed set's length range are removed.

Arms (`build_arms`), every one trained for the same number of optimizer steps (matched compute: the steps one
pass over the largest arm takes): the real seed; synthetic only; real + synthetic at each ratio; real + the
validated synthetic examples at the largest ratio; real + each other generator's examples at the largest ratio;
the larger real set. Learning rates are swept once per arm group (real, synthetic only, real + synthetic) on the
group's largest arm, first seed (`run_seeded_arms`, reusing nb01's `sweep_group`).
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
from ..core.tasks import Example, Task
from ..core.training import TrainConfig
from ..core.words import words
from ..core.workload import FineTune, Generation, Workload
from ..data.task_library import banking77_task, intent_example
from . import verdict
from .arms import ArmResult, arm_summary, paired_arms, train_and_evaluate
from .lr_sweep import SweepResult
from .nb01_data_size import ArmSpec, split_validation, sweep_group, sweep_record

COURSE, RULE, LARGER = "course model", "rule", "larger model"
GENERATORS = (COURSE, RULE, LARGER)
REAL, SYNTHETIC, MIXED = "real", "synthetic only", "real + synthetic"  # the arm groups (one sweep each)
REAL_SEED, REAL_LARGE, SYNTHETIC_ONLY = "real seed", "real large", "synthetic only"
NEAR_COPY = 0.8  # word-set Jaccard similarity from which a message counts as a near copy of a seed message


def mixed_arm(ratio: int, generator: str = COURSE) -> str:
    return f"real + {generator} 1:{ratio}"


def validated_arm(ratio: int, generator: str = COURSE) -> str:
    return f"real + validated {generator} 1:{ratio}"


# --- Splits ------------------------------------------------------------------------------------------------


@dataclass
class Splits:
    seed: list[Example]  # the real seed set: all the real data generators and the filter see
    large: list[Example]  # the larger real set (the ceiling); its first n_seed examples are the seed
    test: Task  # scored by the verdicts, nothing else
    validation: Task  # learning rates are chosen on it
    labels: list[str]


def balanced_order(examples: list[Example]) -> list[Example]:
    """The examples reordered round-robin over their labels (meta["label"], else the reference), labels in
    sorted order, so any start of the list holds as equal a number per label as its length allows."""
    by_label: dict[str, list[Example]] = {}
    for ex in examples:
        by_label.setdefault(ex.meta.get("label", ex.reference), []).append(ex)
    ordered = []
    for i in range(max((len(group) for group in by_label.values()), default=0)):
        ordered += [group[i] for _, group in sorted(by_label.items()) if i < len(group)]
    return ordered


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


_LEAD = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_PREFIX = re.compile(r"^(?:new message|message|customer|answer)\s*:\s*", re.IGNORECASE)


def clean_generation(text: str) -> tuple[str | None, str]:
    """(the message, "ok") from a generator's raw output, or (None, reason): its first non-empty line without a
    list marker, a "Message:" style prefix or surrounding quotes. Reasons: "empty" (nothing left), "no words"
    (no letter), "refusal" (the model declines)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, "empty"
    line = _PREFIX.sub("", _LEAD.sub("", lines[0])).strip().strip("\"'“”").strip()
    if not line:
        return None, "empty"
    if not re.search(r"[A-Za-z]", line):
        return None, "no words"
    if re.match(r"(?i)^(i'?m sorry|i cannot|i can't|as an ai)", line):
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
    its intent (drawn with `seed`) and is sampled at `temperature` (torch seeded with `seed`). Outputs that
    `clean_generation` cannot use are counted, not replaced, so the set may hold fewer than n examples."""
    rng = random.Random(derived_seed(seed, "generator prompts"))
    texts = _by_label(seed_examples)
    wanted = request_labels(sorted(texts), n)
    prompts = [generator_prompt(label, rng.sample(texts[label], min(shots, len(texts[label])))) for label in wanted]
    outputs = generate(
        loaded,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        description=f"{generator} generating (seed {seed})",
        temperature=temperature,
        top_p=top_p,
        seed=seed,
    )
    examples, skipped = [], Counter()
    for label, output in zip(wanted, outputs):
        message, reason = clean_generation(output)
        if message is None:
            skipped[reason] += 1
        else:
            examples.append(synthetic_example(message, label, labels, generator, seed))
    return Generated(generator, seed, examples, n, dict(skipped))


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
    agreement: float  # share of all the examples whose label the seed classifier gives too
    bounds: tuple[int, int]

    @property
    def removed_share(self) -> float:
        return 1 - len(self.kept) / self.n_in if self.n_in else 0.0

    def to_dict(self) -> dict:
        return {
            "n_in": self.n_in,
            "kept": len(self.kept),
            "removed": dict(self.removed),
            "removed_share": self.removed_share,
            "label_agreement": self.agreement,
            "length_bounds_words": list(self.bounds),
        }


def validate(synthetic: list[Example], seed_examples: list[Example], k: int = 3) -> FilterReport:
    """Keep the synthetic examples that pass, in order: not a duplicate (after normalisation) of a seed message
    or of an earlier synthetic one; within `length_bounds` of the seed set; labelled as the seed classifier
    (`SeedClassifier`, built on `seed_examples` alone) labels them. Nothing else is seen."""
    classifier = SeedClassifier(seed_examples, k)
    low, high = length_bounds(seed_examples)
    seen = {normalize(ex.last_user_message) for ex in seed_examples}
    kept, removed, agree = [], Counter(), 0
    for ex in synthetic:
        text = ex.last_user_message
        label = ex.meta.get("label", ex.reference)
        predicted = classifier.predict(text)
        agree += predicted == label
        key, n_words = normalize(text), len(words(text))
        if key in seen:
            removed["duplicate"] += 1
        elif n_words < low:
            removed["too short"] += 1
        elif n_words > high:
            removed["too long"] += 1
        elif predicted != label:
            removed["label disagrees"] += 1
        else:
            kept.append(ex)
        seen.add(key)
    return FilterReport(kept, len(synthetic), dict(removed), agree / len(synthetic) if synthetic else 0.0, (low, high))


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


def diversity(texts: list[str], seed_texts: list[str], near: float = NEAR_COPY) -> dict:
    """distinct-1 and distinct-2 of the texts, their mean nearest-neighbour similarity to the seed messages,
    and the shares that are exact copies (after normalisation) and near copies (similarity >= `near`, exact
    copies included) of a seed message."""
    seeds = {normalize(t) for t in seed_texts}
    similarity = nearest_similarity(texts, seed_texts)
    return {
        "n": len(texts),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "nn_similarity": float(np.mean(similarity)) if texts else 0.0,
        "exact_copy_share": float(np.mean([normalize(t) in seeds for t in texts])) if texts else 0.0,
        "near_copy_share": float(np.mean([s >= near for s in similarity])) if texts else 0.0,
    }


def mean_over_seeds(rows: list[dict]) -> dict:
    """The mean of each numeric field over one generator's per-seed rows."""
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]} if rows else {}


# --- Arms --------------------------------------------------------------------------------------------------


@dataclass
class SeededArm:
    """An arm whose training examples may differ per seed (synthetic data is generated once per seed)."""

    arm: str
    group: str
    examples: dict[int, list[Example]]
    info: dict = field(default_factory=dict)

    def size(self, seed: int) -> int:
        return len(self.examples[seed])


def build_arms(
    splits: Splits,
    synthetic: dict[str, dict[int, Generated]],
    validated: dict[int, FilterReport],
    ratios: list[int],
    seeds: list[int],
) -> list[SeededArm]:
    """The arms, each holding exactly the data its claim names (per seed):
    real seed; synthetic only (the course model's examples for the largest ratio, no real one); real + course
    model's examples at each ratio (ratio x n_seed synthetic, label-balanced, nested); real + those of the
    largest ratio that pass the filter (`validated`: the filter's report per seed on that same set); real +
    each other generator's examples at the largest ratio; the larger real set."""
    n_seed, top = len(splits.seed), max(ratios)

    def course(seed: int, ratio: int) -> list[Example]:
        return synthetic_set(synthetic[COURSE][seed], ratio * n_seed)

    arms = [SeededArm(REAL_SEED, REAL, {s: list(splits.seed) for s in seeds}, {"real": n_seed, "synthetic": 0})]
    arms.append(SeededArm(SYNTHETIC_ONLY, SYNTHETIC, {s: course(s, top) for s in seeds}, {"real": 0, "ratio": top}))
    for ratio in sorted(ratios):
        arms.append(
            SeededArm(
                mixed_arm(ratio),
                MIXED,
                {s: list(splits.seed) + course(s, ratio) for s in seeds},
                {"real": n_seed, "ratio": ratio, "generator": COURSE},
            )
        )
    for s in seeds:
        chosen = {id(ex) for ex in course(s, top)}
        if any(id(ex) not in chosen for ex in validated[s].kept):
            raise ValueError("the validated examples must come from the largest ratio's synthetic set")
    arms.append(
        SeededArm(
            validated_arm(top),
            MIXED,
            {s: list(splits.seed) + validated[s].kept for s in seeds},
            {"real": n_seed, "ratio": top, "generator": COURSE, "validated": True},
        )
    )
    for generator in GENERATORS[1:]:
        if generator in synthetic:
            arms.append(
                SeededArm(
                    mixed_arm(top, generator),
                    MIXED,
                    {s: list(splits.seed) + synthetic_set(synthetic[generator][s], top * n_seed) for s in seeds},
                    {"real": n_seed, "ratio": top, "generator": generator},
                )
            )
    arms.append(SeededArm(REAL_LARGE, REAL, {s: list(splits.large) for s in seeds}, {"real": len(splits.large)}))
    return arms


def synthetic_set(generated: Generated, n: int) -> list[Example]:
    """The first n of a generator's examples in label-balanced order: the set an arm at ratio n / n_seed uses
    (sets at smaller ratios are the start of those at larger ones). The filter runs on this set too."""
    return balanced_order(generated.examples)[:n]


def matched_steps(arms: list[SeededArm], epochs: float, batch_size: int) -> int:
    """Optimizer steps every arm trains for: `epochs` passes over the largest arm (any seed)."""
    largest = max(arm.size(s) for arm in arms for s in arm.examples)
    return max(1, math.ceil(largest * epochs / batch_size))


def run_seeded_arms(
    model_name: str,
    arms: list[SeededArm],
    config_for: Callable[[int, float | None], TrainConfig],
    test_task: Task,
    val_task: Task,
    seeds: list[int],
    fixed_rate: float | None,
    grid: list[float],
    max_extensions: int,
    max_new_tokens: int,
    batch_size: int,
    prepare: Callable[[list[Example]], list[Example]] = lambda examples: examples,
    progress: Callable[[str], None] = print,
) -> tuple[dict[str, list[ArmResult]], dict[str, SweepResult], dict[str, dict]]:
    """Every arm, every seed, scored on `test_task`. With `fixed_rate` None, each group's rate is swept first on
    its largest arm with the first seed's data (`nb01_data_size.sweep_group`, scored on `val_task`); that
    fine-tune at the chosen rate is the arm's first-seed run, and every arm of the group trains at the chosen
    rate. Returns {arm: runs in seed order}, {group: sweep} and {group: the sweep's record}."""
    runs: dict[tuple[str, int], ArmResult] = {}
    sweeps: dict[str, SweepResult] = {}
    records: dict[str, dict] = {}
    rates = {arm.group: fixed_rate for arm in arms}
    if fixed_rate is None:
        largest: dict[str, SeededArm] = {}
        for arm in arms:
            if arm.group not in largest or arm.size(seeds[0]) > largest[arm.group].size(seeds[0]):
                largest[arm.group] = arm
        for group, arm in largest.items():
            spec = ArmSpec(arm.arm, group, arm.examples[seeds[0]], arm.info)
            sweep, run, points = sweep_group(
                model_name,
                spec,
                prepare(spec.examples),
                lambda rate: config_for(seeds[0], rate),
                val_task,
                test_task,
                grid,
                max_extensions,
                max_new_tokens,
                batch_size,
                progress,
            )
            sweeps[group], records[group], rates[group] = sweep, sweep_record(sweep, arm.arm, points), sweep.chosen
            run.n_train = arm.size(seeds[0])
            runs[(arm.arm, seeds[0])] = run
            progress("  " + sweep.note(f"{group} (swept on {arm.arm})"))
    for arm in arms:
        for seed in seeds:
            if (arm.arm, seed) in runs:
                continue
            run = train_and_evaluate(
                model_name,
                test_task,
                prepare(arm.examples[seed]),
                config_for(seed, rates[arm.group]),
                arm.arm,
                arm.group,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                info={**arm.info, "learning_rate": rates[arm.group]},
            )
            run.n_train = arm.size(seed)
            runs[(arm.arm, seed)] = run
            progress(
                f"{arm.arm:>34} seed {seed}: {test_task.headline_metric} "
                f"{run.scores[test_task.headline_metric].mean():.1%} ({arm.size(seed)} examples, "
                f"{run.record.optimizer_steps} steps, train {run.record.train_seconds:.0f} s)"
            )
    return {arm.arm: [runs[(arm.arm, s)] for s in seeds] for arm in arms}, sweeps, records


# --- Verdicts ----------------------------------------------------------------------------------------------

ADDS_TO_REAL, VALIDATION_MATTERS, ALONE_MATCHES_REAL = (
    "synthetic_adds_to_real",
    "validation_matters",
    ("synthetic_alone_matches_real"),
)


def synthetic_verdicts(
    task_key: str,
    runs: dict[str, list[ArmResult]],
    ratios: list[int],
    metric: str,
    profile: str,
    margin: float,
    chance: float | None = None,
    sweeps: dict[str, SweepResult] | None = None,
) -> list[verdict.Verdict]:
    """Three comparisons fixed in advance, each paired on the test items with every seed kept:

    - "07.<task>.synthetic_adds_to_real": real + synthetic at the largest ratio beats the real seed alone;
    - "07.<task>.validation_matters": real + the validated synthetic examples beat real + all of them (same
      ratio; the validated arm trains on fewer distinct examples);
    - "07.<task>.synthetic_alone_matches_real": synthetic only is no worse than the larger real set by more
      than `margin` (non-inferiority; a one-sided test against -margin).
    Every arm trains for the same optimizer steps, so the comparisons are at matched compute; the arms differ
    in how many distinct examples those steps cycle through, which each claim states."""
    top = max(ratios)
    seed_n = runs[REAL_SEED][0].n_train

    def sizes(arm: str) -> str:
        counts = sorted({r.n_train for r in runs[arm]})
        return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"

    mixed, checked = mixed_arm(top), validated_arm(top)
    plan = [
        (
            ADDS_TO_REAL,
            f"{task_key}: adding synthetic examples ({COURSE}, 1:{top}) to {seed_n} real ones beats the real ones "
            f"alone (same steps; {sizes(mixed)} distinct examples against {seed_n})",
            mixed,
            REAL_SEED,
            None,
        ),
        (
            VALIDATION_MATTERS,
            f"{task_key}: validating the synthetic examples (seed-set classifier agrees, no duplicates, length in "
            f"range) beats using them all (same steps; {sizes(checked)} distinct examples against {sizes(mixed)})",
            checked,
            mixed,
            None,
        ),
        (
            ALONE_MATCHES_REAL,
            f"{task_key}: {sizes(SYNTHETIC_ONLY)} synthetic examples alone are no worse than {sizes(REAL_LARGE)} "
            f"real ones by more than {margin * 100:.0f} points (same steps)",
            SYNTHETIC_ONLY,
            REAL_LARGE,
            margin,
        ),
    ]
    verdicts = []
    for name, claim, a, b, noninferiority in plan:
        vid = f"07.{task_key}.{name}"
        if noninferiority is None:
            result = verdict.judge_difference(vid, claim, paired_arms(runs[a], runs[b], metric), profile)
        else:
            comparison = paired_arms(runs[a], runs[b], metric, null=-noninferiority, alternative="greater")
            result = verdict.judge_non_inferiority(vid, claim, comparison, noninferiority, profile)
        if chance is not None:
            verdict.flag_chance(result, chance, {arm: arm_summary(runs[arm], metric) for arm in (a, b)})
        for group in dict.fromkeys(runs[arm][0].group for arm in (a, b)):
            note = sweeps and group in sweeps and sweeps[group].edge_note(f"the {group} arms")
            if note:
                result.notes.append(note)
        verdicts.append(result)
    return verdicts


def closing_note(verdicts: list[verdict.Verdict], task_key: str, removed_share: float, margin: float) -> str:
    """The notebook's closing note: one sentence per verdict whose wording follows its status (a finding is
    asserted only when its verdict is supported or not supported), each with its numbers and scale."""

    def line(name: str, supported: str, not_supported: str, open_: str) -> str:
        v = verdict.by_id(verdicts, f"07.{task_key}.{name}")
        text = {verdict.SUPPORTED: supported, verdict.NOT_SUPPORTED: not_supported}.get(v.status, open_)
        return f"- **{v.status}** ({v.id}): {text} {v.details} [{v.scale}]"

    return "\n".join(
        [
            line(
                ADDS_TO_REAL,
                "synthetic examples added to the small real set improved accuracy at the same training steps.",
                "synthetic examples added to the small real set did not improve accuracy.",
                "this run cannot tell whether adding synthetic examples helps the small real set.",
            ),
            line(
                VALIDATION_MATTERS,
                f"filtering the synthetic examples (it removed {removed_share:.0%} of them) improved on using "
                "them all.",
                f"filtering the synthetic examples (it removed {removed_share:.0%}) did not improve on using them all.",
                f"this run cannot tell whether the filter (it removed {removed_share:.0%}) matters.",
            ),
            line(
                ALONE_MATCHES_REAL,
                f"synthetic examples alone came within {margin:.0%} of as many real ones.",
                f"synthetic examples alone fell short of as many real ones by more than {margin:.0%}.",
                "this run cannot tell whether synthetic examples alone match as many real ones.",
            ),
        ]
    )


# --- Plots -------------------------------------------------------------------------------------------------


def plot_arms(runs: dict[str, list[ArmResult]], metric: str, title: str, profile: str, chance: float | None = None):
    """Test score per arm with its 95% interval (seeds, then items), chance dotted."""
    import matplotlib.pyplot as plt

    names = list(runs)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.25 * len(names)), 4.6))
    colors = [
        plots.PALETTE[{REAL: 0, SYNTHETIC: 1, MIXED: 2}.get(runs[n][0].group, 3) % len(plots.PALETTE)] for n in names
    ]
    labels = [f"{n}\n({'/'.join(str(v) for v in sorted({r.n_train for r in runs[n]}))} ex.)" for n in names]
    plots.bars_with_ci(ax, labels, [arm_summary(runs[n], metric) for n in names], colors=colors)
    plots.chance_line(ax, chance)
    ax.set_ylabel(f"{metric} on the test messages (%)")
    ax.set_ylim(0, 105)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(title, fontsize=10)
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


def plot_diversity(rows: dict[str, dict], title: str, profile: str):
    """Grouped bars: per source (each generator, and held-out real messages), the diversity measures and the
    filter's shares (a source without a field gets no bar there)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    fields = list(DIVERSITY_FIELDS)
    width = 0.8 / max(1, len(rows))
    for i, (source, row) in enumerate(rows.items()):
        xs = [j + i * width for j, f in enumerate(fields) if f in row]
        ax.bar(xs, [100 * row[f] for f in fields if f in row], width, label=source, color=plots.PALETTE[i % 8])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(fields))])
    ax.set_xticklabels([DIVERSITY_FIELDS[f] for f in fields], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    plots.smoke_watermark(fig, profile)
    fig.tight_layout()
    return fig


# --- Workload: what the notebook trains and generates, counted for the course plan (helpers.course.plan) ---
# Token lengths: the SmolLM2 tokenizer. Fine-tuned arms use notebook 06's short system prompt (nb05 holds its
# prompt and longest sequence); a generator prompt is the system line, the request and `shots` seed messages.
GENERATOR_PROMPT_TOKENS = 75  # system line, the request and the chat template, without the seed messages
SEED_MESSAGE_TOKENS = 15  # one listed seed message ("- " and the message; banking77 messages average 13 tokens)


def planned_sizes(cfg) -> list[tuple[str, str, int]]:
    """(arm, group, training examples) as build_arms names them, every synthetic set counted full (the filter
    and skipped outputs make some smaller)."""
    top = max(cfg.ratios)
    specs = [(REAL_SEED, REAL, cfg.n_seed), (SYNTHETIC_ONLY, SYNTHETIC, top * cfg.n_seed)]
    specs += [(mixed_arm(r), MIXED, (1 + r) * cfg.n_seed) for r in sorted(cfg.ratios)]
    specs.append((validated_arm(top), MIXED, (1 + top) * cfg.n_seed))
    specs += [(mixed_arm(top, g), MIXED, (1 + top) * cfg.n_seed) for g in GENERATORS[1:] if g in cfg.generators]
    return specs + [(REAL_LARGE, REAL, cfg.n_large)]


def workload(cfg) -> Workload:
    """The fine-tunes and generation passes of notebook 07 under the settings `cfg` (upper bounds: each sweep
    runs its grid and every extension). Every fine-tune trains the same steps (matched_steps over the planned
    sizes). Generation: the course model (and the larger one where listed) answers n_seed x max(ratios)
    requests per seed; each sweep fine-tune scores the validation messages, every (arm, seed) the test ones."""
    from .nb01_data_size import BANK_ANSWER_TOKENS, BANK_LABEL_MAX_TOKENS, sweep_size
    from .nb05_model_size import BANK_FINETUNED_PROMPT_TOKENS, BANK_SEQ_TOKENS

    seeds = len(cfg.seeds)
    specs = planned_sizes(cfg)
    steps = max(1, math.ceil(max(size for _, _, size in specs) * cfg.epochs / cfg.batch_size))
    train = dict(
        model=cfg.model,
        method=cfg.method,
        lora_r=cfg.lora_r,
        batch_size=cfg.batch_size,
        seq_len=BANK_SEQ_TOKENS,
        answer_share=BANK_ANSWER_TOKENS / BANK_SEQ_TOKENS,
    )
    swept = cfg.learning_rate is None
    groups: dict[str, str] = {}
    for arm, group, size in specs:
        if group not in groups or size > dict((a, s) for a, _, s in specs)[groups[group]]:
            groups[group] = arm
    finetunes = []
    if swept:
        finetunes += [
            FineTune(
                f"{group} sweep ({arm})",
                sequences=steps * cfg.batch_size,
                count=sweep_size(cfg.lr_grid, cfg.max_extensions),
                **train,
            )
            for group, arm in groups.items()
        ]
    for arm, group, _ in specs:
        count = seeds - (swept and groups[group] == arm)
        if count:
            finetunes.append(FineTune(arm, sequences=steps * cfg.batch_size, count=count, **train))
    requests = cfg.n_seed * max(cfg.ratios)
    gen_prompt = GENERATOR_PROMPT_TOKENS + SEED_MESSAGE_TOKENS * cfg.shots
    generations = [
        Generation(
            f"{COURSE} generator",
            model=cfg.model,
            prompts=requests,
            prompt_tokens=gen_prompt,
            new_tokens=cfg.gen_max_new_tokens,
            batch_size=cfg.gen_batch_size,
            count=seeds,
        )
    ]
    if LARGER in cfg.generators and cfg.larger_generator:
        generations.append(
            Generation(
                f"{LARGER} generator ({cfg.larger_generator})",
                model=cfg.larger_generator,
                prompts=requests,
                prompt_tokens=gen_prompt,
                new_tokens=cfg.gen_max_new_tokens,
                batch_size=cfg.gen_batch_size,
                count=seeds,
            )
        )
    score = dict(
        model=cfg.model,
        prompt_tokens=BANK_FINETUNED_PROMPT_TOKENS,
        new_tokens=BANK_LABEL_MAX_TOKENS + 2,
        batch_size=cfg.eval_batch_size,
    )
    if swept:
        generations.append(
            Generation(
                "sweep validation",
                prompts=cfg.n_val,
                count=len(groups) * sweep_size(cfg.lr_grid, cfg.max_extensions),
                **score,
            )
        )
    generations.append(Generation("arms, test", prompts=cfg.n_test, count=len(specs) * seeds, **score))
    notes = [
        "every fine-tune trains the same steps: epochs passes over the largest planned arm",
        "synthetic sets are counted full; skipped outputs and the filter make some arms smaller (same steps)",
        "sweeps are counted at their full grid plus max_extensions rates",
        "not counted: the closing cell's demo generation on the learner's own model",
    ]
    return Workload("synthetic_data", finetunes, generations, notes)
