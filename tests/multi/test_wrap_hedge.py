"""`l0.wrap(client, hedge=...)`: a wrapped client hedges its own requests."""

from __future__ import annotations

import openai

import l0
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply
from runtime.conftest import MESSAGES, Recorder, assert_no_leaked_tasks

from .conftest import closed_in_time

STALL = 30.0
SOON = l0.Hedge(after=0.01)


async def test_a_wrapped_client_hedges_by_reissuing_the_request(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=STALL), Reply(text="the hedge answers"), model="m"
    )
    rec = Recorder()
    wrapped = l0.wrap(client, hedge=SOON, on_event=rec)

    result = await wrapped.chat.completions.create(model="m", messages=MESSAGES, stream=True)

    assert await result.read() == "the hedge answers"
    sent = fault_server.requests
    assert [r.model for r in sent] == ["m", "m"]
    assert sent[0].body["messages"] == sent[1].body["messages"] == MESSAGES  # the same request
    (hedge,) = rec.of(T.HEDGE_START)
    assert hedge.index == 1
    (winner,) = rec.of(T.MULTI_WINNER)
    assert (winner.index, winner.child_session_id) == (1, result.session_id)
    (cancelled,) = rec.of(T.STREAM_CANCELLED)
    assert (cancelled.index, cancelled.reason) == (0, "hedge_loser")
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()


async def test_a_wrapped_clients_hedge_is_its_first_fallback_model(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="stalled", stall_before_first=STALL), model="primary")
    fault_server.enqueue(Reply(text="the fallback model answers"), model="fallback")
    wrapped = l0.wrap(client, hedge=SOON, fallback_models=["fallback"])

    result = await wrapped.chat.completions.create(model="primary", messages=MESSAGES, stream=True)

    assert await result.read() == "the fallback model answers"
    assert [r.model for r in fault_server.requests] == ["primary", "fallback"]
    await closed_in_time(fault_server)
    assert_no_leaked_tasks()
