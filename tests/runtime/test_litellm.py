"""l0 over the real `litellm.acompletion(model="openai/<m>", api_base=..., stream=True)`.

litellm reads the fault server through aiohttp and wraps the stream in its
`CustomStreamWrapper`; status errors arrive as litellm's own exception classes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import litellm
import pytest
from litellm.types.utils import ModelResponseStream

import l0
from l0 import ErrorCategory, ErrorCode, EventType
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, Recorder, drain, fast_retry, short_timeout, tokens, wait_closed

TEXT = "Hello there world"


litellm.suppress_debug_info = True


def lopener(server: FaultServer, model: str = "m", **kwargs: Any) -> Callable[[], Any]:
    def factory() -> Any:
        return litellm.acompletion(
            model=f"openai/{model}",
            api_base=server.url,
            api_key="k",
            messages=MESSAGES,
            stream=True,
            max_retries=0,  # litellm's openai client retries on its own otherwise
            **kwargs,
        )

    return factory


async def _warm_up() -> None:
    async with FaultServer() as server:
        stream = await lopener(server)()
        async for _ in stream:
            pass


@pytest.fixture(scope="module", autouse=True)
def _warm_litellm() -> None:
    """litellm's first call spends about a second setting up; keep it out of the timeouts."""
    asyncio.run(_warm_up())


async def test_stream_through_litellm(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    rec = Recorder()
    result = await l0.run(lopener(fault_server, "gpt-lite"), on_event=rec)
    events = await drain(result)
    assert tokens(events) == ["Hello", " there", " world"]
    state = result.state
    assert state.content == TEXT
    assert (state.finish_reason, state.model) == ("stop", "gpt-lite")
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.provider, ready.request_model) == ("litellm", "openai", "gpt-lite")
    assert (ready.server_address, ready.server_port) == ("127.0.0.1", fault_server.port)
    (end,) = rec.of(T.ATTEMPT_END)
    assert (end.provider, end.request_model) == ("openai", "gpt-lite")


async def test_litellm_chunks_from_a_user_generator(fault_server: FaultServer) -> None:
    """Detected by the chunks: the provider is the one litellm notes on each of them."""

    async def relay() -> AsyncIterator[Any]:
        stream = await lopener(fault_server, "gpt-lite", stream_options={"include_usage": True})()
        async for chunk in stream:
            yield chunk

    fault_server.enqueue(Reply(text=TEXT, usage=True))
    rec = Recorder()
    result = await l0.run(relay, on_event=rec)
    events = await drain(result)
    assert tokens(events) == ["Hello", " there", " world"]
    state = result.state
    assert (state.content, state.finish_reason, state.model) == (TEXT, "stop", "gpt-lite")
    assert state.usage is not None and state.usage["output_tokens"] == 3
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.provider, ready.request_model) == ("auto", None, None)
    (end,) = rec.of(T.ATTEMPT_END)
    assert (end.provider, end.request_model) == ("openai", "gpt-lite")


async def test_rate_limit_is_retried(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(status=429, retry_after=0.05), Reply(text=TEXT))
    errors: list[BaseException] = []
    result = await l0.run(
        lopener(fault_server),
        retry=fast_retry(),
        on_error=lambda error, *_: errors.append(error),
    )
    await drain(result)
    assert result.state.content == TEXT
    assert len(fault_server.requests) == 2
    assert [type(e) for e in errors] == [litellm.RateLimitError]
    assert result.state.network_retry_count == 1


async def test_rate_limit_honours_retry_after(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(status=429, retry_after=0.05), Reply(text=TEXT))
    rec = Recorder()
    result = await l0.run(lopener(fault_server), retry=fast_retry(), on_event=rec)
    await drain(result)
    (retry,) = rec.of(T.RETRY_ATTEMPT)
    assert (retry.retry_after_ms, retry.delay_ms, retry.counts_toward_limit) == (50, 50, False)


async def test_mid_stream_reset_is_retried(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT, reset_after=2), Reply(text=TEXT))
    result = await l0.run(lopener(fault_server), retry=fast_retry())
    events = await drain(result)
    assert result.state.content == TEXT
    assert [e.keep for e in events if e.type is EventType.RESET] == [0]
    assert result.state.network_retry_count == 1


