"""The stream contract (DESIGN §2): ordering, exactly one terminal event, the in-band retry
boundary (RESET with `keep`) that lets a consumer rebuild `state.content`, `read()`, and the
fields of `result.state`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import l0
from l0 import ErrorCode, EventType, L0Error
from l0 import ObservabilityEventType as T
from l0.guardrails import custom_pattern_rule
from l0.testing import FaultServer, Reply

from .conftest import (
    Recorder,
    check_contract,
    drain,
    fast_retry,
    opener,
    rebuild,
    short_timeout,
    tokens,
)

TEXT = "Hello there world"
SIX = "one two three four five six"


# -- the retry boundary ----------------------------------------------------------------


async def test_reset_without_continuation_drops_everything(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=SIX, reset_after=4), Reply(text=TEXT))
    result = await l0.run(opener(client), retry=fast_retry())
    events = await drain(result)
    assert [e.type for e in events] == [EventType.TOKEN] * 4 + [EventType.RESET] + [
        EventType.TOKEN
    ] * 3 + [EventType.COMPLETE]
    reset = events[4]
    assert reset.keep == 0 and reset.is_reset
    assert rebuild(events) == result.state.content == TEXT
    assert result.state.token_count == 3


async def test_reset_with_continuation_keeps_the_checkpoint(
    fault_server: FaultServer, client: Any
) -> None:
    # Checkpoints every 2 tokens: "one two three four" survives; the retry repeats " four",
    # which the overlap removal drops.
    fault_server.enqueue(Reply(text=SIX, reset_after=5), Reply(text=" four five six"))
    rec = Recorder()
    result = await l0.run(
        opener(client),
        retry=fast_retry(),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 2},
        on_event=rec,
    )
    events = await drain(result)
    resets = [e for e in events if e.type is EventType.RESET]
    assert [e.keep for e in resets] == [len("one two three four")]
    assert result.state.content == SIX
    assert rebuild(events) == SIX
    assert "four four" not in rebuild(events)
    assert result.state.resumed and result.state.resume_point == "one two three four"
    (resume,) = rec.of(T.RESUME_START)
    assert resume.checkpoint_length == len("one two three four")
    (resume_end,) = rec.of(T.RESUME_END)
    assert resume_end.success and resume_end.overlap_removed == len(" four")


async def test_continuation_without_a_checkpoint_resets_to_zero(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=SIX, reset_after=1), Reply(text=TEXT))
    result = await l0.run(opener(client), retry=fast_retry(), continue_from_last_good_token=True)
    events = await drain(result)
    assert [e.keep for e in events if e.type is EventType.RESET] == [0]
    assert result.state.content == TEXT


async def test_no_reset_when_nothing_was_delivered(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(status=503), Reply(text=TEXT, stall_before_first=30), Reply(text=TEXT)
    )
    result = await l0.run(opener(client), retry=fast_retry(), timeout=short_timeout())
    events = await drain(result)
    assert not [e for e in events if e.type is EventType.RESET]
    assert tokens(events) == ["Hello", " there", " world"]


async def test_many_boundaries_rebuild_exactly(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(text=SIX, reset_after=3),
        Reply(text=SIX, malformed_after=5),
        Reply(text=SIX, error_after=2),
        Reply(text=SIX, stall_after=(4, 30)),
        model="m",
    )
    fault_server.enqueue(Reply(text=SIX, reset_after=1), Reply(text=TEXT), model="m-fb")
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fb")],
        retry=fast_retry(attempts=3, max_retries=3),
        timeout=short_timeout(),
    )
    events = await drain(result)
    assert len([e for e in events if e.type is EventType.RESET]) == 5
    assert rebuild(events) == result.state.content == TEXT
    assert result.state.fallback_index == 1


async def test_ui_rebuild_with_continuation_across_many_boundaries(
    fault_server: FaultServer, client: Any
) -> None:
    def span(first: int, last: int) -> str:
        return " ".join(f"w{i}" for i in range(first, last + 1))

    words = span(0, 29)
    fault_server.enqueue(
        Reply(text=words, reset_after=7),  # checkpoint after w5 (every 3 tokens)
        Reply(text=" " + span(5, 20), reset_after=10),  # repeats w5; checkpoint after w12
        Reply(text=" " + span(12, 29)),  # repeats w12
    )
    result = await l0.run(
        opener(client),
        retry=fast_retry(),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 3},
    )
    events = await drain(result)
    keeps = [e.keep for e in events if e.type is EventType.RESET]
    assert keeps == [len(span(0, 5)), len(span(0, 12))]
    assert result.state.content == words
    assert rebuild(events) == words


async def test_failed_check_leaves_content_the_consumer_can_rebuild(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text="all fine then forbidden words"))
    result = await l0.run(
        opener(client),
        retry=l0.Retry.none(),
        guardrails=[custom_pattern_rule(["forbidden"], recoverable=False)],
        check_intervals={"guardrails": 1},
    )
    events = [e async for e in result]
    assert events[-1].error.code is ErrorCode.FATAL_GUARDRAIL_VIOLATION
    assert rebuild(events) == result.state.content


# -- terminal events and ordering ------------------------------------------------------


async def test_order_tokens_then_tool_calls_then_complete(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply(text="Checking", tool_calls=[("a", '{"x": 1}'), ("b", "{}")], usage=True)
    )
    result = await l0.run(opener(client))
    events = await drain(result)
    kinds = [e.type for e in events]
    assert kinds == [EventType.TOKEN, EventType.TOOL_CALL, EventType.TOOL_CALL, EventType.COMPLETE]
    assert [e.data["name"] for e in events[1:3]] == ["a", "b"]
    assert [c["arguments"] for c in result.state.tool_calls] == ['{"x": 1}', "{}"]


async def test_error_is_the_only_terminal_event(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(text=TEXT, reset_after=2)
    result = await l0.run(opener(client), retry=fast_retry(max_retries=2))
    events = await drain(result)
    assert events[-1].is_error and not any(e.is_complete for e in events)
    # The last attempt's tokens stay: nothing follows that could replace them.
    assert result.state.content == "Hello there"
    assert result.error is events[-1].error
    assert result.outcome == "error"


async def test_abort_yields_one_error_event_last(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=SIX))
    result = await l0.run(opener(client))
    events = []
    async for event in result:
        events.append(event)
        if event.is_token:
            result.abort()
            result.abort()  # idempotent
    check_contract(result, events)
    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    assert tokens(events) == ["one"]


async def test_iterating_after_the_end_yields_nothing(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    result = await l0.run(opener(client))
    iterator = aiter(result)
    events = [e async for e in iterator]
    check_contract(result, events)
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)


async def test_a_result_is_consumed_once(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    result = await l0.run(opener(client))
    await drain(result)
    with pytest.raises(RuntimeError, match="already consumed"):
        await result.read()
    with pytest.raises(RuntimeError, match="already consumed"):
        aiter(result)


# -- read() ----------------------------------------------------------------------------


async def test_read_returns_state_content(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=SIX, reset_after=3), Reply(text=TEXT))
    result = await l0.run(opener(client), retry=fast_retry())
    text = await result.read()
    assert text == result.state.content == TEXT


async def test_read_raises_the_l0_error(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(status=429, retry_after_ms=1)
    result = await l0.run(opener(client), retry=fast_retry(max_retries=1))
    with pytest.raises(L0Error) as caught:
        await result.read()
    error = caught.value
    assert error is result.error
    assert error.status_code == 429 and error.network_retry_count == 1
    assert error.__cause__ is not None and type(error.__cause__).__name__ == "RateLimitError"


async def test_concurrent_sessions_are_independent(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(text="alpha beta", reset_after=1), Reply(text="alpha beta"), model="a"
    )
    fault_server.enqueue(Reply(text="gamma delta"), model="b")
    first = await l0.run(opener(client, "a"), retry=fast_retry())
    second = await l0.run(opener(client, "b"), retry=fast_retry())
    texts = await asyncio.gather(first.read(), second.read())
    assert texts == ["alpha beta", "gamma delta"]
    assert first.session_id != second.session_id


# -- result.state ----------------------------------------------------------------------


async def test_state_fields_after_retry_and_fallback(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=SIX, malformed_after=2), Reply(status=403), model="m")
    fault_server.enqueue(
        Reply(text=SIX, reset_after=1),
        Reply(text=TEXT, usage=True, tool_calls=[("lookup", '{"q": "x"}')]),
        model="m-fb",
    )
    result = await l0.run(
        opener(client, "m"), fallbacks=[opener(client, "m-fb")], retry=fast_retry()
    )
    events = await drain(result)
    state = result.state
    assert state.content == TEXT
    assert state.token_count == 3
    assert state.fallback_index == 1
    assert (state.model_retry_count, state.network_retry_count) == (1, 1)
    assert state.retry_count == 2
    assert state.attempt == 4
    assert state.completed and not state.aborted
    assert state.duration is not None and state.duration > 0
    assert state.time_to_first_token is not None
    assert 0 < state.time_to_first_token <= state.duration
    assert state.usage is not None and state.usage["output_tokens"] > 0
    assert events[-1].usage == state.usage
    assert state.finish_reason == "tool_calls"
    assert state.tool_calls == [
        {"id": state.tool_calls[0]["id"], "name": "lookup", "arguments": '{"q": "x"}'}
    ]
    assert state.model == "m-fb"
    assert state.response_id is not None
    assert state.content_length == len(TEXT)
    assert state.checkpoint == ""


async def test_state_while_streaming(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=SIX))
    result = await l0.run(opener(client))
    seen = []
    async for event in result:
        if event.is_token:
            seen.append((result.state.content, result.state.token_count))
            assert not result.state.completed
    assert seen[0] == ("one", 1)
    assert seen[-1] == (SIX, 6)
    assert result.outcome == "success"


async def test_final_error_carries_the_checkpoint(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(text=SIX, reset_after=5)
    result = await l0.run(
        opener(client),
        retry=fast_retry(max_retries=1),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 2},
    )
    events = await drain(result)
    error = events[-1].error
    assert error.has_checkpoint
    assert error.checkpoint == result.state.checkpoint == "one two three four"
    assert result.state.content.startswith(error.checkpoint)
    assert error.token_count == result.state.token_count
