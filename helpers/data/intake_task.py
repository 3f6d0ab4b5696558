"""Client-intake extraction: a generated, offline task for a law firm.

A receptionist's free-text intake note becomes a JSON object with fixed fields. Notes are built by
code from a seeded `Faker("en_US")` and `random.Random`, so the same `data_seed` gives the same
examples on any machine with the same faker version (dates come from fixed ranges, never "today").
Training targets can be corrupted on purpose (`noise_rate`, `noise_kinds`) to test claims about
noisy fine-tuning data; `filter_noisy_examples` is the rule-based cleaning a practitioner could run
without ground truth.
"""

from __future__ import annotations

import datetime
import json
import random
import re

from faker import Faker

from ..core import scoring
from ..core.seeds import derived_seed
from ..core.tasks import Example, Task

FIELDS = (
    "client_name",
    "date_of_birth",
    "phone",
    "email",
    "matter_type",
    "incident_date",
    "opposing_party",
    "urgency",
)
DATE_FIELDS = ("date_of_birth", "incident_date")
MATTER_TYPES = (
    "personal injury",
    "employment",
    "landlord-tenant",
    "divorce",
    "immigration",
    "contract dispute",
    "estate planning",
    "criminal defense",
)
URGENCY_LEVELS = ("low", "medium", "high")
ALL_NOISE_KINDS = ("wrong_value", "missing_field", "renamed_key", "inconsistent_format", "truncated_json")
RENAMED_KEYS = {
    "client_name": "name",
    "date_of_birth": "dob",
    "phone": "phone_number",
    "email": "email_address",
    "matter_type": "case_type",
    "incident_date": "date_of_incident",
    "opposing_party": "other_party",
    "urgency": "priority",
}

INTAKE_SYSTEM_PROMPT = (
    "You extract client-intake details for a law firm. Read the intake note and return only a JSON "
    "object, with no other text, with exactly these keys in this order: "
    + ", ".join(FIELDS)
    + ". Write dates as YYYY-MM-DD and the phone as +1-XXX-XXX-XXXX. matter_type must be one of: "
    + ", ".join(MATTER_TYPES)
    + ". urgency must be one of: "
    + ", ".join(URGENCY_LEVELS)
    + "."
)

# One line per field for notebook 06's "zero-shot + descriptions" prompt, the extraction analogue of a label's
# description: what the field holds and where a note says it. Written by the course from the schema; they
# describe the field, never a test note.
FIELD_DESCRIPTIONS = {
    "client_name": "the full name (first and last) of the person who contacted the firm, not the other side",
    "date_of_birth": "the client's own date of birth, written YYYY-MM-DD",
    "phone": "the client's callback number, written +1-XXX-XXX-XXXX",
    "email": "the client's email address, copied exactly as written in the note",
    "matter_type": "the kind of legal problem, one of: " + ", ".join(MATTER_TYPES),
    "incident_date": "the date of the event the matter is about (accident, firing, notice, separation, "
    "arrest), written YYYY-MM-DD; not the date of birth",
    "opposing_party": "the person, company, agency or state on the other side of the matter, as named in the note",
    "urgency": "how soon the client needs the firm, one of: " + ", ".join(URGENCY_LEVELS),
}
DESCRIBED_SYSTEM_PROMPT = (
    "You extract client-intake details for a law firm. Read the intake note and return only a JSON object, "
    "with no other text, with exactly these keys in this order. Each key is followed by what it holds:\n{lines}"
)


