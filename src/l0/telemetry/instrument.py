"""`l0.instrument()`: send l0's telemetry somewhere with one call at start-up (DESIGN §6).

It sets up (or joins) the OpenTelemetry SDK, turns on the HTTP client instrumentations
(`http_clients`) so the provider's HTTP requests appear under each attempt, and chooses
what the sinks record.
The SDK is imported here, inside the function, never at `import l0`.

Rules it keeps:
- an SDK `TracerProvider`/`MeterProvider` the application already set globally is reused:
  l0 adds its span processor / metric reader to it and never replaces it;
- the standard variables win: `OTEL_SDK_DISABLED`, `OTEL_SERVICE_NAME`,
  `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`,
  `OTEL_EXPORTER_OTLP_*` (endpoints, headers, protocol);
- calling it again changes the sink settings but adds no second exporter.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import ProxyTracerProvider, TracerProvider

from . import sentry as sentry_sink
from .coexistence import remove_gates
from .facade import settings
from .http_clients import instrument_http_clients, uninstrument_http_clients

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["EVENTS", "EXPORTERS", "Instrumentation", "instrument"]

logger = logging.getLogger("l0.telemetry")

EXPORTERS = ("otlp", "console", "none")
EVENTS = ("lifecycle", "all")

_lock = threading.Lock()
_current: Instrumentation | None = None


@dataclass(eq=False)
class Instrumentation:
    """What `l0.instrument()` set up. Keep it to flush or shut down at exit.

    `enabled` is False for the no-op handle (`OTEL_SDK_DISABLED=true`).
    """

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    enabled: bool = True
    _processors: list[SpanProcessor] = field(default_factory=list, repr=False)
    _readers: list[MetricReader] = field(default_factory=list, repr=False)
    _owns_tracer_provider: bool = field(default=False, repr=False)
    _owns_meter_provider: bool = field(default=False, repr=False)
    _http_clients: list[Any] = field(default_factory=list, repr=False)
    _key: tuple[Any, ...] = field(default=(), repr=False)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything recorded so far; True when every provider flushed in time."""
        if not self.enabled:
            return True
        ok = True
        # The SDK's MeterProvider.force_flush skips readers added after construction
        # (add_metric_reader), so the readers l0 added are flushed directly.
        added = [] if self._owns_meter_provider else self._readers
        targets = [self.tracer_provider, self.meter_provider, *added]
        for target in targets:
            flush = getattr(target, "force_flush", None)
            if flush is not None:
                ok = bool(flush(timeout_millis=timeout_millis)) and ok
        return ok

    def shutdown(self) -> None:
        """Flush and stop what l0 added; the application's own providers keep running."""
        global _current
        with _lock:
            if _current is self:
                _current = None
        if not self.enabled:
            return
        self.force_flush()
        uninstrument_http_clients(self._http_clients)
        self._http_clients = []
        remove_gates()
        _shutdown_tracing(self)
        _shutdown_metrics(self)
        settings.capture_content = False
        settings.events = "lifecycle"
        sentry_sink.set_enabled(None)


def _shutdown_tracing(handle: Instrumentation) -> None:
    if handle._owns_tracer_provider:
        getattr(handle.tracer_provider, "shutdown", lambda: None)()
    else:
        for processor in handle._processors:
            processor.shutdown()
    handle._processors = []


def _shutdown_metrics(handle: Instrumentation) -> None:
    provider = handle.meter_provider
    if handle._owns_meter_provider:
        getattr(provider, "shutdown", lambda: None)()
    else:
        remove = getattr(provider, "remove_metric_reader", None)
        for reader in handle._readers:
            if remove is not None:
                remove(reader)
            else:
                reader.shutdown()
    handle._readers = []


