"""Shared fixtures: global SDK providers with in-memory exporters, and a warmed-up client.

The OpenTelemetry global providers can be set once per process, so they are set (or, when
something already set SDK providers, joined) once per test session; each test starts from
an empty span exporter and a fresh delta-metric collection.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from telemetry_support import MESSAGES, SECRET, OTel, SpanTracker, sentry_transport

from l0.telemetry import facade
from l0.testing import FaultServer, Reply

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_DELTA = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    # Cumulative, so "returns to zero" means zero in the process, not just in this test.
    UpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
}


@pytest.fixture(scope="session")
def otel_global() -> OTel:
    exporter = InMemorySpanExporter()
    tracker = SpanTracker()
    reader = InMemoryMetricReader(preferred_temporality=_DELTA)
    tracer_provider = trace.get_tracer_provider()
    if not isinstance(tracer_provider, TracerProvider):
        tracer_provider = TracerProvider()
        trace.set_tracer_provider(tracer_provider)
    tracer_provider.add_span_processor(tracker)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.add_metric_reader(reader)
    else:
        meter_provider = MeterProvider(metric_readers=[reader])
        metrics.set_meter_provider(meter_provider)
    return OTel(tracer_provider, meter_provider, exporter, reader, tracker)


@pytest.fixture
def otel(otel_global: OTel) -> Iterator[OTel]:
    """The global providers, emptied for this test; checks the test leaked no span."""
    otel_global.exporter.clear()
    otel_global.tracker.clear()
    otel_global.reader.get_metrics_data()  # drop earlier tests' deltas
    otel_global.collected = []
    saved = (facade.settings.events, facade.settings.capture_content)
    yield otel_global
    facade.settings.events, facade.settings.capture_content = saved
    assert otel_global.tracker.open_spans() == []


@pytest.fixture
async def client(fault_server: FaultServer, otel: OTel) -> AsyncIterator[openai.AsyncOpenAI]:
    """A real OpenAI client on the fault server with a planted secret API key.

    One request warms the client up (the SDK's first request in a process does slow
    one-time work) so short initial-token timeouts only fire when a test wants them.
    """
    async with openai.AsyncOpenAI(
        base_url=fault_server.url, api_key=SECRET, max_retries=0
    ) as client:
        fault_server.enqueue(Reply(text="warm up"))
        stream = await client.chat.completions.create(
            model="warmup", messages=MESSAGES, stream=True
        )
        async for _ in stream:
            pass
        fault_server.reset()
        otel.exporter.clear()
        yield client


@pytest.fixture
def sentry() -> Iterator[Any]:
    """The real sentry_sdk, initialised with a capturing transport (default integrations)."""
    import sentry_sdk

    transport = sentry_transport()
    sentry_sdk.init(dsn="http://public@127.0.0.1:1/1", transport=transport)
    # Scopes are shared objects: clear what earlier tests left (breadcrumbs, and spans the
    # OpenAIIntegration opens for streams that never finished).
    _clear_scopes(sentry_sdk)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
        _clear_scopes(sentry_sdk)


def _clear_scopes(sentry_sdk: Any) -> None:
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()
