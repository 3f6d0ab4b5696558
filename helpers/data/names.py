"""Made-up names for generated worlds: pronounceable words no model can know, unique within a world.

Used by the knowledge base (notebook 03) and the drifting product world (notebook 04).
"""

from __future__ import annotations

import random
import re

COMPANY_SUFFIXES = ("Labs", "Systems", "Dynamics", "Industries", "Works", "Group", "Technologies")
POLICY_SUFFIXES = ("Care Plan", "Protection Plan", "Service Policy", "Assurance Program")
CITY_FORMS = ("{w}", "Port {w}", "{w}stad", "{w}ford")

# Syllables for made-up words: a first onset (clusters allowed), simple consonants inside, a coda at the end.
ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "qu",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
    "th",
    "sh",
)
INNER_CONSONANTS = ("b", "d", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o")
INNER_CODAS = ("", "", "", "n", "r", "l")
FINAL_CODAS = ("", "n", "r", "l", "x", "s", "nd", "rk", "lt", "m", "th", "k")
# Real names and words the syllables could produce; a generated word equal to one is redrawn.
BLOCKLIST = {
    "maria",
    "mario",
    "dario",
    "lena",
    "nora",
    "tara",
    "sara",
    "dana",
    "milo",
    "rosa",
    "vera",
    "lara",
    "tina",
    "nina",
    "gina",
    "mona",
    "pablo",
    "boris",
    "denis",
    "doris",
    "dora",
    "mira",
    "lina",
    "greta",
    "gloria",
    "martin",
    "marta",
    "marin",
    "laura",
    "sandra",
    "sonia",
    "tomas",
    "pedro",
    "bruno",
    "fabio",
    "stefan",
    "daren",
    "karen",
    "darren",
    "loren",
    "teresa",
    "samuel",
    "elena",
    "bianca",
    "monica",
    "veronica",
    "damon",
    "tesla",
    "nokia",
    "sony",
    "intel",
    "zara",
    "lego",
    "kodak",
    "xerox",
    "rolex",
    "toyota",
    "mazda",
    "subaru",
    "honda",
    "nike",
    "puma",
    "volvo",
    "skoda",
    "fanta",
    "pepsi",
    "oreo",
    "lexus",
    "sega",
    "atari",
    "canon",
    "nikon",
    "ricoh",
    "fila",
    "prada",
    "gucci",
    "tata",
    "vespa",
    "kia",
    "seat",
    "amazon",
    "oracle",
    "adobe",
    "banana",
    "tomato",
    "potato",
    "salad",
    "pasta",
    "gorilla",
    "python",
    "delta",
    "sigma",
    "omega",
    "alpha",
    "gamma",
    "zeta",
    "theta",
    "kappa",
    "lambda",
    "santa",
    "rodeo",
    "radio",
    "studio",
    "solo",
    "piano",
    "tuna",
    "lemon",
    "melon",
    "salmon",
    "bacon",
    "pilot",
    "robot",
    "sofa",
    "tofu",
    "menu",
    "data",
    "metal",
    "total",
    "petal",
    "model",
    "panel",
    "camel",
    "label",
    "level",
    "novel",
    "rival",
    "vital",
    "final",
    "spiral",
}
DOUBLED = re.compile(r"(.)\1")


def _made_up_word(rng: random.Random, syllables: int) -> str:
    """A pronounceable made-up word such as "Zorvant", "Maren" or "Quilex"."""
    parts = [rng.choice(ONSETS) + rng.choice(VOWELS)]
    for _ in range(syllables - 1):
        parts.append(rng.choice(INNER_CODAS) + rng.choice(INNER_CONSONANTS) + rng.choice(VOWELS))
    return ("".join(parts) + rng.choice(FINAL_CODAS)).capitalize()


class Namer:
    """Draws made-up words that are unique, 4 to 11 letters long, without doubled letters, and not in
    BLOCKLIST or `avoid`."""

    def __init__(self, rng: random.Random, avoid: set[str] | None = None):
        self.rng = rng
        self.used = set(avoid or ())

    def word(self, syllables: tuple[int, ...] = (2, 3)) -> str:
        while True:
            word = _made_up_word(self.rng, self.rng.choice(syllables))
            key = word.lower()
            if 4 <= len(key) <= 11 and not DOUBLED.search(key) and key not in BLOCKLIST and key not in self.used:
                self.used.add(key)
                return word

    def person(self) -> str:
        return f"{self.word((2,))} {self.word((2, 3))}"

    def name(self, kind: str) -> str:
        if kind == "company":
            return f"{self.word()} {self.rng.choice(COMPANY_SUFFIXES)}"
        if kind == "person":
            return self.person()
        if kind == "product":
            return self.word()
        if kind == "policy":
            return f"{self.word()} {self.rng.choice(POLICY_SUFFIXES)}"
        raise ValueError(f"unknown kind {kind!r}; expected company, person, product or policy")

    def city(self) -> str:
        return self.rng.choice(CITY_FORMS).format(w=self.word())
