"""Paired timing of a scenario against its baseline: the median of per-round ratios.

Why not best-of-N: on a shared 2-core VM a single run of either side can be 20-40% slow
(neighbours, steal time), and the ratio of two minima then rests on the two luckiest runs,
which need not come from the same conditions. Timing both sides back to back in each round
and taking the median of those ratios uses every round, and one bad run moves it by one
rank only. The order alternates each round (bare first, then measured first), so neither
side always runs on the caches the other left.

The loopback rows go further (`interleaved`): each stream takes seconds, and the machine's
speed drifts over seconds, so two streams timed one after the other differ by up to 30%
even when they are the same. Both streams are opened at once and pulled in turn, a block
of tokens at a time: whatever slows the machine down slows both alike.
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

# Short runs are noisier, so they get more rounds: enough for about this much timing.
_TARGET_SECONDS = 1.0
MIN_ROUNDS = 7
MAX_ROUNDS = 101


@dataclass(frozen=True)
class Row:
    name: str
    tokens: int
    bare: float  # median seconds
    measured: float  # median seconds
    ratio: float  # median of the per-round ratios measured / bare
    budget: float | None  # None: shown for context, DESIGN §9 sets no budget


async def paired(
    bare: Callable[[], Awaitable[object]],
    measured: Callable[[], Awaitable[object]],
    *,
    rounds: int | None = None,
) -> tuple[float, float, float]:
    """(median bare s, median measured s, median of per-round ratios).

    `rounds` defaults to as many as fill about a second of timing (7 to 101).
    """
    first = await _time(bare) + await _time(measured)  # also warms caches and imports
    if rounds is None:
        wanted = math.ceil(_TARGET_SECONDS / first)
        rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, wanted | 1))  # odd: a true median
    bares, measures = [], []
    for index in range(rounds):
        if index % 2:
            m = await _time(measured)
            b = await _time(bare)
        else:
            b = await _time(bare)
            m = await _time(measured)
        bares.append(b)
        measures.append(m)
    ratio = statistics.median(m / b for b, m in zip(bares, measures, strict=True))
    return statistics.median(bares), statistics.median(measures), ratio


Stream = Callable[[], AsyncIterator[object]]
"""A stream that yields every block of tokens: where the other stream may take its turn."""


async def interleaved(bare: Stream, measured: Stream, *, rounds: int) -> tuple[float, float, float]:
    """(median bare s, median measured s, median of per-round ratios) of `interleaved_rounds`."""
    bares, measures = await interleaved_rounds(bare, measured, rounds=rounds)
    ratio = statistics.median(m / b for b, m in zip(bares, measures, strict=True))
    return statistics.median(bares), statistics.median(measures), ratio


async def interleaved_rounds(
    bare: Stream, measured: Stream, *, rounds: int
) -> tuple[list[float], list[float]]:
    """Seconds per round of each side, the two streams of each round open together and
    pulled in turn, a block at a time (see the module docstring). Each side is charged the
    time of its own pulls only: opening, every block, and the end. The side pulled first
    alternates from round to round."""
    await _pulled_in_turn(bare, measured, measured_first=False)  # warm-up
    bares, measures = [], []
    for index in range(rounds):
        b, m = await _pulled_in_turn(bare, measured, measured_first=index % 2 == 1)
        bares.append(b)
        measures.append(m)
    return bares, measures


async def _pulled_in_turn(bare: Stream, measured: Stream, *, measured_first: bool) -> list[float]:
    streams = [bare(), measured()]
    order = [1, 0] if measured_first else [0, 1]
    spent = [0.0, 0.0]
    with _no_collection():
        while order:
            for side in list(order):
                start = time.perf_counter()
                try:
                    await anext(streams[side])
                except StopAsyncIteration:
                    order.remove(side)
                spent[side] += time.perf_counter() - start
    return spent


async def _time(fn: Callable[[], Awaitable[object]]) -> float:
    with _no_collection():
        start = time.perf_counter()
        await fn()
        return time.perf_counter() - start


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    # No collection inside a timed run; due ones happen between runs, untimed. Not
    # `gc.collect()` before each run: it walks the whole heap and evicts the chunks from
    # the CPU caches, and a 2k-token bare run (0.6 ms) then took 1.1 ms (measured).
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
