"""Drift detection: notice when a model's output stops looking like what it was producing.

The detector is fed the output delta by delta and keeps only a sliding window of recent
text (`DriftConfig.window` characters, default 2000), cut into fixed blocks of
`window / blocks` characters by absolute offset. Deltas wait until three blocks are
complete (or the output is), then the blocks are judged together: a few C-level calls
over more text cost less than many small ones. A check in between only appends its delta
and looks for meta commentary in it.

Judging has two levels. The screen (`_Screen`) follows every block cheaply (words, line
markers, running totals, a 4-gram history, sentence keys once a 4-gram repeats) and bounds
each detector over the windows ending in the new blocks, running the engine's own test
where that is cheap (the entropy gate, then the entropies of the blocks concerned); on
ordinary text it says no and nothing else runs. Otherwise the engine (`_Engine`: exact
per-block statistics, running window totals) is replayed over the last window, started
where the screen says it began (carried word, last words, sentence in progress: exactly as
if it had run all along), judges each block, and stays on for a few quiet batches. The
screen never says no where the engine would detect, so the verdicts are the engine's;
because blocks are fixed by offset they do not depend on the chunking. Per check the cost
is O(delta) amortised; the full output is never touched.

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
  blocks; gibberish rises, collapse onto one token falls. Only judged for a block whose
  make-up changed (`_make_up_changed`: share of a-z/space/newline bytes, word count).
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
from typing import TYPE_CHECKING

from ._readonly import ReadOnlyDict, ReadOnlyList
from .events import ObservabilityEventType as T
from .guardrails.screen import NEVER, Wake
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

    @classmethod
    def default(cls) -> DriftConfig:
        """The default configuration, one shared instance (it is frozen): building one
        validates every field, and `drift=True` asks for it on every call."""
        return _DEFAULT_CONFIG

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


def _phrase(text: str) -> re.Pattern[str]:
    return re.compile(phrase_regex(text), re.IGNORECASE)


_META = [
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
_HEDGE_ANY = _HEDGE_WORDS | _HEDGE_SECONDS
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
    plain: float = 1.0  # share of bytes that are a-z, space or newline (see _make_up_changed)

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


def _hedges(found: list[str], before: list[str]) -> int:
    """Hedge words and pairs among `found` (`before`: the word preceding them, if any)."""
    present = _HEDGE_ANY.intersection(found)  # one pass; usually empty or a common word
    hedges = 0
    if not present.isdisjoint(_HEDGE_WORDS):
        hedges = sum(map(_HEDGE_WORDS.__contains__, found))
    seconds = present & _HEDGE_SECONDS
    if not seconds:
        return hedges  # no word that could end a hedge pair
    pairs = zip((before or [""]) + found, found, strict=False)
    ends = itertools.compress(pairs, map(seconds.__contains__, found))
    return hedges + sum(map(_HEDGE_PAIRS.__contains__, ends))


def _line_markers(previous: str, text: str) -> tuple[int, str]:
    """Line-start markdown markers in `text` (after the character `previous`), and the
    character to pass as `previous` next time."""
    last = text[-1:] or previous
    if previous != "\n" and "\n" not in text:
        return 0, last  # every marker follows a newline
    return len(_LINE_MARKER.findall(previous + text)), last


def _plain_share(text: str) -> float:
    """Share of the UTF-8 bytes of `text` that are a-z, space or newline (C-level count)."""
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates occur in model output
    return len(raw.translate(None, _NOT_PLAIN)) / len(raw) if raw else 1.0


def _make_up_changed(plain: float, words: int, plain_sum: float, words_sum: int, n: int) -> bool:
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
_NOT_UPPER = bytes(b for b in range(256) if b not in _UPPER)
_LIST_HINT = re.compile(r"[.:!?][ \t]+(?:[-*+]|\d{1,2}[.)])[ \t]")


def _inline_hint(text: str) -> bool:
    """Whether `text` may hold an inline markdown marker: what each form of
    `_INLINE_MARKER` contains (a heading "##", a table "|" and "---", a list item after a
    sentence)."""
    if "##" in text or ("|" in text and "---" in text):
        return True
    return _LIST_HINT.search(text) is not None


_MAX_UNIT = 500  # UnitSplitter's default: sentences are truncated there
# Units as the screen keys them: their letters and digits, lower-cased, after UnitSplitter's
# truncation. That is what a unit's words and numbers (`unit_key`) are made of, so units
# with one key have one screen key. ASCII text is cut and keyed by byte translations.
_UNIT_END = re.compile("[.!?\u3002\uff01\uff1f\n]")  # UnitSplitter's boundaries
_NOT_WORD = re.compile(r"[\W_]+")
_ASCII_UNITS = bytes.maketrans(b".!?" + _UPPER, b"\n\n\n" + _UPPER.lower())
_NOT_KEY = bytes(b for b in range(256) if not ((b < 128 and chr(b).isalnum()) or b == 10))


@dataclass(slots=True)
class _Units:
    """The units ending in a batch of `blocks` blocks: ASCII ones cut (lower-cased, one
    per line) and keyed when first needed (`keyed`), others keyed at once."""

    blocks: int
    cut: bytes
    keys: list[bytes] | None

    def keyed(self) -> list[bytes]:
        """Screen keys of the units with 4+ letters or digits (fewer cannot make 4 words)."""
        if self.keys is None:
            units = self.cut.split(b"\n")
            if max(map(len, units)) > _MAX_UNIT:
                units = [unit[:_MAX_UNIT] for unit in units]
            keys = b"\n".join(units).translate(None, _NOT_KEY).split(b"\n")
            self.keys = [key for key in keys if len(key) >= _GRAM]
        return self.keys


def _units(text: str, blocks: int, final: bool) -> tuple[_Units, str]:
    """The units ending in `text` (the last one too if `final`), and the first characters
    of the unit left unfinished (what UnitSplitter keeps of it)."""
    if text.isascii():
        cut = text.encode().translate(_ASCII_UNITS)
        end = len(cut) if final else cut.rfind(b"\n") + 1
        return _Units(blocks, cut[:end], None), cut[end : end + _MAX_UNIT].decode()
    units = _UNIT_END.split(text)
    tail = "" if final else units.pop()[:_MAX_UNIT]
    keys = (_NOT_WORD.sub("", unit[:_MAX_UNIT].lower()) for unit in units)
    keyed = [key.encode("utf-8", "surrogatepass") for key in keys if len(key) >= _GRAM]
    return _Units(blocks, b"", keyed), tail


def _warm_up(block_size: int) -> int:
    """Blocks before a window in which a unit (sentence) ending in it may begin."""
    return -(-_MAX_UNIT // block_size) + 1


_BATCH_BLOCKS = 3  # blocks pending before they are judged: detection lags up to 4 blocks
# A position in the stream, as blocks are measured from it: the word carried into the next
# block, the last three words, the last character and the unit in progress (first chars).
_Position = tuple[str, tuple[str, ...], str, str]
_START: _Position = ("", (), "\n", "")
_QUIET_BATCHES = 2  # the engine stays on for this many batches the screen finds quiet


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


class _Engine:
    """The exact detectors: blocks measured one by one into a `_Window`, each judged as it
    completes. Run when the screen (`_Screen`) cannot rule drift out, or for JSON output."""

    def __init__(
        self,
        config: DriftConfig,
        metrics: dict[str, float],
        json_doc: bool | None,
        start: _Position = _START,
    ):
        self.config = config
        self.metrics = metrics
        self.json_doc = json_doc
        self.block_size = config.window // config.blocks
        self.window = _Window(config.blocks)
        # Where the text fed starts (a replay starts mid-stream): carried word, last words,
        # last character and the unit in progress.
        self._word_carry, last_words, self._prev_char, unit = start
        self._last_words = list(last_words)
        self._splitter = UnitSplitter()
        self._splitter.feed(unit)
        self._in_string = False
        self._escape_next = False

    def add(self, text: str, final: bool, judge: bool) -> dict[str, float] | None:
        """Measure one block; with `judge`, the drift types the window then shows."""
        self.window.push(self._measure(text, final))
        return self._evaluate() if judge else None

    # ------------------------------------------------------------ measuring

    def _measure(self, text: str, final: bool) -> _Block:
        found, self._word_carry = tokens_with_carry(self._word_carry + text, final)
        units = [k for _, u in self._split_units(text, final) if (k := unit_key(u, 4)) is not None]
        counts = (
            len(found),
            _hedges(found, self._last_words[-1:]),
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
            plain=_plain_share(text),
        )

    def _line_markers(self, text: str) -> int:
        count, self._prev_char = _line_markers(self._prev_char, text)
        return count

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
        if not self.json_doc or not self.config.format_drift:
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
        old, new, totals = self.window.sums()
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
        config, window = self.config, self.window
        total, distinct = window.gram_stats()
        ratio = 1 - distinct / total if total >= 30 else 0.0
        repeats = window.most_repeated_unit()
        self.metrics["repetition.ngram_ratio"] = ratio
        self.metrics["repetition.max_sentence_count"] = float(repeats)
        loops = ratio >= config.repetition_threshold
        if not loops and repeats < config.sentence_repeat_threshold:
            return None
        scores = [_confidence(ratio, config.repetition_threshold)] if loops else []
        if repeats >= config.sentence_repeat_threshold:
            scores.append(_confidence(repeats, config.sentence_repeat_threshold))
        return max(scores)

    def _tone_shift(self, old: list[int], new: list[int]) -> float | None:
        if len(self.window.blocks) < 4 or min(old[_WORDS], new[_WORDS]) < 30:
            return None
        informal = new[_INFORMAL_N] / new[_WORDS] - old[_INFORMAL_N] / old[_WORDS]
        caps = new[_CAPS_N] / new[_WORDS] - old[_CAPS_N] / old[_WORDS]
        shift = max(abs(informal), abs(caps) / 2)
        self.metrics["tone_shift"] = shift
        threshold = self.config.tone_shift_threshold
        return _confidence(shift, threshold) if shift >= threshold else None

    def _hedging(self, totals: list[int]) -> float | None:
        if totals[_WORDS] < 50:
            return None
        density = totals[_HEDGES] / totals[_WORDS]
        self.metrics["hedging"] = density
        threshold = self.config.hedging_threshold
        return _confidence(density, threshold) if density >= threshold else None

    def _entropy_spike(self) -> float | None:
        blocks = self.window.blocks
        newest = blocks[-1]
        if len(blocks) < 4 or newest.size < self.block_size // 2:
            return None
        earlier = list(itertools.islice(blocks, len(blocks) - 1))
        plain = sum(block.plain for block in earlier)
        words = sum(block.counts[_WORDS] for block in earlier)
        if not _make_up_changed(newest.plain, newest.counts[_WORDS], plain, words, len(earlier)):
            return None
        entropies = self.window.entropies
        baseline = (sum(entropies) - newest.entropy) / (len(entropies) - 1)
        change = newest.entropy - baseline
        self.metrics["entropy.newest"] = newest.entropy
        self.metrics["entropy.baseline"] = baseline
        self.metrics["entropy.change"] = change
        threshold = self.config.entropy_threshold
        return _confidence(abs(change), threshold) if abs(change) >= threshold else None

    def _collapse(self, old: list[int], new: list[int]) -> float | None:
        if len(self.window.blocks) < 4:
            return None
        older, newer = old[_LINE_MARKERS], new[_LINE_MARKERS]
        self.metrics["markdown.older_markers"] = float(older)
        self.metrics["markdown.newer_markers"] = float(newer)
        if older < self.config.markdown_min_markers or newer:
            return None
        inline = sum(block.inline_markers() for block in self.window.newer_half())
        self.metrics["markdown.newer_inline_markers"] = float(inline)
        return _confidence(inline, 2) if inline >= 2 else None

    def _format_drift(self) -> float | None:
        if not self.json_doc:
            return None
        prose = self.window.blocks[-1].prose_outside_json
        self.metrics["format_drift.prose_chars"] = float(prose)
        threshold = self.config.format_drift_threshold
        return _confidence(prose, threshold) if prose >= threshold else None


_Gram = tuple[str, str, str, str]


class _Screen:
    """A cheap, conservative test per batch of blocks: can a detector fire on a window that
    ends in one of them? It follows every block with a few C-level calls (words, line
    markers, plain share) and keeps running totals, so that a batch costs O(batch); it never
    says no when the engine would detect something (each test below is a bound, or the
    engine's own computation), so skipping the engine on a "no" changes no verdict.
    """

    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.block_size = config.window // config.blocks
        # Per block, for the last `blocks - 1` blocks and the batch being screened: text and
        # plain share. Per block boundary (one entry more): running totals of words, line
        # markers and of the batches ended by then (hedges, informal, caps, repeats).
        self._texts: list[str] = []
        self._plain: list[float] = []
        self._words: list[int] = [0]
        self._marks: list[int] = [0]
        self._totals: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]
        self._serial = 0  # of the block `_texts[0]`
        self._entropies: dict[int, float] = {}  # by serial, computed when first needed
        self._hints: dict[int, bool] = {}  # inline-marker hints, by serial, likewise
        self._carry = ""
        self._last: list[str] = []  # the last three tokens (4-grams, hedge pairs)
        self._prev_char = "\n"
        # 4-grams of about the last window and longest unit, in two generations (old, new),
        # and the units ending in its batches; the unit being written.
        self._grams: tuple[set[_Gram], set[_Gram]] = (set(), set())
        self._generation = 0  # blocks in the new generation
        self._span = config.blocks + _warm_up(self.block_size)
        self._units: deque[_Units] = deque()
        self._unit_blocks = 0
        self._unit = ""
        self._gram_repeated = False  # a 4-gram repeated since `_unit` began

    @property
    def position(self) -> _Position:
        """Where the next block starts, as the engine measures blocks (the unit in progress
        is only followed when repetition is judged: it only matters to repetition)."""
        return self._carry, tuple(self._last), self._prev_char, self._unit

    def add(self, blocks: list[str], final: bool) -> bool:
        """Follow `blocks` (the last one final if `final`); True if drift is possible."""
        text = "".join(blocks)
        found = self._follow(blocks, final)
        repeats = self._count(text, len(blocks), found)
        loops = self.config.repetition and self._unit_repeats(text, len(blocks), final, repeats)
        possible = loops or self._windows(len(blocks), len(blocks[-1]))
        self._generation += len(blocks)
        if self._generation >= self._span:
            self._grams, self._generation = (self._grams[1], set()), 0
        if len(self._texts) >= 2 * self.config.blocks:
            self._trim()
        return possible

    def _follow(self, blocks: list[str], final: bool) -> list[str]:
        """Per-block statistics of the new blocks; the words of the batch."""
        found: list[str] = []
        carry, previous = self._carry, self._prev_char
        words, marks = self._words, self._marks
        word_total, mark_total = words[-1], marks[-1]
        last = len(blocks) - 1
        for index, text in enumerate(blocks):
            new, carry = tokens_with_carry(carry + text, final and index == last)
            found += new
            count, previous = _line_markers(previous, text)
            word_total += len(new)
            mark_total += count
            words.append(word_total)
            marks.append(mark_total)
        self._plain += map(_plain_share, blocks)
        self._texts += blocks
        self._carry, self._prev_char = carry, previous
        return found

    def _count(self, text: str, blocks: int, found: list[str]) -> int:
        """Add the totals of the batch (`text`, `blocks` blocks, words `found`): hedges and
        informal words (as the engine counts them), an upper bound on its all-caps words
        (each is a run of three capitals at least) and its repeated 4-grams (`_repeats`,
        returned); zero for the detectors switched off."""
        config = self.config
        hedges = informal = caps = repeats = 0
        if config.hedging:
            hedges = _hedges(found, self._last[-1:])
        if config.tone_shift:
            if not _INFORMAL.isdisjoint(found):
                informal = sum(map(_INFORMAL.__contains__, found))
            informal += text.count("!") + _emoji_count(text)
            caps = len(text.encode("utf-8", "surrogatepass").translate(None, _NOT_UPPER)) // 3
        stream = self._last + found
        self._last = stream[-(_GRAM - 1) :]
        if config.repetition:
            repeats = self._repeats(stream)
        totals = self._totals
        h, i, c, r = running = totals[-1]
        totals += itertools.repeat(running, blocks - 1)
        totals.append((h + hedges, i + informal, c + caps, r + repeats))
        return repeats

    def _repeats(self, stream: list[str]) -> int:
        """The 4-grams of `stream` (this batch's words after the last three) that repeat
        one seen before, in it or in about the last window: a window's repeated 4-grams
        (its 4-grams less its distinct ones) are at most those of its batches."""
        batch = set(zip(stream, stream[1:], stream[2:], stream[3:], strict=False))
        old, new = self._grams
        if batch.isdisjoint(new) and batch.isdisjoint(old):
            fresh = len(batch)
        else:
            fresh = len(batch.difference(new, old))
        new |= batch
        return max(0, len(stream) - (_GRAM - 1)) - fresh

    def _unit_repeats(self, text: str, blocks: int, final: bool, repeats: int) -> bool:
        """Whether a unit ending in the batch may be seen `sentence_repeat_threshold` times
        in a window (units are counted in about the last window and longest unit).

        A unit (4+ words) seen n times repeats its first four words n times. With n >= 3 the
        (n-1)th one lies in the window, so its first 4-gram is still in the 4-gram history
        when the nth arrives: units are only keyed and counted once a 4-gram repeated since
        the first of them began. A first one may begin long before: with n = 2, always."""
        begun, threshold = self._unit, self.config.sentence_repeat_threshold
        batch, self._unit = _units(begun + text, blocks, final)
        repeated = repeats > 0 or self._gram_repeated or threshold <= 2
        self._gram_repeated = repeats > 0 or (repeated and self._unit.startswith(begun))
        units = self._units
        units.append(batch)
        self._unit_blocks += batch.blocks
        while self._unit_blocks - units[0].blocks >= self._span:
            self._unit_blocks -= units.popleft().blocks
        if not repeated:
            return False
        counts = Counter(itertools.chain.from_iterable(unit.keyed() for unit in units))
        return any(counts[key] >= threshold for key in batch.keyed())

    def _trim(self) -> None:
        """Keep the last `blocks - 1` blocks: with a batch, they make its windows (blocks
        are dropped in bulk, every few batches)."""
        cut = len(self._texts) - self.config.blocks + 1
        del self._texts[:cut], self._plain[:cut], self._words[:cut], self._marks[:cut]
        del self._totals[:cut]
        self._serial += cut
        for cache in (self._entropies, self._hints):
            for serial in [serial for serial in cache if serial < self._serial]:
                del cache[serial]

    def _windows(self, new: int, last_size: int) -> bool:
        """Whether a detector may fire on a window ending in a new block: bounds of the
        count-based detectors over those windows, and `_block_tests` for each."""
        config, size, words = self.config, self.config.blocks, self._words
        count = len(words) - 1
        min_total = min_words = min_half = math.inf
        for end in range(count - new + 1, count + 1):
            start = end - size if end > size else 0
            total = words[end] - words[start]
            if total < min_total:
                min_total = total
            if 50 <= total < min_words:
                min_words = total
            if end < 4:
                continue  # the other detectors need 4 blocks
            half = (end - start) // 2
            older, newer = words[start + half] - words[start], words[end] - words[end - half]
            low = older if older < newer else newer
            if 30 <= low < min_half:
                min_half = low
            newest_size = last_size if end == count else self.block_size
            if self._block_tests(start, end, half, newest_size):
                return True
        start = count - new + 1 - size
        hedges, informal, caps, repeats = _minus(self._totals[-1], self._totals[max(0, start)])
        # A window has at least its words - 3 grams; margin: the engine's ratio is 1 - x / y.
        grams = max(30, min_total - (_GRAM - 1))
        if repeats and repeats >= config.repetition_threshold * grams - 1e-9:
            return True
        if hedges and hedges >= config.hedging_threshold * min_words:
            return True
        # |a/x - b/y| <= max(a/x, b/y): a shift needs that much in one half.
        return max(informal, caps / 2) >= config.tone_shift_threshold * min_half

    def _block_tests(self, start: int, end: int, half: int, newest_size: int) -> bool:
        """The detectors judged from the blocks of the window [start, end): markdown
        collapse needs line markers in the older half, none in the newer half and an
        inline-marker hint in it; an entropy spike needs a newest block whose make-up
        changed (the engine's gate, computed as the engine does) and whose entropy departs
        from the mean of the earlier blocks by the threshold."""
        config, marks = self.config, self._marks
        if (
            config.markdown_collapse
            and marks[start + half] - marks[start] >= config.markdown_min_markers
            and marks[end] == marks[end - half]
            and any(map(self._hint, range(end - half, end)))
        ):
            return True
        if not config.entropy or newest_size < self.block_size // 2:
            return False  # a partial last block is only judged from half a block
        words, plain, newest = self._words, self._plain, end - 1
        total = sum(plain[start:newest])  # summed as the engine sums it
        earlier, new_words = words[newest] - words[start], words[end] - words[newest]
        changed = _make_up_changed(plain[newest], new_words, total, earlier, newest - start)
        return changed and self._spike(start, newest)

    def _hint(self, index: int) -> bool:
        serial = self._serial + index
        if serial not in self._hints:
            self._hints[serial] = _inline_hint(self._texts[index])
        return self._hints[serial]

    def _spike(self, start: int, newest: int) -> bool:
        """The engine's entropy test of block `newest` (block entropies are computed once,
        and only for blocks near one whose make-up changed: a replay costs far more)."""
        entropies = list(map(self._entropy_of, range(start, newest + 1)))
        change = entropies[-1] - sum(entropies[:-1]) / (len(entropies) - 1)
        return abs(change) >= self.config.entropy_threshold - 1e-9

    def _entropy_of(self, index: int) -> float:
        serial = self._serial + index
        if serial not in self._entropies:
            self._entropies[serial] = _entropy(self._texts[index])
        return self._entropies[serial]


class DriftDetector:
    """Sliding-window drift detection for one session (see the module docstring)."""

    def __init__(self, config: DriftConfig | None = None, telemetry: Telemetry | None = None):
        self.config = config or _DEFAULT_CONFIG
        self.telemetry = telemetry
        self._block_size = self.config.window // self.config.blocks
        self._batch = self._block_size * _BATCH_BLOCKS
        self._begin()

    # ------------------------------------------------------------ attempts

    def reset(self, prefix: str = "") -> None:
        """Start a new attempt. A resumed attempt passes its checkpoint as `prefix`: its
        end is fed as history (nothing reported), so the window continues from it."""
        if not (prefix or self._judged or self._pending or self._ended):
            return  # nothing fed since the detector was made or reset: already a new attempt
        self._begin()
        if prefix:
            self._reported.update(self._prime(prefix))

    def _begin(self) -> None:
        """The state of a new attempt."""
        self._ended = False  # a check was marked completed
        self._pending = ""  # text not judged yet (less than a batch)
        self._judged = 0  # characters judged
        self._json_doc: bool | None = None
        self._metrics: dict[str, float] = {}
        self._screen = _Screen(self.config)
        self._engine: _Engine | None = None
        self._quiet = 0
        # Enough to replay the window: batches, each with the position where it began.
        self._history: deque[tuple[_Position, list[str]]] = deque()
        self._history_blocks = 0
        self._meta: TailMatcher | None = None
        if self.config.meta_commentary:
            self._meta = TailMatcher(_META, _META_WINDOW)
        self._reported: set[str] = set()

    def _prime(self, text: str) -> dict[str, float]:
        """Feed (the end of) `text` as history; return what it would have detected."""
        keep = 2 * self.config.window
        if len(text) > keep:
            self._json_doc = False  # mid-document: string state unknown, skip format drift
            text = text[-keep:]
        self._engine = _Engine(self.config, self._metrics, self._json_doc)
        found = self._feed(text, completed=False)
        return _merge(found, self._drain(final=False)) or {}

    # -------------------------------------------------------------- checks

    @property
    def wake(self) -> Wake | None:
        """What new text must contain for a check to matter before the next batch is due
        (`room`): the meta-commentary anchors (`l0.guardrails.screen`). None while a phrase
        may be completing: then every delta matters. Text without it may be fed later,
        joined to what follows, with the same results at the same check."""
        meta = self._meta
        return NEVER if meta is None else meta.wake

    @property
    def room(self) -> int:
        """Characters that may still arrive before the pending blocks make a batch."""
        return self._batch - len(self._pending)

    def check(self, delta: str, completed: bool = False, *, screened: int = 0) -> DriftResult:
        """Feed the text added since the previous check; report drift types first seen now.

        `screened`: the first that many characters of `delta` were screened for `wake` by
        the caller (with a carry of its own) and hold none of it: they are not looked at
        again. A check that finds nothing new returns a shared, read-only quiet result.
        """
        tel = self.telemetry
        if tel is not None and tel.detailed:
            return self._check_observed(tel, delta, completed)
        found = self._feed(delta, completed, screened)
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
            T.DRIFT_CHECK_START,
            strategy="sliding_window",
            chars=self._judged + len(self._pending),
            completed=completed,
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

    def _feed(self, delta: str, completed: bool, screened: int = 0) -> dict[str, float] | None:
        """Feed a delta; the drift types it revealed (None for none)."""
        found = None
        meta = self._meta
        if meta is not None and _phrase_in(meta, delta, completed, screened):
            self._metrics["meta_commentary"] = 1.0
            self._meta = None  # reported once per attempt: no need to look any further
            found = {"meta_commentary": 0.9}
        if self._json_doc is None and delta.strip():
            self._json_doc = delta.lstrip()[0] in "{["
            if self._engine is not None:
                self._engine.json_doc = self._json_doc
        self._pending += delta  # bounded by a batch: cheaper than a list to join
        # Blocks are judged in batches: a few calls over more text cost less than many.
        if len(self._pending) >= self._batch or completed:
            found = _merge(found, self._drain(completed))
        return found

    def _drain(self, final: bool) -> dict[str, float] | None:
        """Judge the complete blocks pending (and, if `final`, the partial last one)."""
        self._ended = self._ended or final
        text = self._pending
        size = self._block_size
        count = len(text) // size
        blocks = [text[i * size : (i + 1) * size] for i in range(count)]
        rest = text[count * size :]
        if final and rest:
            blocks.append(rest)
            rest = ""
        self._pending = rest
        self._judged += len(text) - len(rest)
        if not blocks:
            return None
        return self._judge(blocks, final and len(blocks[-1]) < size)

    def _judge(self, blocks: list[str], final: bool) -> dict[str, float] | None:
        """Screen the blocks; run the exact engine on them when drift is possible (and for a
        while after: entering costs a replay of the history)."""
        position = self._screen.position
        # A JSON document is always judged by the engine (format drift): no screen needed.
        possible = bool(self._json_doc) or self._screen.add(blocks, final)
        found = None
        if possible or self._engine is not None:
            engine = self._engine or self._replay()
            for index, text in enumerate(blocks):
                last = final and index == len(blocks) - 1
                found = _merge(found, engine.add(text, last, judge=True))
            self._quiet = 0 if possible else self._quiet + 1
            self._engine = None if self._quiet >= _QUIET_BATCHES else engine
        if not self._ended:  # a completed output is never replayed
            self._remember(position, blocks)
        return found

    def _remember(self, position: _Position, blocks: list[str]) -> None:
        """Keep the batch for replays: whole batches, each with its starting position,
        making at least a window (at most a batch more)."""
        keep = self.config.blocks
        if len(blocks) > keep:  # one large delta: only its end can be replayed
            position = _advance(position, blocks[:-keep])
            blocks = blocks[-keep:]
        history = self._history
        history.append((position, blocks))
        self._history_blocks += len(blocks)
        while self._history_blocks - len(history[0][1]) >= keep:
            self._history_blocks -= len(history.popleft()[1])

    def _replay(self) -> _Engine:
        """An engine brought up to date from the kept history (the window before the new
        blocks), started where it began: the same as if it had run all along."""
        start = self._history[0][0] if self._history else _START
        engine = _Engine(self.config, self._metrics, self._json_doc, start)
        for _, blocks in self._history:
            for text in blocks:
                engine.add(text, final=False, judge=False)
        return engine


def _phrase_in(meta: TailMatcher, delta: str, completed: bool, screened: int) -> bool:
    """Whether the meta-commentary matcher finds a phrase ending in `delta` (its first
    `screened` characters were screened for the matcher's anchors by the caller)."""
    if screened and meta.feed(delta[:screened], screened=True):
        return True
    rest = delta[screened:] if screened else delta
    return bool((rest or completed) and meta.feed(rest, completed))


def _advance(position: _Position, blocks: list[str]) -> _Position:
    """The position after `blocks`, measured from `position`."""
    carry, last, previous, unit = position
    words = list(last)
    for text in blocks:
        found, carry = tokens_with_carry(carry + text, False)
        words = (words + found)[-(_GRAM - 1) :]
        previous = text[-1:] or previous
    unit = _units(unit + "".join(blocks), 0, final=False)[1]
    return carry, tuple(words), previous, unit


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


_DEFAULT_CONFIG = DriftConfig()

_QUIET = DriftResult(False, ReadOnlyList(), 0.0, ReadOnlyDict())
"""What a check that found nothing new returns (shared and read-only: building a result
per check would cost more than the check itself)."""
