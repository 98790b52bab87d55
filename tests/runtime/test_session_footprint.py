"""What an open session holds (`footprint.held`): a service keeps many open at once, and
every collection walks what they keep. Counted, not timed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk
from tests.runtime.footprint import cycles, held

import l0
from l0.telemetry import facade


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """l0's own objects only: no sink, whatever an earlier test left installed."""
    monkeypatch.setattr(facade.settings, "factories", [])


def _chunk(delta: dict[str, Any]) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
    )


async def _stream() -> AsyncIterator[ChatCompletionChunk]:
    """Chunks made as they are yielded, as an SDK parses them: none is shared."""
    yield _chunk({"role": "assistant", "content": ""})
    for word in ("Hello", " there", " again"):
        yield _chunk({"content": word})


async def _open(**options: Any) -> tuple[l0.Result, AsyncIterator[l0.Event]]:
    """A session at its first token."""
    result = await l0.run(_stream, **options)
    events = result.__aiter__()
    assert (await events.__anext__()).text == "Hello"
    return result, events


async def test_an_open_core_session_holds_few_objects_and_no_chunk_it_has_read() -> None:
    # The provider's generator holds the chunk it yielded last (as it does without l0);
    # the session keeps none of the chunks it has read (the role chunk: 7 objects), no
    # empty tool-call lists and no cursors or guardrail context for checks it does not run.
    first, second = await _open(), await _open()
    assert held(first, second) <= 45  # 41 here; 54 when it kept the role chunk
    for _, events in (first, second):
        await events.aclose()


def _full() -> dict[str, Any]:
    return {
        "guardrails": l0.Guardrails.recommended(),
        "drift": True,
        "continue_from_last_good_token": True,
    }


async def test_an_open_full_stack_session_holds_few_objects() -> None:
    # Guardrails and drift add their engines (tests/guardrails/test_session_footprint.py)
    # and, before a first batch of text, nothing for drift's judging.
    first, second = await _open(**_full()), await _open(**_full())
    assert held(first, second) <= 72  # 67 here; 144 with closures in every rule
    for _, events in (first, second):
        await events.aclose()


@pytest.mark.parametrize("options", [dict, _full], ids=["core", "full stack"])
async def test_a_finished_session_leaves_nothing_to_the_garbage_collector(
    options: Any,
) -> None:
    # Everything a session made is freed by reference counting when it ends: l0 makes no
    # reference cycles (the openai translator's chosen reader was one), which a service
    # would pay for in collections.
    with cycles() as left:
        result = await l0.run(_stream, **options())
        assert await result.read() == "Hello there again"
        del result
    assert left == []
