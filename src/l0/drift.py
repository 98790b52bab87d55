"""Drift detection: notice when a model's output stops looking like what it was producing.

The detector is fed the output delta by delta and keeps only a sliding window of recent
text (`DriftConfig.window` characters, default 2000), cut into fixed blocks of
`window / blocks` characters by absolute offset. When a block completes, per-block
statistics are computed once (O(block)) and the window's running statistics (4-gram and
sentence counts, cumulative word counts) are updated as it enters and the oldest block
leaves, so judging the window costs O(block) too. A check that completes no block only
appends its delta and looks for meta commentary in it. Per check the cost is O(delta)
amortised; the full output is never touched, and because blocks are fixed by offset the
verdict does not depend on how the text was chunked.

Detectors (all simple, deterministic heuristics; each can be switched off):

- `repetition`: the share of repeated 4-grams of words and numbers in the window (numbers
  count, so "item 1, item 2, ..." is not a loop), or one sentence repeated
  `sentence_repeat_threshold` times (a model looping).
- `tone_shift`: informal words, exclamation marks and emoji per word, or all-caps words per
  word, differ between the older and the newer half of the window.
- `meta_commentary`: "as an AI", "I apologize", "I cannot help"... found at once (bounded
  tail matcher, phrases split across deltas included).
- `hedging`: hedges ("perhaps", "might", "I think", "it's possible"...) per word in the window.
- `entropy_spike`: character entropy of the newest block against the mean of the earlier
  blocks; gibberish rises, collapse onto one token falls.
- `markdown_collapse`: the older half had line-start markdown (headings, lists, tables,
  fences), the newer half has none but shows the same markers run into the text.
- `format_drift`: the output started as a JSON document (first character `{` or `[`) and a
  block has prose (letters outside JSON strings).

Each drift type is reported once per attempt; `reset` starts a new attempt.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .events import ObservabilityEventType as T
from .guardrails.streamtext import (
    TailMatcher,
    UnitSplitter,
    phrase_regex,
    tokens_with_carry,
    unit_key,
)

if TYPE_CHECKING:
    from .telemetry.facade import Telemetry

__all__ = ["DRIFT_TYPES", "DriftConfig", "DriftDetector", "DriftResult"]

DRIFT_TYPES = (
    "repetition",
    "tone_shift",
    "meta_commentary",
    "hedging",
    "entropy_spike",
    "markdown_collapse",
    "format_drift",
)


@dataclass(frozen=True)
class DriftConfig:
    """Which drift detectors run, and their thresholds.

    `retry=True` makes a detection count toward the session's attempts as a CONTENT error
    (the runtime retries); `False` only reports it (`on_drift`, telemetry).
    """

    window: int = 2000
    repetition: bool = True
    tone_shift: bool = True
    meta_commentary: bool = True
    hedging: bool = True
    entropy: bool = True
    markdown_collapse: bool = True
    format_drift: bool = True
    repetition_threshold: float = 0.5
    sentence_repeat_threshold: int = 3
    tone_shift_threshold: float = 0.15
    hedging_threshold: float = 0.06
    entropy_threshold: float = 1.5
    markdown_min_markers: int = 3
    format_drift_threshold: int = 40
    blocks: int = 10
    retry: bool = True

    def __post_init__(self) -> None:
        if self.blocks < 4:
            raise ValueError("DriftConfig.blocks must be at least 4")
        if self.window < self.blocks * 16:
            raise ValueError(f"DriftConfig.window must be at least {self.blocks * 16} chars")
        if min(self.repetition_threshold, self.tone_shift_threshold) <= 0:
            raise ValueError("DriftConfig thresholds must be positive")
        if min(self.hedging_threshold, self.entropy_threshold) <= 0:
            raise ValueError("DriftConfig thresholds must be positive")
        if self.sentence_repeat_threshold < 2 or self.markdown_min_markers < 1:
            raise ValueError("sentence_repeat_threshold >= 2 and markdown_min_markers >= 1")
        if self.format_drift_threshold < 1:
            raise ValueError("DriftConfig.format_drift_threshold must be positive")

    def threshold_of(self, drift_type: str) -> float:
        """The threshold a drift type's main metric is compared with."""
        return {
            "repetition": self.repetition_threshold,
            "tone_shift": self.tone_shift_threshold,
            "meta_commentary": 1.0,
            "hedging": self.hedging_threshold,
            "entropy_spike": self.entropy_threshold,
            "markdown_collapse": float(self.markdown_min_markers),
            "format_drift": float(self.format_drift_threshold),
        }[drift_type]


