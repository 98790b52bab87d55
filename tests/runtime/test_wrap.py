"""`l0.wrap()`: an AsyncOpenAI client (same request on retry, SDK retries off, non-stream
calls untouched) and a single raw stream; `result.raw()` yields the provider's chunks."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

import l0
from l0 import ErrorCategory, ErrorCode, EventType
from l0.errors import error_type
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, drain, fast_retry, make_client, short_timeout, wait_closed

TEXT = "Hello there world"
REQUEST: dict[str, Any] = {
    "model": "m",
    "messages": MESSAGES,
    "temperature": 0.3,
    "max_tokens": 64,
    "stream_options": {"include_usage": True},
    "user": "u-1",
}


async def test_wrapped_client_returns_a_result(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    wrapped = l0.wrap(client, retry=fast_retry())
    result = await wrapped.chat.completions.create(**REQUEST, stream=True)
    assert isinstance(result, l0.Result)
    events = await drain(result)
    assert result.state.content == TEXT
    assert events[-1].usage == result.state.usage and result.state.usage is not None


async def test_retry_reissues_the_same_request(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(status=503),
        Reply(text=TEXT, reset_after=1),
        Reply(text=TEXT, malformed_after=2),
        Reply(text=TEXT),
    )
    wrapped = l0.wrap(client, retry=fast_retry())
    result = await wrapped.chat.completions.create(**REQUEST, stream=True)
    await drain(result)

    assert result.state.content == TEXT
    bodies = [r.body for r in fault_server.requests]
    assert len(bodies) == 4
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["messages"] == MESSAGES
    assert (bodies[0]["temperature"], bodies[0]["max_tokens"], bodies[0]["user"]) == (
        0.3,
        64,
        "u-1",
    )
    assert bodies[0]["stream"] is True


async def test_sdk_retries_are_forced_off(fault_server: FaultServer) -> None:
    """The server sees exactly the attempts l0 made, even with `max_retries=5` on the client."""
    async with make_client(fault_server, max_retries=5) as client:
        fault_server.default = Reply(status=500)
        wrapped = l0.wrap(client, retry=fast_retry(max_retries=2))
        result = await wrapped.chat.completions.create(**REQUEST, stream=True)
        events = await drain(result)
        assert events[-1].type is EventType.ERROR
        assert len(fault_server.requests) == 3  # 1 try + 2 l0 retries, never 3 * 6
        assert result.state.network_retry_count == 2

        fault_server.reset()
        wrapped = l0.wrap(client, retry=l0.Retry.none())
        result = await wrapped.chat.completions.create(**REQUEST, stream=True)
        await drain(result)
        assert len(fault_server.requests) == 1
        # The caller's client itself is left as configured.
        assert client.max_retries == 5


async def test_non_stream_calls_pass_through(fault_server: FaultServer) -> None:
    async with make_client(fault_server, max_retries=1) as client:
        fault_server.enqueue(Reply(status=500), Reply(text=TEXT))
        wrapped = l0.wrap(client, retry=l0.Retry.none())
        completion = await wrapped.chat.completions.create(model="m", messages=MESSAGES)
        assert isinstance(completion, ChatCompletion)
        assert completion.choices[0].message.content == TEXT
        # The client's own retry policy applied (its max_retries=1), not l0's.
        assert len(fault_server.requests) == 2
        assert [r.stream for r in fault_server.requests] == [False, False]


async def test_other_client_attributes_pass_through(client: Any) -> None:
    wrapped = l0.wrap(client)
    assert wrapped.base_url == client.base_url
    assert wrapped.api_key == "k"
    assert wrapped.models is client.models
    assert wrapped.chat.completions.with_raw_response is not None


async def test_fallback_models(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(status=401), model="m")
    fault_server.enqueue(Reply(text=TEXT), model="m-fb")
    wrapped = l0.wrap(client, retry=fast_retry(), fallback_models=["m-fb"])
    result = await wrapped.chat.completions.create(**REQUEST, stream=True)
    await drain(result)
    assert result.state.content == TEXT
    assert result.state.fallback_index == 1
    first, second = (r.body for r in fault_server.requests)
    assert second == {**first, "model": "m-fb"}


async def test_continuation_prompt_is_sent_on_resume(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply(text="one two three four five six", reset_after=5), Reply(text=" five six")
    )
    wrapped = l0.wrap(
        client,
        retry=fast_retry(),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 2},
        build_continuation_prompt=lambda checkpoint: f"Continue after: {checkpoint}",
    )
    result = await wrapped.chat.completions.create(**REQUEST, stream=True)
    await drain(result)
    assert result.state.content == "one two three four five six"
    first, second = (r.body for r in fault_server.requests)
    assert first["messages"] == MESSAGES
    assert second["messages"] == [
        *MESSAGES,
        {"role": "user", "content": "Continue after: one two three four"},
    ]


async def test_wrap_a_raw_stream(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    result = l0.wrap(stream, timeout=short_timeout())
    events = await drain(result)
    assert result.state.content == TEXT
    assert result.state.finish_reason == "stop"
    assert events[-1].type is EventType.COMPLETE


async def test_wrapped_raw_stream_is_not_retried(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, reset_after=2))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    result = l0.wrap(stream)
    events = await drain(result)
    error = events[-1].error
    assert (error.code, error.category) == (ErrorCode.ALL_STREAMS_EXHAUSTED, ErrorCategory.NETWORK)
    # The reset as the client raised it: wrapped on openai 3, raw on openai 2 (docs/errors.md).
    assert error_type(error.__cause__) == "RemoteProtocolError"
    assert len(fault_server.requests) == 1
    assert result.state.content == "Hello there"
    await wait_closed(fault_server)


async def test_raw_yields_the_provider_chunks(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, reset_after=1), Reply(text=TEXT, usage=True))
    result = await l0.run(
        lambda: client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
        retry=fast_retry(),
    )
    chunks = [chunk async for chunk in result.raw()]
    assert chunks and all(isinstance(c, ChatCompletionChunk) for c in chunks)
    # The retry is there too; the state holds the winning attempt's text only.
    assert len(fault_server.requests) == 2
    assert result.state.content == TEXT
    assert result.state.usage is not None
    assert result.outcome == "success"
    last = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(c.choices[0].delta.content for c in last[-3:]) == TEXT


async def test_raw_and_events_cannot_both_be_consumed(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    wrapped = l0.wrap(client)
    result = await wrapped.chat.completions.create(**REQUEST, stream=True)
    async for _ in result.raw():
        pass
    with pytest.raises(RuntimeError, match="already consumed"):
        aiter(result)
