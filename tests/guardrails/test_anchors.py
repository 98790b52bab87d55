"""Literal anchors: every match of a pattern contains its anchor once folded, so a matcher
that skips text without anchors never misses a match."""

from __future__ import annotations

import random
import re
import sys
from typing import Any

import pytest

from l0.drift.lexicon import META
from l0.guardrails.anchors import anchor_of, anchors_of, fold
from l0.guardrails.patterns import DEFAULT_PATTERNS
from l0.guardrails.screen import AnchorWatch
from l0.guardrails.streamtext import TailMatcher

_parser: Any = sys.modules["re._parser"]
_c: Any = sys.modules["re._constants"]

OTHER_PATTERNS = [
    r"\bfoo\s+bar\b",
    r"secret-\d{3,}",
    r"(?:alpha|beta)[ \t]+gamma?",
    r"x(?:yz)?w+",
    r"[sz]ing\s*(?:along|away)",
    r"(?i)password:\s*\S+",
    r"ab(?-i:CD)ef",
    r"don['\u2019]t\s+(?:stop|quit)",
]
PATTERNS = [p.compile() for p in DEFAULT_PATTERNS] + list(META)
PATTERNS += [re.compile(p, re.IGNORECASE) for p in OTHER_PATTERNS]
WHITESPACE = [" ", " ", " ", "  ", "\n", "\t", "\u00a0", "\u3000", " \n "]
LOOKALIKES = {"i": ["I", "\u0131", "\u0130"], "s": ["S", "\u017f"], "k": ["K", "\u212a"]}


def sample(items: list[Any], rng: random.Random) -> str:
    """A random string matched by a parsed pattern (the constructs used in the tests)."""
    out = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(chr(av))
        elif op is _c.IN:
            out.append(_sample_class(av, rng))
        elif op is _c.BRANCH:
            out.append(sample(list(rng.choice(av[1])), rng))
        elif op is _c.SUBPATTERN:
            out.append(sample(list(av[3]), rng))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, sub = av
            count = rng.randint(low, min(high, low + 3))
            out.extend(sample(list(sub), rng) for _ in range(count))
        elif op is _c.AT:
            continue
        else:
            raise AssertionError(f"no sampler for {op}")
    return "".join(out)


def _sample_class(items: list[Any], rng: random.Random) -> str:
    op, av = rng.choice(items)
    if op is _c.LITERAL:
        return chr(av)
    if op is _c.CATEGORY and av in (_c.CATEGORY_SPACE, _c.CATEGORY_UNI_SPACE):
        return rng.choice(WHITESPACE)
    if op is _c.CATEGORY and av is _c.CATEGORY_DIGIT:
        return rng.choice("0123456789")
    if op is _c.CATEGORY and av is _c.CATEGORY_NOT_SPACE:
        return rng.choice("xyz#1")
    raise AssertionError(f"no sampler for {op} {av}")


def disguise(text: str, rng: random.Random) -> str:
    """Change case, and letters into their IGNORECASE look-alikes, now and then."""
    out = []
    for char in text:
        roll = rng.random()
        if roll < 0.2 and char in LOOKALIKES:
            out.append(rng.choice(LOOKALIKES[char]))
        elif roll < 0.5:
            out.append(char.swapcase())
        else:
            out.append(char)
    return "".join(out)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.pattern[:30])
def test_every_match_contains_the_anchor_once_folded(pattern: re.Pattern[str]) -> None:
    anchor = anchor_of(pattern)
    assert anchor is not None
    rng = random.Random(pattern.pattern)
    parsed = list(_parser.parse(pattern.pattern, pattern.flags))
    checked = 0
    for _ in range(300):
        text = "Some words, " + disguise(sample(parsed, rng), rng) + " and more."
        for match in pattern.finditer(text):
            assert anchor in fold(match.group()), (anchor, match.group())
            checked += 1
    assert checked > 50


