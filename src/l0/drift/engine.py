"""The exact detectors: each block measured into the window and every detector judged."""

from __future__ import annotations

import itertools

from ..guardrails.streamtext import UnitSplitter, tokens_with_carry, unit_key
from .lexicon import INFORMAL, JSON_WORDS
from .measures import (
    CAPS,
    GRAM,
    PROSE_WORD,
    QUOTE_OR_BACKSLASH,
    char_entropy,
    confidence,
    count_hedges,
    count_line_markers,
    emoji_count,
    make_up_changed,
    plain_share,
)
from .types import DriftConfig
from .window import CAPS_N, HEDGES, INFORMAL_N, LINE_MARKERS, WORDS, Block, Window

# A position in the stream, as blocks are measured from it: the word carried into the next
# block, the last three words, the last character and the unit in progress (first chars).
Position = tuple[str, tuple[str, ...], str, str]
START: Position = ("", (), "\n", "")


class Engine:
    """The exact detectors: blocks measured one by one into a `Window`, each judged as it
    completes. Run when the screen (`Screen`) cannot rule drift out, or for JSON output."""

    def __init__(
        self,
        config: DriftConfig,
        metrics: dict[str, float],
        json_doc: bool | None,
        start: Position = START,
    ):
        self.config = config
        self.metrics = metrics
        self.json_doc = json_doc
        self.block_size = config.window // config.blocks
        self.window = Window(config.blocks)
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

    def _measure(self, text: str, final: bool) -> Block:
        found, self._word_carry = tokens_with_carry(self._word_carry + text, final)
        units = [k for _, u in self._split_units(text, final) if (k := unit_key(u, 4)) is not None]
        counts = (
            len(found),
            count_hedges(found, self._last_words[-1:]),
            sum(map(INFORMAL.__contains__, found)) + text.count("!") + emoji_count(text),
            len(CAPS.findall(text)),
            self._line_markers(text),
        )
        return Block(
            size=len(text),
            entropy=char_entropy(text) if self.config.entropy else 0.0,
            counts=counts,
            grams=self._grams_of(found),
            units=units,
            prose_outside_json=self._prose_outside_json(text),
            text=text,
            plain=plain_share(text),
        )

    def _line_markers(self, text: str) -> int:
        count, self._prev_char = count_line_markers(self._prev_char, text)
        return count

    def _grams_of(self, found: list[str]) -> list[int]:
        """Hashes of the word 4-grams ending in this block (earlier words carried over)."""
        stream = self._last_words + found
        self._last_words = stream[-(GRAM - 1) :]
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
        for match in QUOTE_OR_BACKSLASH.finditer(text):
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
        prose = PROSE_WORD.findall(" ".join(outside))
        return sum(len(word) for word in prose if word.lower() not in JSON_WORDS)

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
        scores = [confidence(ratio, config.repetition_threshold)] if loops else []
        if repeats >= config.sentence_repeat_threshold:
            scores.append(confidence(repeats, config.sentence_repeat_threshold))
        return max(scores)

    def _tone_shift(self, old: list[int], new: list[int]) -> float | None:
        if len(self.window.blocks) < 4 or min(old[WORDS], new[WORDS]) < 30:
            return None
        informal = new[INFORMAL_N] / new[WORDS] - old[INFORMAL_N] / old[WORDS]
        caps = new[CAPS_N] / new[WORDS] - old[CAPS_N] / old[WORDS]
        shift = max(abs(informal), abs(caps) / 2)
        self.metrics["tone_shift"] = shift
        threshold = self.config.tone_shift_threshold
        return confidence(shift, threshold) if shift >= threshold else None

    def _hedging(self, totals: list[int]) -> float | None:
        if totals[WORDS] < 50:
            return None
        density = totals[HEDGES] / totals[WORDS]
        self.metrics["hedging"] = density
        threshold = self.config.hedging_threshold
        return confidence(density, threshold) if density >= threshold else None

    def _entropy_spike(self) -> float | None:
        blocks = self.window.blocks
        newest = blocks[-1]
        if len(blocks) < 4 or newest.size < self.block_size // 2:
            return None
        earlier = list(itertools.islice(blocks, len(blocks) - 1))
        plain = sum(block.plain for block in earlier)
        words = sum(block.counts[WORDS] for block in earlier)
        if not make_up_changed(newest.plain, newest.counts[WORDS], plain, words, len(earlier)):
            return None
        entropies = self.window.entropies
        baseline = (sum(entropies) - newest.entropy) / (len(entropies) - 1)
        change = newest.entropy - baseline
        self.metrics["entropy.newest"] = newest.entropy
        self.metrics["entropy.baseline"] = baseline
        self.metrics["entropy.change"] = change
        threshold = self.config.entropy_threshold
        return confidence(abs(change), threshold) if abs(change) >= threshold else None

    def _collapse(self, old: list[int], new: list[int]) -> float | None:
        if len(self.window.blocks) < 4:
            return None
        older, newer = old[LINE_MARKERS], new[LINE_MARKERS]
        self.metrics["markdown.older_markers"] = float(older)
        self.metrics["markdown.newer_markers"] = float(newer)
        if older < self.config.markdown_min_markers or newer:
            return None
        inline = sum(block.inline_markers() for block in self.window.newer_half())
        self.metrics["markdown.newer_inline_markers"] = float(inline)
        return confidence(inline, 2) if inline >= 2 else None

    def _format_drift(self) -> float | None:
        if not self.json_doc:
            return None
        prose = self.window.blocks[-1].prose_outside_json
        self.metrics["format_drift.prose_chars"] = float(prose)
        threshold = self.config.format_drift_threshold
        return confidence(prose, threshold) if prose >= threshold else None


def _put(found: dict[str, float], name: str, confidence: float | None) -> None:
    if confidence is not None:
        found[name] = confidence
