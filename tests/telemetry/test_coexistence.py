"""l0 beside OpenTelemetry's official openai instrumentation (`openai-v2`), set up in either
order: one `chat` span per attempt (l0's, with the HTTP span under it), each operation
counted once in the duration metrics (l0's `gen_ai.client.inference.duration` and the
instrumentation's older `gen_ai.client.operation.duration`), the caller's current span
unchanged by a session, and the instrumentation untouched for calls made outside l0.

Real instrumentor, real openai client, the fault server, in-memory exporter and reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from telemetry_support import COMPLETION, MESSAGES, OTel, run

import l0
from l0.telemetry import metric_names
from l0.telemetry.instrument import Instrumentation, instrument
from l0.testing import FaultServer, Reply

openai_v2 = pytest.importorskip("opentelemetry.instrumentation.openai_v2")

DURATIONS = {metric_names.INFERENCE_DURATION.name, "gen_ai.client.operation.duration"}
"""The inference duration under the current conventions' name (l0) and the name the
official instrumentation still records: together, one point per operation."""


@pytest.fixture(params=["official first", "l0 first"])
def both(
    request: pytest.FixtureRequest, otel: OTel, client: openai.AsyncOpenAI
) -> Iterator[Instrumentation]:
    """The official instrumentation and `l0.instrument()`, set up in the order of the param
    (after the client's warm-up request, so only the test's own calls are measured)."""
    official = openai_v2.OpenAIInstrumentor()
    assert not official.is_instrumented_by_opentelemetry
    if request.param == "official first":
        official.instrument(
            tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
        )
        handle = instrument(exporter="none")
    else:
        handle = instrument(exporter="none")
        official.instrument(
            tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
        )
    try:
        yield handle
    finally:
        handle.shutdown()
        official.uninstrument()
        assert not isinstance(openai.resources.chat.completions.AsyncCompletions.create, _proxy())


def _proxy() -> type:
    import wrapt

    return wrapt.ObjectProxy


def durations(otel: OTel) -> list[tuple[str, dict[str, Any], int]]:
    """(scope, attributes, count) of every duration point recorded since the last call."""
    data = otel.reader.get_metrics_data()
    found = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                if metric.name in DURATIONS:
                    found.extend(
                        (scope.scope.name, dict(p.attributes), p.count)
                        for p in metric.data.data_points
                    )
    return found


def http_children(otel: OTel, parent: Any) -> list[Any]:
    return [
        s
        for s in otel.spans()
        if s.kind is SpanKind.CLIENT
        and s.parent is not None
        and s.parent.span_id == parent.context.span_id
    ]


async def test_one_chat_span_per_attempt_and_one_duration_record_per_operation(
    otel: OTel,
    client: openai.AsyncOpenAI,
    both: Instrumentation,
    fault_server: FaultServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION))
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        result = await run(client)
        async for _ in result:
            assert trace.get_current_span() is parent
        assert trace.get_current_span() is parent
    assert trace.get_current_span() is trace.INVALID_SPAN

    session = otel.one("l0.session")
    chats = otel.named("chat")
    assert len(chats) == 2
    assert {s.instrumentation_scope.name for s in chats if s.instrumentation_scope} == {"l0"}
    for chat in chats:
        assert chat.parent is not None and chat.parent.span_id == session.context.span_id
        [request] = http_children(otel, chat)
        assert request.name.startswith("POST")

    recorded = durations(otel)
    assert sum(count for _, _, count in recorded) == 2, recorded
    assert {scope for scope, _, _ in recorded} == {"l0"}
    assert "Failed to detach context" not in caplog.text


async def test_a_timed_out_attempt_is_one_chat_span_and_leaves_nothing_open(
    otel: OTel, client: openai.AsyncOpenAI, both: Instrumentation, fault_server: FaultServer
) -> None:
    """The first attempt is cancelled while waiting for headers (initial-token timeout):
    still one span and one record for it, and no span left open (the `otel` fixture checks)."""
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_headers=3.0), Reply(text=COMPLETION))
    result = await run(client, timeout=l0.Timeout(initial_token=0.3, inter_token=1.0))
    assert await result.read() == COMPLETION
    assert trace.get_current_span() is trace.INVALID_SPAN

    assert len(otel.named("chat")) == 2
    recorded = durations(otel)
    assert sum(count for _, _, count in recorded) == 2, recorded
    assert {attributes.get("error.type") for _, attributes, _ in recorded} == {
        None,
        "INITIAL_TOKEN_TIMEOUT",
    }


async def test_calls_outside_l0_are_still_traced_by_the_official_instrumentation(
    otel: OTel, client: openai.AsyncOpenAI, both: Instrumentation, fault_server: FaultServer
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION))
    stream = await client.chat.completions.create(model="gpt-plain", messages=MESSAGES, stream=True)
    async for _ in stream:
        pass

    [chat] = otel.named("chat")
    assert chat.instrumentation_scope is not None
    assert chat.instrumentation_scope.name != "l0"
    assert len(http_children(otel, chat)) == 1
    recorded = durations(otel)
    assert len(recorded) == 1 and recorded[0][0] != "l0"


@pytest.mark.parametrize("first", ["l0", "official"])
async def test_each_side_takes_away_only_its_own_wrapper(
    otel: OTel, client: openai.AsyncOpenAI, fault_server: FaultServer, first: str
) -> None:
    """l0 puts its gate in front of the official wrapper at the first session; `shutdown()`
    puts the official wrapper back, and the official `uninstrument()` restores the original
    `create` whether or not l0's gate still stands."""
    completions = openai.resources.chat.completions.AsyncCompletions
    original = completions.__dict__["create"]
    official = openai_v2.OpenAIInstrumentor()
    official.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    wrapper = completions.__dict__["create"]
    handle = instrument(exporter="none")
    try:
        fault_server.enqueue(Reply(text=COMPLETION))
        assert await (await run(client)).read() == COMPLETION
        gate = completions.__dict__["create"]
        assert gate is not wrapper and gate.__wrapped__ is original
        if first == "l0":
            handle.shutdown()
            assert completions.__dict__["create"] is wrapper
            official.uninstrument()
        else:
            official.uninstrument()
            handle.shutdown()
    finally:
        handle.shutdown()
        if official.is_instrumented_by_opentelemetry:
            official.uninstrument()
    assert completions.__dict__["create"] is original
