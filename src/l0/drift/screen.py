"""The screen: a cheap, conservative test of whether any detector may fire on a batch."""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque

from ..guardrails.streamtext import tokens_with_carry
from .engine import Position
from .lexicon import HEDGE_ANY, INFORMAL
from .measures import (
    GRAM,
    NOT_UPPER,
    char_entropy,
    count_hedges,
    count_line_markers,
    emoji_count,
    inline_hint,
    make_up_changed,
    plain_share,
)
from .types import DriftConfig
from .units import Units, cut_units, warm_up
from .window import minus

_Gram = tuple[str, str, str, str]
_LISTED = HEDGE_ANY | INFORMAL
_NONE: frozenset[str] = frozenset()


class Screen:
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
        self._span = config.blocks + warm_up(self.block_size)
        self._units: deque[Units] = deque()
        self._unit_blocks = 0
        self._unit = ""
        self._gram_repeated = False  # a 4-gram repeated since `_unit` began

    @property
    def position(self) -> Position:
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
            count, previous = count_line_markers(previous, text)
            word_total += len(new)
            mark_total += count
            words.append(word_total)
            marks.append(mark_total)
        self._plain += map(plain_share, blocks)
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
        # The listed words of both kinds in one pass (a batch rarely has any).
        listed = _LISTED.intersection(found) if config.hedging or config.tone_shift else _NONE
        if config.hedging and not listed.isdisjoint(HEDGE_ANY):
            hedges = count_hedges(found, self._last[-1:])
        if config.tone_shift:
            if not listed.isdisjoint(INFORMAL):
                informal = sum(map(INFORMAL.__contains__, found))
            informal += text.count("!") + emoji_count(text)
            caps = len(text.encode("utf-8", "surrogatepass").translate(None, NOT_UPPER)) // 3
        stream = self._last + found
        self._last = stream[-(GRAM - 1) :]
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
        (its 4-grams less its distinct ones) are at most those of its batches.

        The grams go straight into the newer generation: how much it grew is how many
        were fresh. Only when one is in the older generation (rare) is a set of the batch
        made to count them."""
        old, new = self._grams
        if old and not old.isdisjoint(_grams(stream)):
            batch = set(_grams(stream))
            fresh = len(batch.difference(new, old))
            new |= batch
        else:
            before = len(new)
            new.update(_grams(stream))
            fresh = len(new) - before
        return max(0, len(stream) - (GRAM - 1)) - fresh

    def _unit_repeats(self, text: str, blocks: int, final: bool, repeats: int) -> bool:
        """Whether a unit ending in the batch may be seen `sentence_repeat_threshold` times
        in a window (units are counted in about the last window and longest unit).

        A unit (4+ words) seen n times repeats its first four words n times. With n >= 3 the
        (n-1)th one lies in the window, so its first 4-gram is still in the 4-gram history
        when the nth arrives: units are only keyed and counted once a 4-gram repeated since
        the first of them began. A first one may begin long before: with n = 2, always."""
        begun, threshold = self._unit, self.config.sentence_repeat_threshold
        batch, self._unit = cut_units(begun + text, blocks, final)
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
        hedges, informal, caps, repeats = minus(self._totals[-1], self._totals[max(0, start)])
        # A window has at least its words - 3 grams; margin: the engine's ratio is 1 - x / y.
        grams = max(30, min_total - (GRAM - 1))
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
        changed = make_up_changed(plain[newest], new_words, total, earlier, newest - start)
        return changed and self._spike(start, newest)

    def _hint(self, index: int) -> bool:
        serial = self._serial + index
        if serial not in self._hints:
            self._hints[serial] = inline_hint(self._texts[index])
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
            self._entropies[serial] = char_entropy(self._texts[index])
        return self._entropies[serial]


def _grams(stream: list[str]) -> zip[_Gram]:
    return zip(stream, stream[1:], stream[2:], stream[3:], strict=False)
