"""Literal anchors of regexes: a cheap "can a match be near?" test for streaming matchers.

An anchor of a pattern is a short string that every match contains once both are *folded*:
lower-cased, curly apostrophes made straight, and every whitespace run made one space.
Folded text is tested with `in` (C speed), so a matcher can skip its regex scan while no
anchor is in sight -- and, unlike a regex prefilter, it only needs to look at the new text
plus a few characters of carry, not at its whole window.

Anchors come from the parsed regex: runs of literal characters, with small character sets,
alternations, optional parts and `\\s+` expanded into a few folded strings, of which the
longest common substring is the anchor. Anything else (classes, repeats, back-references,
scoped flags, non-ASCII letters) ends a run, so an anchor is only ever derived from parts
that every match must contain. A pattern without one gets None: always scan it.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

__all__ = ["anchor_of", "fold"]

_MAX_OPTIONS = 16  # expansions kept per run; beyond, the run is cut

# Folding: str.lower() does the ASCII case folding; these fix the characters that the
# regex engine's IGNORECASE matches to ASCII letters but lower() does not map there
# (dotless i, long s, the combining dot lower() leaves after I-with-dot).
_FOLD = str.maketrans(
    {"\u0131": "i", "\u017f": "s", "\u0307": None, "\u2019": "'"}
    | {chr(c): " " for c in range(0x3001) if chr(c).isspace()}
)

try:  # the regex parser is private: without it, no anchors (always scan)
    _parser: Any = importlib.import_module("re._parser")
    _c: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover
    _parser = _c = None


def fold(text: str) -> str:
    """`text` folded as anchors are (see the module docstring); lengths may change."""
    low = text.lower()
    if not low.isascii():
        low = low.translate(_FOLD)
    elif low.isprintable():  # ASCII without tabs or newlines: only double spaces to fold
        return low if "  " not in low else _spaces(low)
    return _spaces(low)


def _spaces(text: str) -> str:
    """Whitespace runs made one space, keeping a leading and a trailing one."""
    inner = " ".join(text.split())
    if text[:1].isspace():
        inner = " " + inner if inner else " "
    if text[-1:].isspace() and inner != " ":
        inner += " "
    return inner


@functools.lru_cache(maxsize=1024)
def anchor_of(pattern: re.Pattern[str]) -> str | None:
    """The longest folded string every match of `pattern` contains, or None."""
    if _parser is None:
        return None
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        runs: list[set[str]] = []
        _expand(list(parsed), runs)
    except Exception:  # an unexpected parse tree: no anchor, the pattern is always scanned
        return None
    best = max((_common_substring(run) for run in runs), key=len, default="")
    return best if best.strip() else None


@functools.lru_cache(maxsize=256)
def anchors_of(patterns: tuple[re.Pattern[str], ...]) -> tuple[str, ...] | None:
    """One anchor per pattern, minus those containing a shorter one; None if any has none."""
    found = []
    for pattern in patterns:
        anchor = anchor_of(pattern)
        if anchor is None:
            return None
        found.append(anchor)
    kept: list[str] = []
    for anchor in sorted(set(found), key=len):
        if not any(shorter in anchor for shorter in kept):
            kept.append(anchor)
    return tuple(kept)


# ----------------------------------------------------------------- expansion


def _expand(items: list[Any], runs: list[set[str]]) -> set[str] | None:
    """The folded strings `items` can match (None if not a few literals); the runs of
    literals every match of them contains are appended to `runs`."""
    current: set[str] = {""}
    whole = True
    for op, av in items:
        options = _options(op, av, runs)
        joined = None if options is None else {_join(a, b) for a in current for b in options}
        if joined is not None and len(joined) <= _MAX_OPTIONS:
            current = joined
            continue
        _finish(current, runs)
        whole = False
        current = options if options is not None else {""}
    _finish(current, runs)
    return current if whole else None


def _finish(run: set[str], runs: list[set[str]]) -> None:
    if "" not in run:
        runs.append(run)


def _join(left: str, right: str) -> str:
    if left.endswith(" ") and right.startswith(" "):
        return left + right[1:]
    return left + right


def _options(op: Any, av: Any, runs: list[set[str]]) -> set[str] | None:
    """The folded strings one parsed item can match, or None."""
    if op is _c.LITERAL:
        char = _fold_char(chr(av))
        return None if char is None else {char}
    if op is _c.IN:
        return _class(av)
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return {""}  # zero width: the text around it stays contiguous
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        return _repeat(av, runs)
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else _expand(list(sub), runs)
    if op is _c.BRANCH:
        return _branch(av[1])
    return None


def _fold_char(char: str) -> str | None:
    if char.isspace():
        return " "
    if char in "'\u2019":
        return "'"
    return char.lower() if char.isascii() else None


def _class(items: list[Any]) -> set[str] | None:
    if len(items) == 1 and items[0][0] is _c.CATEGORY:
        spaces = (_c.CATEGORY_SPACE, _c.CATEGORY_UNI_SPACE)
        return {" "} if items[0][1] in spaces else None
    if len(items) > _MAX_OPTIONS or any(op is not _c.LITERAL for op, _ in items):
        return None
    chars = {_fold_char(chr(value)) for _, value in items}
    return None if None in chars else {char for char in chars if char is not None}


def _repeat(av: Any, runs: list[set[str]]) -> set[str] | None:
    low, high, sub = av
    inner = _expand(list(sub), runs if low >= 1 else [])
    if inner is None:
        return None
    if inner == {" "} and low >= 1:
        return {" "}  # a whitespace run folds to one space
    if low == 0 and high == 1:
        return {""} | inner
    return inner if low == high == 1 else None


def _branch(alternatives: list[Any]) -> set[str] | None:
    options: set[str] = set()
    for alternative in alternatives:
        inner = _expand(list(alternative), [])
        if inner is None:
            return None
        options |= inner
    return options if len(options) <= _MAX_OPTIONS else None


def _common_substring(options: set[str]) -> str:
    """The longest string contained in every option."""
    shortest = min(options, key=len)
    for size in range(len(shortest), 0, -1):
        for start in range(len(shortest) - size + 1):
            piece = shortest[start : start + size]
            if all(piece in option for option in options):
                return piece
    return ""
