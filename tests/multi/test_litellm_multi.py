"""Race and hedge over the real `litellm.acompletion` (aiohttp) against the fault server."""

from __future__ import annotations

import asyncio

import litellm
import pytest

import l0
from l0.testing import FaultServer, Reply
from runtime.conftest import assert_no_leaked_tasks
from runtime.test_litellm import lopener


async def losers_closed(server: FaultServer, *models: str) -> None:
    """The losers' connections are closed (litellm's aiohttp pool may keep the winner's
    connection alive, so the server is not idle). Their replies stall for 30 s: a hang
    guard, not a timing assertion."""
    requests = [r for r in server.requests if r.model in models]
    assert len(requests) == len(models)
    for request in requests:
        await asyncio.wait_for(server.wait_closed(request), 5.0)


STALL = 30.0


async def _warm_up() -> None:
    async with FaultServer() as server:
        stream = await lopener(server)()
        async for _ in stream:
            pass


@pytest.fixture(scope="module", autouse=True)
def _warm_litellm() -> None:
    """litellm's first call spends about a second setting up."""
    litellm.suppress_debug_info = True
    asyncio.run(_warm_up())


async def test_race_through_litellm_closes_the_losers(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text="slow", stall_before_first=STALL), model="a")
    fault_server.enqueue(Reply(text="litellm wins"), model="b")
    fault_server.enqueue(Reply(text="never", stall_before_headers=STALL), model="c")

    result = await l0.race([lopener(fault_server, m) for m in "abc"])

    assert (result.winner_index, result.content) == (1, "litellm wins")
    await losers_closed(fault_server, "a", "c")
    assert_no_leaked_tasks()


async def test_hedge_through_litellm(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text="stalled", stall_before_first=STALL), model="m")
    fault_server.enqueue(Reply(text="hedged by litellm"), model="f")
    result = await l0.run(
        lopener(fault_server, "m"),
        fallbacks=[lopener(fault_server, "f")],
        hedge=l0.Hedge(after=0.01),
    )

    assert await result.read() == "hedged by litellm"
    assert [r.model for r in fault_server.requests] == ["m", "f"]
    await losers_closed(fault_server, "m")
    assert_no_leaked_tasks()
