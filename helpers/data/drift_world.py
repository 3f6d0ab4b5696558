"""A simulated business whose facts drift over several periods, for testing "fine-tune once and you are finished".

A seeded generator builds a catalog of subscription plans (made-up names such as "Orvex Pro", each
with a monthly price, a device limit and whether it is still on sale) and four store policies (refund
window, shipping fee, support hours, warranty). Period 0 is the starting state; in each later period
a `change_rate` share of the live prices, device limits and policies get a new value, a few products
are retired and a few launched. Customers drift too: a growing share of questions use new wordings
(slang, lowercase product names) and the mix of question types moves from one seeded profile to another.

Every question has a short correct answer *as of its period* and metadata that says whether the fact
still holds since period 0 (the forgetting check), when it got its current value and through which
period it stays valid. The same seed gives the same world on any machine.

Questions are generated from a fixed set of templates per fact (four per wording). A fact can only
be learnt by training on it, so evaluation holds out wordings, not facts: training sets use the first
two templates of each wording, evaluation sets the third and the labelled canary the fourth
(TEMPLATE_SPLITS). No evaluated question is a training question word for word, and the canary never
asks a question the evaluation scores. Customers' traffic (what the drift monitor sees) uses all four.
meta["template"] names the template.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..core.seeds import derived_seed
from ..core.tasks import Example
from .names import Namer

SYSTEM_PROMPT = "Answer the customer's question about our products in a few words."
PRODUCT_ATTRIBUTES = ("price", "devices", "availability")
POLICY_ATTRIBUTES = ("refund_window", "shipping_fee", "support_hours", "warranty")
INTENTS = PRODUCT_ATTRIBUTES + POLICY_ATTRIBUTES
EVAL_KINDS = ("all", "changed", "unchanged", "new_products")
TIERS = ("Mini", "Lite", "Plus", "Pro", "Max", "Go", "One", "Family", "Studio", "Ultra")

# Value domains. Every domain has at least 3 values, so a change can always avoid both the current
# value and the period-0 value.
PRICES = (5, 7, 9, 12, 15, 19, 24, 29, 35, 39, 45, 49, 59)
DEVICES = (1, 2, 3, 5, 10)
REFUND_DAYS = (14, 30, 45, 60, 90)
SHIPPING_FEES = (0, 3, 5, 7, 9, 12)  # 0 means free shipping
SUPPORT_HOURS = ((9, 5), (8, 8), (7, 11), (10, 6), (8, 6), None)  # (start am, end pm); None means 24/7
WARRANTY_MONTHS = (6, 12, 18, 24, 36)
DOMAINS = {
    "price": PRICES,
    "devices": DEVICES,
    "refund_window": REFUND_DAYS,
    "shipping_fee": SHIPPING_FEES,
    "support_hours": SUPPORT_HOURS,
    "warranty": WARRANTY_MONTHS,
}

# Question templates per attribute: "old" wordings are what customers use from period 0, "new" ones
# (slang, abbreviations, lowercase names) appear later. {name} is the product, {lname} its lowercase form.
# Each wording has four templates; TEMPLATE_SPLITS says which set may use which.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "price": {
        "old": (
            "How much is the {name} plan?",
            "What does {name} cost per month?",
            "What is the monthly price of {name}?",
            "What do I pay each month for {name}?",
        ),
        "new": (
            "how much is {lname} rn?",
            "whats the damage for {lname} each month",
            "{name} price these days?",
            "{lname} how much per month",
        ),
    },
    "devices": {
        "old": (
            "How many devices does {name} cover?",
            "On how many devices can I use {name}?",
            "What is the device limit for {name}?",
            "How many devices can share one {name} subscription?",
        ),
        "new": (
            "how many devices r allowed on {lname}?",
            "{name} device cap?",
            "how many gadgets can i hook up to {lname}",
            "{lname} max devices?",
        ),
    },
    "availability": {
        "old": (
            "Can I still buy {name}?",
            "Is {name} still available?",
            "Are you still selling {name}?",
            "Is {name} still on sale?",
        ),
        "new": (
            "is {lname} still a thing?",
            "can i still grab {lname}?",
            "{name} still up for grabs?",
            "{lname} still on sale??",
        ),
    },
    "refund_window": {
        "old": (
            "What is the refund window?",
            "How many days do I have to ask for a refund?",
            "How long do I have to return a purchase for a refund?",
            "How long is the refund period?",
        ),
        "new": (
            "how long til refunds close?",
            "refund deadline rn?",
            "how many days to get my money back",
            "refund period these days?",
        ),
    },
    "shipping_fee": {
        "old": (
            "How much is shipping?",
            "What is the shipping fee?",
            "What do you charge for delivery?",
            "How much does delivery cost?",
        ),
        "new": (
            "shipping cost these days?",
            "do u charge for delivery now",
            "how much to ship my order rn",
            "delivery fee rn?",
        ),
    },
    "support_hours": {
        "old": (
            "What are your support hours?",
            "When is customer support open?",
            "What hours can I reach support?",
            "When can I contact customer support?",
        ),
        "new": (
            "when can i ping support?",
            "support open when?",
            "what time r ur support folks on",
            "support hrs?",
        ),
    },
    "warranty": {
        "old": (
            "How long is the warranty?",
            "How many months of warranty do I get?",
            "What warranty comes with a purchase?",
            "What is the warranty period?",
        ),
        "new": (
            "warranty length now?",
            "how long am i covered if stuff breaks",
            "hw long does the warranty last",
            "warranty how long these days",
        ),
    },
}

# Which template indices each kind of question set may use (the same for every attribute and wording):
# training never sees an evaluation or canary wording, and the canary never asks an evaluated question.
TEMPLATE_SPLITS: dict[str, tuple[int, ...]] = {"train": (0, 1), "eval": (2,), "canary": (3,)}


@dataclass(frozen=True)
class FactState:
    """One fact as of one period. `value` is the reference answer; `answers` the accepted aliases."""

    fact_id: str
    subject: str  # the product name, or "store" for a policy
    attribute: str
    value: str
    answers: tuple[str, ...]
    changed_since: int  # first period in which the fact had its current value
    doc_id: str


@dataclass(frozen=True)
class Product:
    name: str
    doc_id: str
    added_in: int
    retired_in: int | None


@dataclass
class Period:
    index: int
    name: str
    facts: dict[str, FactState]  # every answerable fact; a retired product keeps only its availability fact
    available: list[str]  # products on sale
    retired: dict[str, int]  # every product retired so far -> the period it was retired in
    added: list[str]  # products launched in this period
    new_wording_share: float  # share of questions asked in the "new" wordings
    intent_weights: dict[str, float]  # how often each attribute is asked about (sums to 1)


@dataclass
class World:
    periods: list[Period]
    products: dict[str, Product]
    seed: int
    change_rate: float

    @property
    def n_periods(self) -> int:
        return len(self.periods)


def period_name(period: int) -> str:
    """Periods are quarters: period 0 is "Q1", period 2 is "Q3" (period 4 would be "Q5")."""
    return f"Q{period + 1}"


def _render(attribute: str, raw) -> tuple[str, tuple[str, ...]]:
    """The reference answer and its accepted aliases (the reference first) for a raw value."""
    if attribute == "price":
        return f"${raw} per month", (f"${raw} per month", f"${raw}", f"{raw} dollars")
    if attribute == "devices":
        text = "1 device" if raw == 1 else f"{raw} devices"
        return text, (text, str(raw))
    if attribute == "availability":
        if raw is None:
            return "Yes, it is available.", ("Yes, it is available.", "Yes")
        when = period_name(raw)
        return f"No, it was retired in {when}.", (f"No, it was retired in {when}.", "No", "retired", "discontinued")
    if attribute == "refund_window":
        return f"{raw} days", (f"{raw} days", str(raw))
    if attribute == "shipping_fee":
        if raw == 0:
            return "Free", ("Free", "free shipping", "$0")
        return f"${raw}", (f"${raw}", f"{raw} dollars")
    if attribute == "support_hours":
        if raw is None:
            return "24/7", ("24/7", "around the clock", "24 hours a day")
        start, end = raw
        return f"{start}am to {end}pm", (
            f"{start}am to {end}pm",
            f"{start} am to {end} pm",
            f"{start:02d}:00 to {end + 12}:00",
        )
    if attribute == "warranty":
        years = {12: "1 year", 24: "2 years", 36: "3 years"}
        return f"{raw} months", (f"{raw} months", str(raw)) + ((years[raw],) if raw in years else ())
    raise ValueError(f"unknown attribute {attribute!r}; expected one of {INTENTS}")


def _new_value(rng: random.Random, attribute: str, history: list):
    """A value the fact never had; if the domain is used up, one that is neither current nor its first."""
    domain = DOMAINS[attribute]
    fresh = [v for v in domain if v not in history]
    return rng.choice(fresh or [v for v in domain if v != history[-1] and v != history[0]])


def _normalized(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


def build_world(
    n_periods: int = 4,
    n_products: int = 12,
    seed: int = 0,
    change_rate: float = 0.3,
    n_added_per_period: int = 2,
    n_retired_per_period: int = 1,
    wording_shift: float = 0.25,
) -> World:
    """A business over n_periods periods, starting with n_products products and four policies.

    In each period after the first, in this order: n_retired_per_period products on sale are retired
    (never the last two), round(change_rate * live facts) of the remaining prices, device limits and
    policies get a value they never had before (so "changed" facts never revert to their period-0
    value), and n_added_per_period products are launched. The share of new wordings is
    min(0.9, wording_shift * period); the question-type mix moves linearly between two seeded profiles.
    """
    if n_periods < 1 or n_products < 2:
        raise ValueError(f"need n_periods >= 1 and n_products >= 2; got {n_periods} and {n_products}")
    if not 0.0 <= change_rate <= 1.0:
        raise ValueError(f"change_rate must be in [0, 1]; got {change_rate}")
    rng = random.Random(derived_seed("drift_world", seed))
    namer = Namer(rng)
    start_mix = _normalized({i: rng.uniform(0.5, 1.5) for i in INTENTS})
    end_mix = _normalized({i: rng.uniform(0.2, 2.0) for i in INTENTS})

    products: dict[str, dict] = {}  # name -> {"doc_id", "added_in", "retired_in"}
    history: dict[str, list] = {}  # fact_id -> raw values so far (one entry per change)
    current: dict[str, tuple] = {}  # fact_id -> (subject, attribute, raw value, changed_since, doc_id)

    def launch(period: int) -> str:
        name = f"{namer.word((2,))} {rng.choice(TIERS)}"
        doc_id = f"product-{len(products):03d}"
        products[name] = {"doc_id": doc_id, "added_in": period, "retired_in": None}
        for attribute in PRODUCT_ATTRIBUTES:
            raw = None if attribute == "availability" else rng.choice(DOMAINS[attribute])
            fact_id = f"{doc_id}:{attribute}"
            history[fact_id] = [raw]
            current[fact_id] = (name, attribute, raw, period, doc_id)
        return name

    for attribute in POLICY_ATTRIBUTES:
        fact_id = f"policy-{attribute}:{attribute}"
        raw = rng.choice(DOMAINS[attribute])
        history[fact_id] = [raw]
        current[fact_id] = ("store", attribute, raw, 0, f"policy-{attribute}")

    periods: list[Period] = []
    for p in range(n_periods):
        added: list[str] = []
        if p == 0:
            added = [launch(0) for _ in range(n_products)]
        else:
            on_sale = [n for n, info in products.items() if info["retired_in"] is None]
            for name in rng.sample(on_sale, max(0, min(n_retired_per_period, len(on_sale) - 2))):
                info = products[name]
                info["retired_in"] = p
                for attribute in ("price", "devices"):
                    del current[f"{info['doc_id']}:{attribute}"]
                fact_id = f"{info['doc_id']}:availability"
                history[fact_id].append(p)
                current[fact_id] = (name, "availability", p, p, info["doc_id"])
            mutable = sorted(f for f, state in current.items() if state[1] != "availability")
            for fact_id in rng.sample(mutable, round(change_rate * len(mutable))):
                subject, attribute, _, _, doc_id = current[fact_id]
                raw = _new_value(rng, attribute, history[fact_id])
                history[fact_id].append(raw)
                current[fact_id] = (subject, attribute, raw, p, doc_id)
            added = [launch(p) for _ in range(n_added_per_period)]

        facts = {}
        for fact_id, (subject, attribute, raw, since, doc_id) in current.items():
            value, answers = _render(attribute, raw)
            facts[fact_id] = FactState(fact_id, subject, attribute, value, answers, since, doc_id)
        t = p / (n_periods - 1) if n_periods > 1 else 0.0
        periods.append(
            Period(
                index=p,
                name=period_name(p),
                facts=facts,
                available=[n for n, info in products.items() if info["retired_in"] is None],
                retired={n: info["retired_in"] for n, info in products.items() if info["retired_in"] is not None},
                added=added,
                new_wording_share=min(0.9, wording_shift * p),
                intent_weights={i: (1 - t) * start_mix[i] + t * end_mix[i] for i in INTENTS},
            )
        )
    catalog = {n: Product(n, info["doc_id"], info["added_in"], info["retired_in"]) for n, info in products.items()}
    return World(periods, catalog, seed, change_rate)


def _check_period(world: World, period: int) -> Period:
    if not 0 <= period < world.n_periods:
        raise ValueError(f"period must be between 0 and {world.n_periods - 1}; got {period}")
    return world.periods[period]


def fact_category(world: World, period: int, fact_id: str) -> str:
    """ "new_products" (a product launched after period 0), "unchanged" (same value as in period 0) or "changed"."""
    fact = _check_period(world, period).facts[fact_id]
    first = world.periods[0].facts.get(fact_id)
    if first is None:
        return "new_products"
    return "unchanged" if first.value == fact.value else "changed"


def valid_through(world: World, period: int, fact_id: str) -> int:
    """The last period through which the fact keeps the value it has in `period`."""
    value = _check_period(world, period).facts[fact_id].value
    last = period
    for later in world.periods[period + 1 :]:
        state = later.facts.get(fact_id)
        if state is None or state.value != value:
            break
        last = later.index
    return last


def facts_at(world: World, period: int, kind: str = "all", since: int | None = None) -> list[FactState]:
    """The facts of a period, optionally of one category (EVAL_KINDS) and only those whose value was
    set after period `since` (changed_since > since)."""
    if kind not in EVAL_KINDS:
        raise ValueError(f"kind must be one of {EVAL_KINDS}; got {kind!r}")
    state = _check_period(world, period)
    return [
        f
        for fid, f in sorted(state.facts.items())
        if (kind == "all" or fact_category(world, period, fid) == kind) and (since is None or f.changed_since > since)
    ]


def _question_example(world: World, period: int, fact: FactState, wording: str, template_index: int) -> Example:
    template = TEMPLATES[fact.attribute][wording][template_index]
    text = template.format(name=fact.subject, lname=fact.subject.lower())
    category = fact_category(world, period, fact.fact_id)
    meta = {
        "period": period,
        "answers": list(fact.answers),
        "fact_id": fact.fact_id,
        "subject": fact.subject,
        "attribute": fact.attribute,
        "doc_id": fact.doc_id,
        "category": category,
        "changed_since": fact.changed_since,
        "still_valid_from_period0": category == "unchanged",
        "valid_through": valid_through(world, period, fact.fact_id),
        "wording": wording,
        "template": f"{fact.attribute}:{wording}:{template_index}",
    }
    return Example(
        [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
            {"role": "assistant", "content": fact.value},
        ],
        meta,
    )


def _template_indices(split: str | None) -> tuple[int, ...] | None:
    """The template indices a split may use (None: every template, as in customers' traffic)."""
    if split is not None and split not in TEMPLATE_SPLITS:
        raise ValueError(f"split must be None or one of {sorted(TEMPLATE_SPLITS)}; got {split!r}")
    return None if split is None else TEMPLATE_SPLITS[split]


def period_examples(
    world: World,
    period: int,
    n: int,
    seed: int,
    kind: str = "all",
    weighting: str = "traffic",
    split: str | None = None,
) -> list[Example]:
    """Up to n customer questions of one period, each a distinct (fact, wording template) pair.

    Questions are drawn without replacement with weight (fact weight) x (share of its wording) /
    (templates of that wording). weighting="traffic": a fact weighs its type's share of the period's
    intent mix / facts of that type, so the sample follows the period's traffic (for monitoring; the
    four policies then get many questions each). weighting="balanced": every question type present
    weighs the same, split equally over its facts (for evaluation, so neither the few policies nor the
    many easy "Yes, it is available." answers dominate). Fewer than n come back when the period has
    fewer distinct questions (e.g. "changed" early on; "changed" and "new_products" are empty in period 0).
    split (TEMPLATE_SPLITS: "train", "eval", "canary") keeps only that split's templates; None uses all.
    The random draws do not depend on the split, so one split's sample is the others' with templates removed.
    """
    allowed = _template_indices(split)
    if weighting not in ("traffic", "balanced"):
        raise ValueError(f"weighting must be 'traffic' or 'balanced'; got {weighting!r}")
    state = _check_period(world, period)
    facts = facts_at(world, period, kind)
    per_attribute: dict[str, int] = {}
    for fact in facts:
        per_attribute[fact.attribute] = per_attribute.get(fact.attribute, 0) + 1
    share = {"old": 1.0 - state.new_wording_share, "new": state.new_wording_share}
    rng = random.Random(derived_seed(world.seed, seed, period, kind, weighting, "examples"))
    keyed = []
    for fact in facts:
        for wording in ("old", "new"):
            templates = TEMPLATES[fact.attribute][wording]
            type_weight = state.intent_weights[fact.attribute] if weighting == "traffic" else 1.0
            fact_weight = type_weight / per_attribute[fact.attribute]
            weight = fact_weight * share[wording] / len(templates)
            for index in range(len(templates)):
                u = rng.random()  # drawn even when the weight is 0, so draws do not depend on the mix
                if weight > 0 and (allowed is None or index in allowed):
                    # Efraimidis-Spirakis: the n largest u ** (1 / w) are a weighted sample without replacement.
                    keyed.append((math.log(u) / weight if u > 0 else -math.inf, fact, wording, index))
    keyed.sort(key=lambda item: item[0], reverse=True)
    return [_question_example(world, period, fact, wording, index) for _, fact, wording, index in keyed[:n]]


def eval_sets(world: World, period: int, n: int, seed: int) -> dict[str, list[Example]]:
    """Evaluation sets of up to n questions for each kind in EVAL_KINDS, answers as of `period`.

    "changed": facts of period-0 products and policies whose value differs from period 0 (retirements
    included); "unchanged": facts that still hold since period 0 (the forgetting check); "new_products":
    facts of products launched after period 0; "all": any fact. Question types are balanced
    (weighting="balanced"); wordings follow the period's mix, in the evaluation's own templates
    (TEMPLATE_SPLITS["eval"]), which no training set uses.
    """
    return {
        kind: period_examples(world, period, n, seed, kind=kind, weighting="balanced", split="eval")
        for kind in EVAL_KINDS
    }


def canary_set(world: World, period: int, n: int, seed: int) -> list[Example]:
    """Up to n labelled canary questions of one period, on any fact, in the canary's own templates
    (TEMPLATE_SPLITS["canary"]): a separate pool that shares no question with training or evaluation."""
    return period_examples(world, period, n, seed, kind="all", weighting="balanced", split="canary")


VALIDATION_SEED = 500  # a period's validation draw uses seed VALIDATION_SEED + period, apart from the canary's


def validation_set(world: World, period: int, n: int) -> list[Example]:
    """Up to n labelled validation questions of one period (any fact, answers as of `period`), the questions a
    learning-rate sweep is scored on. They use the canary's templates (TEMPLATE_SPLITS["canary"]), which are
    never scored as evaluation, so no validation question is an evaluation or training question; a validation
    question may coincide with a canary question (the canary is not scored either)."""
    return period_examples(world, period, n, VALIDATION_SEED + period, kind="all", weighting="balanced", split="canary")


def as_of(world: World, example: Example, period: int) -> Example:
    """The same question (fact, wording, template) asked in another period, with that period's answer:
    pairs a changed fact's question now with the question it was when the model was trained."""
    attribute, wording, index = example.meta["template"].split(":")
    fact = _check_period(world, period).facts.get(example.meta["fact_id"])
    if fact is None:
        raise ValueError(f"fact {example.meta['fact_id']!r} does not exist in period {period}")
    return _question_example(world, period, fact, wording, int(index))


def training_set(world: World, period: int, n: int, seed: int, since: int | None = None) -> list[Example]:
    """n training questions with the answers as of `period`, cycling through the facts so that every
    fact appears once before any appears twice (n >= len(facts_at(...)) covers them all).

    since=None covers every fact of the period; since=k keeps only facts whose value was set after
    period k: the "new data" a retrain on changes alone would see. Wordings follow the period's mix,
    in the training templates only (TEMPLATE_SPLITS["train"]). The first k examples of a set of n are
    the set of k (the draws are sequential), so a shorter set is a prefix of a longer one.
    """
    state = _check_period(world, period)
    facts = facts_at(world, period, "all", since)
    if not facts:
        raise ValueError(f"period {period} has no fact changed after period {since}")
    rng = random.Random(derived_seed(world.seed, seed, period, since, "train"))
    order = rng.sample(facts, len(facts))
    examples = []
    for i in range(n):
        if i and i % len(order) == 0:
            order = rng.sample(facts, len(facts))
        fact = order[i % len(order)]
        wording = "new" if rng.random() < state.new_wording_share else "old"
        index = rng.choice(TEMPLATE_SPLITS["train"])
        examples.append(_question_example(world, period, fact, wording, index))
    return examples


def replay_mix(new: list[Example], old: list[Example], replay_share: float, seed: int) -> list[Example]:
    """A retraining set exactly as large as `new`: round(replay_share * len(new)) replayed old examples and
    the first len(new) - that many new ones, shuffled. Equal size, so "with replay" and "new data only"
    are compared at the same number of training examples (and optimizer steps).

    Only old examples whose answer still holds in the new examples' period are replayed: stale ones
    (meta["valid_through"] earlier than that period) are dropped, since replaying them would teach the
    old value again. When too few valid old examples exist, all of them are used and more new ones fill
    the set. training_set cycles through the facts, so its first examples cover the new facts first.
    """
    if not new:
        raise ValueError("replay_mix needs at least one new example")
    if not 0.0 <= replay_share < 1.0:
        raise ValueError(f"replay_share must be in [0, 1); got {replay_share}")
    current = max(ex.meta["period"] for ex in new)
    valid = [ex for ex in old if ex.meta["valid_through"] >= current]
    rng = random.Random(derived_seed(seed, len(new), len(old), replay_share, "replay"))
    n_old = min(round(replay_share * len(new)), len(valid))
    mixed = list(new[: len(new) - n_old]) + rng.sample(valid, n_old)
    rng.shuffle(mixed)
    return mixed


def _policy_document(attribute: str, fact: FactState) -> str:
    if attribute == "refund_window":
        return f"Refund policy: customers can ask for a refund within {fact.value} of purchase."
    if attribute == "shipping_fee":
        return (
            "Shipping policy: shipping (delivery) is free on every order."
            if fact.value == "Free"
            else f"Shipping policy: shipping (delivery) costs {fact.value} per order."
        )
    if attribute == "support_hours":
        return (
            f"Support hours: customer support is available {fact.value}."
            if fact.value == "24/7"
            else f"Support hours: customer support is available from {fact.value}."
        )
    return f"Warranty: every purchase comes with a warranty of {fact.value}, covering repairs when something breaks."


def catalog_documents(world: World, period: int) -> dict[str, str]:
    """One short document per product launched so far and per policy, as of `period` ({doc_id: text})."""
    state = _check_period(world, period)
    documents = {}
    for name, product in world.products.items():
        if product.added_in > period:
            continue
        if name in state.retired:
            documents[product.doc_id] = (
                f"{name} was retired in {period_name(state.retired[name])} and can no longer be bought."
            )
        else:
            price = state.facts[f"{product.doc_id}:price"].value
            devices = state.facts[f"{product.doc_id}:devices"].value
            documents[product.doc_id] = (
                f"{name} is a subscription plan on sale now. It costs {price} and covers up to {devices}."
            )
    for attribute in POLICY_ATTRIBUTES:
        documents[f"policy-{attribute}"] = _policy_document(attribute, state.facts[f"policy-{attribute}:{attribute}"])
    return documents


def with_catalog_context(world: World, period: int, examples: list[Example], k: int = 2) -> list[Example]:
    """The examples with the k best catalog documents of `period` (BM25 on the question) in a RAG prompt."""
    from ..core.retrieval import BM25Retriever
    from .knowledge_base import with_context

    retriever = BM25Retriever(catalog_documents(world, period))
    return [with_context(ex, retriever.search_texts(ex.last_user_message, k)) for ex in examples]
