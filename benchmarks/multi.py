"""Multi-stream rows (DESIGN §9): hedging's tail latency and what a race costs.

Both run the real openai client against `l0 chaos` in another process, scripted over its
control endpoint with a seeded sequence of replies, so each run sees the same faults.

- Hedge: requests whose first token comes after 50-100 ms (a fast model), except 5% that
  stall 5 s before it. p99 time to first token of plain runs against `Hedge(after="p90")`
  runs (its history warmed first, untimed), and the extra requests the hedges cost.
  Requests run 10 at a time, so the stalls overlap and the row takes seconds, not
  minutes, while the client stays far from saturated (at 50 at a time its own queueing
  put the median first token at 200 ms, and the hedge delay with it).
- Race: time to the winner's first token of a race of three equal streams (first token
  after 50 ms) against one stream's, interleaved; the budget is 1.05x the single stream's
  + 2 ms. Against a server that answers at once the row would measure the client's CPU
  for two more requests, not the race.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

import httpx
from openai import AsyncOpenAI

import l0

from ._timing import Row
from .loopback import chaos_server

HEDGE_BUDGET = 0.10  # p99 TTFT hedged / plain: at least 10x lower
EXTRA_REQUESTS_BUDGET = 1.15  # requests / runs: at most 15% extra
RACE_BUDGET = 1.05
RACE_SLACK = 0.002  # seconds
STALL = 5.0
STALL_SHARE = 0.05
CONCURRENCY = 10
MODEL_TTFT = (0.050, 0.100)
MESSAGES: Any = [{"role": "user", "content": "benchmark"}]
TEXT = "a short answer of ten words for the time to first token"


def _replies(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    replies = []
    for _ in range(count):
        stall = STALL if rng.random() < STALL_SHARE else rng.uniform(*MODEL_TTFT)
        replies.append({"text": TEXT, "stall_before_first": stall})
    return replies


async def _script(control: httpx.AsyncClient, replies: list[dict[str, Any]]) -> None:
    await control.post("/_l0/reset")
    response = await control.post("/_l0/script", json={"replies": replies})
    response.raise_for_status()


async def _requests(control: httpx.AsyncClient) -> int:
    return len((await control.get("/_l0/requests")).json())


async def _ttft(client: AsyncOpenAI, hedge: l0.Hedge | None) -> float:
    started = time.monotonic()
    result = await l0.run(
        lambda: client.chat.completions.create(model="bench", messages=MESSAGES, stream=True),
        hedge=hedge,
        timeout=l0.Timeout(initial_token=STALL * 2, inter_token=STALL * 2),
    )
    first = None
    async for event in result:
        if first is None and event.is_token:
            first = time.monotonic() - started
    assert first is not None, result.error
    return first


async def _batch(client: AsyncOpenAI, count: int, hedge: l0.Hedge | None) -> list[float]:
    """`count` runs, `CONCURRENCY` at a time; their times to first token."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> float:
        async with gate:
            return await _ttft(client, hedge)

    return list(await asyncio.gather(*(one() for _ in range(count))))


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def hedge_rows(*, quick: bool) -> list[Row]:
    runs = 200 if quick else 500
    hedge = l0.Hedge(after="p90")
    async with chaos_server(16) as url:
        base = url.removesuffix("/v1")
        async with (
            httpx.AsyncClient(base_url=base) as control,
            AsyncOpenAI(base_url=url, api_key="k", max_retries=0) as client,
        ):
            await _script(control, _replies(runs, seed=1))
            plain = await _batch(client, runs, None)
            await _script(control, _replies(400, seed=2))
            await _batch(client, 200, hedge)  # warm the TTFT history (untimed)
            await _script(control, _replies(runs * 2, seed=1))
            hedged = await _batch(client, runs, hedge)
            sent = await _requests(control)
    plain_p99, hedged_p99 = _p99(plain), _p99(hedged)
    # The table prints seconds as ms: the request counts go in as thousandths.
    return [
        Row("hedge p90: p99 TTFT / unhedged", runs, plain_p99, hedged_p99,
            hedged_p99 / plain_p99, HEDGE_BUDGET),
        Row("hedge p90: requests / runs", runs, runs / 1e3, sent / 1e3, sent / runs,
            EXTRA_REQUESTS_BUDGET),
    ]  # fmt: skip


async def race_row(*, quick: bool) -> Row:
    rounds = 20 if quick else 60
    async with (
        chaos_server(16) as url,
        httpx.AsyncClient(base_url=url.removesuffix("/v1")) as control,
        AsyncOpenAI(base_url=url, api_key="k", max_retries=0) as client,
    ):
        equal = {"text": TEXT, "stall_before_first": MODEL_TTFT[0]}
        response = await control.post("/_l0/script", json={"default": equal})
        response.raise_for_status()

        def factory() -> Any:
            return client.chat.completions.create(model="bench", messages=MESSAGES, stream=True)

        async def single() -> float:
            started = time.monotonic()
            result = await l0.run(factory)
            async for event in result:
                if event.is_token:
                    first = time.monotonic() - started
                    await result.aclose()
                    return first
            raise AssertionError(result.error)

        async def race() -> float:
            started = time.monotonic()
            won = await l0.race([factory, factory, factory])
            assert won.state.first_token_at is not None
            return won.state.first_token_at - started

        singles, races = [], []
        await race()  # open the pool's three connections
        for index in range(rounds):
            order = (single, race) if index % 2 else (race, single)
            for measure in order:
                (singles if measure is single else races).append(await measure())
    one, three = statistics.median(singles), statistics.median(races)
    return Row(
        "race of 3 / single stream: TTFT", 3, one, three, three / one,
        RACE_BUDGET + RACE_SLACK / one,
    )  # fmt: skip


async def rows(*, quick: bool) -> list[Row]:
    return [*await hedge_rows(quick=quick), await race_row(quick=quick)]
