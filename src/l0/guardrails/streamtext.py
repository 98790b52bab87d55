"""Streaming text primitives: pieces of text analysis that see each character once.

The built-in rules and the drift detector are fed an LLM's output delta by delta and must
give the same answer whatever the chunking. These helpers make that easy:

- `LineBuffer` turns deltas into complete lines (with their offsets);
- `FenceTracker` says, line by line, whether the text is inside a fenced code block;
- `TailMatcher` finds regex matches split across deltas by keeping a bounded tail;
- `UnitSplitter` cuts the stream into sentence/line units for repetition checks;
- `words` / `tokens` split text into words (one per CJK character) / words and numbers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from .anchors import anchors_of
from .screen import NEVER, AnchorWatch, Wake

__all__ = [
    "CJK_CHARS",
    "UNIT_ENDS",
    "FenceTracker",
    "LineBuffer",
    "TailMatcher",
    "UnitSplitter",
    "indent_of",
    "phrase_regex",
    "tokens",
    "tokens_with_carry",
    "unit_key",
    "words",
]

CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_APOSTROPHES = "'\u2019"
_WORD = re.compile(rf"[{CJK_CHARS}]|[^\W\d_{CJK_CHARS}]+(?:[{_APOSTROPHES}][^\W\d_{CJK_CHARS}]+)*")


_TOKEN = re.compile(rf"[{CJK_CHARS}]|[^\W_{CJK_CHARS}]+(?:[{_APOSTROPHES}][^\W_{CJK_CHARS}]+)*")
# `_TOKEN` on lower-cased ASCII text, and the faster split it reduces to without apostrophes.
_ASCII_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_ASCII_BLANKS = bytes(b if chr(b).isalnum() and b < 128 else 32 for b in range(256))


def phrase_regex(text: str) -> str:
    """A readable phrase as a regex: words bounded by \\b, any whitespace between them, and
    straight or curly apostrophes ("I'm" also matches "I\u2019m")."""
    body = text.replace(" ", r"\s+").replace("'", f"[{_APOSTROPHES}]")
    return rf"\b{body}\b"


def words(text: str) -> list[str]:
    """Lower-cased words: runs of letters (with inner apostrophes), or single CJK characters.

    CJK scripts have no spaces, so each character counts as a word; digits and punctuation
    are not words, which keeps JSON keys and code symbols from looking like prose.
    """
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers (`words`, plus runs of digits and letters)."""
    low = text.lower()
    if not low.isascii():
        return _TOKEN.findall(low.replace("\u2019", "'"))
    if "'" in low:
        return _ASCII_TOKEN.findall(low)
    # Same tokens as the regex, found in C: every character but [a-z0-9] becomes a space.
    return low.encode().translate(_ASCII_BLANKS).decode().split()


def tokens_with_carry(text: str, final: bool) -> tuple[list[str], str]:
    """`tokens(text)`, except that a token touching the end of `text` is returned as a
    carry (unless `final`): it may continue in the next piece of the stream."""
    found = tokens(text)
    carry = ""
    if not final and found and text[-1:].isalnum():
        carry = found.pop()[-64:]
    return found, carry


def unit_key(unit: str, min_words: int) -> str | None:
    """A unit's identity for repetition checks (its lower-cased words and numbers), or None
    when it has fewer than `min_words` words: numbers and symbols do not make a unit
    substantive, so `{"type": "string", "minLength": 1}` lines do not count."""
    if unit.isascii() and unit.count(" ") < min_words - 1:
        return None  # fewer spaces than words needed (CJK units have no spaces)
    found = tokens(unit)
    if len(found) - sum(map(str.isdecimal, found)) < min_words:
        return None
    return " ".join(found)


