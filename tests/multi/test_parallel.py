"""`l0.parallel`, `l0.batched` and `l0.Pool` through the real openai client against the
fault server."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

import l0
from l0 import ErrorCode
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply
from runtime.conftest import Recorder, assert_no_leaked_tasks, fast_retry, opener

from .conftest import Opened, closed_in_time

STALL = 30.0


async def test_the_fault_server_counts_requests_in_flight_at_once(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    """The measure the concurrency tests rely on: two requests the server holds at once."""
    fault_server.enqueue(Reply(text="x", stall_before_first=STALL), model="a")
    fault_server.enqueue(Reply(text="y", stall_before_first=STALL), model="b")
    opened = Opened(client, 2)
    race = asyncio.ensure_future(l0.race([opened.factory("a"), opened.factory("b")]))
    await opened.all_open.wait()  # both responses have started: both requests in flight

    assert fault_server.peak_in_flight == 2
    race.cancel()
    with pytest.raises(asyncio.CancelledError):
        await race
    await closed_in_time(fault_server)
    fault_server.reset()
    assert fault_server.peak_in_flight == 0


async def test_results_are_aligned_with_the_tasks_and_a_failure_stops_no_other(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="zero"), model="a")
    fault_server.enqueue(Reply(status=400), model="b")
    fault_server.enqueue(Reply(status=503), Reply(text="two, after a retry"), model="c")

    result = await l0.parallel(
        [opener(client, "a"), opener(client, "b"), {"stream": opener(client, "c")}],
        retry=fast_retry(),
    )

    assert result.contents == ("zero", None, "two, after a retry")
    assert result.results[0] is not None and result.results[0].outcome == "success"
    assert result.results[1] is None
    assert result.errors[0] is None and result.errors[2] is None
    assert result.errors[1] is not None and result.errors[1].status_code == 400
    assert (result.success_count, result.failure_count, result.all_succeeded) == (2, 1, False)
    assert [r.model for r in fault_server.requests].count("c") == 2
    assert_no_leaked_tasks()


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_the_server_never_sees_more_requests_at_once_than_the_limit(
    fault_server: FaultServer, client: openai.AsyncOpenAI, limit: int
) -> None:
    # Each reply holds its request a moment, so unlimited tasks would overlap.
    fault_server.default = Reply(text="done", stall_before_first=0.05)

    result = await l0.parallel([opener(client, f"m{i}") for i in range(7)], concurrency=limit)

    assert result.all_succeeded
    assert len(fault_server.requests) == 7
    assert 1 <= fault_server.peak_in_flight <= limit


async def test_fail_fast_cancels_the_running_and_never_starts_the_waiting(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=400), model="bad")
    for model in ("slow1", "slow2", "later"):
        fault_server.enqueue(Reply(text="never", stall_before_first=STALL), model=model)
    opened = Opened(client, 2)

    async def fails_once_the_others_stream() -> Any:
        await opened.all_open.wait()
        return await opener(client, "bad")()

    result = await l0.parallel(
        [
            opened.factory("slow1"),
            opened.factory("slow2"),
            fails_once_the_others_stream,
            opener(client, "later"),
        ],
        concurrency=3,
        fail_fast=True,
    )

    assert result.success_count == 0
    assert result.errors[2] is not None and result.errors[2].status_code == 400
    for index in (0, 1, 3):
        error = result.errors[index]
        assert error is not None and error.code is ErrorCode.STREAM_ABORTED
        assert "tasks[2] failed" in str(error)
    assert "later" not in [r.model for r in fault_server.requests]  # never started
    assert opened.all_closed()  # closed before parallel returned
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_bad_arguments_fail_before_anything_is_sent(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(ValueError, match="concurrency must be an int >= 1"):
        await l0.parallel([opener(client)], concurrency=0)
    with pytest.raises(TypeError, match="fail_fast must be True or False"):
        await l0.parallel([opener(client)], fail_fast="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"tasks\[1\]"):
        await l0.parallel([opener(client), 42])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        await l0.batched(["a"], lambda item: opener(client), batch_size=0)
    assert fault_server.requests == []


async def test_cancelling_the_caller_closes_every_stream(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.default = Reply(text="never", stall_before_first=STALL)
    opened = Opened(client, 2)
    call = asyncio.ensure_future(
        l0.parallel([opened.factory(f"m{i}") for i in range(4)], concurrency=2)
    )
    await opened.all_open.wait()

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert opened.all_closed()
    assert len(fault_server.requests) == 2  # the two waiting never started
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_batched_runs_one_batch_after_another_aligned_with_the_items(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    items = ["a", "b", "c", "d", "e"]
    for item in items:
        fault_server.enqueue(Reply(text=f"echo {item}", stall_before_first=0.02), model=item)
    recorder = Recorder()

    result = await l0.batched(
        items, lambda item: opener(client, item), batch_size=2, on_event=recorder
    )

    assert result.contents == tuple(f"echo {item}" for item in items)
    assert fault_server.peak_in_flight <= 2
    # A batch starts once the previous one has finished: each batch's requests come
    # after every request of the one before.
    assert [r.model for r in fault_server.requests][4] == "e"
    assert sorted(r.model or "" for r in fault_server.requests[:2]) == ["a", "b"]
    assert sorted(r.model or "" for r in fault_server.requests[2:4]) == ["c", "d"]
    ends = [e for e in recorder.events if e.type is T.MULTI_END]
    assert [(e.kind, e.outcome, e.success_count) for e in ends] == [("parallel", "success", 5)]


async def test_a_pool_yields_results_as_they_complete(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="slow"), model="slow")
    fault_server.enqueue(Reply(text="fast"), model="fast")
    first_done = asyncio.Event()

    async def held_back() -> Any:
        await first_done.wait()
        return await opener(client, "slow")()

    order = []
    async with l0.Pool(2) as pool:
        assert pool.submit(held_back) == 0
        assert pool.submit(opener(client, "fast")) == 1
        async for done in pool:
            order.append((done.index, done.content, done.ok))
            first_done.set()

    assert order == [(1, "fast", True), (0, "slow", True)]
    assert_no_leaked_tasks()


async def test_leaving_a_pool_by_an_exception_cancels_its_tasks(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.default = Reply(text="never", stall_before_first=STALL)
    opened = Opened(client, 1)

    with pytest.raises(RuntimeError, match="caller gave up"):
        async with l0.Pool(1) as pool:
            pool.submit(opened.factory("a"))
            pool.submit(opened.factory("b"))
            await opened.all_open.wait()
            raise RuntimeError("caller gave up")

    assert opened.all_closed()
    assert [r.model for r in fault_server.requests] == ["a"]
    await closed_in_time(fault_server)
    with pytest.raises(RuntimeError, match="submit inside"):
        pool.submit(opened.factory("c"))
    assert_no_leaked_tasks()
