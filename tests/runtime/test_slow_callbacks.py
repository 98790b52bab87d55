"""Callbacks never hold the caller (issue 18, part 6).

A slow async callback here is one blocked on an event that only the test sets, after the
session has returned: a session that waited for it could not return at all. The outer
bound (`returns`) is generous; it only turns such a hang into a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import pytest

import l0
from l0 import EventType, L0Error
from l0.testing import FaultServer, Reply

from .conftest import (
    assert_no_leaked_tasks,
    callbacks_done,
    fast_retry,
    make_client,
    opener,
    wait_closed,
)

TEXT = "Hello there world"
NO_TIMEOUT = l0.Timeout(initial_token=None, inter_token=None)


class Slow:
    """An async callback that stays busy until the test releases it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = 0
        self.cancelled = 0

    async def __call__(self, *args: Any) -> None:
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.finished += 1


async def returns(awaitable: Awaitable[Any], bound: float = 10.0) -> asyncio.Task[Any]:
    """Run `awaitable` to its end (result or exception); fail if it is still held after
    `bound` seconds, far longer than any of these sessions takes."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait([task], timeout=bound)
    if not done:
        task.cancel()
        pytest.fail(f"the caller was held for {bound} s")
    return task


def _cut(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What l0 logged about callbacks it cut: only `l0.callbacks`, because a garbage-collected
    task of an earlier test may log on `asyncio` at any moment."""
    return [r for r in caplog.records if r.name == "l0.callbacks"]


async def finish_callbacks(slow: Slow) -> None:
    """The callbacks held back were not dropped: released, they all run to their end."""
    assert slow.finished == 0, "the session returned before its callbacks could finish"
    slow.release.set()
    await callbacks_done()
    assert slow.finished >= 1 and slow.cancelled == 0
    assert_no_leaked_tasks()


@pytest.mark.parametrize("ending", ["complete", "error", "timeout"])
async def test_a_session_ends_at_once_while_its_callbacks_are_busy(
    fault_server: FaultServer, client: Any, ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    slow = Slow()
    if ending == "complete":
        fault_server.enqueue(Reply(text=TEXT))
        options: dict[str, Any] = {"on_complete": slow}
    elif ending == "error":
        fault_server.enqueue(Reply(status=401))
        options = {"on_error": slow}
    else:
        fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
        options = {"on_timeout": slow, "timeout": l0.Timeout(initial_token=0.2)}
    result = await l0.run(opener(client), retry=l0.Retry.none(), on_event=slow, **options)
    caplog.set_level(logging.WARNING, logger="l0.callbacks")

    read = await returns(result.read())

    if ending == "complete":
        assert read.result() == TEXT
    else:
        assert isinstance(read.exception(), L0Error)
        assert result.outcome == "error"
    await finish_callbacks(slow)
    assert not _cut(caplog), "callbacks that finish within the grace period are not cut"
    await wait_closed(fault_server)


async def test_abort_returns_at_once(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_after=(1, 30)))
    slow = Slow()
    result = await l0.run(opener(client), timeout=NO_TIMEOUT, on_event=slow, on_abort=slow)

    async def consume() -> list[Any]:
        events = []
        async for event in result:
            events.append(event)
            if event.is_token:
                result.abort()  # the provider stalls after this token
        return events

    events = (await returns(consume())).result()

    assert events[-1].type is EventType.ERROR
    assert events[-1].error.code is l0.ErrorCode.STREAM_ABORTED
    await finish_callbacks(slow)
    await wait_closed(fault_server)


async def test_task_cancel_returns_at_once(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
    slow = Slow()
    result = await l0.run(opener(client), timeout=NO_TIMEOUT, on_event=slow, on_start=slow)
    reader = asyncio.ensure_future(result.read())
    await slow.entered.wait()  # the session is running

    reader.cancel()
    await returns(reader)

    assert reader.cancelled()
    assert result.outcome == "aborted"
    await finish_callbacks(slow)
    await wait_closed(fault_server)


async def test_wait_for_returns_at_once(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, stall_before_first=30))
    slow = Slow()
    result = await l0.run(opener(client), timeout=NO_TIMEOUT, on_event=slow, on_abort=slow)

    waited = await returns(asyncio.wait_for(result.read(), 0.3))

    assert isinstance(waited.exception(), TimeoutError)
    assert result.outcome == "aborted"
    await finish_callbacks(slow)
    await wait_closed(fault_server)


@pytest.mark.parametrize("grace", [0, 0.05])
async def test_callbacks_still_running_after_the_grace_period_are_cancelled_and_logged(
    fault_server: FaultServer, client: Any, grace: float, caplog: pytest.LogCaptureFixture
) -> None:
    fault_server.enqueue(Reply(status=500), Reply(text=TEXT))
    slow = Slow()  # never released
    caplog.set_level(logging.WARNING, logger="l0.callbacks")
    result = await l0.run(
        opener(client),
        retry=fast_retry(),
        callback_grace=grace,
        on_retry=slow,
        on_complete=slow,
    )

    assert (await returns(result.read())).result() == TEXT
    await callbacks_done()  # the grace period ends; l0 cancels what is left

    assert slow.finished == 0 and slow.cancelled >= 1
    assert_no_leaked_tasks()
    [record] = _cut(caplog)
    assert record.levelno == logging.WARNING
    assert "on_retry" in record.getMessage() and "callback_grace" in record.getMessage()


async def test_a_wrapped_client_takes_callback_grace(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    slow = Slow()
    async with make_client(fault_server) as raw:
        client = l0.wrap(raw, on_complete=slow, callback_grace=0)
        response = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert (await returns(response.read())).result() == TEXT
        await callbacks_done()
    assert slow.finished == 0
    assert_no_leaked_tasks()


async def test_callbacks_started_after_the_session_ended_are_bounded_too(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(tool_calls=[("lookup", '{"q": "x"}')]))
    slow = Slow()
    result = await l0.run(opener(client), callback_grace=0, on_event=slow)
    calls = [event.data async for event in result if event.is_tool_call]
    await callbacks_done()  # the session's own callbacks: cancelled at once
    cancelled = slow.cancelled

    assert await result.run_tool(calls[0], lambda q: q.upper()) == "X"
    await callbacks_done()  # those of run_tool's events, after the session ended

    assert slow.finished == 0 and slow.cancelled > cancelled
    assert_no_leaked_tasks()
