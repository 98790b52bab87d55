"""Record sessions through the real openai client against the fault server; compare
what a replay gives with what the live session gave."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest

import l0
from l0.eventlog import encode_event
from l0.eventlog.state import snapshot_state
from l0.testing import FaultServer
from runtime.conftest import make_client

MESSAGES: list[Any] = [{"role": "user", "content": "A secret question about reliability"}]


@pytest.fixture
async def client(fault_server: FaultServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with make_client(fault_server) as c:
        yield c


def opener(client: Any, model: str = "m") -> Callable[[], Any]:
    def factory() -> Any:
        return client.chat.completions.create(model=model, messages=MESSAGES, stream=True)

    return factory


async def consume(result: l0.Result) -> list[dict[str, Any]]:
    """Every event the consumer receives, as comparable records."""
    return [{"type": e.type.value, **encode_event(e)} async for e in result]


def comparable_state(state: l0.State) -> dict[str, Any]:
    """The state a replay must reproduce: everything but wall-clock durations."""
    snapshot = snapshot_state(state)
    del snapshot["duration"], snapshot["time_to_first_token"]
    return {**snapshot, "content": state.content, "checkpoint": state.checkpoint}