def described_system_prompt(fields=FIELDS) -> str:
    """The intake system prompt with one line per field: "- field: what it holds" (every field must have one)."""
    missing = [name for name in fields if name not in FIELD_DESCRIPTIONS]
    if missing:
        raise KeyError(f"no description for field(s) {missing}")
    return DESCRIBED_SYSTEM_PROMPT.format(lines="\n".join(f"- {name}: {FIELD_DESCRIPTIONS[name]}" for name in fields))


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DOB_RANGE = (datetime.date(1945, 1, 1), datetime.date(2005, 12, 31))
INCIDENT_RANGE = (datetime.date(2021, 1, 1), datetime.date(2024, 12, 31))
PHONE_PATTERN = re.compile(r"^\+1-\d{3}-\d{3}-\d{4}$")
ISO_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Per matter type: (kind of opposing party, sentence with {opp} and {date}).
MATTER_SENTENCES = {
    "personal injury": [
        ("person", "Was hurt in a car accident on {date}; the other driver was {opp}."),
        ("company", "Personal injury: slipped and fell at a store run by {opp} on {date}."),
    ],
    "employment": [
        ("company", "Was fired by {opp} on {date} and thinks it was retaliation."),
        ("company", "Employment problem: unpaid overtime at {opp}, last paycheck was {date}."),
    ],
    "landlord-tenant": [
        ("company", "Got an eviction notice from the landlord, {opp}, on {date}."),
        ("person", "Landlord-tenant issue: landlord {opp} kept the security deposit after move-out on {date}."),
    ],
    "divorce": [
        ("person", "Wants a divorce from spouse {opp}; they separated on {date}."),
        ("person", "Divorce and custody questions; separated from {opp} since {date}."),
    ],
    "immigration": [
        ("agency", "Immigration matter: visa application was denied by {opp} on {date}."),
        ("agency", "Received a removal notice from {opp} dated {date}."),
    ],
    "contract dispute": [
        ("company", "Contract dispute with {opp}, who stopped paying invoices on {date}."),
        ("company", "Says {opp} breached their supply contract on {date}."),
    ],
    "estate planning": [
        ("person", "Estate planning: wants to redo the will after mother passed on {date}; brother {opp} objects."),
        ("person", "Needs a will and trust set up; cousin {opp} has challenged the family property since {date}."),
    ],
    "criminal defense": [
        ("state", "Was arrested on {date} and charged by the {opp}."),
        ("state", "Criminal defense: DUI charge filed by the {opp} on {date}."),
    ],
}
AGENCIES = (
    "U.S. Citizenship and Immigration Services",
    "Department of Homeland Security",
    "Immigration and Customs Enforcement",
)
URGENCY_SENTENCES = {
    "high": (
        "Says it is urgent, court date is next week.",
        "Needs a call back today, very urgent.",
        "High priority, deadline is in a few days.",
    ),
    "medium": (
        "Would like a call back sometime this week.",
        "Somewhat time-sensitive, hoping to hear back within a week.",
        "Not an emergency but wants to move soon.",
    ),
    "low": (
        "No rush, call back whenever convenient.",
        "Just exploring options for now, low priority.",
        "Not urgent at all.",
    ),
}
EXTRAS = (
    "Found the firm through an online search.",
    "Was referred by a friend who used us before.",
    "Asked whether the first consultation is free.",
    "Has some documents and photos to bring in.",
    "Sounded stressed on the phone but was clear about the details.",
    "Wants to know the hourly rate before booking.",
    "Mentioned talking to another lawyer last year but never hired one.",
    "Prefers afternoon appointments if possible.",
    "Speaks English and some Spanish.",
    "Asked that we not leave detailed voicemails.",
)
TEMPLATES = (
    "New intake call. Caller: {name}, DOB {dob}. {matter} {urgency} {extra} Best number is {phone}, email {email}.",
    "{name} called this morning. {matter} Born {dob}. {extra} "
    "Can be reached at {phone} or by email at {email}. {urgency}",
    "Walk-in client {name} (email: {email}, phone: {phone}). Date of birth {dob}. {matter} {extra} {urgency}",
    "Voicemail from {name}: {matter} {urgency} Callback number {phone}. Email on file is {email}. DOB {dob}. {extra}",
    "Intake note. {urgency} Client is {name}, born on {dob}, contact {phone} / {email}. {matter} {extra}",
    "Spoke with {name} ({dob}) on the main line. {matter} {extra} Prefers email at {email}; phone {phone}. {urgency}",
    "Web form submission: name {name}; DOB {dob}; tel {phone}; email {email}. "
    "Issue described: {matter} {urgency} {extra}",
    "Referral from an existing client. {name} reached out via {email}. {matter} {extra} "
    "Date of birth is {dob}. Phone {phone}. {urgency}",
)


def _date_text(day: datetime.date, rng: random.Random) -> str:
    """A date as a person might write it (US month/day order for numeric forms)."""
    y, m, d = day.year, day.month, day.day
    forms = (
        f"{MONTHS[m - 1]} {d}, {y}",
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{d} {MONTHS[m - 1]} {y}",
        f"{MONTHS[m - 1][:3]} {d} {y}",
        f"{m:02d}-{d:02d}-{y}",
        day.isoformat(),
    )
    return rng.choice(forms)


