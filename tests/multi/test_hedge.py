"""Hedged streams: `l0.run(..., hedge=l0.Hedge(...))` through the real openai client."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionChunk

import l0
from l0 import ErrorCode, EventType
from l0 import ObservabilityEventType as T
from l0.multi._ttft import History, history
from l0.testing import FaultServer, Reply
from runtime.conftest import Recorder, assert_no_leaked_tasks, drain, opener, tokens
from runtime.footprint import cycles

from .conftest import Opened, closed_in_time

STALL = 30.0
SOON = l0.Hedge(after=0.01)
"""Hedge at once: every test's primary stalls for good or answers without a stall."""


async def test_a_late_first_token_starts_a_hedge_that_wins(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=STALL), Reply(text="the hedge answers"), model="m"
    )
    opened = Opened(client, 1)
    rec = Recorder()

    result = await l0.run(opened.factory("m"), hedge=SOON, on_event=rec)
    events = await drain(result)

    assert tokens(events) == ["the", " hedge", " answers"]
    assert result.state.content == "the hedge answers"
    assert result.outcome == "success"
    assert [r.model for r in fault_server.requests] == ["m", "m"]  # the same factory again
    assert opened.all_closed()
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()
    (hedge,) = rec.of(T.HEDGE_START)
    assert (hedge.index, hedge.after_ms) == (1, 10)
    (winner,) = rec.of(T.MULTI_WINNER)
    assert (winner.index, winner.child_session_id) == (1, result.session_id)
    (cancelled,) = rec.of(T.STREAM_CANCELLED)
    assert (cancelled.index, cancelled.reason, cancelled.tokens_discarded) == (0, "hedge_loser", 0)


async def test_no_hedge_when_the_first_token_is_in_time(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="in time"), model="m")
    rec = Recorder()

    result = await l0.run(opener(client, "m"), hedge=l0.Hedge(after=STALL), on_event=rec)

    assert await result.read() == "in time"
    assert len(fault_server.requests) == 1
    assert rec.of(T.HEDGE_START) == [] and rec.of(T.STREAM_CANCELLED) == []
    assert rec.of(T.MULTI_WINNER)[0].index == 0
    assert_no_leaked_tasks()


async def test_the_hedge_is_the_next_fallback_when_there_is_one(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="stalled", stall_before_headers=STALL), model="primary")
    fault_server.enqueue(Reply(text="fallback speaks"), model="fallback")

    result = await l0.run(
        opener(client, "primary"), fallbacks=[opener(client, "fallback")], hedge=SOON
    )

    assert await result.read() == "fallback speaks"
    assert [r.model for r in fault_server.requests] == ["primary", "fallback"]
    await closed_in_time(fault_server)


async def test_the_consumer_sees_the_winners_raw_chunks(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=STALL), Reply(text="raw hedge"), model="m"
    )
    result = await l0.run(opener(client, "m"), hedge=SOON)

    chunks = [chunk async for chunk in result.raw()]

    content = [
        c.choices[0].delta.content
        for c in chunks
        if isinstance(c, ChatCompletionChunk) and c.choices
    ]
    assert "".join(filter(None, content)) == "raw hedge"
    assert result.state.content == "raw hedge"
    await closed_in_time(fault_server)


async def test_when_every_stream_fails_the_error_holds_each_ones(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    gate = asyncio.Event()

    async def held_then_400() -> Any:
        await gate.wait()  # fail only once the hedge has started
        return await opener(client, "m")()

    fault_server.enqueue(Reply(status=400), Reply(status=400), model="m")

    def release(event: Any) -> None:
        if getattr(event, "type", None) is T.HEDGE_START:
            gate.set()

    result = await l0.run(held_then_400, hedge=SOON, on_event=release)
    events = await drain(result)

    error = events[-1].error
    assert error is result.error
    assert error.code is ErrorCode.ALL_STREAMS_EXHAUSTED
    assert [e.status_code for e in error.errors] == [400, 400]
    assert result.outcome == "error"
    assert_no_leaked_tasks()


async def test_a_single_failure_is_passed_on_as_it_is(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=404), model="m")
    result = await l0.run(opener(client, "m"), hedge=l0.Hedge(after=STALL))
    with pytest.raises(l0.L0Error) as raised:
        await result.read()
    assert raised.value.status_code == 404
    assert len(fault_server.requests) == 1


# ------------------------------------------------------------------ exact cancellation


async def _both_stalled(
    server: FaultServer, client: openai.AsyncOpenAI
) -> tuple[Opened, l0.Result]:
    server.enqueue(*[Reply(text="slow", stall_before_first=STALL)] * 2, model="m")
    opened = Opened(client, 2)
    return opened, await l0.run(opened.factory("m"), hedge=SOON)


