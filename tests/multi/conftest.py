"""Multi-stream tests: real clients against the fault server.

The client keeps no idle connection, so every connection the fault server still holds is
a stream someone did not close. What races and hedges leave in telemetry is tested in
tests/telemetry/test_multi_spans.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import openai
import pytest

from l0.multi._ttft import history
from l0.testing import FaultServer, Reply
from runtime.conftest import MESSAGES, make_client


@pytest.fixture
async def client(fault_server: FaultServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """A warmed-up client: the SDK's first request in a process does slow one-time work."""
    async with make_client(fault_server) as c:
        fault_server.enqueue(Reply(text="warm up"), model="warmup")
        stream = await c.chat.completions.create(model="warmup", messages=MESSAGES, stream=True)
        async for _ in stream:
            pass
        await fault_server.wait_idle()
        fault_server.reset()
        yield c


@pytest.fixture(autouse=True)
def _fresh_history() -> Iterator[None]:
    """Hedge delays learned by one test must not leak into the next."""
    history.clear()
    yield
    history.clear()


class Opened:
    """Stream factories that remember the streams they opened, and signal when `count`
    of them are open (the server has their requests and is stalling on them)."""

    def __init__(self, client: openai.AsyncOpenAI, count: int) -> None:
        self.client = client
        self.streams: list[Any] = []
        self.count = count
        self.all_open = asyncio.Event()

    def factory(self, model: str) -> Callable[[], Any]:
        async def open_stream() -> Any:
            stream = await self.client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True
            )
            self.streams.append(stream)
            if len(self.streams) >= self.count:
                self.all_open.set()
            return stream

        return open_stream

    def all_closed(self) -> bool:
        return all(stream.response.is_closed for stream in self.streams)


async def closed_in_time(server: FaultServer, timeout: float = 5.0) -> None:
    """Every connection the server accepted is closed: the replies stall for 30 s or more,
    so only a client that hung up closes them within `timeout` (a hang guard, not a
    timing assertion)."""
    try:
        await asyncio.wait_for(server.wait_idle(), timeout)
    except TimeoutError:
        pytest.fail(f"a provider stream was left open after {timeout} s")