def _phone_text(digits: str, rng: random.Random) -> str:
    """A 10-digit US phone number in one of several everyday formats."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    forms = (
        f"({a}) {b}-{c}",
        f"{a}-{b}-{c}",
        f"{a}.{b}.{c}",
        f"{a}{b}{c}",
        f"+1 {a} {b} {c}",
        f"{a} {b} {c}",
        f"1-{a}-{b}-{c}",
    )
    return rng.choice(forms)


def _canonical_phone(digits: str) -> str:
    return f"+1-{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def _phone_digits(rng: random.Random) -> str:
    """Ten digits of a plausible US number: area code and exchange do not start with 0 or 1."""
    return (
        f"{rng.randint(2, 9)}{rng.randint(0, 99):02d}"
        f"{rng.randint(2, 9)}{rng.randint(0, 99):02d}"
        f"{rng.randint(0, 9999):04d}"
    )


def _opposing_party(kind: str, fake: Faker, rng: random.Random) -> str:
    if kind == "person":
        return f"{fake.first_name()} {fake.last_name()}"
    if kind == "company":
        return fake.company()
    if kind == "state":
        return f"State of {fake.state()}"
    return rng.choice(AGENCIES)


def _make_record(fake: Faker, rng: random.Random) -> tuple[str, dict, int]:
    """One generated client: the note text, the canonical fields, and the template index."""
    first, last = fake.first_name(), fake.last_name()
    name = f"{first} {last}"
    dob = fake.date_between_dates(*DOB_RANGE)
    incident = fake.date_between_dates(*INCIDENT_RANGE)
    digits = _phone_digits(rng)
    user = re.sub(r"[^a-z]", "", first.lower()) + rng.choice((".", "_", "")) + re.sub(r"[^a-z]", "", last.lower())
    email = f"{user}{rng.choice(('', str(rng.randint(1, 99))))}@{fake.free_email_domain()}"
    matter = rng.choice(MATTER_TYPES)
    opp_kind, matter_sentence = rng.choice(MATTER_SENTENCES[matter])
    opposing = _opposing_party(opp_kind, fake, rng)
    urgency = rng.choice(URGENCY_LEVELS)
    template = rng.randrange(len(TEMPLATES))
    note = TEMPLATES[template].format(
        name=name,
        dob=_date_text(dob, rng),
        phone=_phone_text(digits, rng),
        email=email,
        matter=matter_sentence.format(opp=opposing, date=_date_text(incident, rng)),
        urgency=rng.choice(URGENCY_SENTENCES[urgency]),
        extra=" ".join(rng.sample(EXTRAS, rng.randint(1, 2))),
    )
    fields = {
        "client_name": name,
        "date_of_birth": dob.isoformat(),
        "phone": _canonical_phone(digits),
        "email": email,
        "matter_type": matter,
        "incident_date": incident.isoformat(),
        "opposing_party": opposing,
        "urgency": urgency,
    }
    return note, fields, template


def _generate(n: int, seed: int) -> list[tuple[str, dict, int]]:
    """n records from one seed; the first k records do not depend on n."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [_make_record(fake, rng) for _ in range(n)]


def _intake_example(note: str, fields: dict, target: str, noise_kind: str | None, template: int | None) -> Example:
    return Example(
        messages=[
            {"role": "system", "content": INTAKE_SYSTEM_PROMPT},
            {"role": "user", "content": note},
            {"role": "assistant", "content": target},
        ],
        meta={
            "clean_target": json.dumps(fields, ensure_ascii=False),
            "noise_kind": noise_kind,
            "fields": dict(fields),
            "template": template,
        },
    )


