"""Drift detection: notice when a model's output stops looking like what it was producing.

The detector is fed the output delta by delta and keeps only a sliding window of recent
text (`DriftConfig.window` characters, default 2000), cut into fixed blocks of
`window / blocks` characters by absolute offset. When a block completes, per-block
statistics are computed once (O(block)) and the detectors compare the blocks in the window
(O(blocks)). Per check the cost is O(delta) amortised; the full output is never touched, and
because blocks are fixed by offset the verdict does not depend on how the text was chunked.

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

import math
import re
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

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
    on every quiet check would cost more than the check).
    """

    detected: bool
    types: list[str]
    confidence: float
    details: dict[str, float] = field(default_factory=dict)


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
_CAPS = re.compile(r"[A-Z]{3,}")
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


def _sum_counts(blocks: Iterable[_Block]) -> list[int]:
    """Element-wise sums of the blocks' counts."""
    return [sum(column) for column in zip(*(b.counts for b in blocks), strict=True)] or [0] * 5


class _Window:
    """The last `size` blocks."""

    __slots__ = ("blocks", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.blocks: deque[_Block] = deque()

    def push(self, block: _Block) -> None:
        self.blocks.append(block)
        if len(self.blocks) > self.size:
            self.blocks.popleft()

    def halves(self) -> tuple[list[_Block], list[_Block]]:
        """The older and the newer half (equal sizes; the middle block of an odd count
        belongs to neither)."""
        blocks = list(self.blocks)
        half = len(blocks) // 2
        return blocks[:half], blocks[len(blocks) - half :]

    def gram_stats(self) -> tuple[int, int]:
        """(all 4-grams, distinct 4-grams) in the window."""
        grams = list(chain.from_iterable(b.grams for b in self.blocks))
        return len(grams), len(set(grams))

    def most_repeated_unit(self) -> int:
        units = Counter(chain.from_iterable(b.units for b in self.blocks))
        return max(units.values(), default=0)


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
        self._meta = TailMatcher(_META, _META_WINDOW)
        self._reported: set[str] = set()
        self._metrics: dict[str, float] = {}
        self._totals = [0] * 5
        if prefix:
            self._reported.update(self._prime(prefix))

    def _prime(self, text: str) -> dict[str, float]:
        """Feed (the end of) `text` as history; return what it would have detected."""
        keep = 2 * self.config.window
        if len(text) > keep:
            self._json_doc = False  # mid-document: string state unknown, skip format drift
            text = text[-keep:]
        found = self._scan_meta(text, final=False)
        found.update(self._add(text))
        return found

    # -------------------------------------------------------------- checks

    def check(self, delta: str, completed: bool = False) -> DriftResult:
        """Feed the text added since the previous check; report drift types first seen now."""
        tel = self.telemetry
        detailed = tel is not None and tel.detailed
        started = time.perf_counter() if detailed else 0.0
        if detailed:
            assert tel is not None
            tel.emit(
                T.DRIFT_CHECK_START,
                strategy="sliding_window",
                chars=self._chars,
                completed=completed,
            )
        found = self._scan_meta(delta, final=completed)
        found.update(self._add(delta))
        if completed and self._cur_len:
            found.update(self._close_block(final=True))
        result = self._new_result(found)
        if tel is not None and result.detected:
            tel.emit(
                T.DRIFT_CHECK_RESULT,
                detected=True,
                types=result.types,
                score=result.confidence,
                metrics=result.details,
                threshold=self.config.threshold_of(result.types[0]),
            )
        if detailed:
            assert tel is not None
            tel.emit(
                T.DRIFT_CHECK_END,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                detected=result.detected,
            )
        return result

    def validate(self, text: str) -> DriftResult:
        """One-off check of a checkpoint (its last 2 windows), without reporting."""
        probe = DriftDetector(self.config)
        found = probe._prime(text)
        types = sorted(found, key=lambda t: (-found[t], DRIFT_TYPES.index(t)))
        confidence = max(found.values(), default=0.0)
        return DriftResult(bool(types), types, confidence, dict(probe._metrics))

    def _new_result(self, found: dict[str, float]) -> DriftResult:
        new = {t: c for t, c in found.items() if t not in self._reported}
        if not new:
            return DriftResult(False, [], 0.0, {})
        self._reported.update(new)
        types = sorted(new, key=lambda t: (-new[t], DRIFT_TYPES.index(t)))
        return DriftResult(True, types, max(new.values()), dict(self._metrics))

    # ------------------------------------------------------------- feeding

    def _scan_meta(self, delta: str, final: bool) -> dict[str, float]:
        if not self.config.meta_commentary or "meta_commentary" in self._reported:
            return {}
        if self._meta.feed(delta, final=final):
            self._metrics["meta_commentary"] = 1.0
            return {"meta_commentary": 0.9}
        return {}

    def _add(self, delta: str) -> dict[str, float]:
        """Append to the current block; each completed block is measured and judged."""
        if self._json_doc is None and delta.strip():
            self._json_doc = delta.lstrip()[0] in "{["
        self._chars += len(delta)
        found: dict[str, float] = {}
        cursor = 0
        while cursor < len(delta):
            take = min(len(delta) - cursor, self._block_size - self._cur_len)
            self._pieces.append(delta[cursor : cursor + take])
            self._cur_len += take
            cursor += take
            if self._cur_len == self._block_size:
                found.update(self._close_block(final=False))
        return found

    def _close_block(self, final: bool) -> dict[str, float]:
        text = "".join(self._pieces)
        self._pieces, self._cur_len = [], 0
        self._window.push(self._measure(text, final))
        return self._evaluate()

    # ------------------------------------------------------------ measuring

    def _measure(self, text: str, final: bool) -> _Block:
        found, self._word_carry = tokens_with_carry(self._word_carry + text, final)
        previous = self._last_words[-1:] or [""]
        hedges = sum(map(_HEDGE_WORDS.__contains__, found))
        hedges += sum(map(_HEDGE_PAIRS.__contains__, zip(previous + found, found, strict=False)))
        informal = sum(map(_INFORMAL.__contains__, found)) + text.count("!") + _emoji_count(text)
        units = [k for _, u in self._split_units(text, final) if (k := unit_key(u, 4)) is not None]
        line_markers = len(_LINE_MARKER.findall(self._prev_char + text))
        self._prev_char = text[-1:] or self._prev_char
        return _Block(
            size=len(text),
            entropy=_entropy(text),
            counts=(len(found), hedges, informal, len(_CAPS.findall(text)), line_markers),
            grams=self._grams_of(found),
            units=units,
            prose_outside_json=self._prose_outside_json(text),
            text=text,
        )

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

    def _evaluate(self) -> dict[str, float]:
        """Run the enabled detectors over the window; drift type -> confidence."""
        config = self.config
        older, newer = self._window.halves()
        old, new = _sum_counts(older), _sum_counts(newer)
        self._totals = _sum_counts(self._window.blocks)
        found: dict[str, float] = {}
        detectors = (
            (config.repetition, "repetition", self._repetition),
            (config.tone_shift, "tone_shift", lambda: self._tone_shift(old, new)),
            (config.hedging, "hedging", self._hedging),
            (config.entropy, "entropy_spike", self._entropy_spike),
            (config.markdown_collapse, "markdown_collapse", lambda: self._collapse(old, new)),
            (config.format_drift, "format_drift", self._format_drift),
        )
        for enabled, name, detector in detectors:
            confidence = detector() if enabled else None
            if confidence is not None:
                found[name] = confidence
        return found

    def _repetition(self) -> float | None:
        config, window = self.config, self._window
        total, distinct = window.gram_stats()
        ratio = 1 - distinct / total if total >= 30 else 0.0
        repeats = window.most_repeated_unit()
        self._metrics["repetition.ngram_ratio"] = round(ratio, 4)
        self._metrics["repetition.max_sentence_count"] = float(repeats)
        scores = []
        if ratio >= config.repetition_threshold:
            scores.append(_confidence(ratio, config.repetition_threshold))
        if repeats >= config.sentence_repeat_threshold:
            scores.append(_confidence(repeats, config.sentence_repeat_threshold))
        return max(scores, default=None)

    def _tone_shift(self, old: list[int], new: list[int]) -> float | None:
        if len(self._window.blocks) < 4 or min(old[_WORDS], new[_WORDS]) < 30:
            return None
        informal = new[_INFORMAL_N] / new[_WORDS] - old[_INFORMAL_N] / old[_WORDS]
        caps = new[_CAPS_N] / new[_WORDS] - old[_CAPS_N] / old[_WORDS]
        shift = max(abs(informal), abs(caps) / 2)
        self._metrics["tone_shift"] = round(shift, 4)
        threshold = self.config.tone_shift_threshold
        return _confidence(shift, threshold) if shift >= threshold else None

    def _hedging(self) -> float | None:
        totals = self._totals
        if totals[_WORDS] < 50:
            return None
        density = totals[_HEDGES] / totals[_WORDS]
        self._metrics["hedging"] = round(density, 4)
        threshold = self.config.hedging_threshold
        return _confidence(density, threshold) if density >= threshold else None

    def _entropy_spike(self) -> float | None:
        blocks = self._window.blocks
        newest = blocks[-1]
        if len(blocks) < 4 or newest.size < self._block_size // 2:
            return None
        baseline = (sum(b.entropy for b in blocks) - newest.entropy) / (len(blocks) - 1)
        change = newest.entropy - baseline
        self._metrics["entropy.newest"] = round(newest.entropy, 4)
        self._metrics["entropy.baseline"] = round(baseline, 4)
        self._metrics["entropy.change"] = round(change, 4)
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
        _, newer_blocks = self._window.halves()
        inline = sum(len(_INLINE_MARKER.findall(b.text)) for b in newer_blocks)
        self._metrics["markdown.newer_inline_markers"] = float(inline)
        return _confidence(inline, 2) if inline >= 2 else None

    def _format_drift(self) -> float | None:
        if not self._json_doc:
            return None
        prose = self._window.blocks[-1].prose_outside_json
        self._metrics["format_drift.prose_chars"] = float(prose)
        threshold = self.config.format_drift_threshold
        return _confidence(prose, threshold) if prose >= threshold else None
