"""Timeouts: `initial_token` covers the factory call and connection, `inter_token` the gaps
between chunks; a stalled attempt is cut (its connection closed) and retried."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import l0
from l0 import ErrorCategory, ErrorCode, EventType
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import (
    Recorder,
    assert_no_leaked_tasks,
    drain,
    fast_retry,
    opener,
    short_timeout,
    tokens,
    wait_closed,
)

TEXT = "Hello there world"


async def test_initial_token_covers_the_connection(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_before_headers=30))
    rec = Recorder()
    started = time.monotonic()
    result = await l0.run(
        opener(client),
        retry=l0.Retry.none(),
        timeout=short_timeout(0.2, None),
        on_event=rec,
    )
    events = await drain(result)

    assert time.monotonic() - started >= 0.2
    error = events[-1].error
    assert error.code is ErrorCode.ALL_STREAMS_EXHAUSTED  # its only stream timed out
    assert error.__cause__.code is ErrorCode.INITIAL_TOKEN_TIMEOUT
    assert error.category is ErrorCategory.NETWORK
    # The factory never returned: no stream was ever ready.
    assert not rec.of(T.STREAM_READY)
    (triggered,) = rec.of(T.TIMEOUT_TRIGGERED)
    assert triggered.timeout_type == "initial"
    assert triggered.configured_ms == 200 and triggered.elapsed_ms >= 200
    await wait_closed(fault_server)


async def test_initial_token_covers_a_slow_factory() -> None:
    never = asyncio.Event()

    async def factory() -> Any:
        await never.wait()  # e.g. a client still resolving, authenticating, connecting...

    result = await l0.run(factory, retry=l0.Retry.none(), timeout=short_timeout(0.1, None))
    events = await drain(result)
    assert events[-1].error.__cause__.code is ErrorCode.INITIAL_TOKEN_TIMEOUT
    assert_no_leaked_tasks()


async def test_initial_token_timeout_before_first_chunk(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
    rec = Recorder()
    result = await l0.run(
        opener(client), retry=l0.Retry.none(), timeout=short_timeout(0.2, 5.0), on_event=rec
    )
    events = await drain(result)

    assert events[-1].error.__cause__.code is ErrorCode.INITIAL_TOKEN_TIMEOUT
    assert rec.of(T.STREAM_READY), "headers arrived; the wait for the first chunk timed out"
    (triggered,) = rec.of(T.TIMEOUT_TRIGGERED)
    assert (triggered.timeout_type, triggered.configured_ms) == ("initial", 200)
    assert triggered.elapsed_ms >= 200
    await wait_closed(fault_server)


async def test_inter_token_timeout_after_k_chunks(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_after=(2, 30)))
    rec = Recorder()
    result = await l0.run(
        opener(client), retry=l0.Retry.none(), timeout=short_timeout(5.0, 0.2), on_event=rec
    )
    events = await drain(result)

    error = events[-1].error
    assert error.__cause__.code is ErrorCode.INTER_TOKEN_TIMEOUT
    assert tokens(events) == ["Hello", " there"]
    # Nothing was retried, so nothing was discarded: the error carries what was delivered.
    assert result.state.content == "Hello there"
    assert error.token_count == 2
    (triggered,) = rec.of(T.TIMEOUT_TRIGGERED)
    assert (triggered.timeout_type, triggered.configured_ms) == ("inter", 200)
    assert triggered.elapsed_ms >= 200
    await wait_closed(fault_server)


async def test_stalled_attempt_is_cut_and_retried(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_after=(1, 30)), Reply(text=TEXT))
    timeouts: list[tuple[str, int]] = []
    result = await l0.run(
        opener(client),
        retry=fast_retry(),
        timeout=short_timeout(),
        on_timeout=lambda kind, elapsed: timeouts.append((kind, elapsed)),
    )
    events = await drain(result)

    assert result.state.content == TEXT
    assert len(fault_server.requests) == 2
    assert [kind for kind, _ in timeouts] == ["inter"] and timeouts[0][1] >= 200
    assert result.state.network_retry_count == 1
    assert [e.keep for e in events if e.type is EventType.RESET] == [0]
    # The stalled attempt's connection was closed, not left to the server's 30 s stall.
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


async def test_steady_slow_stream_does_not_time_out(fault_server: FaultServer, client: Any) -> None:
    # 0.08 s between chunks stays under a 0.2 s inter-token timeout however long it runs.
    fault_server.enqueue(Reply(chunks=["a", " b", " c", " d", " e"], chunk_delay=0.08))
    result = await l0.run(opener(client), retry=l0.Retry.none(), timeout=short_timeout())
    await drain(result)
    assert result.state.content == "a b c d e"


async def test_slow_consumer_does_not_time_out(fault_server: FaultServer, client: Any) -> None:
    """The timeout measures the provider, never the consumer holding a token."""
    fault_server.enqueue(Reply(text=TEXT))
    result = await l0.run(opener(client), retry=l0.Retry.none(), timeout=short_timeout(0.1, 0.1))
    events = []
    async for event in result:
        events.append(event)
        await asyncio.sleep(0.25)  # the consumer is slow: that is the behaviour under test
    assert events[-1].type is EventType.COMPLETE
    assert result.state.content == TEXT


async def test_disabled_initial_timeout_waits(fault_server: FaultServer, client: Any) -> None:
    """`initial_token=None`: the inter-token timeout does not apply before the first chunk."""
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=0.3))
    result = await l0.run(opener(client), retry=l0.Retry.none(), timeout=short_timeout(None, 0.1))
    await drain(result)
    assert result.state.content == TEXT


async def test_initial_timeout_applies_to_every_attempt(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply(text=TEXT, stall_before_first=30),
        Reply(text=TEXT, stall_before_headers=30),
        Reply(text=TEXT),
    )
    rec = Recorder()
    result = await l0.run(opener(client), retry=fast_retry(), timeout=short_timeout(), on_event=rec)
    await drain(result)
    assert result.state.content == TEXT
    assert [e.timeout_type for e in rec.of(T.TIMEOUT_TRIGGERED)] == ["initial", "initial"]
    assert result.state.network_retry_count == 2
    await wait_closed(fault_server)


async def test_abort_during_a_stall(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
    ready = asyncio.Event()

    def on_event(event: Any) -> None:
        if getattr(event, "type", None) is T.STREAM_READY:
            ready.set()

    aborted: list[tuple[int, int]] = []
    result = await l0.run(
        opener(client),
        timeout=l0.Timeout(initial_token=None, inter_token=None),
        on_event=on_event,
        on_abort=lambda count, length: aborted.append((count, length)),
    )
    consumer = asyncio.create_task(drain(result))
    await ready.wait()  # the session now waits on the stalled provider
    result.abort()
    events = await consumer

    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    assert result.outcome == "aborted"
    assert aborted == [(0, 0)]
    assert len(fault_server.requests) == 1  # an abort is never retried
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


async def test_abort_during_the_factory_call(fault_server: FaultServer) -> None:
    """Aborting while the request is still waiting for headers (stall_before_headers)."""
    import httpx
    import openai

    sent = asyncio.Event()

    async def on_request(request: httpx.Request) -> None:
        sent.set()

    http = httpx.AsyncClient(
        limits=httpx.Limits(max_keepalive_connections=0), event_hooks={"request": [on_request]}
    )
    async with openai.AsyncOpenAI(
        base_url=fault_server.url, api_key="k", max_retries=0, http_client=http
    ) as client:
        fault_server.enqueue(Reply(text=TEXT, stall_before_headers=30))
        result = await l0.run(opener(client), timeout=l0.Timeout(None, None))
        consumer = asyncio.create_task(drain(result))
        await sent.wait()
        result.abort()
        events = await consumer
        assert events[-1].error.code is ErrorCode.STREAM_ABORTED
        await wait_closed(fault_server)


# The watchdog's cancellation is ours to absorb only when it is the only one in flight. These
# pin the three ways that went wrong or could: a second cancellation sent while the provider's
# code was still cleaning up after the first (httpcore closes connections inside anyio's
# shielded checkpoints), an abort sent while a failed attempt was being closed, and an
# outside cancellation arriving on top of a watchdog timeout.


async def test_an_abort_is_sent_once_while_the_provider_cleans_up() -> None:
    waiting = asyncio.Event()

    async def factory() -> Any:
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            # Slow cleanup, as a client closing its connection: the watchdog ticks
            # (every 5 ms here) many times before the cancellation reaches the session.
            await asyncio.sleep(0.05)
            raise

    result = await l0.run(factory, retry=l0.Retry.none(), timeout=short_timeout(10, 0.02))
    consumer = asyncio.create_task(drain(result))
    await waiting.wait()
    result.abort()
    events = await consumer

    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


class _ClosesSlowly:
    """A provider stream that fails at once and whose close waits for `release`."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.release = asyncio.Event()

    def __aiter__(self) -> _ClosesSlowly:
        return self

    async def __anext__(self) -> str:
        raise ConnectionResetError("dropped")

    async def aclose(self) -> None:
        self.closing.set()
        await self.release.wait()