def _corrupt(fields: dict, kind: str, donors: list[dict], rng: random.Random) -> str:
    """The target JSON string for `fields`, corrupted in the way `kind` names."""
    obj = dict(fields)
    if kind == "wrong_value":
        key = rng.choice(FIELDS)
        candidates = sorted({d[key] for d in donors if d[key] != obj[key]})
        obj[key] = rng.choice(candidates)
    elif kind == "missing_field":
        del obj[rng.choice(FIELDS)]
    elif kind == "renamed_key":
        key = rng.choice(FIELDS)
        obj = {(RENAMED_KEYS[k] if k == key else k): v for k, v in obj.items()}
    elif kind == "inconsistent_format":
        key = rng.choice(DATE_FIELDS + ("phone",))
        if key == "phone":
            digits = re.sub(r"\D", "", obj["phone"])[1:]
            obj["phone"] = rng.choice(
                (f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"{digits[:3]}.{digits[3:6]}.{digits[6:]}", digits)
            )
        else:
            day = datetime.date.fromisoformat(obj[key])
            obj[key] = rng.choice(
                (
                    f"{day.month:02d}/{day.day:02d}/{day.year}",
                    f"{MONTHS[day.month - 1]} {day.day}, {day.year}",
                    f"{day.day:02d}.{day.month:02d}.{day.year}",
                )
            )
    elif kind == "truncated_json":
        text = json.dumps(obj, ensure_ascii=False)
        return text[: rng.randint(len(text) // 4, len(text) - 1)]
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {ALL_NOISE_KINDS}")
    return json.dumps(obj, ensure_ascii=False)


def intake_task(
    n_train: int,
    n_eval: int,
    noise_rate: float = 0.0,
    noise_kinds=ALL_NOISE_KINDS,
    data_seed: int = 1234,
) -> Task:
    """Client-intake extraction: intake note -> JSON with FIELDS, scored by field-level F1.

    Clean records depend only on (data_seed, index), so arms with different noise differ only in the
    round(noise_rate * n_train) corrupted training targets. Eval targets are never corrupted.
    """
    noise_kinds = tuple(noise_kinds)
    unknown = [k for k in noise_kinds if k not in ALL_NOISE_KINDS]
    if unknown or not noise_kinds:
        raise ValueError(f"noise_kinds must be a non-empty subset of {ALL_NOISE_KINDS}; got {noise_kinds}")
    if not 0.0 <= noise_rate <= 1.0:
        raise ValueError(f"noise_rate must be within [0, 1]; got {noise_rate}")

    train_records = _generate(n_train, derived_seed(data_seed, "train"))
    train_notes = {note for note, _, _ in train_records}
    eval_records = [r for r in _generate(n_eval + 10, derived_seed(data_seed, "eval")) if r[0] not in train_notes][
        :n_eval
    ]

    noise_rng = random.Random(derived_seed(data_seed, "noise"))
    noisy = sorted(noise_rng.sample(range(n_train), round(noise_rate * n_train))) if noise_rate else []
    donor_pool = [fields for _, fields, _ in train_records] + [
        fields for _, fields, _ in _generate(20, derived_seed(data_seed, "donors"))
    ]
    kinds = {}
    targets = {}
    for i in noisy:
        kinds[i] = noise_rng.choice(noise_kinds)
        targets[i] = _corrupt(train_records[i][1], kinds[i], donor_pool, noise_rng)

    train = []
    for i, (note, fields, template) in enumerate(train_records):
        target = targets.get(i, json.dumps(fields, ensure_ascii=False))
        train.append(_intake_example(note, fields, target, kinds.get(i), template))
    evaluation = [
        _intake_example(note, fields, json.dumps(fields, ensure_ascii=False), None, template)
        for note, fields, template in eval_records
    ]

    def scorer(predictions, examples):
        return scoring.json_field_scores(predictions, [ex.meta["clean_target"] for ex in examples])

    return Task(
        name="client_intake",
        train=train,
        eval=evaluation,
        scorer=scorer,
        headline_metric="field_f1",
        description=(
            f"client-intake extraction to JSON ({len(FIELDS)} fields), generated notes, target noise {noise_rate:.0%}"
        ),
        source={
            "dataset": "client_intake (generated)",
            "origin": "helpers.data.intake_task",
            "license": "generated by code",
            "data_seed": data_seed,
            "noise_rate": noise_rate,
            "noise_kinds": list(noise_kinds),
        },
    )


_MONTH_NUMBERS = {name.lower(): i + 1 for i, name in enumerate(MONTHS)} | {
    name[:3].lower(): i + 1 for i, name in enumerate(MONTHS)
}
_MONTH_RE = "(" + "|".join(MONTHS) + "|" + "|".join(m[:3] for m in MONTHS) + r")\.?"
_NOTE_DATE_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})[/-](\d{1,2})[/-](\d{4})\b"), ("m", "d", "y")),
    (re.compile(rf"\b{_MONTH_RE}\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE), ("m", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}})\s+{_MONTH_RE},?\s+(\d{{4}})\b", re.IGNORECASE), ("d", "m", "y")),
)
_NOTE_PHONE_PATTERN = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})(?!\d)")


