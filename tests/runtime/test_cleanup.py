"""Cleanup: every way out of a session closes the provider stream and leaves no task.

The client keeps no idle connections (see `make_client`), and the server stalls for 30 s
after the tokens the test reads, so a stream left open shows as a connection the server
still holds: `wait_closed` awaits the server's own knowledge that every connection ended.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

import l0
from l0 import ErrorCode, EventType
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import (
    Recorder,
    assert_no_leaked_tasks,
    callbacks_done,
    drain,
    fast_retry,
    opener,
    short_timeout,
    wait_closed,
)

TEXT = "Hello there world again and again"
STALLED = Reply(text=TEXT, stall_after=(2, 30))


def check_aborted(result: l0.Result, rec: Recorder) -> None:
    assert result.outcome == "aborted"
    assert result.state.aborted
    types = rec.types()
    assert T.ABORT_COMPLETED in types
    assert types[-1] is T.SESSION_END
    assert rec.of(T.SESSION_END)[0].outcome == "aborted"
    (summary,) = rec.of(T.SESSION_SUMMARY)
    assert summary.outcome == "aborted"


async def test_break_closes_the_provider_stream(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    rec = Recorder()
    result = await l0.run(opener(client), on_event=rec)
    seen = []
    async for event in result:
        seen.append(event.text)
        if len(seen) == 2:
            break
    # The loop dropped the iterator; the loop's async-generator finalizer closes the session
    # (and with it the provider stream) even though `result` is still referenced here.
    await wait_closed(fault_server)
    assert seen == ["Hello", " there"]
    check_aborted(result, rec)
    assert_no_leaked_tasks()


async def test_async_with_closes_after_break(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    rec = Recorder()
    async with await l0.run(opener(client), on_event=rec) as result:
        async for event in result:
            if event.type is EventType.TOKEN:
                break
    await wait_closed(fault_server)
    check_aborted(result, rec)
    assert_no_leaked_tasks()


async def test_aclose_mid_stream(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    rec = Recorder()
    aborted: list[tuple[int, int]] = []
    result = await l0.run(
        opener(client), on_event=rec, on_abort=lambda n, length: aborted.append((n, length))
    )
    iterator = aiter(result)
    first = await anext(iterator)
    second = await anext(iterator)
    assert (first.text, second.text) == ("Hello", " there")
    await result.aclose()

    await wait_closed(fault_server)
    check_aborted(result, rec)
    assert aborted == [(2, len("Hello there"))]
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)
    assert_no_leaked_tasks()


async def test_aclose_before_iterating_makes_no_request(
    fault_server: FaultServer, client: Any
) -> None:
    result = await l0.run(opener(client))
    await result.aclose()
    assert result.outcome == "aborted"
    assert fault_server.requests == []
    with pytest.raises(RuntimeError, match="already consumed"):
        aiter(result)


async def test_cancelling_the_consumer_mid_stream(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    rec = Recorder()
    got_two = asyncio.Event()
    result = await l0.run(opener(client), on_event=rec)

    async def consume() -> None:
        count = 0
        async for event in result:
            count += event.type is EventType.TOKEN
            if count == 2:
                got_two.set()

    task = asyncio.create_task(consume())
    await got_two.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # a real cancellation propagates; it is not turned into an l0 error

    await wait_closed(fault_server)
    check_aborted(result, rec)
    assert_no_leaked_tasks()


async def test_cancelling_during_a_stall(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
    rec = Recorder()
    ready = asyncio.Event()

    def on_event(event: Any) -> None:
        rec(event)
        if getattr(event, "type", None) is T.STREAM_READY:
            ready.set()

    # A timeout is armed too: the cancellation must not be mistaken for it.
    result = await l0.run(opener(client), timeout=short_timeout(5.0, 5.0), on_event=on_event)
    task = asyncio.create_task(drain(result))
    await ready.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_closed(fault_server)
    check_aborted(result, rec)
    assert not rec.of(T.TIMEOUT_TRIGGERED) and not rec.of(T.RETRY_ATTEMPT)
    assert len(fault_server.requests) == 1
    assert_no_leaked_tasks()


async def test_abort_mid_stream_closes(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    rec = Recorder()
    result = await l0.run(opener(client), on_event=rec)
    events = []
    async for event in result:
        events.append(event)
        if len(events) == 2:
            result.abort()
    assert [e.type for e in events] == [EventType.TOKEN, EventType.TOKEN, EventType.ERROR]
    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    await wait_closed(fault_server)
    check_aborted(result, rec)
    assert_no_leaked_tasks()


async def test_final_error_closes_the_stream(fault_server: FaultServer, client: Any) -> None:
    # Drift fails the healthy stream from l0's side; the server would go on sending.
    fault_server.default = Reply.loop("The cat sat on the mat. ", times=200, chunk_delay=0.001)
    result = await l0.run(opener(client), retry=l0.Retry.none(), drift=True)
    with pytest.raises(l0.L0Error) as caught:
        await result.read()
    assert caught.value.__cause__.code is ErrorCode.DRIFT_DETECTED
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


async def test_failed_attempt_stream_is_closed_before_the_retry(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply.loop("The cat sat on the mat. ", times=200, chunk_delay=0.001),
        Reply(text=TEXT, stall_after=(1, 30)),
    )
    rec = Recorder()
    result = await l0.run(opener(client), retry=fast_retry(), drift=True, on_event=rec)
    iterator = aiter(result)
    while (await anext(iterator)).type is not EventType.RESET:
        pass
    assert (await anext(iterator)).text == "Hello"  # the retry's first token
    # The retry is now streaming (and stalls); the drifting attempt must already be closed,
    # leaving exactly one open connection: the retry's. Closing the retry closes the rest.
    assert len(fault_server.requests) == 2
    handlers = fault_server._handlers  # the server's open connections
    assert len(handlers) == 1
    await result.aclose()
    await wait_closed(fault_server)


async def test_raw_iteration_break_closes(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    result = await l0.run(opener(client))
    async for _chunk in result.raw():
        break
    await wait_closed(fault_server)
    assert result.outcome == "aborted"


async def test_dropped_result_is_closed(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(STALLED)
    result = await l0.run(opener(client))
    iterator = aiter(result)
    await anext(iterator)
    del iterator, result
    gc.collect()
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


async def test_async_callbacks_finish_after_iteration_ends(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    finished: list[str] = []

    async def slow_on_complete(state: Any) -> None:
        await asyncio.sleep(0.05)  # a slow callback: the behaviour under test
        finished.append(state.content)

    result = await l0.run(opener(client), on_complete=slow_on_complete)
    await drain(result)
    await callbacks_done()  # they never hold the session, but run to their end
    assert finished == [TEXT]
    assert_no_leaked_tasks()


LONG_BACKOFF = {"base_delay": 3600.0, "max_delay": 3600.0, "strategy": "fixed"}


async def test_abort_cuts_a_backoff_short(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(status=500), Reply(text=TEXT))
    retrying = asyncio.Event()
    result = await l0.run(
        opener(client),
        retry=fast_retry(**LONG_BACKOFF),
        on_retry=lambda *_: retrying.set(),
    )
    consumer = asyncio.create_task(drain(result))
    await retrying.wait()  # the session is about to sleep for an hour
    result.abort()
    done, _ = await asyncio.wait({consumer}, timeout=10)  # a hang guard, not a timing check
    assert consumer in done, "abort() did not end the backoff"
    events = consumer.result()
    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    assert len(fault_server.requests) == 1, "no attempt after an abort"
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


async def test_abort_from_a_callback_cuts_the_backoff(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(status=500), Reply(text=TEXT))
    holder: list[l0.Result] = []
    result = await l0.run(
        opener(client),
        retry=fast_retry(**LONG_BACKOFF),
        on_retry=lambda *_: holder[0].abort(),
    )
    holder.append(result)
    consumer = asyncio.create_task(drain(result))
    done, _ = await asyncio.wait({consumer}, timeout=2)  # a hang guard, not a timing check
    if consumer not in done:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert consumer in done, "abort() from on_retry did not end the backoff"
    assert consumer.result()[-1].error.code is ErrorCode.STREAM_ABORTED


async def test_abort_before_iterating_makes_no_request(
    fault_server: FaultServer, client: Any
) -> None:
    result = await l0.run(opener(client), retry=fast_retry())
    result.abort()
    events = await drain(result)
    assert [e.type for e in events] == [EventType.ERROR]
    assert events[0].error.code is ErrorCode.STREAM_ABORTED
    assert fault_server.requests == []
    assert result.outcome == "aborted"


async def test_abort_from_a_callback_before_the_wait_stops_at_once(
    fault_server: FaultServer, client: Any
) -> None:
    """abort() on the session's own task cannot cancel it; the session must still stop."""
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
    holder: dict[str, l0.Result] = {}

    def on_event(event: Any) -> None:
        if getattr(event, "type", None) is T.STREAM_READY:
            holder["result"].abort()

    result = holder["result"] = await l0.run(opener(client), on_event=on_event)
    events = await drain(result)
    assert events[-1].is_error
    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
