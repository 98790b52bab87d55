"""Many sessions at once: 1,000 concurrent streams through one openai client (DESIGN §9).

What a service feels is not one stream's per-token cost but what each of its open
sessions costs to set up and to keep: every session is requested at the same moment,
through one `AsyncOpenAI` client, against `l0 chaos` in another process (loopback only).

- **Wall time**: from the burst to the last session's end. Collection is on: the garbage
  collector's work grows with what open sessions keep alive, and a service pays it.
- **p99 time to first token**, counted from the burst, so it includes the event loop's
  queue of sessions still being set up, as a request arriving in a burst sees it.
- **Per open session**: traced memory (kB, `tracemalloc`) and gc-tracked objects, with
  every session holding at its first token, against the same process before the burst.

The variants (bare SDK, core, full stack) take turns round by round, the order reversed
every other round, and a ratio is `_timing.balanced_ratio` of the per-round ratios.
Each run starts after `gc.collect()`, so none pays for the garbage of the one before.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from openai import AsyncOpenAI

import l0

from ._timing import Row, balanced_ratio
from .loopback import MESSAGES, chaos_server
from .stacks import Options, full_stack

SESSIONS = 1_000
TOKENS = 20  # per session: short replies, where setup and what a session keeps weigh most
ROUNDS = 4  # two each way (`_timing.balanced_ratio`); a round of three runs takes ~20 s
WALL_BUDGET = 1.10
TTFT_BUDGET = 1.2
_BATCH = 50  # sessions opened at a time while holding them all open
_PATIENCE = 60.0  # seconds: a run that takes longer is stuck
# A burst of 1,000 can keep the last sessions waiting longer than l0's default 10 s for
# their first token on a busy machine: a timeout and retry there would time the retry.
_PATIENT = l0.Timeout(initial_token=_PATIENCE, inter_token=_PATIENCE)

T = TypeVar("T")
FirstToken = Callable[[], Awaitable[None]]
Variant = Callable[[AsyncOpenAI, FirstToken], Awaitable[None]]
"""One session: awaits its `FirstToken` hook at the first token, then reads to the end."""


async def bare(client: AsyncOpenAI, first: FirstToken) -> None:
    stream = await client.chat.completions.create(model="bench", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    waiting = True
    async for chunk in stream:
        if waiting and chunk.choices and chunk.choices[0].delta.content:
            waiting = False
            await first()


async def _with_l0(client: AsyncOpenAI, first: FirstToken, options: Options) -> None:
    result = await l0.run(
        lambda: client.chat.completions.create(model="bench", messages=MESSAGES, stream=True),  # type: ignore[arg-type]
        timeout=_PATIENT,
        **options,
    )
    waiting = True
    async for event in result:
        if waiting and event.is_token:
            waiting = False
            await first()
    if result.outcome != "success":
        raise RuntimeError(f"a benchmark session failed: {result.error!r}")


async def core(client: AsyncOpenAI, first: FirstToken) -> None:
    await _with_l0(client, first, {})


async def full(client: AsyncOpenAI, first: FirstToken) -> None:
    """Recommended guardrails, drift and continuation (and OTel, once installed)."""
    await _with_l0(client, first, full_stack())


VARIANTS: dict[str, Variant] = {"bare": bare, "core": core, "full": full}
_OTEL = "+OTel"  # `python -m benchmarks` runs this row with OpenTelemetry installed


@dataclass(frozen=True)
class Footprint:
    """What one open session holds: traced kB and gc-tracked objects."""

    kb: float
    objects: float


def pooled_client(url: str, sessions: int) -> AsyncOpenAI:
    """One client whose pool keeps a connection per session between rounds.

    A service keeps its connections to the provider warm; connecting 1,000 sockets at
    once would time the server's accept queue (its backlog is 100) instead of the
    sessions. The openai SDK's own HTTP client (httpx2 on openai 3), only with more
    keep-alive connections, kept longer, and a finite timeout so a stuck run ends.
    """
    import openai

    if hasattr(openai, "DefaultAsyncHttpx2Client"):
        import httpx2 as http

        make = openai.DefaultAsyncHttpx2Client
    else:  # openai 2: httpx
        import httpx as http  # type: ignore[no-redef]

        make = openai.DefaultAsyncHttpxClient  # type: ignore[assignment]
    limits = http.Limits(
        max_connections=sessions, max_keepalive_connections=sessions, keepalive_expiry=600
    )
    return AsyncOpenAI(
        base_url=url,
        api_key="bench",
        max_retries=0,
        http_client=make(limits=limits, timeout=_PATIENCE),  # type: ignore[arg-type]
    )


async def timed(client: AsyncOpenAI, variant: Variant, sessions: int) -> tuple[float, float]:
    """(wall seconds, p99 seconds to first token) of `sessions` started at once."""
    gc.collect()
    firsts: list[float] = []
    start = time.perf_counter()

    async def first() -> None:
        firsts.append(time.perf_counter() - start)

    await asyncio.gather(*(variant(client, first) for _ in range(sessions)))
    return time.perf_counter() - start, p99(firsts)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def footprint(client: AsyncOpenAI, variant: Variant, sessions: int) -> Footprint:
    """Memory and objects per session while all `sessions` hold at their first token."""
    gc.collect()
    before = len(gc.get_objects())
    tracemalloc.start()
    try:

        def measure() -> Footprint:
            gc.collect()
            objects = len(gc.get_objects()) - before
            traced = tracemalloc.get_traced_memory()[0]
            return Footprint(traced / sessions / 1024, objects / sessions)

        return await held_open(client, variant, sessions, measure)
    finally:
        tracemalloc.stop()


async def held_open(
    client: AsyncOpenAI, variant: Variant, sessions: int, measure: Callable[[], T]
) -> T:
    """`measure()` while `sessions` sessions all hold at their first token; then let them
    finish. They start `_BATCH` at a time, each batch once the one before holds, so that
    a cold pool opens its connections at a pace the server accepts."""
    release, reached = asyncio.Event(), asyncio.Event()
    holding = target = 0

    async def first() -> None:
        nonlocal holding
        holding += 1
        if holding == target:
            reached.set()
        await release.wait()

    tasks: list[asyncio.Future[None]] = []
    try:
        for target in range(_BATCH, sessions + _BATCH, _BATCH):
            target = min(target, sessions)
            reached.clear()
            batch = [
                asyncio.ensure_future(variant(client, first)) for _ in range(target - len(tasks))
            ]
            tasks += batch
            await _until(reached, batch)
        return measure()
    finally:
        release.set()
        await asyncio.gather(*tasks)


async def _until(event: asyncio.Event, sessions: list[asyncio.Future[None]]) -> None:
    """Wait for `event`; raise the failure of any session that ended before it."""
    waiter = asyncio.ensure_future(event.wait())
    done, _ = await asyncio.wait(
        {waiter, *sessions}, timeout=_PATIENCE, return_when=asyncio.FIRST_COMPLETED
    )
    waiter.cancel()
    for session in done - {waiter}:
        session.result()
    if waiter not in done:
        raise TimeoutError("benchmark sessions did not reach their first token")


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    footprints: dict[str, Footprint]


async def measure(*, quick: bool = False) -> Report:
    """The rows (wall and p99 TTFT of core and full stack against bare) and footprints."""
    sessions, rounds = (200, 2) if quick else (SESSIONS, ROUNDS)
    names = list(VARIANTS)
    walls: dict[str, list[float]] = {name: [] for name in names}
    ttfts: dict[str, list[float]] = {name: [] for name in names}
    async with chaos_server(TOKENS) as url:
        client = pooled_client(url, sessions)
        await held_open(client, bare, sessions, lambda: None)  # opens the pool's connections
        for name in names:  # warm-up: imports, caches
            await timed(client, VARIANTS[name], _BATCH)
        for index in range(rounds):
            for name in reversed(names) if index % 2 else names:
                wall, ttft = await timed(client, VARIANTS[name], sessions)
                walls[name].append(wall)
                ttfts[name].append(ttft)
        footprints = {name: await footprint(client, VARIANTS[name], sessions) for name in names}
        await client.close()
    rows = [
        Row(
            f"{sessions:,} sessions: {label}{_OTEL} / bare, {what}",
            sessions * TOKENS,
            statistics.median(times["bare"]),
            statistics.median(times[name]),
            balanced_ratio(times["bare"], times[name]),
            budget,
        )
        for name, label, budgets in (
            ("core", "core", (None, None)),
            ("full", "full", (WALL_BUDGET, TTFT_BUDGET)),
        )
        for times, what, budget in ((walls, "wall", budgets[0]), (ttfts, "TTFT p99", budgets[1]))
    ]
    return Report(rows, footprints)