async def test_cancelling_the_consumer_closes_both_streams(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    opened, result = await _both_stalled(fault_server, client)
    consuming = asyncio.ensure_future(result.read())
    await opened.all_open.wait()

    consuming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consuming

    assert opened.all_closed()
    assert result.outcome == "aborted"
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_abort_before_a_winner_closes_both_streams(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    opened, result = await _both_stalled(fault_server, client)
    consuming = asyncio.ensure_future(drain(result))
    await opened.all_open.wait()

    result.abort()
    events = await consuming

    assert events[-1].type is EventType.ERROR
    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    assert result.outcome == "aborted"
    assert opened.all_closed()
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_abort_after_the_winner_stops_it_like_any_run(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="one two three", stall_after=(1, STALL)), model="m")
    result = await l0.run(opener(client, "m"), hedge=l0.Hedge(after=STALL))
    events = []
    async for event in result:
        events.append(event)
        if event.type is EventType.TOKEN:
            result.abort()

    assert tokens(events) == ["one"]
    assert events[-1].error.code is ErrorCode.STREAM_ABORTED
    assert result.outcome == "aborted"
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_breaking_out_closes_the_winner(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="one two three", stall_after=(1, STALL)), model="m")
    ended = asyncio.Event()

    def on_event(event: Any) -> None:
        if getattr(event, "type", None) is T.MULTI_END:
            ended.set()

    result = await l0.run(opener(client, "m"), hedge=l0.Hedge(after=STALL), on_event=on_event)
    async for event in result:
        if event.type is EventType.TOKEN:
            break
    # The loop dropped the iterator: its finalizer closes the hedge and the winner's stream.
    await closed_in_time(fault_server)
    await asyncio.wait_for(ended.wait(), 5.0)  # a hang guard
    assert result.outcome == "aborted"
    assert_no_leaked_tasks()


# ------------------------------------------------------------------------- quantiles


def test_a_quantile_waits_the_default_until_enough_samples() -> None:
    hedge = l0.Hedge(after="p90", default_after=0.5, min_samples=10)
    assert hedge.delay("model") == 0.5
    for i in range(1, 11):
        history.record("model", i / 100)
    assert hedge.delay("model") == pytest.approx(0.09)
    assert l0.Hedge(after="p50", min_samples=10).delay("model") == pytest.approx(0.05)


def test_a_call_site_shares_its_models_samples_once_it_knows_the_model() -> None:
    samples = History()
    samples.record("site", 1.0)
    samples.learn("site", "gpt")
    samples.record(samples.key("other site"), 9.0)
    samples.learn("other site", "gpt")
    assert samples.key("site") == samples.key("other site") == "gpt"
    assert samples.quantile("gpt", 0.5, 2) == 1.0
    assert samples.quantile("gpt", 0.99, 2) == 9.0


async def test_a_hedged_run_teaches_the_models_history(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=STALL), Reply(text="hedge"), model="m"
    )
    factory = opener(client, "m")
    result = await l0.run(factory, hedge=SOON)
    await result.read()

    key = history.key(factory.__code__)
    assert key == "m"  # the fault server answers with the requested model
    samples = sorted(history._samples[key])
    # The winner's time to first token, and the stalled primary's wait as a lower bound.
    assert len(samples) == 2 and samples[1] >= 0.01


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"after": "p100"}, ValueError),
        ({"after": "fast"}, ValueError),
        ({"after": -1.0}, ValueError),
        ({"after": "1"}, ValueError),
        ({"after": None}, TypeError),
        ({"after": 1.0, "max_hedges": 0}, ValueError),
        ({"after": 1.0, "min_samples": 0}, ValueError),
    ],
)
def test_bad_hedges_fail_at_construction(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match="Hedge"):
        l0.Hedge(**options)


async def test_hedge_must_be_a_hedge(fault_server: FaultServer) -> None:
    with pytest.raises(TypeError, match=r"hedge must be an l0\.Hedge"):
        await l0.run(lambda: None, hedge=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retry"):
        await l0.run(lambda: None, hedge=SOON, retry=3)  # the run's own checks still apply
    assert fault_server.requests == []


async def test_a_hedged_session_and_its_cancelled_loser_leave_nothing_to_the_collector(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    # The loser's task ends cancelled and keeps its error, whose traceback holds the
    # child and its session: neither may still hold the task once it has ended.
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=STALL), Reply(text="the hedge answers"), model="m"
    )
    with cycles() as left:
        result = await l0.run(opener(client, "m"), hedge=SOON)
        assert await result.read() == "the hedge answers"
        del result
    assert left == []
