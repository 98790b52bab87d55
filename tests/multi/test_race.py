"""`l0.race` through the real openai client against the fault server."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

import l0
from l0 import ErrorCode, L0Error
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply
from runtime.conftest import Recorder, assert_no_leaked_tasks, fast_retry, opener
from runtime.footprint import cycles

from .conftest import Opened, closed_in_time

STALL = 30.0


async def test_the_first_to_complete_wins_and_the_others_are_closed(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="slow", stall_before_first=STALL), model="a")
    fault_server.enqueue(Reply(text="fast answer"), model="b")
    fault_server.enqueue(Reply(text="never", stall_before_headers=STALL), model="c")
    fault_server.enqueue(Reply(text="half way there", stall_after=(2, STALL)), model="d")
    opened = Opened(client, 3)

    result = await l0.race(
        [opened.factory("a"), opener(client, "b"), opened.factory("c"), opened.factory("d")]
    )

    assert result.winner_index == 1
    assert result.content == "fast answer" == result.state.content
    assert result.result.outcome == "success"
    assert [r.outcome for r in result.results] == ["aborted", "success", "aborted", "aborted"]
    # The losers whose streams had opened were closed before race returned...
    assert opened.streams and opened.all_closed()
    # ...and the server saw every connection go, the stalled request's too.
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_a_task_is_a_full_session_with_its_own_options(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=503), Reply(text="recovered"), model="a")
    fault_server.enqueue(Reply(status=401), model="b")
    fault_server.enqueue(Reply(text="from the fallback", stall_before_first=STALL), model="c")
    fault_server.enqueue(Reply(text="slow", stall_before_first=STALL), model="d")

    result = await l0.race(
        [
            {"stream": opener(client, "a"), "retry": fast_retry()},
            l0.Task(opener(client, "b"), fallbacks=[opener(client, "c")]),
            opener(client, "d"),
        ],
        retry=l0.Retry(attempts=1, max_retries=0),  # shared; task 0 brings its own
    )

    assert result.winner_index == 0
    assert result.content == "recovered"
    assert result.state.network_retry_count == 1
    assert [r.model for r in fault_server.requests].count("a") == 2
    await closed_in_time(fault_server)


async def test_when_every_task_fails_the_error_holds_each_ones(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=400), model="a")
    fault_server.enqueue(Reply(status=404), model="b")

    with pytest.raises(L0Error) as raised:
        await l0.race([opener(client, "a"), opener(client, "b")])

    error = raised.value
    assert error.code is ErrorCode.ALL_STREAMS_EXHAUSTED
    assert len(error.errors) == 2
    assert [e.status_code for e in error.errors] == [400, 404]
    assert error.__cause__ in error.errors
    assert_no_leaked_tasks()


async def test_cancelling_the_caller_closes_every_stream(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    for model in "abc":
        fault_server.enqueue(Reply(text="slow", stall_before_first=STALL), model=model)
    opened = Opened(client, 3)
    rec = Recorder()
    racing = asyncio.ensure_future(l0.race([opened.factory(m) for m in "abc"], on_event=rec))
    await opened.all_open.wait()

    racing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await racing

    assert opened.all_closed()  # by the time the caller hears of its cancellation
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()
    cancelled = rec.of(T.STREAM_CANCELLED)
    assert sorted(e.index for e in cancelled) == [0, 1, 2]
    assert {e.reason for e in cancelled} == {"discarded"}
    assert rec.of(T.MULTI_END)[0].outcome == "aborted"


async def test_the_winner_is_announced_on_the_bus_and_to_its_callback(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="one two three", stall_after=(2, STALL)), model="a")
    fault_server.enqueue(Reply(text="winner"), model="b")
    rec = Recorder()
    winners: list[tuple[int, str]] = []

    await l0.race(
        [opener(client, "a"), opener(client, "b")],
        on_event=rec,
        on_race_winner=lambda index, state: winners.append((index, state.content)),
    )

    assert winners == [(1, "winner")]
    race_events = [
        t
        for t in rec.types()
        if t in (T.MULTI_START, T.MULTI_WINNER, T.STREAM_CANCELLED, T.MULTI_END)
    ]
    assert race_events == [T.MULTI_START, T.MULTI_WINNER, T.STREAM_CANCELLED, T.MULTI_END]
    (cancelled,) = rec.of(T.STREAM_CANCELLED)
    assert (cancelled.index, cancelled.reason, cancelled.tokens_discarded) == (0, "race_loser", 2)
    end = rec.of(T.MULTI_END)[0]
    assert (end.outcome, end.winner_index, end.cancelled_count) == ("success", 1, 1)
    # Every child is a session of its own on the same bus.
    assert len(rec.of(T.SESSION_START)) == 2


@pytest.mark.parametrize(
    ("tasks", "error", "message"),
    [
        ([], ValueError, "at least one task"),
        ("abc", TypeError, "list of tasks"),
        ([42], TypeError, "tasks[0] must be a stream factory"),
        ([{"retry": None}], TypeError, "tasks[0] has no 'stream'"),
        ([lambda: None, {"stream": lambda: None, "retyr": 1}], TypeError, "tasks[1]: unexpected"),
    ],
)
async def test_bad_tasks_fail_at_the_call(
    fault_server: FaultServer, tasks: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("[", r"\[")):
        await l0.race(tasks)
    assert fault_server.requests == []


async def test_bad_winner_callback_fails_at_the_call() -> None:
    with pytest.raises(TypeError, match="on_race_winner"):
        await l0.race([lambda: None], on_race_winner=1)


async def test_a_race_and_its_cancelled_losers_leave_nothing_to_the_collector(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    # Each child holds its operation's callbacks and its task (which keeps a cancelled
    # loser's error and traceback): both let go when the child ends.
    fault_server.enqueue(Reply(text="slow", stall_before_first=STALL), model="a")
    fault_server.enqueue(Reply(text="fast answer"), model="b")
    with cycles() as left:
        result = await l0.race([opener(client, "a"), opener(client, "b")])
        assert result.content == "fast answer"
        del result
    assert left == []
