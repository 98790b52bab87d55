"""`l0.instrument()`: joins the providers already set, is idempotent, validates arguments,
honours the OTEL_* variables. Fresh-process behaviour runs in a subprocess (the global
providers of this process are already set by the conftest)."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from telemetry_support import COMPLETION, OTel, run

from l0.telemetry import sentry as sentry_module
from l0.telemetry.facade import settings
from l0.telemetry.instrument import Instrumentation, instrument
from l0.testing import FaultServer, Reply

# `l0.telemetry.instrument` is the function; the module of the same name is reached this way.
instrument_module = importlib.import_module("l0.telemetry.instrument")


@pytest.fixture
def handles() -> Iterator[list[Instrumentation]]:
    """Shut down whatever a test instrumented, so the next test starts clean."""
    made: list[Instrumentation] = []
    yield made
    for handle in made:
        handle.shutdown()
    assert instrument_module._current is None
    sentry_module.set_enabled(None)


async def test_joins_the_global_providers_and_adds_its_exporter(
    otel: OTel,
    handles: list[Instrumentation],
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
) -> None:
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    handle = instrument("svc", exporter=exporter, metric_reader=reader, httpx=False)
    handles.append(handle)
    assert handle.enabled
    assert handle.tracer_provider is otel.tracer_provider  # reused, never replaced
    assert handle.meter_provider is otel.meter_provider

    fault_server.enqueue(Reply(text=COMPLETION))
    assert await (await run(client)).read() == COMPLETION
    assert handle.force_flush()

    names = {span.name for span in exporter.get_finished_spans()}
    assert {"l0.session", "chat gpt-test"} <= names
    assert otel.named("l0.session")  # the application's own exporter still gets them
    data = reader.get_metrics_data()
    assert data is not None
    metric_names = {
        metric.name
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert {"l0.sessions", "gen_ai.client.inference.duration"} <= metric_names


async def test_is_idempotent(
    otel: OTel, handles: list[Instrumentation], caplog: pytest.LogCaptureFixture
) -> None:
    exporter = InMemorySpanExporter()
    first = instrument(exporter=exporter, httpx=False)
    handles.append(first)
    assert instrument(exporter=exporter, httpx=False) is first
    assert len(first._processors) == 1
    with caplog.at_level(logging.WARNING, logger="l0.telemetry"):
        assert instrument(exporter="none", httpx=False, events="all") is first
    assert "already called" in caplog.text
    assert settings.events == "all"  # sink settings still follow the latest call


def test_shutdown_leaves_the_applications_provider_healthy(
    otel: OTel, handles: list[Instrumentation]
) -> None:
    exporter = InMemorySpanExporter()
    handle = instrument(exporter=exporter, metric_reader=InMemoryMetricReader(), httpx=False)
    handle.shutdown()
    assert otel.tracer_provider.force_flush() is True
    with otel.tracer_provider.get_tracer("app").start_as_current_span("after"):
        pass
    assert exporter.get_finished_spans() == ()  # l0's processor is out
    assert otel.named("after")  # the application's own still works


def test_settings_and_shutdown(otel: OTel, handles: list[Instrumentation]) -> None:
    handle = instrument(exporter="none", httpx=False, capture_content=True, events="all")
    assert settings.capture_content is True
    assert settings.events == "all"
    handle.shutdown()
    assert settings.capture_content is False
    assert settings.events == "lifecycle"
    assert instrument_module._current is None


def test_http_clients_are_instrumented_and_released(
    otel: OTel, handles: list[Instrumentation]
) -> None:
    """httpx (openai 2) and httpx2 (openai 3) both: whichever the provider uses, its
    requests get spans."""
    instrumentors = [HTTPXClientInstrumentor(), HTTPX2ClientInstrumentor()]
    assert not any(i.is_instrumented_by_opentelemetry for i in instrumentors)
    handle = instrument(exporter="none")
    assert all(i.is_instrumented_by_opentelemetry for i in instrumentors)
    handle.shutdown()
    assert not any(i.is_instrumented_by_opentelemetry for i in instrumentors)


def test_an_http_instrumentation_the_app_turned_on_stays_on(
    otel: OTel, handles: list[Instrumentation]
) -> None:
    """l0 neither instruments it a second time nor turns it off at shutdown."""
    mine = HTTPX2ClientInstrumentor()
    mine.instrument(tracer_provider=otel.tracer_provider)
    try:
        handle = instrument(exporter="none")
        assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
        handle.shutdown()
        assert mine.is_instrumented_by_opentelemetry
        assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    finally:
        mine.uninstrument()


def test_otel_sdk_disabled_gives_a_no_op_handle(
    otel: OTel, handles: list[Instrumentation], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = instrument(exporter=InMemorySpanExporter())
    handles.append(handle)
    assert handle.enabled is False
    assert handle._processors == []
    assert handle.force_flush() is True
    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    assert not HTTPX2ClientInstrumentor().is_instrumented_by_opentelemetry


def test_sentry_switch(otel: OTel, handles: list[Instrumentation], sentry: Any) -> None:
    from telemetry_support import session_info

    from l0.telemetry.sentry import sentry_sink_factory

    handles.append(instrument(exporter="none", httpx=False, sentry=False))
    assert sentry_sink_factory(session_info()) is None
    instrument(exporter="none", httpx=False, sentry=None)
    assert sentry_sink_factory(session_info()) is not None


@pytest.mark.parametrize(
    ("arguments", "error", "names"),
    [
        ({"service_name": ""}, TypeError, "service_name"),
        ({"service_name": 3}, TypeError, "service_name"),
        ({"exporter": "jaeger"}, ValueError, "exporter"),
        ({"exporter": object()}, TypeError, "exporter"),
        ({"metrics": "yes"}, TypeError, "metrics"),
        ({"metric_reader": object()}, TypeError, "metric_reader"),
        ({"metric_reader": InMemoryMetricReader(), "metrics": False}, ValueError, "metric_reader"),
        ({"httpx": None}, TypeError, "httpx"),
        ({"sentry": "on"}, TypeError, "sentry"),
        ({"capture_content": 1}, TypeError, "capture_content"),
        ({"events": "some"}, ValueError, "events"),
    ],
)
def test_bad_arguments_fail_with_the_argument_named(
    arguments: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        instrument(**arguments)
    assert instrument_module._current is None


def _fresh(code: str, **env: str) -> str:
    """Run `code` in a new interpreter (no global providers set yet)."""
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_fresh_process_gets_sdk_providers_with_the_service_name() -> None:
    out = _fresh(
        """
        import sys
        import l0.telemetry as t
        heavy = ("opentelemetry.sdk", "sentry_sdk", "openai", "litellm")
        assert not [m for m in sys.modules if m.startswith(heavy)]
        handle = t.instrument("svc-fresh", exporter="console", httpx=False)
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.trace import TracerProvider
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider) and provider is handle.tracer_provider
        assert handle._owns_tracer_provider
        print(provider.resource.attributes["service.name"], len(handle._readers))
        handle.shutdown()
        """
    )
    assert out == "svc-fresh 1"


def test_otel_service_name_wins_and_no_endpoint_means_no_exporter() -> None:
    out = _fresh(
        """
        import l0.telemetry as t
        handle = t.instrument("from-code", httpx=False)
        print(handle.tracer_provider.resource.attributes["service.name"],
              len(handle._processors), len(handle._readers))
        """,
        OTEL_SERVICE_NAME="from-env",
    )
    assert out == "from-env 0 0"


def test_an_endpoint_variable_turns_on_otlp() -> None:
    out = _fresh(
        """
        import l0.telemetry as t
        handle = t.instrument(httpx=False)
        [processor] = handle._processors
        exporter = processor.inner._batch_processor._exporter
        print(type(exporter).__module__, exporter._endpoint, len(handle._readers))
        """,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1",
    )
    assert out == (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter http://127.0.0.1:1/v1/traces 1"
    )
