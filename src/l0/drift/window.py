"""The blocks of the sliding window, and the running statistics kept as they come and go."""

from __future__ import annotations

import itertools
import operator
from collections import deque
from dataclasses import dataclass

from .measures import INLINE_MARKER

# Indexes of a block's counts.
WORDS, HEDGES, INFORMAL_N, CAPS_N, LINE_MARKERS = range(5)
NO_COUNTS = (0, 0, 0, 0, 0)


def minus(later: tuple[int, ...], earlier: tuple[int, ...]) -> list[int]:
    """Counts of a run of blocks, from the cumulative counts at its two ends."""
    return list(map(operator.sub, later, earlier))


@dataclass(slots=True)
class Block:
    """Statistics of one fixed block of the window, computed once when it completes."""

    size: int
    entropy: float
    counts: tuple[int, int, int, int, int]  # words, hedges, informal, caps, line markers
    grams: list[int]
    units: list[str]
    prose_outside_json: int
    text: str  # kept (the window is bounded) for the rare detectors that need it
    serial: int = 0  # position in the attempt's sequence of blocks
    cumulative: tuple[int, ...] = NO_COUNTS  # counts of this block and all before it
    inline: int = -1  # inline markdown markers, counted when first needed
    plain: float = 1.0  # share of bytes that are a-z, space or newline (see make_up_changed)

    def inline_markers(self) -> int:
        if self.inline < 0:
            self.inline = len(INLINE_MARKER.findall(self.text))
        return self.inline


class Window:
    """The last `size` blocks, with running statistics kept as blocks come and go.

    Per block, the work is O(block): word 4-grams are counted by the serial of the last
    block holding each one (a gram leaves when that block does), sentences by count, and
    the word/hedge/... counts of any run of blocks are differences of cumulative counts.
    """

    __slots__ = ("_before", "_grams", "_serial", "_units", "blocks", "entropies", "size", "total")

    def __init__(self, size: int) -> None:
        self.size = size
        self.blocks: deque[Block] = deque()
        self.entropies: deque[float] = deque()
        self._serial = 0
        self._before: tuple[int, ...] = NO_COUNTS  # cumulative counts before the window
        self._grams: dict[int, int] = {}  # gram -> serial of the newest block holding it
        self.total = 0  # grams in the window
        self._units: dict[str, int] = {}

    def push(self, block: Block) -> None:
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

    def _drop(self, block: Block) -> None:
        self._before = block.cumulative
        grams, serial = self._grams, block.serial
        for gram in block.grams:
            if grams.get(gram) == serial:  # no newer block holds it
                del grams[gram]
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
            return list(NO_COUNTS), list(NO_COUNTS), list(NO_COUNTS)
        half = len(blocks) // 2
        newest = blocks[-1].cumulative
        old_end = blocks[half - 1].cumulative if half else self._before
        new_start = blocks[len(blocks) - half - 1].cumulative if half else newest
        return (
            minus(old_end, self._before),
            minus(newest, new_start),
            minus(newest, self._before),
        )

    def newer_half(self) -> list[Block]:
        blocks = list(self.blocks)
        return blocks[len(blocks) - len(blocks) // 2 :]

    def gram_stats(self) -> tuple[int, int]:
        """(all 4-grams, distinct 4-grams) in the window."""
        return self.total, len(self._grams)

    def most_repeated_unit(self) -> int:
        return max(self._units.values(), default=0)
