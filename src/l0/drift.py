"""Drift detection: notice when a model's output stops looking like what it was producing.

The detector is fed the output delta by delta and keeps only a sliding window of recent
text (`DriftConfig.window` characters, default 2000), cut into fixed blocks of
`window / blocks` characters by absolute offset. Deltas wait until three blocks are
complete (or the output is), then the blocks are judged together: a few C-level calls
over more text cost less than many small ones. A check in between only appends its delta
and looks for meta commentary in it.

Judging has two levels. The screen (`_Screen`) follows every block cheaply (words, line
markers, a 4-gram set, batch totals) and computes bounds that say whether any detector
could fire on a window ending in the new blocks; on ordinary text it says no and nothing
else runs. Otherwise the engine (`_Engine`: exact per-block statistics, running window
totals) is replayed from the kept history and judges each block, and stays on for a few
quiet batches. The screen never says no where the engine would detect, so the verdicts are
the engine's; because blocks are fixed by offset they do not depend on the chunking. Per
check the cost is O(delta) amortised; the full output is never touched.

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
    hedges = sum(map(_HEDGE_WORDS.__contains__, found))
    if _HEDGE_SECONDS.isdisjoint(found):
        return hedges  # no word that could end a hedge pair
    pairs = zip((before or [""]) + found, found, strict=False)
    return hedges + sum(map(_HEDGE_PAIRS.__contains__, pairs))


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
_NOT_UPPER = bytes(b for b in range(256) if not 65 <= b <= 90)
_LIST_HINT = re.compile(r"[.:!?][ \t]+(?:[-*+]|\d{1,2}[.)])[ \t]")
_HEDGE_ANY = _HEDGE_WORDS | _HEDGE_SECONDS


def _inline_hint(text: str) -> bool:
    """Whether `text` may hold an inline markdown marker: what each form of
    `_INLINE_MARKER` contains (a heading "##", a table "|" and "---", a list item after a
    sentence)."""
    if "##" in text or ("|" in text and "---" in text):
        return True
    return _LIST_HINT.search(text) is not None


_MAX_UNIT = 500  # UnitSplitter's default: sentences are truncated there


def _warm_up(block_size: int) -> int:
    """Blocks to replay before a window so that its first sentence is whole."""
    return -(-_MAX_UNIT // block_size) + 1


_BATCH_BLOCKS = 3  # blocks pending before they are judged: detection lags up to 4 blocks
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

    def __init__(self, config: DriftConfig, metrics: dict[str, float], json_doc: bool | None):
        self.config = config
        self.metrics = metrics
        self.json_doc = json_doc
        self.block_size = config.window // config.blocks
        self.window = _Window(config.blocks)
        self._splitter = UnitSplitter()
        self._word_carry = ""
        self._last_words: list[str] = []
        self._prev_char = "\n"
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


class _Screen:
    """A cheap, conservative test per batch of blocks: can a detector fire on a window that
    ends in one of them? It follows every block with a few C-level calls (words, line
    markers, plain share) and never says no when the engine would detect something (each
    test below is a bound), so skipping the engine on a "no" changes no verdict.
    """

    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.block_size = config.window // config.blocks
        # Per block, for the last `blocks - 1` blocks and the batch being screened.
        self._words: list[int] = []
        self._marks: list[int] = []
        self._plain: list[float] = []
        self._sizes: list[int] = []
        self._texts: list[str] = []
        self._inline: list[bool | None] = []  # inline-marker hint, looked for when needed
        self._bounds: list[tuple[int, int, int]] = []  # a batch's totals, on its last block
        self._carry = ""
        self._last: list[str] = []  # the last three tokens (4-grams, hedge pairs)
        self._prev_char = "\n"
        # 4-grams of about the last window (and longest unit), in two generations.
        self._grams_old: set[tuple[str, ...]] = set()
        self._grams_new: set[tuple[str, ...]] = set()
        self._gram_blocks = 0
        self._gram_span = config.blocks + _warm_up(self.block_size)

    def add(self, blocks: list[str], final: bool) -> bool:
        """Follow `blocks` (the last one final if `final`); True if drift is possible."""
        found: list[str] = []
        last = len(blocks) - 1
        for index, text in enumerate(blocks):
            words, self._carry = tokens_with_carry(self._carry + text, final and index == last)
            found += words
            markers, self._prev_char = _line_markers(self._prev_char, text)
            self._words.append(len(words))
            self._marks.append(markers)
            self._plain.append(_plain_share(text))
            self._sizes.append(len(text))
            self._texts.append(text)
            self._inline.append(None)
            self._bounds.append((0, 0, 0))
        self._bounds[-1] = self._batch_bounds("".join(blocks), found)
        possible = self._repeats(found) or self._windows(len(blocks))
        self._rotate(len(blocks))
        self._trim()
        return possible

    def _batch_bounds(self, batch: str, found: list[str]) -> tuple[int, int, int]:
        """Hedges and informal words of the batch (as the engine counts them) and an upper
        bound on its all-caps words (each is a run of three capitals at least)."""
        hedges = 0 if _HEDGE_ANY.isdisjoint(found) else _hedges(found, self._last[-1:])
        informal = 0 if _INFORMAL.isdisjoint(found) else sum(map(_INFORMAL.__contains__, found))
        informal += batch.count("!") + _emoji_count(batch)
        caps = len(batch.encode("utf-8", "surrogatepass").translate(None, _NOT_UPPER)) // 3
        return hedges, informal, caps

    def _repeats(self, found: list[str]) -> bool:
        """Whether a word 4-gram of this batch occurs earlier in it or in about the last
        window (and longest unit). Repetition drift needs one: a repeated unit (4+ words)
        repeats its first four words."""
        stream = self._last + found
        self._last = stream[-(_GRAM - 1) :]
        new = set(zip(stream, stream[1:], stream[2:], stream[3:], strict=False))
        repeated = len(new) < len(stream) - (_GRAM - 1) or not (
            new.isdisjoint(self._grams_new) and new.isdisjoint(self._grams_old)
        )
        self._grams_new |= new
        return repeated and self.config.repetition

    def _rotate(self, blocks: int) -> None:
        self._gram_blocks += blocks
        if self._gram_blocks >= self._gram_span:
            self._grams_old, self._grams_new, self._gram_blocks = self._grams_new, set(), 0

    def _trim(self) -> None:
        cut = max(0, len(self._words) - self.config.blocks + 1)
        for column in (self._words, self._marks, self._plain, self._sizes, self._texts):
            del column[:cut]
        del self._inline[:cut], self._bounds[:cut]

    def _windows(self, new: int) -> bool:
        """Bounds of the count-based detectors over the windows ending in the new blocks."""
        config, size = self.config, self.config.blocks
        words = list(itertools.accumulate(self._words, initial=0))
        count = len(self._words)
        first = count - new + 1
        min_words = min(
            (t for e in range(first, count + 1) if (t := words[e] - words[max(0, e - size)]) >= 50),
            default=math.inf,
        )
        min_half = math.inf
        for end in range(max(first, 4), count + 1):
            start = max(0, end - size)
            half = (end - start) // 2
            older, newer = words[start + half] - words[start], words[end] - words[end - half]
            if older >= 30 and newer >= 30:
                min_half = min(min_half, older, newer)
        span = self._bounds[max(0, first - size) :]
        hedges, informal, caps = map(sum, zip(*span, strict=True))
        if config.hedging and hedges >= config.hedging_threshold * min_words:
            return True
        # |a/x - b/y| <= max(a/x, b/y): a shift needs that much in one half.
        if config.tone_shift and max(informal, caps / 2) >= config.tone_shift_threshold * min_half:
            return True
        if config.markdown_collapse and self._collapse(first, count):
            return True
        return config.entropy and self._entropy(words, first, count)

    def _collapse(self, first: int, count: int) -> bool:
        """Markdown collapse needs line markers in an older half, none in the newer half and
        an inline-marker hint in it."""
        size = self.config.blocks
        marks = list(itertools.accumulate(self._marks, initial=0))
        for end in range(max(first, 4), count + 1):
            start = max(0, end - size)
            half = (end - start) // 2
            older = marks[start + half] - marks[start]
            if older < self.config.markdown_min_markers or marks[end] != marks[end - half]:
                continue
            for index in range(end - half, end):
                if self._inline[index] is None:
                    self._inline[index] = _inline_hint(self._texts[index])
                if self._inline[index]:
                    return True
        return False

    def _entropy(self, words: list[int], first: int, count: int) -> bool:
        """Whether a new block's make-up changed (only those are judged for a spike)."""
        size, sizes, plain = self.config.blocks, self._sizes, self._plain
        for end in range(max(first, 4), count + 1):
            start, newest = max(0, end - size), end - 1
            if sizes[newest] < self.block_size // 2:
                continue
            earlier = words[newest] - words[start]
            total = sum(plain[start:newest])  # summed as the engine sums it
            if _make_up_changed(
                plain[newest], words[newest + 1] - words[newest], total, earlier, newest - start
            ):
                return True
        return False