async def test_mid_stream_reset_is_a_network_error(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT, reset_after=2), Reply(text=TEXT))
    rec = Recorder()
    result = await l0.run(lopener(fault_server), retry=fast_retry(), on_event=rec)
    await drain(result)
    (error,) = rec.of(T.ERROR)
    assert error.category == "network"
    assert error.reason != "http_500"


@pytest.mark.parametrize(
    "fault",
    [
        Reply(text=TEXT, error_after=1),
        Reply(empty=True),
        Reply(text=TEXT, stall_before_first=30),
        Reply(text=TEXT, stall_after=(1, 30)),
        Reply(status=503),
    ],
    ids=["in_band_error", "empty", "stall_before_first", "stall_after", "http_503"],
)
async def test_faults_are_retried(fault_server: FaultServer, fault: Reply) -> None:
    fault_server.enqueue(fault, Reply(text=TEXT))
    result = await l0.run(lopener(fault_server), retry=fast_retry(), timeout=short_timeout())
    await drain(result)
    assert result.state.content == TEXT
    assert len(fault_server.requests) == 2
    assert result.state.network_retry_count == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Reply(status=401), "http_401"),
        (Reply(status=403), "http_403"),
        (Reply(status=400, error_code="context_length_exceeded"), "context_length"),
    ],
    ids=["401", "403", "context_length"],
)
async def test_not_retried_but_falls_back(
    fault_server: FaultServer, fault: Reply, reason: str
) -> None:
    fault_server.enqueue(fault, model="m")
    fault_server.enqueue(Reply(text=TEXT), model="fb")
    rec = Recorder()
    result = await l0.run(
        lopener(fault_server, "m"),
        fallbacks=[lopener(fault_server, "fb")],
        retry=fast_retry(),
        on_event=rec,
    )
    await drain(result)
    assert [r.model for r in fault_server.requests] == ["m", "fb"]
    assert not rec.of(T.RETRY_ATTEMPT)
    (fallback,) = rec.of(T.FALLBACK_START)
    assert fallback.reason == reason
    assert result.state.content == TEXT


async def test_exhausted_gives_a_typed_error(fault_server: FaultServer) -> None:
    fault_server.default = Reply(status=503)
    result = await l0.run(lopener(fault_server), retry=fast_retry(max_retries=2))
    events = await drain(result)
    error = events[-1].error
    assert error.code is ErrorCode.ALL_STREAMS_EXHAUSTED
    assert error.category is ErrorCategory.TRANSIENT
    assert error.status_code == 503
    assert isinstance(error.__cause__, litellm.ServiceUnavailableError)
    assert error.network_retry_count == 2
    assert len(fault_server.requests) == 3


async def test_tool_calls(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(tool_calls=[("get_weather", '{"city": "Paris"}')]))
    result = await l0.run(lopener(fault_server))
    events = await drain(result)
    (call,) = result.state.tool_calls
    assert (call["name"], call["arguments"]) == ("get_weather", '{"city": "Paris"}')
    assert [e.type for e in events] == [EventType.TOOL_CALL, EventType.COMPLETE]
    assert result.state.finish_reason == "tool_calls"


async def test_usage_chunk(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT, usage=True))
    result = await l0.run(lopener(fault_server, stream_options={"include_usage": True}))
    events = await drain(result)
    assert result.state.usage is not None
    assert result.state.usage["output_tokens"] == 3
    assert events[-1].usage == result.state.usage


async def test_raw_yields_litellm_chunks(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    result = await l0.run(lopener(fault_server))
    chunks = [chunk async for chunk in result.raw()]
    assert chunks and all(isinstance(c, ModelResponseStream) for c in chunks)
    assert result.state.content == TEXT


async def test_break_closes_the_litellm_stream(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_after=(1, 30)))
    result = await l0.run(lopener(fault_server))
    async for _event in result:
        break
    await wait_closed(fault_server)
    assert result.outcome == "aborted"