def _dates_in_note(note: str) -> set[str]:
    """ISO forms of the dates written in a note (US month/day order for numeric forms)."""
    found = set()
    for pattern, order in _NOTE_DATE_PATTERNS:
        for match in pattern.finditer(note):
            parts = dict(zip(order, match.groups()))
            month = parts["m"] if parts["m"].isdigit() else _MONTH_NUMBERS[parts["m"].lower().rstrip(".")]
            try:
                found.add(datetime.date(int(parts["y"]), int(month), int(parts["d"])).isoformat())
            except ValueError:
                continue
    return found


def _phones_in_note(note: str) -> set[str]:
    return {f"+1-{a}-{b}-{c}" for a, b, c in _NOTE_PHONE_PATTERN.findall(note)}


def intake_example(note: str, fields: dict) -> Example:
    """A clean example for a note written elsewhere (a generator): its target is `fields` as JSON."""
    return _intake_example(note, fields, json.dumps(fields, ensure_ascii=False), None, None)


def swap_phone(note: str, old: str, new: str) -> str | None:
    """The note with every number it writes as the canonical phone `old` rewritten to `new`, keeping each
    occurrence's own format (its separators and brackets); None when the note writes no such number."""
    new_digits = re.sub(r"\D", "", new)[1:]
    parts, end, found = [], 0, False
    for match in _NOTE_PHONE_PATTERN.finditer(note):
        if "+1-{}-{}-{}".format(*match.groups()) != old:
            continue
        found = True
        for group, digits in zip((1, 2, 3), (new_digits[:3], new_digits[3:6], new_digits[6:])):
            parts += [note[end : match.start(group)], digits]
            end = match.end(group)
    return "".join(parts) + note[end:] if found else None


def target_problem(note: str, target: str) -> str | None:
    """The first reason a target looks wrong, judged from the note and the schema alone, or None: the reason
    `filter_noisy_examples` would remove an example with this note and target."""
    try:
        obj = json.loads(target)
    except json.JSONDecodeError:
        return "invalid_json"
    if not isinstance(obj, dict):
        return "invalid_json"
    if set(obj) - set(FIELDS):
        return "unexpected_key"
    if set(FIELDS) - set(obj):
        return "missing_key"
    if not all(isinstance(obj[k], str) for k in FIELDS):
        return "non_string_value"
    for key in DATE_FIELDS:
        if not ISO_DATE_PATTERN.match(obj[key]):
            return "bad_date_format"
        try:
            datetime.date.fromisoformat(obj[key])
        except ValueError:
            return "bad_date_format"
    if not PHONE_PATTERN.match(obj["phone"]):
        return "bad_phone_format"
    if obj["matter_type"] not in MATTER_TYPES or obj["urgency"] not in URGENCY_LEVELS:
        return "value_not_allowed"
    lowered = note.lower()
    for key in ("client_name", "email", "opposing_party"):
        if obj[key].lower() not in lowered:
            return f"{key}_not_in_note"
    note_dates = _dates_in_note(note)
    for key in DATE_FIELDS:
        # The exact date when the note's dates could be read, else at least its year.
        if (obj[key] not in note_dates) if note_dates else (obj[key][:4] not in note):
            return f"{key}_not_in_note"
    if obj["phone"] not in _phones_in_note(note):
        return "phone_not_in_note"
    return None


def filter_noisy_examples(examples: list[Example]) -> tuple[list[Example], dict]:
    """Keep examples whose target passes schema, format and note-consistency checks.

    Uses only the note (last user message) and the target: never meta["noise_kind"] or
    meta["clean_target"]. It cannot see a wrong matter_type or urgency that is still an allowed value.
    """
    kept, removed_by_reason = [], {}
    for ex in examples:
        note = ex.last_user_message
        reason = target_problem(note, ex.reference)
        if reason is None:
            kept.append(ex)
        else:
            removed_by_reason[reason] = removed_by_reason.get(reason, 0) + 1
    report = {"kept": len(kept), "removed": len(examples) - len(kept), "removed_by_reason": removed_by_reason}
    return kept, report