class DriftDetector:
    """Sliding-window drift detection for one session (see the module docstring)."""

    def __init__(self, config: DriftConfig | None = None, telemetry: Telemetry | None = None):
        self.config = config or DriftConfig()
        self.telemetry = telemetry
        self._block_size = self.config.window // self.config.blocks
        self._batch = self._block_size * _BATCH_BLOCKS
        self.reset()

    # ------------------------------------------------------------ attempts

    def reset(self, prefix: str = "") -> None:
        """Start a new attempt. A resumed attempt passes its checkpoint as `prefix`: its
        end is fed as history (nothing reported), so the window continues from it."""
        self._pieces: list[str] = []
        self._cur_len = 0
        self._chars = 0
        self._json_doc: bool | None = None
        self._metrics: dict[str, float] = {}
        self._screen = _Screen(self.config)
        self._engine: _Engine | None = None
        self._quiet = 0
        # Enough to replay the window with its carried words, sentences and line starts.
        history = self.config.blocks + _warm_up(self._block_size)
        self._history: deque[str] = deque(maxlen=history)
        self._meta: TailMatcher | None = None
        if self.config.meta_commentary:
            self._meta = TailMatcher(_META, _META_WINDOW)
        self._reported: set[str] = set()
        if prefix:
            self._reported.update(self._prime(prefix))

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
            if self._engine is not None:
                self._engine.json_doc = self._json_doc
        self._chars += len(delta)
        self._pieces.append(delta)
        self._cur_len += len(delta)
        # Blocks are judged in batches: a few calls over more text cost less than many.
        if self._cur_len >= self._batch or completed:
            found = _merge(found, self._drain(completed))
        return found

    def _drain(self, final: bool) -> dict[str, float] | None:
        """Judge the complete blocks pending (and, if `final`, the partial last one)."""
        text = "".join(self._pieces)
        size = self._block_size
        count = len(text) // size
        blocks = [text[i * size : (i + 1) * size] for i in range(count)]
        rest = text[count * size :]
        if final and rest:
            blocks.append(rest)
            rest = ""
        self._pieces, self._cur_len = ([rest] if rest else []), len(rest)
        if not blocks:
            return None
        return self._judge(blocks, final and len(blocks[-1]) < size)

    def _judge(self, blocks: list[str], final: bool) -> dict[str, float] | None:
        """Screen the blocks; run the exact engine on them when drift is possible (and for a
        while after: entering costs a replay of the history)."""
        possible = self._screen.add(blocks, final) or bool(self._json_doc)
        found = None
        if possible or self._engine is not None:
            engine = self._engine or self._replay()
            for index, text in enumerate(blocks):
                last = final and index == len(blocks) - 1
                found = _merge(found, engine.add(text, last, judge=True))
            self._quiet = 0 if possible else self._quiet + 1
            self._engine = None if self._quiet >= _QUIET_BATCHES else engine
        self._history.extend(blocks)
        return found

    def _replay(self) -> _Engine:
        """An engine brought up to date from the kept history (the window and a sentence
        before it: the same window as if it had run all along, but for sentences over
        `_MAX_UNIT` characters, whose truncated text may differ)."""
        engine = _Engine(self.config, self._metrics, self._json_doc)
        for text in self._history:
            engine.add(text, final=False, judge=False)
        return engine


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