def test_folding_covers_what_ignorecase_and_whitespace_match() -> None:
    every_char = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for match in re.finditer("[a-z]", every_char, re.IGNORECASE):
        char = match.group()
        letter = next(x for x in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(x, char, re.I))
        assert fold(char) == letter, (hex(ord(char)), letter)
    for match in re.finditer(r"\s+", every_char):
        assert all(fold(char) == " " for char in match.group())
    assert fold("a \t\n b\u2019s  ") == "a b's "


def test_patterns_without_a_literal_have_no_anchor() -> None:
    assert anchor_of(re.compile(r"[A-Z]{5}")) is None
    assert anchor_of(re.compile(r"\d+|\w+@")) is None
    assert anchors_of((re.compile("abc"), re.compile(r"\d+"))) is None
    assert anchors_of((re.compile("abcd"), re.compile("bc"), re.compile("xbcx"))) == ("bc",)


def phrases(rng: random.Random) -> str:
    pattern = rng.choice(PATTERNS)
    return disguise(sample(list(_parser.parse(pattern.pattern, pattern.flags)), rng), rng)


@pytest.mark.parametrize("seed", range(12))
def test_the_anchor_gate_finds_what_a_full_scan_finds(seed: int) -> None:
    rng = random.Random(seed)
    words = ["the", "model", "said", "I", "am", "as", "an", "aid", "sorry", "\n\n", "can", "to"]
    parts = [rng.choice(words) if rng.random() < 0.85 else phrases(rng) for _ in range(400)]
    text = " ".join(parts)
    gated = TailMatcher(PATTERNS, 64)
    full = TailMatcher(PATTERNS, 64)
    full._watch = None  # always scan
    cursor = 0
    while cursor < len(text):
        size = rng.choice([1, 2, 3, 7, 30, 200])
        delta = text[cursor : cursor + size]
        assert gated.feed(delta) == full.feed(delta)
        cursor += size
    assert gated.feed("", final=True) == full.feed("", final=True)


@pytest.mark.parametrize("seed", range(12))
def test_a_matcher_fed_screened_text_finds_what_a_full_scan_finds(seed: int) -> None:
    # As the guardrail engine and drift do: a screen with the matcher's anchors follows
    # every delta; quiet deltas are held and fed later in one piece, marked screened.
    rng = random.Random(seed)
    words = ["the", "model", "said", "I", "am", "as", "an", "aid", "sorry", "\n\n", "can", "to"]
    parts = [rng.choice(words) if rng.random() < 0.85 else phrases(rng) for _ in range(400)]
    text = rng.choice(WHITESPACE).join(parts)
    screened = TailMatcher(PATTERNS, 64)
    full = TailMatcher(PATTERNS, 64)
    full._watch = None  # always scan
    screen = AnchorWatch(anchors_of(tuple(PATTERNS)) or ())
    held: list[str] = []
    found, expected = [], []
    cursor = 0
    while cursor < len(text):
        delta = text[cursor : cursor + rng.choice([1, 2, 3, 7, 30, 200])]
        cursor += len(delta)
        expected += full.feed(delta)
        if not screen.sees(delta):
            held.append(delta)
            continue
        if held:
            found += screened.feed("".join(held), screened=True)
            held.clear()
        found += screened.feed(delta)
    found += screened.feed("".join(held), screened=True) + screened.feed("", final=True)
    assert found == expected + full.feed("", final=True)
    assert found


def test_skipping_text_keeps_the_carry_across_long_whitespace_runs() -> None:
    watch = AnchorWatch((" an ai",))
    watch.skip("I am just" + " " * 40 + "\n" * 30 + "\t an")
    assert watch.carry == "am just an"[-watch.carry_len :]
    assert watch.sees("  AI")
    fresh = AnchorWatch((" an ai",))
    fresh.skip("an")  # all of it: continues the (empty) carry
    assert fresh.carry == "an" and not fresh.sees(" ai")  # " an ai" needs the space before
