"""The OTel log exporter: records as log records in the session's trace, no content
unless asked (real OpenTelemetry SDK, in-memory exporters)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import l0
from eventlog.conftest import opener
from l0.eventlog import OtelLogExporter
from l0.telemetry import facade
from l0.telemetry.otel import OTelSink, otel_sink_factory
from l0.testing import FaultServer, Reply

TEXT = "Logged completions stay out of the pipeline unless capture is on."


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """l0's OTel sink on a tracer provider of this test's own, in place of the global one
    (which other tests' expectations depend on)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def sink(session: facade.Session) -> OTelSink:
        return OTelSink(session, provider, NoOpMeterProvider())

    saved = facade.settings.factories[:]
    facade.settings.factories[:] = [sink if f is otel_sink_factory else f for f in saved]
    try:
        yield exporter
    finally:
        facade.settings.factories[:] = saved
        provider.shutdown()


@pytest.fixture
def logs() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.mark.parametrize("capture", [False, True])
async def test_records_become_log_records_in_the_session_trace(
    capture: bool,
    spans: InMemorySpanExporter,
    logs: tuple[LoggerProvider, InMemoryLogRecordExporter],
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
) -> None:
    provider, exporter = logs
    fault_server.enqueue(Reply(text=TEXT, reset_after=3), Reply(text=TEXT), model="m")
    store = OtelLogExporter(logger_provider=provider, capture_content=capture)
    retry = l0.Retry(base_delay=0.0, max_delay=0.0)
    recording = l0.Recording(store, prompt="a prompt")
    live = await l0.run(opener(client), retry=retry, record=recording)
    assert await live.read() == TEXT
    (session,) = [s for s in spans.get_finished_spans() if s.name == "l0.session"]
    records = [item.log_record for item in exporter.get_finished_logs()]
    names = [r.event_name for r in records]
    assert names[0] == "l0.lifecycle.SESSION_START" and names[-1] == "l0.state.state"
    assert "l0.lifecycle.RETRY_ATTEMPT" in names and "l0.stream.reset" in names
    assert session.context is not None
    assert {r.trace_id for r in records} == {session.context.trace_id}
    assert {r.span_id for r in records} == {session.context.span_id}
    assert [r.attributes["l0.event.seq"] for r in records if r.attributes] == sorted(
        r.attributes["l0.event.seq"] for r in records if r.attributes
    )
    everything = repr([r.body for r in records])
    assert ("Logged" in everything) is capture
    assert ("a prompt" in everything) is capture
    assert ("l0.stream.tokens" in names) is capture