@dataclass(frozen=True, slots=True)
class DriftResult:
    """Drift types first detected by a check (empty when none), with their metrics.

    `confidence` is the highest confidence among `types` (0..1); `details` holds the
    detectors' latest metrics when something was detected (empty otherwise: copying them
    on every quiet check would cost more than the check). Quiet checks all return one
    shared result whose `types` and `details` are read-only (copy them to modify).
    """

    detected: bool
    types: list[str]
    confidence: float
    details: dict[str, float] = field(default_factory=dict)


class _ReadOnlyList(list[str]):
    """The empty `types` of the shared quiet result: it must stay empty."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("this list is shared and read-only; copy it first")

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only


class _ReadOnlyDict(dict[str, float]):
    """The empty `details` of the shared quiet result: it must stay empty."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("this dict is shared and read-only; copy it first")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only


def _phrase(text: str) -> re.Pattern[str]:
    return re.compile(phrase_regex(text), re.IGNORECASE)


_META = [
    _phrase("as an ai"),
    _phrase("as a (?:large )?language model"),
    _phrase("i(?:'m| am) (?:just |only )?an ai"),
    _phrase("i apologi[sz]e"),
    _phrase("i(?:'m| am) sorry,? but"),
    _phrase("i (?:cannot|can't|can not) (?:help|assist|provide|comply)"),
    _phrase("my (?:training data|knowledge cutoff)"),
    _phrase("i don't have (?:personal )?(?:opinions|feelings|emotions)"),
]
_META_WINDOW = 64