class LineBuffer:
    """Turns a stream of deltas into complete lines, each with the offset of its first char.

    A partial line is kept as a list of pieces and joined once, when its newline arrives, so
    total work is linear in the output. Trailing carriage returns are dropped.
    """

    __slots__ = ("_pieces", "_start")

    def __init__(self, start: int = 0) -> None:
        self._pieces: list[str] = []
        self._start = start

    def feed(self, delta: str) -> list[tuple[int, str]]:
        if "\n" not in delta:
            self._pieces.append(delta)
            return []
        parts = delta.split("\n")
        self._pieces.append(parts[0])
        first = "".join(self._pieces)
        lines = [(self._start, first.removesuffix("\r"))]
        offset = self._start + len(first) + 1
        for part in parts[1:-1]:
            lines.append((offset, part.removesuffix("\r")))
            offset += len(part) + 1
        self._pieces = [parts[-1]] if parts[-1] else []
        self._start = offset
        return lines

    def add(self, piece: str) -> None:
        """`feed` for a piece known to hold no newline (it completes no line)."""
        self._pieces.append(piece)

    def skip(self, delta: str) -> str | None:
        """`feed` for a reader that only needs the end of the lines `delta` completes: they
        are returned as one string (newlines between them, none after), None if none."""
        newline = delta.rfind("\n")
        if newline < 0:
            self._pieces.append(delta)
            return None
        self._pieces.append(delta[:newline])
        block = "".join(self._pieces)
        self._start += len(block) + 1
        rest = delta[newline + 1 :]
        self._pieces = [rest] if rest else []
        return block

    def flush(self) -> tuple[int, str] | None:
        """The last, unterminated line (at completion), if any."""
        if not self._pieces:
            return None
        line = "".join(self._pieces).removesuffix("\r")
        self._pieces = []
        return (self._start, line)


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")


def indent_of(line: str) -> int:
    """Leading indentation in columns (a tab counts as four)."""
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))


class FenceTracker:
    """Follows fenced code blocks (``` and ~~~) line by line, CommonMark style.

    A fence opens with 3+ backticks or tildes indented at most 3 columns (deeper inside a
    list item, where LLMs nest code blocks) and closes with a bare run of the same character
    at least as long. An indented fence outside a list is indented code, not a fence.
    """

    __slots__ = ("_in_list", "open_char", "open_indent", "open_len", "open_pos")

    def __init__(self) -> None:
        self.open_char = ""
        self.open_len = 0
        self.open_indent = 0
        self.open_pos = 0
        self._in_list = False

    @property
    def inside(self) -> bool:
        return bool(self.open_char)

    def line(self, offset: int, line: str) -> str:
        """Classify a complete line: "open", "close", "code" (inside a block) or "text"."""
        match = _FENCE.match(line)
        if self.open_char:
            return "close" if match is not None and self._closes(match) else "code"
        if match is not None and self._opens(match):
            self.open_char = match["fence"][0]
            self.open_len = len(match["fence"])
            self.open_indent = indent_of(match["indent"])
            self.open_pos = offset
            return "open"
        self._follow_list(line)
        return "text"

    def _opens(self, match: re.Match[str]) -> bool:
        if match["fence"][0] == "`" and "`" in match["info"]:
            return False
        return indent_of(match["indent"]) <= 3 or self._in_list

    def _closes(self, match: re.Match[str]) -> bool:
        fence = match["fence"]
        if fence[0] != self.open_char or len(fence) < self.open_len or match["info"].strip():
            return False
        if indent_of(match["indent"]) > max(3, self.open_indent + 3):
            return False
        self.open_char = ""
        return True

    def follow_text(self, block: str) -> None:
        """`line` for complete lines outside any fence known to hold no fence character
        (`block`: lines joined by newlines): only the list context can change, and the last
        line that decides it (a list item, or a line indented less than 2) decides it."""
        for line in reversed(block.split("\n")):
            line = line.removesuffix("\r")
            if line.strip() and (_LIST_ITEM.match(line) or indent_of(line) < 2):
                self._follow_list(line)
                return

    def _follow_list(self, line: str) -> None:
        if not line.strip():
            return
        if _LIST_ITEM.match(line):
            self._in_list = True
        elif indent_of(line) < 2:
            self._in_list = False


