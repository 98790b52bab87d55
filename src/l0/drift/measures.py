"""What the detectors measure in a piece of text: words' hedges, markdown markers, the share
of plain bytes, character entropy... Each function is one C-level pass or a few."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

from .lexicon import HEDGE_ANY, HEDGE_PAIRS, HEDGE_SECONDS, HEDGE_WORDS

CAPS = re.compile(r"[A-Z][A-Z][A-Z]+")  # [A-Z]{3,}, which the regex engine runs slower
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_LINE_MARKER = re.compile(r"\n[ \t]{0,3}(?:#{1,6}[ \t]|[-*+][ \t]|\d{1,3}[.)][ \t]|\||```|~~~)")
INLINE_MARKER = re.compile(
    r"[^\s#][ \t]+#{2,6}[ \t]+\w"  # a heading run into the text
    r"|[.:!?][ \t]+(?:[-*+]|\d{1,2}[.)])[ \t]+\**\w"  # a list item after a sentence
    r"|\S[ \t]+\|[ \t]*:?-{3,}"  # a table delimiter mid-line
)
QUOTE_OR_BACKSLASH = re.compile(r'["\\]')
PROSE_WORD = re.compile(r"[^\W\d_]{2,}")
GRAM = 4


def char_entropy(text: str) -> float:
    """Shannon entropy in bits per character, whitespace runs counted as one space:
    log2(N) - sum(n log2 n) / N over the character counts n."""
    text = " ".join(text.split())
    total = len(text)
    if total < 2:
        return 0.0
    counts = Counter(text).values()
    return math.log2(total) - sum(n * math.log2(n) for n in counts) / total


def emoji_count(text: str) -> int:
    return 0 if text.isascii() else len(_EMOJI.findall(text))


def confidence(value: float, threshold: float) -> float:
    """0.5 at the threshold, 1.0 at twice the threshold."""
    return round(min(1.0, 0.5 + 0.5 * (value - threshold) / threshold), 3)


def count_hedges(found: list[str], before: list[str]) -> int:
    """Hedge words and pairs among `found` (`before`: the word preceding them, if any)."""
    present = HEDGE_ANY.intersection(found)  # one pass; usually empty or a common word
    hedges = 0
    if not present.isdisjoint(HEDGE_WORDS):
        hedges = sum(map(HEDGE_WORDS.__contains__, found))
    seconds = present & HEDGE_SECONDS
    if not seconds:
        return hedges  # no word that could end a hedge pair
    pairs = zip((before or [""]) + found, found, strict=False)
    ends = itertools.compress(pairs, map(seconds.__contains__, found))
    return hedges + sum(map(HEDGE_PAIRS.__contains__, ends))


def count_line_markers(previous: str, text: str) -> tuple[int, str]:
    """Line-start markdown markers in `text` (after the character `previous`), and the
    character to pass as `previous` next time."""
    last = text[-1:] or previous
    if previous != "\n" and "\n" not in text:
        return 0, last  # every marker follows a newline
    return len(_LINE_MARKER.findall(previous + text)), last


def plain_share(text: str) -> float:
    """Share of the UTF-8 bytes of `text` that are a-z, space or newline (C-level count)."""
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates occur in model output
    return len(raw.translate(None, _NOT_PLAIN)) / len(raw) if raw else 1.0


def make_up_changed(plain: float, words: int, plain_sum: float, words_sum: int, n: int) -> bool:
    """Whether a block's make-up departs from the `n` blocks before it in the window: its
    plain share moves by 0.2, or its word count by 35% (or it has under 8 words). Gibberish,
    another script or symbols lower the plain share; a collapse onto one token changes the
    word count. Only such blocks are judged for an entropy spike, so that the character
    histogram (the costliest statistic) is only needed where the text changed."""
    if n == 0 or words < 8:
        return True
    mean_words = words_sum / n
    return abs(plain - plain_sum / n) >= 0.2 or abs(words - mean_words) > 0.35 * mean_words


_NOT_PLAIN = bytes(b for b in range(256) if not (97 <= b <= 122 or b in b" \n"))
_UPPER = bytes(range(65, 91))
NOT_UPPER = bytes(b for b in range(256) if b not in _UPPER)
_LIST_HINT = re.compile(r"[.:!?][ \t]+(?:[-*+]|\d{1,2}[.)])[ \t]")


def inline_hint(text: str) -> bool:
    """Whether `text` may hold an inline markdown marker: what each form of
    `INLINE_MARKER` contains (a heading "##", a table "|" and "---", a list item after a
    sentence)."""
    if "##" in text or ("|" in text and "---" in text):
        return True
    return _LIST_HINT.search(text) is not None