async def test_an_abort_while_a_failed_attempt_closes_is_flagged_not_sent() -> None:
    stream = _ClosesSlowly()
    result = await l0.run(lambda: stream, retry=fast_retry(), timeout=short_timeout(10, 10))
    consumer = asyncio.create_task(drain(result))
    await stream.closing.wait()
    result.abort()
    stream.release.set()
    events = await consumer

    error = events[-1].error
    assert error.code is ErrorCode.STREAM_ABORTED
    assert isinstance(error.__cause__, ConnectionResetError)  # the attempt's own failure
    assert result.outcome == "aborted"
    assert result.state.attempt == 1  # the abort stopped the retry


async def test_an_outside_cancel_on_top_of_a_timeout_propagates() -> None:
    interrupted = asyncio.Event()

    async def factory() -> Any:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            interrupted.set()  # the watchdog's timeout arrived
            await asyncio.Event().wait()  # still cleaning up when the caller cancels

    result = await l0.run(factory, retry=fast_retry(), timeout=short_timeout(0.05, None))
    consumer = asyncio.create_task(drain(result))
    await interrupted.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer


async def test_aborts_at_every_moment_of_a_real_request_end_the_session(
    fault_server: FaultServer, client: Any
) -> None:
    """Aborts landing anywhere in the openai client (connecting, awaiting headers, reading,
    closing) while the watchdog ticks every 5 ms: each session ends with an event, and no
    cancellation reaches the caller."""
    text = "The quick brown fox jumps over the lazy dog while l0 keeps the stream alive."
    delays = [i * 0.0005 for i in range(48)]
    fault_server.enqueue(*(Reply(text=text, chunk_delay=0.001) for _ in delays))

    async def aborted_after(delay: float) -> tuple[str, ErrorCode | None]:
        result = await l0.run(
            opener(client), retry=l0.Retry.none(), timeout=short_timeout(10, 0.02)
        )
        asyncio.get_running_loop().call_later(delay, result.abort)
        events = await drain(result)
        error = events[-1].error
        return result.outcome, error.code if error is not None else None

    for start in range(0, len(delays), 8):
        endings = await asyncio.gather(*(aborted_after(d) for d in delays[start : start + 8]))
        for outcome, code in endings:
            assert (outcome, code) in {("aborted", ErrorCode.STREAM_ABORTED), ("success", None)}
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    # httpcore can keep a connection whose request was cancelled just after connecting
    # (encode/httpcore#1093) in its pool; closing the client must close everything.
    await client.close()
    await wait_closed(fault_server)


async def test_a_timeout_the_provider_turns_into_its_own_error_is_still_a_timeout() -> None:
    async def factory() -> Any:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("connection torn down") from None  # swallows the cancel

    result = await l0.run(factory, retry=l0.Retry.none(), timeout=short_timeout(0.05, None))
    events = await drain(result)

    error = events[-1].error.__cause__  # the attempt's: the session's is ALL_STREAMS_EXHAUSTED
    assert error.code is ErrorCode.INITIAL_TOKEN_TIMEOUT
    assert isinstance(error.__cause__, RuntimeError)
    # The cancellation it swallowed was taken back: the caller's task is not left cancelled.
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