class TailMatcher:
    """Finds regex matches in a stream with O(window + delta) work per feed.

    It scans the last `window` characters of earlier text plus the new delta, so a phrase
    split across deltas is still found; `window` must exceed the longest match. A match is
    reported once, when the character after it has arrived (or at the end of the stream):
    patterns ending in `\\b` must not fire on "as an ai" before "d" turns it into "as an aid".

    When every pattern has a literal anchor (`l0.guardrails.anchors`), a feed first looks
    for the anchors in the new text (plus a few characters of carry): the window is only
    scanned while an anchor was seen less than `window` characters ago. On prose that is
    rare, so a feed usually costs O(delta) with a small constant.
    """

    __slots__ = (
        "_disabled",
        "_end",
        "_frontier",
        "_held",
        "_hot_until",
        "_live",
        "_patterns",
        "_pieces",
        "_prefilter",
        "_start",
        "_wake",
        "_watch",
        "window",
    )

    def __init__(self, patterns: Sequence[re.Pattern[str]], window: int) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        # The patterns as a tuple shared by every matcher made with them (`_plan_of`).
        self._patterns, self._prefilter, anchors = _plan_of(patterns)
        self._disabled: tuple[int, ...] = ()  # patterns reported: no longer looked for
        self._live = len(self._patterns)
        self.window = window
        # Recent text, as fed (joined only to scan): at least the last `window` characters
        # before the newest delta. `_start` is the offset of its first character.
        self._pieces: list[str] = []
        self._held = 0
        self._start = 0
        self._end = 0  # offset after the last character fed
        self._frontier = 0  # matches ending at or before it were looked for already
        self._hot_until = 0
        self._watch: AnchorWatch | None = None  # None: a pattern has no anchor
        self._wake: Wake | None = None
        self._set_anchors(anchors)

    def feed(
        self, delta: str, final: bool = False, *, screened: bool = False
    ) -> list[tuple[int, int, int]]:
        """New matches as (pattern index, start, end) in absolute offsets, in order.

        `screened`: the caller screened `delta` for this matcher's `wake` (with a carry of
        its own) and found nothing, so the anchor test is skipped.
        """
        if not self._live:
            return []  # every pattern reported: nothing left to look for
        start = self._end
        end = self._end = start + len(delta)
        if delta:
            self._pieces.append(delta)
            self._held += len(delta)
            watch = self._watch
            if watch is not None:
                if screened:
                    watch.skip(delta)
                elif watch.sees(delta):
                    self._hot_until = end + self.window
        found: list[tuple[int, int, int]] = []
        if (start < self._hot_until or self._watch is None) and self._live:
            found = self._scan_window(start, final)
        elif end - (not final) > self._frontier:
            self._frontier = end - (not final)
        if self._held > 4 * self.window + 256:
            self._compact()
        return found

    def _scan_window(self, start: int, final: bool) -> list[tuple[int, int, int]]:
        """Scan the last `window` characters before `start` plus what came after."""
        text = "".join(self._pieces)
        self._pieces = [text]
        base = max(start - self.window, 0)
        buf = text[base - self._start :]
        limit = len(buf) if final else len(buf) - 1
        found: list[tuple[int, int, int]] = []
        if limit > self._frontier - base and self._prefilter.search(buf):
            found = self._scan(buf, base, limit)
        self._frontier = max(self._frontier, base + limit)
        return found

    def _compact(self) -> None:
        text = "".join(self._pieces)[-self.window :]
        self._pieces = [text]
        self._held = len(text)
        self._start = self._end - len(text)

    def disable(self, index: int) -> bool:
        """Stop looking for pattern `index` (once reported); False if it already was off."""
        if index in self._disabled:
            return False
        self._disabled += (index,)
        self._live -= 1
        _, self._prefilter, anchors = _plan_of(self._live_patterns())
        self._set_anchors(anchors)
        return True

    @property
    def exhausted(self) -> bool:
        return not self._live

    def _live_patterns(self) -> list[re.Pattern[str]]:
        return [p for index, p in enumerate(self._patterns) if index not in self._disabled]

    @property
    def wake(self) -> Wake | None:
        """What new text must hold for a feed to matter now (`l0.guardrails.screen`):
        an anchor, unless the window is still hot or a pattern has no anchor."""
        if not self._live:
            return NEVER
        return self._wake if self._end >= self._hot_until else None

    def _set_anchors(self, anchors: tuple[str, ...] | None) -> None:
        watch = self._watch
        if anchors is None:
            self._watch = self._wake = None
            return
        if watch is None and self._end:
            # Anchors seen before now were not tracked: scan until they are out of reach.
            self._hot_until = self._end + self.window
        if watch is None:
            self._watch = AnchorWatch(anchors, whole=not self._end)
        else:
            self._watch = AnchorWatch(anchors, watch.carry, whole=False)
        self._wake = _wake_of(anchors)

    def _scan(self, buf: str, base: int, limit: int) -> list[tuple[int, int, int]]:
        found: list[tuple[int, int, int]] = []
        for index, pattern in enumerate(self._patterns):
            if index in self._disabled:
                continue
            for match in pattern.finditer(buf):
                start, end = match.span()
                if end > limit:
                    break
                if end > start and base + end > self._frontier:
                    found.append((index, base + start, base + end))
        found.sort(key=lambda item: (item[2], item[0]))
        return found


@functools.lru_cache(maxsize=256)
def _wake_of(anchors: tuple[str, ...]) -> Wake:
    return Wake(anchors=anchors)  # immutable: matchers with the same anchors share it


_PLANS: dict[
    tuple[int, ...], tuple[tuple[re.Pattern[str], ...], _Prefilter, tuple[str, ...] | None]
]
_PLANS = {}