def instrument(
    service_name: str | None = None,
    *,
    exporter: str | SpanExporter | None = None,
    metrics: bool = True,
    metric_reader: MetricReader | None = None,
    httpx: bool = True,
    sentry: bool | None = None,
    capture_content: bool = False,
    events: str = "lifecycle",
) -> Instrumentation:
    """Send l0's traces and metrics somewhere; call once at start-up.

    - `exporter`: "otlp" (OTLP/HTTP, endpoint from `OTEL_EXPORTER_OTLP_*`), "console",
      "none", or a `SpanExporter`. None: `OTEL_TRACES_EXPORTER` if set, else "otlp" when an
      OTLP endpoint variable is set, else "none".
    - `metrics`: record l0's metrics; `metric_reader` adds your reader (e.g. a Prometheus
      reader); otherwise metrics follow the exporter choice.
    - `httpx`: turn on the installed HTTP client instrumentations (httpx, httpx2, aiohttp)
      so provider HTTP requests are children of attempt spans.
    - `sentry`: breadcrumbs and final-failure events; None = on when Sentry is initialised.
    - `capture_content`: put tool arguments/results and output text in telemetry.
    - `events`: "lifecycle" (default) or "all" (every high-frequency moment as a span event).
    """
    _validate(service_name, exporter, metrics, metric_reader, httpx, sentry, capture_content)
    if events not in EVENTS:
        raise ValueError(f"events must be one of {EVENTS}, got {events!r}")
    settings.capture_content = capture_content
    settings.events = events
    _configure_sentry(sentry)
    global _current
    with _lock:
        key = (service_name, exporter, metrics, metric_reader, httpx)
        if _current is not None:
            if _current._key != key:
                logger.warning(
                    "l0.instrument() was already called: keeping its exporter, metric and "
                    "httpx settings (call .shutdown() on its handle first to change them)"
                )
            return _current
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            handle = Instrumentation(
                trace.get_tracer_provider(), otel_metrics.get_meter_provider(), enabled=False
            )
        else:
            handle = _set_up(service_name, exporter, metrics, metric_reader, httpx)
        handle._key = key
        _current = handle
        return handle


# ------------------------------------------------------------------------ validation


def _validate(
    service_name: object,
    exporter: object,
    metrics: object,
    metric_reader: object,
    httpx: object,
    sentry: object,
    capture_content: object,
) -> None:
    if service_name is not None and (not isinstance(service_name, str) or not service_name):
        raise TypeError(f"service_name must be a non-empty str or None, got {service_name!r}")
    for name, value in (
        ("metrics", metrics),
        ("httpx", httpx),
        ("capture_content", capture_content),
    ):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if sentry is not None and not isinstance(sentry, bool):
        raise TypeError(f"sentry must be True, False or None, got {sentry!r}")
    if isinstance(exporter, str):
        if exporter not in EXPORTERS:
            raise ValueError(
                f"exporter must be one of {EXPORTERS} or a SpanExporter, got {exporter!r}"
            )
    elif exporter is not None:
        span_exporter = _sdk("opentelemetry.sdk.trace.export", "exporter").SpanExporter
        if not isinstance(exporter, span_exporter):
            raise TypeError(
                f"exporter must be one of {EXPORTERS} or a SpanExporter, "
                f"got {type(exporter).__name__}"
            )
    if metric_reader is not None:
        reader_type = _sdk("opentelemetry.sdk.metrics.export", "metric_reader").MetricReader
        if not isinstance(metric_reader, reader_type):
            raise TypeError(
                f"metric_reader must be a MetricReader, got {type(metric_reader).__name__}"
            )
        if not metrics:
            raise ValueError("metric_reader was given but metrics=False")


