"""Cutting a text into windows: spans of whole units (words, sentences, paragraphs) that
fit a budget, each starting with up to `overlap` of the previous one's last units."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

__all__ = ["Span", "character_spans", "unit_spans"]

Span = tuple[int, int]

_ENDS = {
    # Where a unit ends: after a word, a sentence, a paragraph. The whitespace between
    # units starts the next one, as tokenizers attach it (" word" is one token).
    "token": re.compile(r"(?<=\S)(?=\s+\S)"),
    "sentence": re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*(?=\s+\S)"),
    "paragraph": re.compile(r"(?<=\S)(?=[ \t]*\n[ \t]*\n\s*\S)"),
}
_FINER = {"paragraph": "sentence", "sentence": "token"}


def character_spans(length: int, size: int, overlap: int) -> list[Span]:
    step = size - overlap
    spans = []
    for start in range(0, max(length, 1), step):
        spans.append((start, min(start + size, length)))
        if start + size >= length:
            break
    return spans


def unit_spans(
    text: str, size: int, overlap: int, strategy: str, cost: Callable[[str], int]
) -> list[Span]:
    """Windows of whole `strategy` units costing at most `size` each (a unit larger than
    `size` is cut into finer units: sentences, then words, then characters)."""
    units = _units(text, 0, len(text), strategy, size, cost)
    costs = [c for _, _, c in units]
    spans: list[Span] = []
    first = 0
    while first < len(units):
        last, total = first, 0
        while last < len(units) and (last == first or total + costs[last] <= size):
            total += costs[last]
            last += 1
        spans.append(_trimmed(text, units[first][0], units[last - 1][1]))
        if last == len(units):
            break
        # The next window repeats the previous one's last units that fit in `overlap`,
        # always moving forward by at least one unit.
        back, shared = last, 0
        while back - 1 > first and shared + costs[back - 1] <= overlap:
            back -= 1
            shared += costs[back]
        first = back
    return spans


def _trimmed(text: str, start: int, end: int) -> Span:
    """The span without the whitespace at its ends (a unit starts with what precedes it)."""
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())


def _units(
    text: str, start: int, end: int, strategy: str, size: int, cost: Callable[[str], int]
) -> list[tuple[int, int, int]]:
    """(start, end, cost) of each unit of text[start:end], none costing more than `size`."""
    bounds = [start, *(m.end() for m in _ENDS[strategy].finditer(text, start, end)), end]
    units = []
    for left, right in itertools.pairwise(bounds):
        if left == right:
            continue
        price = cost(text[left:right])
        if price <= size:
            units.append((left, right, price))
        elif strategy in _FINER:
            units.extend(_units(text, left, right, _FINER[strategy], size, cost))
        else:
            units.extend(_cut(text, left, right, price, size, cost))
    return units


def _cut(
    text: str, start: int, end: int, price: int, size: int, cost: Callable[[str], int]
) -> list[tuple[int, int, int]]:
    """A word longer than a window (a URL, base64), cut at characters in proportion."""
    step = max(1, (end - start) * size // price)
    return [
        (left, min(left + step, end), cost(text[left : min(left + step, end)]))
        for left in range(start, end, step)
    ]
