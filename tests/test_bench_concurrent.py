"""The many-sessions row's parts: the variants, timing a burst, holding sessions open."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from benchmarks import concurrent
from benchmarks.concurrent import FirstToken, footprint, held_open, p99, pooled_client, timed

from l0.testing import FaultServer, Reply, prose_chunks


@pytest.mark.parametrize("name", sorted(concurrent.VARIANTS))
async def test_each_variant_streams_a_burst_through_one_client(
    fault_server: FaultServer, name: str
) -> None:
    fault_server.default = Reply(chunks=prose_chunks(concurrent.TOKENS))
    client = pooled_client(fault_server.url, 5)
    wall, ttft = await timed(client, concurrent.VARIANTS[name], 5)
    await client.close()
    assert len(fault_server.requests) == 5
    assert 0 < ttft <= wall


async def test_a_session_holds_at_its_first_token_until_released(
    fault_server: FaultServer,
) -> None:
    fault_server.default = Reply(chunks=prose_chunks(concurrent.TOKENS))
    client = pooled_client(fault_server.url, 3)
    seen = await held_open(client, concurrent.full, 3, lambda: len(fault_server.requests))
    await client.close()
    assert seen == 3


async def test_every_session_holds_when_measured_and_ends_after() -> None:
    holding: list[int] = []
    ended: list[int] = []

    async def session(_: object, first: FirstToken) -> None:
        holding.append(1)
        await first()
        ended.append(1)

    sessions = concurrent._BATCH * 2 + 7  # a partial last batch
    seen = await held_open(None, session, sessions, lambda: (len(holding), len(ended)))  # type: ignore[arg-type]
    assert seen == (sessions, 0)
    assert len(ended) == sessions


async def test_a_session_that_fails_before_its_first_token_fails_the_run() -> None:
    async def session(_: object, first: FirstToken) -> None:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError, match="refused"):
        await held_open(None, session, 3, lambda: None)  # type: ignore[arg-type]


async def test_footprint_counts_what_each_open_session_keeps() -> None:
    async def session(_: object, first: FirstToken) -> None:
        kept = [[index] for index in range(100)]  # 101 gc-tracked lists
        await first()
        del kept

    held = await footprint(None, session, 20)  # type: ignore[arg-type]
    assert held.objects >= 101
    assert held.kb >= 101 * 56 / 1024  # an empty list is 56 bytes on 64-bit CPython
    assert not tracemalloc.is_tracing()


def test_p99_of_a_hundred_values_is_the_ninety_ninth() -> None:
    assert p99([float(v) for v in range(1, 101)]) == pytest.approx(99.01)


def test_the_burst_starts_every_session_before_any_first_token() -> None:
    started: list[int] = []
    firsts: list[int] = []

    async def session(_: object, first: FirstToken) -> None:
        started.append(1)
        await asyncio.sleep(0)
        firsts.append(len(started))
        await first()

    asyncio.run(timed(None, session, 10))  # type: ignore[arg-type]
    assert firsts == [10] * 10
