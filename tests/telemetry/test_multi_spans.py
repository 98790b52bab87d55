"""Race and hedge traces and metrics, through the real OpenTelemetry SDK (DESIGN §4, §5).

The behaviour of `l0.race` and hedged runs is tested in tests/multi; here, what they leave
in telemetry.
"""

from __future__ import annotations

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from telemetry_support import OTel, factory

import l0
from l0.testing import FaultServer, Reply

STALL = 30.0


def _children_of(otel: OTel, parent: ReadableSpan, name: str) -> list[ReadableSpan]:
    return [
        s
        for s in otel.named(name)
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


async def test_a_race_is_a_parent_span_of_its_sessions(
    fault_server: FaultServer, client: openai.AsyncOpenAI, otel: OTel
) -> None:
    fault_server.enqueue(Reply(text="one two three", stall_after=(2, STALL)), model="a")
    fault_server.enqueue(Reply(text="winner"), model="b")
    fault_server.enqueue(Reply(text="never", stall_before_headers=STALL), model="c")
    tracer = otel.tracer_provider.get_tracer("test")

    with tracer.start_as_current_span("caller") as caller:
        await l0.race([factory(client, m) for m in "abc"])
        assert trace.get_current_span() is caller  # nothing left attached

    race = otel.one("l0.race")
    assert race.kind is SpanKind.INTERNAL
    assert race.parent is not None and race.parent.span_id == caller.get_span_context().span_id
    assert race.status.status_code is StatusCode.OK
    attributes = dict(race.attributes or {})
    assert attributes["l0.multi.kind"] == "race"
    assert attributes["l0.multi.task_count"] == 3
    assert attributes["l0.multi.winner_index"] == 1
    assert attributes["l0.multi.cancelled_count"] == 2
    assert attributes["l0.outcome"] == "success"
    events = [e.name for e in race.events]
    assert events == ["l0.multi.winner", "l0.stream.cancelled", "l0.stream.cancelled"]
    sessions = _children_of(otel, race, "l0.session")
    assert len(sessions) == 3
    outcomes = sorted(str((s.attributes or {}).get("l0.outcome")) for s in sessions)
    assert outcomes == ["aborted", "aborted", "success"]
    for session in sessions:  # each session's attempts beneath it, as for any run
        assert _children_of(otel, session, "chat")

    assert otel.total("l0.multi.wins", **{"l0.multi.kind": "race"}) == 1
    (win,) = otel.points("l0.multi.wins")
    assert win.attributes["gen_ai.request.model"] == "b"
    assert win.attributes["gen_ai.provider.name"] == "openai"
    assert otel.total("l0.streams.cancelled", **{"l0.multi.kind": "race"}) == 2
    wasted = otel.points("l0.tokens.wasted")
    assert [
        (p.attributes["l0.waste.reason"], p.attributes["gen_ai.request.model"], p.value)
        for p in wasted
    ] == [("race_loser", "a", 2)]


async def test_a_failed_race_records_its_error(
    fault_server: FaultServer, client: openai.AsyncOpenAI, otel: OTel
) -> None:
    fault_server.enqueue(Reply(status=400), Reply(status=400), model="a")
    with pytest.raises(l0.L0Error):
        await l0.race([factory(client, "a"), factory(client, "a")])

    race = otel.one("l0.race")
    assert race.status.status_code is StatusCode.ERROR
    attributes = dict(race.attributes or {})
    assert attributes["l0.outcome"] == "error"
    assert attributes["l0.error.code"] == "ALL_STREAMS_EXHAUSTED"
    assert attributes["l0.multi.cancelled_count"] == 0
    assert "l0.multi.winner_index" not in attributes


async def test_a_hedge_is_a_parent_span_of_both_sessions(
    fault_server: FaultServer, client: openai.AsyncOpenAI, otel: OTel
) -> None:
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=STALL), Reply(text="hedge wins"), model="m"
    )
    result = await l0.run(factory(client, "m"), hedge=l0.Hedge(after=0.01))
    assert await result.read() == "hedge wins"

    hedge = otel.one("l0.hedge")
    attributes = dict(hedge.attributes or {})
    assert attributes["l0.multi.kind"] == "hedge"
    assert attributes["l0.hedge.max"] == 1
    assert attributes["l0.hedge.count"] == 1
    assert attributes["l0.multi.winner_index"] == 1
    assert attributes["l0.multi.cancelled_count"] == 1
    started = [e for e in hedge.events if e.name == "l0.hedge"]
    assert len(started) == 1 and (started[0].attributes or {})["l0.hedge.after_ms"] == 10
    assert [e.name for e in hedge.events][1:] == ["l0.multi.winner", "l0.stream.cancelled"]
    sessions = _children_of(otel, hedge, "l0.session")
    assert len(sessions) == 2
    won = [s for s in sessions if (s.attributes or {})["l0.session.id"] == result.session_id]
    assert len(won) == 1 and won[0].status.status_code is StatusCode.OK

    assert otel.total("l0.hedges", **{"l0.multi.kind": "hedge"}) == 1
    assert (
        otel.total("l0.multi.wins", **{"l0.multi.kind": "hedge", "gen_ai.request.model": "m"}) == 1
    )
    assert otel.total("l0.streams.cancelled", **{"l0.multi.kind": "hedge"}) == 1