def _sdk(module: str, argument: str) -> Any:
    """Import part of the OpenTelemetry SDK, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"l0.instrument({argument}=...) needs the OpenTelemetry SDK: pip install 'l0[otel]'"
        ) from exc


def _configure_sentry(sentry: bool | None) -> None:
    if sentry is True:
        import importlib.util

        if importlib.util.find_spec("sentry_sdk") is None:
            raise ImportError("sentry=True needs sentry-sdk: pip install 'l0[sentry]'")
        if sentry_sink.active_sentry() is None:
            logger.warning("sentry=True, but sentry_sdk.init() has not been called yet")
    sentry_sink.set_enabled(sentry)


# -------------------------------------------------------------------------- set-up


def _set_up(
    service_name: str | None,
    exporter: str | SpanExporter | None,
    metrics: bool,
    metric_reader: MetricReader | None,
    httpx: bool,
) -> Instrumentation:
    resource = _resource(service_name)
    choice = _trace_exporter_choice(exporter)
    handle = _tracing(resource, choice)
    if metrics:
        _metrics(handle, resource, choice, metric_reader)
    else:
        handle.meter_provider = otel_metrics.get_meter_provider()
    if httpx:
        handle._http_clients = instrument_http_clients(handle.tracer_provider)
    return handle


def _resource(service_name: str | None) -> Resource:
    """Resource from the environment; `service_name` unless `OTEL_SERVICE_NAME` overrides it."""
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, str] = {}
    if service_name and not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name
    return Resource.create(attributes)


def _otlp_endpoint_set(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def _trace_exporter_choice(exporter: str | SpanExporter | None) -> str | SpanExporter:
    if exporter is not None:
        return exporter
    named = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named in EXPORTERS:
        return named
    return "otlp" if _otlp_endpoint_set("TRACES") else "none"


def _tracing(resource: Resource, choice: str | SpanExporter) -> Instrumentation:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    current = trace.get_tracer_provider()
    owned = False
    if isinstance(current, ProxyTracerProvider):
        current = SdkTracerProvider(resource=resource)
        trace.set_tracer_provider(current)
        owned = True
    handle = Instrumentation(current, otel_metrics.get_meter_provider())
    handle._owns_tracer_provider = owned
    processor = _span_processor(choice)
    if processor is None:
        return handle
    add = getattr(current, "add_span_processor", None)
    if add is None:
        logger.warning(
            "the global TracerProvider (%s) takes no span processors; l0 spans go wherever "
            "it sends them",
            type(current).__name__,
        )
        return handle
    add(processor)
    handle._processors.append(processor)
    return handle


def _span_processor(choice: str | SpanExporter) -> SpanProcessor | None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if choice == "none":
        return None
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return _detachable(SimpleSpanProcessor(ConsoleSpanExporter()))
    if choice == "otlp":
        return _detachable(BatchSpanProcessor(_otlp_span_exporter()))
    assert not isinstance(choice, str)
    return _detachable(BatchSpanProcessor(choice))


def _detachable(processor: SpanProcessor) -> SpanProcessor:
    """Wrap l0's processor so `shutdown()` can take it out of a provider it does not own.

    The SDK cannot remove a span processor; a shut-down one left in the application's
    provider would make every later `force_flush()` of that provider report failure. The
    wrapper forwards until shut down, then does nothing and flushes trivially.
    """
    from opentelemetry.sdk.trace import SpanProcessor as Base

    class Detachable(Base):
        def __init__(self, inner: SpanProcessor) -> None:
            self.inner: SpanProcessor | None = inner

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            if self.inner is not None:
                self.inner.on_start(span, parent_context=parent_context)

        def _on_ending(self, span: Any) -> None:
            if self.inner is not None:
                self.inner._on_ending(span)

        def on_end(self, span: Any) -> None:
            if self.inner is not None:
                self.inner.on_end(span)

        def shutdown(self) -> None:
            inner, self.inner = self.inner, None
            if inner is not None:
                inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return True if self.inner is None else self.inner.force_flush(timeout_millis)

    return Detachable(processor)


def _otlp_span_exporter() -> SpanExporter:
    if _protocol("TRACES") == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcSpanExporter,
            )

            return GrpcSpanExporter()  # type: ignore[no-any-return,unused-ignore]
        except ImportError:
            logger.warning("OTLP protocol grpc asked for, but its exporter is not installed")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _protocol(signal: str) -> str:
    return (
        (
            os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        .strip()
        .lower()
    )


def _metrics(
    handle: Instrumentation,
    resource: Resource,
    choice: str | SpanExporter,
    metric_reader: MetricReader | None,
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

    reader = metric_reader or _default_reader(choice)
    current = otel_metrics.get_meter_provider()
    handle.meter_provider = current
    if reader is None:
        return
    if type(current).__name__ == "_ProxyMeterProvider":
        provider = SdkMeterProvider(metric_readers=[reader], resource=resource)
        otel_metrics.set_meter_provider(provider)
        handle.meter_provider = provider
        handle._owns_meter_provider = True
        handle._readers.append(reader)
        return
    add = getattr(current, "add_metric_reader", None)
    if add is None:
        logger.warning(
            "the global MeterProvider (%s) takes no metric readers; l0 metrics go wherever "
            "it sends them",
            type(current).__name__,
        )
        return
    add(reader)
    handle._readers.append(reader)


def _default_reader(choice: str | SpanExporter) -> MetricReader | None:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    named = os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower()
    if named not in EXPORTERS:
        named = "otlp" if choice == "otlp" or _otlp_endpoint_set("METRICS") else ""
        named = named or ("console" if choice == "console" else "none")
    if named == "none":
        return None
    if named == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return PeriodicExportingMetricReader(OTLPMetricExporter())
