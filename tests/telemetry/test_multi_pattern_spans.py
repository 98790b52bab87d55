"""Parallel, consensus and pipe traces and metrics, through the real OpenTelemetry SDK
(DESIGN §4, §5). Their behaviour is tested in tests/multi; here, what they leave in
telemetry."""

from __future__ import annotations

from typing import Any

import openai
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from telemetry_support import OTel, factory

import l0
from l0.testing import FaultServer, Reply


def _children_of(otel: OTel, parent: ReadableSpan, name: str) -> list[ReadableSpan]:
    return [
        s
        for s in otel.named(name)
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


def _caller(otel: OTel) -> Any:
    return otel.tracer_provider.get_tracer("test").start_as_current_span("caller")


async def test_parallel_is_a_parent_span_of_its_sessions(
    fault_server: FaultServer, client: openai.AsyncOpenAI, otel: OTel
) -> None:
    fault_server.enqueue(Reply(text="one"), model="a")
    fault_server.enqueue(Reply(status=400), model="b")
    fault_server.enqueue(Reply(text="three"), model="c")

    with _caller(otel) as caller:
        await l0.parallel([factory(client, m) for m in "abc"], concurrency=2)

    span = otel.one("l0.parallel")
    assert span.kind is SpanKind.INTERNAL
    assert span.parent is not None and span.parent.span_id == caller.get_span_context().span_id
    attributes = dict(span.attributes or {})
    assert attributes["l0.multi.kind"] == "parallel"
    assert attributes["l0.multi.concurrency"] == 2
    assert (attributes["l0.multi.success_count"], attributes["l0.multi.failed_count"]) == (2, 1)
    assert attributes["l0.outcome"] == "error"  # a task failed: the first failure's error
    assert span.status.status_code is StatusCode.ERROR
    sessions = _children_of(otel, span, "l0.session")
    outcomes = sorted(str((s.attributes or {}).get("l0.outcome")) for s in sessions)
    assert outcomes == ["error", "success", "success"]


async def test_consensus_records_its_agreement(
    fault_server: FaultServer, client: openai.AsyncOpenAI, otel: OTel
) -> None:
    for model, text in zip("abc", ("Paris", "paris.", "Lyon"), strict=True):
        fault_server.enqueue(Reply(text=text), model=model)

    with _caller(otel):
        await l0.consensus([factory(client, m) for m in "abc"], strategy="majority")

    span = otel.one("l0.consensus")
    attributes = dict(span.attributes or {})
    assert attributes["l0.consensus.strategy"] == "majority"
    assert attributes["l0.outcome"] == "success"
    assert span.status.status_code is StatusCode.OK
    (event,) = [e for e in span.events if e.name == "l0.consensus.result"]
    assert dict(event.attributes or {}) == {
        "l0.consensus.strategy": "majority",
        "l0.consensus.status": "agreed",
        "l0.consensus.agreement": 2 / 3,
        "l0.consensus.agreeing": (0, 1),
    }
    assert len(_children_of(otel, span, "l0.session")) == 3
    (point,) = otel.points("l0.consensus.agreement")
    assert dict(point.attributes) == {"l0.consensus.strategy": "majority"}
    assert (point.count, point.sum) == (1, 2 / 3)


async def test_pipe_names_its_stages(
    fault_server: FaultServer, client: openai.AsyncOpenAI, otel: OTel
) -> None:
    fault_server.enqueue(Reply(text="summary"), model="a")
    fault_server.enqueue(Reply(text="résumé"), model="b")

    with _caller(otel):
        await l0.pipe(
            [
                l0.Stage("summarize", lambda _: factory(client, "a")),
                l0.Stage("translate", lambda _: factory(client, "b")),
            ],
            "doc",
        )

    span = otel.one("l0.pipe")
    attributes = dict(span.attributes or {})
    assert attributes["l0.pipe.stages"] == ("summarize", "translate")
    assert attributes["l0.pipe.stage.name"] == "translate"  # the stage that gave the output
    stages = [dict(e.attributes or {}) for e in span.events if e.name == "l0.pipe.stage"]
    assert [(s["l0.multi.index"], s["l0.pipe.stage.name"], s["l0.outcome"]) for s in stages] == [
        (0, "summarize", "success"),
        (1, "translate", "success"),
    ]
    sessions = _children_of(otel, span, "l0.session")
    assert len(sessions) == 2
