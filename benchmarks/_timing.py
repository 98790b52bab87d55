"""Paired timing of a scenario against its baseline: per-round ratios, order-balanced.

Why not best-of-N: on a shared 2-core VM a single run of either side can be 20-40% slow
(neighbours, steal time), and the ratio of two minima then rests on the two luckiest runs,
which need not come from the same conditions. Timing both sides back to back in each round
and taking the median of those ratios uses every round, and one bad run moves it by one
rank only. The order alternates each round (bare first, then measured first), so neither
side always runs on the caches the other left.

The order still shows: the side timed second runs on the caches the first left, and at 2k
tokens the full stack measured 7.7-7.9x bare in the rounds that timed bare first and
6.7-6.8x in the others (41 rounds each way). The median of all rounds then falls wherever
the middle of those two clusters happens to be, and moved between 5.3 and 8.4 from run to
run. So each order gets its own median, and a row reports their geometric mean
(`balanced_ratio`): both orders weigh the same, and one cluster's spread no longer moves
the result (7.24 in both of two runs where the plain median gave 7.10 and 7.34).

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
MIN_ROUNDS = 8
MAX_ROUNDS = 100


def balanced_ratio(bares: list[float], measures: list[float]) -> float:
    """The geometric mean of the median ratio measured / bare of the rounds that timed bare
    first (even rounds) and of those that timed it second (odd rounds); see the module
    docstring. With a single round there is only the one order."""
    ratios = [m / b for b, m in zip(bares, measures, strict=True)]
    if not ratios:
        raise ValueError("balanced_ratio needs at least one round")
    bare_first, measured_first = ratios[0::2], ratios[1::2]
    if not measured_first:
        return statistics.median(bare_first)
    return math.sqrt(statistics.median(bare_first) * statistics.median(measured_first))


@dataclass(frozen=True)
class Row:
    name: str
    tokens: int
    bare: float  # median seconds
    measured: float  # median seconds
    ratio: float  # per-round ratios measured / bare, order-balanced (`balanced_ratio`)
    budget: float | None  # None: shown for context, DESIGN §9 sets no budget


async def paired(
    bare: Callable[[], Awaitable[object]],
    measured: Callable[[], Awaitable[object]],
    *,
    rounds: int | None = None,
) -> tuple[float, float, float]:
    """(median bare s, median measured s, `balanced_ratio` of the rounds).

    `rounds` defaults to `rounds_for` the first, untimed pair.
    """
    first = await _time(bare) + await _time(measured)  # also warms caches and imports
    if rounds is None:
        rounds = rounds_for(first)
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
    return statistics.median(bares), statistics.median(measures), balanced_ratio(bares, measures)


def rounds_for(seconds: float) -> int:
    """Rounds of a pair taking `seconds` that fill about a second of timing: 8 to 100, and
    even, so that as many rounds time each side first."""
    wanted = math.ceil(_TARGET_SECONDS / seconds)
    return min(MAX_ROUNDS, max(MIN_ROUNDS, wanted + wanted % 2))


Stream = Callable[[], AsyncIterator[object]]
"""A stream that yields every block of tokens: where the other stream may take its turn."""


async def interleaved(bare: Stream, measured: Stream, *, rounds: int) -> tuple[float, float, float]:
    """(median bare s, median measured s, `balanced_ratio`) of `interleaved_rounds`."""
    bares, measures = await interleaved_rounds(bare, measured, rounds=rounds)
    return statistics.median(bares), statistics.median(measures), balanced_ratio(bares, measures)


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