def _plan_of(
    patterns: Sequence[re.Pattern[str]],
) -> tuple[tuple[re.Pattern[str], ...], _Prefilter, tuple[str, ...] | None]:
    """`patterns` as a tuple, their prefilter and their anchors (immutable: matchers of a
    rule share them).

    Looked up by the patterns' identities, not their hashes: hashing a compiled pattern
    hashes its whole program (the default rule's nine cost 17k instructions), and every
    session builds its matchers. Each entry holds its patterns, so no id is reused while
    it is cached.
    """
    key = tuple(map(id, patterns))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= 256:
            _PLANS.clear()
        held = tuple(patterns)
        plan = _PLANS[key] = (held, _Prefilter(held), anchors_of(held))
    return plan


class _Prefilter:
    """A cheap "could any pattern match here?" test, run before the exact per-pattern scan.

    Python's regex engine finds a literal prefix fast, but not under IGNORECASE and not
    behind a leading `\\b`. So case-insensitive patterns written in lower case are joined
    into one case-sensitive alternation searched in the lower-cased text, leading `\\b`
    dropped (dropping an assertion only widens the test). Other patterns are joined as is.
    """

    __slots__ = ("_folded", "_other")

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        folded: list[str] = []
        other: list[str] = []
        for pattern in patterns:
            source = pattern.pattern.removeprefix(r"\b")
            if pattern.flags & re.IGNORECASE and source == source.lower():
                folded.append(f"(?:{source})")
            else:
                other.append(_scoped(pattern, source))
        self._folded = _compile_or_none(folded)
        self._other = _compile_or_none(other)

    def search(self, text: str) -> bool:
        if self._folded is not None and self._folded.search(text.lower()) is not None:
            return True
        return self._other is not None and self._other.search(text) is not None


def _scoped(pattern: re.Pattern[str], source: str) -> str:
    flags = "".join(
        letter
        for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
        if pattern.flags & flag
    )
    return f"(?{flags}:{source})" if flags else f"(?:{source})"


def _compile_or_none(parts: list[str]) -> re.Pattern[str] | None:
    if not parts:
        return None
    try:
        return re.compile("|".join(parts))
    except re.error:  # e.g. a pattern with global inline flags: match-all, never skip
        return re.compile("")


UNIT_ENDS = ".!?\u3002\uff01\uff1f\n"  # what ends a sentence or line unit


class UnitSplitter:
    """Cuts a stream into units (sentences or lines) for repetition checks.

    A unit ends at `.`, `!`, `?`, their CJK forms, or a newline. Splitting on the character
    alone (no look-ahead) keeps the result independent of chunking. Units longer than
    `max_unit` characters are truncated: a runaway line costs bounded memory.
    """

    __slots__ = ("_kept", "_len", "_pieces", "_start", "max_unit")

    _BOUNDARY = re.compile(f"[{UNIT_ENDS}]")

    def __init__(self, max_unit: int = 500, start: int = 0) -> None:
        self.max_unit = max_unit
        self._pieces: list[str] = []
        self._len = 0
        self._kept = 0
        self._start = start

    def feed(self, delta: str) -> list[tuple[int, str]]:
        """Completed units as (start offset, text including the boundary character)."""
        if delta.isascii() and _no_ascii_boundary(delta):
            if self._kept + len(delta) > self.max_unit:
                self._add(delta)
            else:  # `_add`, inlined: this runs at every check
                self._pieces.append(delta)
                self._kept += len(delta)
                self._len += len(delta)
            return []
        units: list[tuple[int, str]] = []
        cursor = 0
        for match in self._BOUNDARY.finditer(delta):
            end = match.end()
            if self._len or end - cursor > self.max_unit:
                self._add(delta[cursor:end])
                units.append(self._take())
            else:  # a whole unit inside the delta: no pieces to join
                units.append((self._start, delta[cursor:end]))
                self._start += end - cursor
            cursor = end
        if cursor < len(delta):
            self._add(delta[cursor:])
        return units

    def flush(self) -> tuple[int, str] | None:
        return self._take() if self._len else None

    def _add(self, piece: str) -> None:
        room = self.max_unit - self._kept
        if room > 0:
            kept = piece[:room]
            self._pieces.append(kept)
            self._kept += len(kept)
        self._len += len(piece)

    def _take(self) -> tuple[int, str]:
        unit = (self._start, "".join(self._pieces))
        self._start += self._len
        self._pieces, self._len, self._kept = [], 0, 0
        return unit


def _no_ascii_boundary(text: str) -> bool:
    return "." not in text and "\n" not in text and "!" not in text and "?" not in text
