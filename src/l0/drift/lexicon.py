"""The words and phrases the detectors look for: meta commentary, hedges, informal words."""

from __future__ import annotations

import re

from ..guardrails.streamtext import phrase_regex


def _phrase(text: str) -> re.Pattern[str]:
    return re.compile(phrase_regex(text), re.IGNORECASE)


META = [
    _phrase("as an ai"),
    _phrase("as a (?:large )?language model"),
    _phrase("i(?:'m| am) (?:just |only )?an ai"),
    _phrase("i apologi[sz]e"),
    _phrase("i(?:'m| am) sorry,? but"),
    _phrase("i (?:cannot|can't|can not) (?:help|assist|provide|comply)"),
    # Two phrases, not one with an alternation: their anchors are then the whole phrases,
    # not "my ", which ordinary prose is full of (`l0.guardrails.anchors`).
    _phrase("my training data"),
    _phrase("my knowledge cutoff"),
    _phrase("i don't have (?:personal )?(?:opinions|feelings|emotions)"),
]
META_WINDOW = 64

HEDGE_WORDS = frozenset(
    {
        "perhaps",
        "maybe",
        "possibly",
        "probably",
        "presumably",
        "arguably",
        "apparently",
        "seemingly",
        "conceivably",
        "might",
        "somewhat",
        "supposedly",
    }
)
HEDGE_PAIRS = frozenset(
    {
        ("i", "think"),
        ("i", "believe"),
        ("i", "guess"),
        ("i", "suppose"),
        ("it", "seems"),
        ("not", "sure"),
        ("could", "be"),
        ("it's", "possible"),
        ("may", "be"),
    }
)
INFORMAL = frozenset(
    {
        "lol",
        "lmao",
        "rofl",
        "omg",
        "gonna",
        "wanna",
        "gotta",
        "yeah",
        "yep",
        "yup",
        "nope",
        "hey",
        "dude",
        "bro",
        "kinda",
        "sorta",
        "ya",
        "yo",
        "nah",
        "btw",
        "tbh",
        "imo",
        "imho",
        "idk",
        "haha",
        "hahaha",
        "hehe",
        "wow",
        "ugh",
        "awesome",
        "cool",
        "totally",
        "stuff",
        "y'all",
        "ain't",
        "cuz",
        "ur",
        "pls",
        "plz",
        "thx",
    }
)
HEDGE_SECONDS = frozenset(second for _, second in HEDGE_PAIRS)
HEDGE_ANY = HEDGE_WORDS | HEDGE_SECONDS
JSON_WORDS = frozenset({"true", "false", "null"})
