"""OpenAI streams that reach l0 inside someone else's wrapper are detected by what they
yield: OpenTelemetry's official openai instrumentation, a user's async generator (of the
chunks, or of the chunks as dicts), and a wrapt proxy, all around the real openai client
against the fault server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import openai
import pytest
import wrapt
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import l0
from l0 import ErrorCode, EventType
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, Recorder, drain, fast_retry, tokens

TEXT = "Hello there world"
MODEL = "gpt-x"


def wrapped(client: openai.AsyncOpenAI, wrap: Callable[[Any], Any]) -> Callable[[], Any]:
    """A stream factory: one real streaming request (usage included), wrapped by `wrap`."""

    async def factory() -> Any:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        return wrap(stream)

    return factory


async def relay(stream: Any) -> AsyncIterator[Any]:
    """A user's own async generator re-yielding the chunks."""
    async with stream:
        async for chunk in stream:
            yield chunk


async def relay_dicts(stream: Any) -> AsyncIterator[dict[str, Any]]:
    """The chunks as the JSON on the wire has them (absent fields left out)."""
    async with stream:
        async for chunk in stream:
            yield chunk.model_dump(exclude_unset=True)


class TracingProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """What tracing libraries wrap a stream in: attribute reads pass through to the
    stream, iteration goes through the proxy."""

    def __aiter__(self) -> TracingProxy:
        return self

    async def __anext__(self) -> Any:
        return await self.__wrapped__.__anext__()


@pytest.fixture
def official_instrumentation() -> Iterator[None]:
    """OpenTelemetry's openai instrumentation, on for this test only, with its own SDK
    providers (l0's telemetry is not involved)."""
    tracer_provider = TracerProvider()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=MeterProvider())
    try:
        yield
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()


async def run_wrapped(
    fault_server: FaultServer, client: openai.AsyncOpenAI, wrap: Callable[[Any], Any]
) -> tuple[l0.Result, Recorder, list[Any]]:
    """One session over a wrapped stream: checks everything the chunks carry arrived."""
    fault_server.enqueue(Reply(text=TEXT, usage=True))
    rec = Recorder()
    streams: list[Any] = []

    def keep(stream: Any) -> Any:
        streams.append(wrap(stream))
        return streams[-1]

    result = await l0.run(wrapped(client, keep), on_event=rec)
    events = await drain(result)
    assert tokens(events) == ["Hello", " there", " world"]
    state = result.state
    assert (state.content, state.finish_reason, state.model) == (TEXT, "stop", MODEL)
    assert state.usage is not None and state.usage["output_tokens"] == 3
    assert events[-1].usage == state.usage
    (end,) = rec.of(T.ATTEMPT_END)
    assert (end.provider, end.request_model, end.response_model) == ("openai", MODEL, MODEL)
    return result, rec, streams


async def test_stream_of_the_official_openai_instrumentation(
    official_instrumentation: None, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    _, rec, (stream,) = await run_wrapped(fault_server, client, lambda s: s)
    assert type(stream).__module__.startswith("opentelemetry.instrumentation.openai_v2")
    # The wrapper passes attribute reads through: the request is visible before any chunk.
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.request_model) == ("auto", MODEL)
    assert (ready.server_address, ready.server_port) == ("127.0.0.1", fault_server.port)


async def test_user_async_generator_of_chunks(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    _, rec, _ = await run_wrapped(fault_server, client, relay)
    # A generator tells nothing before its first chunk; the chunks tell the rest.
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.provider, ready.request_model) == ("auto", None, None)


async def test_user_async_generator_of_dict_chunks(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=TEXT, usage=True))
    rec = Recorder()
    result = await l0.run(wrapped(client, relay_dicts), on_event=rec)
    events = await drain(result)
    assert tokens(events) == ["Hello", " there", " world"]
    state = result.state
    assert (state.content, state.finish_reason, state.model) == (TEXT, "stop", MODEL)
    assert state.usage is not None and state.usage["output_tokens"] == 3
    assert state.response_id is not None and state.response_id.startswith("chatcmpl-")
    (end,) = rec.of(T.ATTEMPT_END)
    # Dicts name no package: the provider stays unknown, the model is the chunks'.
    assert (end.provider, end.request_model) == (None, MODEL)


async def test_dict_chunks_carry_tool_calls(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(tool_calls=[("get_weather", '{"city": "Paris"}')]))
    result = await l0.run(wrapped(client, relay_dicts))
    events = await drain(result)
    (call,) = result.state.tool_calls
    assert (call["name"], call["arguments"]) == ("get_weather", '{"city": "Paris"}')
    assert [e.type for e in events] == [EventType.TOOL_CALL, EventType.COMPLETE]
    assert result.state.finish_reason == "tool_calls"


async def test_wrapt_proxy(fault_server: FaultServer, client: openai.AsyncOpenAI) -> None:
    _, rec, (stream,) = await run_wrapped(fault_server, client, TracingProxy)
    assert type(stream) is TracingProxy
    # `__wrapped__` names openai's stream: described as a bare one is, before any chunk.
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.provider, ready.request_model) == ("openai", "openai", MODEL)
    assert (ready.server_address, ready.server_port) == ("127.0.0.1", fault_server.port)


async def test_every_attempt_detects_its_own_stream(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    async def text_then_reset() -> AsyncIterator[str]:
        yield "par"
        raise ConnectionResetError

    fault_server.enqueue(Reply(text=TEXT, usage=True))
    rec = Recorder()
    result = await l0.run(
        text_then_reset,
        fallbacks=[wrapped(client, relay)],
        retry=fast_retry(max_retries=0),
        on_event=rec,
    )
    events = await drain(result)
    assert result.state.content == TEXT
    assert [e.keep for e in events if e.type is EventType.RESET] == [0]
    ends = rec.of(T.ATTEMPT_END)
    assert [(e.provider, e.request_model) for e in ends] == [(None, None), ("openai", MODEL)]


async def test_bare_wrapt_proxy_is_not_a_stream(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    # wrapt's plain ObjectProxy claims the wrapped class, but `async for` cannot use it.
    fault_server.enqueue(Reply(text=TEXT, usage=True))
    calls: list[Any] = []

    def proxy(stream: Any) -> Any:
        calls.append(stream)
        return wrapt.ObjectProxy(stream)

    result = await l0.run(wrapped(client, proxy), retry=fast_retry())
    events = await drain(result)
    error = events[-1].error
    assert error.code is ErrorCode.INVALID_STREAM
    assert "ObjectProxy" in str(error)
    assert len(calls) == 1, "a programming error is not retried"
    await calls[0].close()
