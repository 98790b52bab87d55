"""Best-of-N timing of a scenario against its baseline, interleaved."""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    tokens: int
    bare: float
    measured: float
    budget: float

    @property
    def ratio(self) -> float:
        return self.measured / self.bare


async def best_of(
    repeats: int, bare: Callable[[], Awaitable[object]], measured: Callable[[], Awaitable[object]]
) -> tuple[float, float]:
    """Best wall time of each, alternating so drift in machine load hits both alike."""
    best_bare = best_measured = float("inf")
    await bare()
    await measured()  # warm caches and imports before timing
    for _ in range(repeats):
        best_bare = min(best_bare, await _time(bare))
        best_measured = min(best_measured, await _time(measured))
    return best_bare, best_measured


async def _time(fn: Callable[[], Awaitable[object]]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        await fn()
        return time.perf_counter() - start
    finally:
        gc.enable()