_HEDGE_WORDS = frozenset(
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
_HEDGE_PAIRS = frozenset(
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
_INFORMAL = frozenset(
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
_HEDGE_SECONDS = frozenset(second for _, second in _HEDGE_PAIRS)
_CAPS = re.compile(r"[A-Z][A-Z][A-Z]+")  # [A-Z]{3,}, which the regex engine runs slower
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_SPACES = re.compile(r"\s+")
_LINE_MARKER = re.compile(r"\n[ \t]{0,3}(?:#{1,6}[ \t]|[-*+][ \t]|\d{1,3}[.)][ \t]|\||```|~~~)")
_INLINE_MARKER = re.compile(
    r"[^\s#][ \t]+#{2,6}[ \t]+\w"  # a heading run into the text
    r"|[.:!?][ \t]+(?:[-*+]|\d{1,2}[.)])[ \t]+\**\w"  # a list item after a sentence
    r"|\S[ \t]+\|[ \t]*:?-{3,}"  # a table delimiter mid-line
)
_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')
_PROSE_WORD = re.compile(r"[^\W\d_]{2,}")
_JSON_WORDS = frozenset({"true", "false", "null"})
_GRAM = 4


# Indexes of a block's counts.
_WORDS, _HEDGES, _INFORMAL_N, _CAPS_N, _LINE_MARKERS = range(5)
_NO_COUNTS = (0, 0, 0, 0, 0)


@dataclass(slots=True)
class _Block:
    """Statistics of one fixed block of the window, computed once when it completes."""

    size: int
    entropy: float
    counts: tuple[int, int, int, int, int]  # words, hedges, informal, caps, line markers
    grams: list[int]
    units: list[str]
    prose_outside_json: int
    text: str  # kept (the window is bounded) for the rare detectors that need it
    serial: int = 0  # position in the attempt's sequence of blocks
    cumulative: tuple[int, ...] = _NO_COUNTS  # counts of this block and all before it
    inline: int = -1  # inline markdown markers, counted when first needed

    def inline_markers(self) -> int:
        if self.inline < 0:
            self.inline = len(_INLINE_MARKER.findall(self.text))
        return self.inline


def _entropy(text: str) -> float:
    """Shannon entropy in bits per character, whitespace runs counted as one space.

    H = log2(N) - sum(n log2 n) / N over the character counts n; n log2 n comes from a
    table so that the sum runs in C.
    """
    text = " ".join(text.split())
    total = len(text)
    if total < 2:
        return 0.0
    if total >= len(_N_LOG_N):
        return -sum(n / total * math.log2(n / total) for n in Counter(text).values())
    return math.log2(total) - sum(map(_N_LOG_N.__getitem__, Counter(text).values())) / total


_N_LOG_N = [0.0] + [n * math.log2(n) for n in range(1, 4097)]


def _emoji_count(text: str) -> int:
    return 0 if text.isascii() else len(_EMOJI.findall(text))


def _confidence(value: float, threshold: float) -> float:
    """0.5 at the threshold, 1.0 at twice the threshold."""
    return round(min(1.0, 0.5 + 0.5 * (value - threshold) / threshold), 3)


_NONES = itertools.repeat(None)


def _consume(iterator: Iterable[object]) -> None:
    deque(iterator, maxlen=0)


def _minus(later: tuple[int, ...], earlier: tuple[int, ...]) -> list[int]:
    return list(map(operator.sub, later, earlier))


class _Window:
    """The last `size` blocks, with running statistics kept as blocks come and go.

    Per block, the work is O(block): word 4-grams are counted by the serial of the last
    block holding each one (a gram leaves when that block does), sentences by count, and
    the word/hedge/... counts of any run of blocks are differences of cumulative counts.
    """

    __slots__ = ("_before", "_grams", "_serial", "_units", "blocks", "entropies", "size", "total")

    def __init__(self, size: int) -> None:
        self.size = size
        self.blocks: deque[_Block] = deque()
        self.entropies: deque[float] = deque()
        self._serial = 0
        self._before: tuple[int, ...] = _NO_COUNTS  # cumulative counts before the window
        self._grams: dict[int, int] = {}  # gram -> serial of the newest block holding it
        self.total = 0  # grams in the window
        self._units: dict[str, int] = {}

    def push(self, block: _Block) -> None:
        last = self.blocks[-1].cumulative if self.blocks else self._before
        block.cumulative = tuple(map(operator.add, last, block.counts))
        block.serial = self._serial = self._serial + 1
        self.blocks.append(block)
        self.entropies.append(block.entropy)
        self._grams.update(zip(block.grams, itertools.repeat(block.serial)))
        self.total += len(block.grams)
        units = self._units
        for unit in block.units:
            units[unit] = units.get(unit, 0) + 1
        if len(self.blocks) > self.size:
            self._drop(self.blocks.popleft())
            self.entropies.popleft()

    def _drop(self, block: _Block) -> None:
        self._before = block.cumulative
        grams, serial = self._grams, block.serial
        get = grams.get
        _consume(map(grams.pop, [g for g in block.grams if get(g) == serial], _NONES))
        self.total -= len(block.grams)
        units = self._units
        for unit in block.units:
            units[unit] -= 1
            if not units[unit]:
                del units[unit]

    def sums(self) -> tuple[list[int], list[int], list[int]]:
        """Counts of the older half, the newer half and the whole window (the middle
        block of an odd count belongs to neither half)."""
        blocks = self.blocks
        if not blocks:
            return list(_NO_COUNTS), list(_NO_COUNTS), list(_NO_COUNTS)
        half = len(blocks) // 2
        newest = blocks[-1].cumulative
        old_end = blocks[half - 1].cumulative if half else self._before
        new_start = blocks[len(blocks) - half - 1].cumulative if half else newest
        return (
            _minus(old_end, self._before),
            _minus(newest, new_start),
            _minus(newest, self._before),
        )

    def newer_half(self) -> list[_Block]:
        blocks = list(self.blocks)
        return blocks[len(blocks) - len(blocks) // 2 :]

    def gram_stats(self) -> tuple[int, int]:
        """(all 4-grams, distinct 4-grams) in the window."""
        return self.total, len(self._grams)

    def most_repeated_unit(self) -> int:
        return max(self._units.values(), default=0)


class DriftDetector:
    """Sliding-window drift detection for one session (see the module docstring)."""

    def __init__(self, config: DriftConfig | None = None, telemetry: Telemetry | None = None):
        self.config = config or DriftConfig()
        self.telemetry = telemetry
        self._block_size = self.config.window // self.config.blocks
        self.reset()

    # ------------------------------------------------------------ attempts

    def reset(self, prefix: str = "") -> None:
        """Start a new attempt. A resumed attempt passes its checkpoint as `prefix`: its
        end is fed as history (nothing reported), so the window continues from it."""
        self._pieces: list[str] = []
        self._cur_len = 0
        self._chars = 0
        self._window = _Window(self.config.blocks)
        self._splitter = UnitSplitter()
        self._word_carry = ""
        self._last_words: list[str] = []
        self._prev_char = "\n"
        self._json_doc: bool | None = None
        self._in_string = False
        self._escape_next = False
        self._meta: TailMatcher | None = None
        if self.config.meta_commentary:
            self._meta = TailMatcher(_META, _META_WINDOW)
        self._reported: set[str] = set()
        self._metrics: dict[str, float] = {}
        if prefix:
            self._reported.update(self._prime(prefix))

    def _prime(self, text: str) -> dict[str, float]:
        """Feed (the end of) `text` as history; return what it would have detected."""
        keep = 2 * self.config.window
        if len(text) > keep:
            self._json_doc = False  # mid-document: string state unknown, skip format drift
            text = text[-keep:]
        return self._feed(text, completed=False) or {}

    # -------------------------------------------------------------- checks

    def check(self, delta: str, completed: bool = False) -> DriftResult:
        """Feed the text added since the previous check; report drift types first seen now.

        A check that finds nothing new returns a shared, read-only quiet result.
        """
        tel = self.telemetry
        if tel is not None and tel.detailed:
            return self._check_observed(tel, delta, completed)
        found = self._feed(delta, completed)
        if found is None:
            return _QUIET
        result = self._new_result(found)
        if tel is not None and result.detected:
            self._report(tel, result)
        return result

    def _check_observed(self, tel: Telemetry, delta: str, completed: bool) -> DriftResult:
        """`check` with DRIFT_CHECK_START / _END around it (detailed telemetry)."""
        started = time.perf_counter()
        tel.emit(
            T.DRIFT_CHECK_START, strategy="sliding_window", chars=self._chars, completed=completed
        )
        found = self._feed(delta, completed)
        result = _QUIET if found is None else self._new_result(found)
        if result.detected:
            self._report(tel, result)
        tel.emit(
            T.DRIFT_CHECK_END,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            detected=result.detected,
        )
        return result

    def _report(self, tel: Telemetry, result: DriftResult) -> None:
        tel.emit(
            T.DRIFT_CHECK_RESULT,
            detected=True,
            types=result.types,
            score=result.confidence,
            metrics=result.details,
            threshold=self.config.threshold_of(result.types[0]),
        )

    def validate(self, text: str) -> DriftResult:
        """One-off check of a checkpoint (its last 2 windows), without reporting."""
        probe = DriftDetector(self.config)
        found = probe._prime(text)
        types = sorted(found, key=lambda t: (-found[t], DRIFT_TYPES.index(t)))
        confidence = max(found.values(), default=0.0)
        return DriftResult(bool(types), types, confidence, probe._details())

    def _new_result(self, found: dict[str, float]) -> DriftResult:
        new = {t: c for t, c in found.items() if t not in self._reported}
        if not new:
            return _QUIET
        self._reported.update(new)
        types = sorted(new, key=lambda t: (-new[t], DRIFT_TYPES.index(t)))
        return DriftResult(True, types, max(new.values()), self._details())

    def _details(self) -> dict[str, float]:
        # Metrics are kept unrounded (rounding on every block would cost more than using them).
        return {name: round(value, 4) for name, value in self._metrics.items()}

    # ------------------------------------------------------------- feeding

    def _feed(self, delta: str, completed: bool) -> dict[str, float] | None:
        """Feed a delta; the drift types it revealed (None for none)."""
        found = None
        meta = self._meta
        if meta is not None and (delta or completed) and meta.feed(delta, final=completed):
            self._metrics["meta_commentary"] = 1.0
            self._meta = None  # reported once per attempt: no need to look any further
            found = {"meta_commentary": 0.9}
        if self._json_doc is None and delta.strip():
            self._json_doc = delta.lstrip()[0] in "{["
        self._chars += len(delta)
        if self._cur_len + len(delta) < self._block_size:
            self._pieces.append(delta)
            self._cur_len += len(delta)
        else:
            found = self._add(delta, found)
        if completed and self._cur_len:
            found = _merge(found, self._close_block(final=True))
        return found

    def _add(self, delta: str, found: dict[str, float] | None) -> dict[str, float] | None:
        """Append to the current block; each completed block is measured and judged."""
        cursor = 0
        while cursor < len(delta):
            take = min(len(delta) - cursor, self._block_size - self._cur_len)
            self._pieces.append(delta[cursor : cursor + take])
            self._cur_len += take
            cursor += take
            if self._cur_len == self._block_size:
                found = _merge(found, self._close_block(final=False))
        return found

    def _close_block(self, final: bool) -> dict[str, float] | None:
        text = "".join(self._pieces)
        self._pieces, self._cur_len = [], 0
        self._window.push(self._measure(text, final))
        return self._evaluate()

    # ------------------------------------------------------------ measuring

    def _measure(self, text: str, final: bool) -> _Block:
        found, self._word_carry = tokens_with_carry(self._word_carry + text, final)
        units = [k for _, u in self._split_units(text, final) if (k := unit_key(u, 4)) is not None]
        counts = (
            len(found),
            self._hedges(found),
            sum(map(_INFORMAL.__contains__, found)) + text.count("!") + _emoji_count(text),
            len(_CAPS.findall(text)),
            self._line_markers(text),
        )
        return _Block(
            size=len(text),
            entropy=_entropy(text) if self.config.entropy else 0.0,
            counts=counts,
            grams=self._grams_of(found),
            units=units,
            prose_outside_json=self._prose_outside_json(text),
            text=text,
        )

    def _hedges(self, found: list[str]) -> int:
        hedges = sum(map(_HEDGE_WORDS.__contains__, found))
        if _HEDGE_SECONDS.isdisjoint(found):
            return hedges  # no word that could end a hedge pair
        pairs = zip((self._last_words[-1:] or [""]) + found, found, strict=False)
        return hedges + sum(map(_HEDGE_PAIRS.__contains__, pairs))

    def _line_markers(self, text: str) -> int:
        previous, self._prev_char = self._prev_char, text[-1:] or self._prev_char
        if previous != "\n" and "\n" not in text:
            return 0  # every marker follows a newline
        return len(_LINE_MARKER.findall(previous + text))

    def _grams_of(self, found: list[str]) -> list[int]:
        """Hashes of the word 4-grams ending in this block (earlier words carried over)."""
        stream = self._last_words + found
        self._last_words = stream[-(_GRAM - 1) :]
        return list(map(hash, zip(stream, stream[1:], stream[2:], stream[3:], strict=False)))

    def _split_units(self, text: str, final: bool) -> list[tuple[int, str]]:
        units = self._splitter.feed(text)
        if final:
            last = self._splitter.flush()
            if last is not None:
                units.append(last)
        return units

    def _prose_outside_json(self, text: str) -> int:
        """Letters of prose words outside JSON strings (JSON documents only)."""
        if not self._json_doc or not self.config.format_drift:
            return 0
        outside: list[str] = []
        start = 0
        escape_at = 0 if self._escape_next else -1
        for match in _QUOTE_OR_BACKSLASH.finditer(text):
            index = match.start()
            if escape_at >= 0:
                escaped, escape_at = index == escape_at, -1
                if escaped:
                    continue
            if not self._in_string:
                if match.group() == '"':
                    outside.append(text[start:index])
                    self._in_string = True
            elif match.group() == "\\":
                escape_at = index + 1
            else:
                self._in_string, start = False, index + 1
        if not self._in_string:
            outside.append(text[start:])
        self._escape_next = escape_at == len(text)
        prose = _PROSE_WORD.findall(" ".join(outside))
        return sum(len(word) for word in prose if word.lower() not in _JSON_WORDS)

    # ------------------------------------------------------------ detectors

    def _evaluate(self) -> dict[str, float] | None:
        """Run the enabled detectors over the window; drift type -> confidence."""
        config = self.config
        old, new, totals = self._window.sums()
        found: dict[str, float] = {}
        if config.repetition:
            _put(found, "repetition", self._repetition())
        if config.tone_shift:
            _put(found, "tone_shift", self._tone_shift(old, new))
        if config.hedging:
            _put(found, "hedging", self._hedging(totals))
        if config.entropy:
            _put(found, "entropy_spike", self._entropy_spike())
        if config.markdown_collapse:
            _put(found, "markdown_collapse", self._collapse(old, new))
        if config.format_drift:
            _put(found, "format_drift", self._format_drift())
        return found or None

    def _repetition(self) -> float | None:
        config, window = self.config, self._window
        total, distinct = window.gram_stats()
        ratio = 1 - distinct / total if total >= 30 else 0.0
        repeats = window.most_repeated_unit()
        self._metrics["repetition.ngram_ratio"] = ratio
        self._metrics["repetition.max_sentence_count"] = float(repeats)
        loops = ratio >= config.repetition_threshold
        if not loops and repeats < config.sentence_repeat_threshold:
            return None
        scores = [_confidence(ratio, config.repetition_threshold)] if loops else []
        if repeats >= config.sentence_repeat_threshold:
            scores.append(_confidence(repeats, config.sentence_repeat_threshold))
        return max(scores)

    def _tone_shift(self, old: list[int], new: list[int]) -> float | None:
        if len(self._window.blocks) < 4 or min(old[_WORDS], new[_WORDS]) < 30:
            return None
        informal = new[_INFORMAL_N] / new[_WORDS] - old[_INFORMAL_N] / old[_WORDS]
        caps = new[_CAPS_N] / new[_WORDS] - old[_CAPS_N] / old[_WORDS]
        shift = max(abs(informal), abs(caps) / 2)
        self._metrics["tone_shift"] = shift
        threshold = self.config.tone_shift_threshold
        return _confidence(shift, threshold) if shift >= threshold else None

    def _hedging(self, totals: list[int]) -> float | None:
        if totals[_WORDS] < 50:
            return None
        density = totals[_HEDGES] / totals[_WORDS]
        self._metrics["hedging"] = density
        threshold = self.config.hedging_threshold
        return _confidence(density, threshold) if density >= threshold else None

    def _entropy_spike(self) -> float | None:
        window = self._window
        newest = window.blocks[-1]
        if len(window.blocks) < 4 or newest.size < self._block_size // 2:
            return None
        entropies = window.entropies
        baseline = (sum(entropies) - newest.entropy) / (len(entropies) - 1)
        change = newest.entropy - baseline
        self._metrics["entropy.newest"] = newest.entropy
        self._metrics["entropy.baseline"] = baseline
        self._metrics["entropy.change"] = change
        threshold = self.config.entropy_threshold
        return _confidence(abs(change), threshold) if abs(change) >= threshold else None

    def _collapse(self, old: list[int], new: list[int]) -> float | None:
        if len(self._window.blocks) < 4:
            return None
        older, newer = old[_LINE_MARKERS], new[_LINE_MARKERS]
        self._metrics["markdown.older_markers"] = float(older)
        self._metrics["markdown.newer_markers"] = float(newer)
        if older < self.config.markdown_min_markers or newer:
            return None
        inline = sum(block.inline_markers() for block in self._window.newer_half())
        self._metrics["markdown.newer_inline_markers"] = float(inline)
        return _confidence(inline, 2) if inline >= 2 else None

    def _format_drift(self) -> float | None:
        if not self._json_doc:
            return None
        prose = self._window.blocks[-1].prose_outside_json
        self._metrics["format_drift.prose_chars"] = float(prose)
        threshold = self.config.format_drift_threshold
        return _confidence(prose, threshold) if prose >= threshold else None


def _put(found: dict[str, float], name: str, confidence: float | None) -> None:
    if confidence is not None:
        found[name] = confidence


def _merge(
    found: dict[str, float] | None, more: dict[str, float] | None
) -> dict[str, float] | None:
    """`found` updated with `more` (later verdicts replace earlier ones), either may be None."""
    if more is None:
        return found
    if found is None:
        return more
    found.update(more)
    return found


_QUIET = DriftResult(False, _ReadOnlyList(), 0.0, _ReadOnlyDict())
"""What a check that found nothing new returns (shared and read-only: building a result
per check would cost more than the check itself)."""
