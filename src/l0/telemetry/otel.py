"""The OpenTelemetry sink: one session's spans, span events and metrics.

It emits only through the OpenTelemetry API (the library rule of OpenTelemetry), so
whatever providers the application set globally — `l0.instrument()`'s, Logfire's, or
hand-made — receive l0's telemetry, and with none set the factory returns no sink at all.
The providers are looked up for every session, so configuring OpenTelemetry after
`import l0` works.

Cost: a handful of spans and a few dozen dictionary lookups per session; nothing per
token (the session emits per-token events only when detailed events were asked for).
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Tracer, TracerProvider

from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from . import metric_names as m
from .coexistence import PROVIDER_CALL, stand_in
from .facade import Session, settings
from .mapping import MAPPING, Action
from .otel_metrics import SessionMetrics, instruments_for, l0_version
from .otel_traces import SessionSpans

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "OTelSink",
    "capture_content_enabled",
    "otel_sink_factory",
    "tracer_for",
]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CONTENT_ON = frozenset({"true", "1", "yes", "span_only", "event_only", "span_and_event"})

_UNRECORDED = frozenset(
    event_type
    for event_type, rule in MAPPING.items()
    if rule.action is Action.DETAIL and rule.summary is None and not rule.metrics
)
"""Event types that leave nothing unless `events="all"`: skipped before any dispatch."""

_TRACERS: weakref.WeakKeyDictionary[TracerProvider, Tracer] = weakref.WeakKeyDictionary()


def capture_content_enabled() -> bool:
    """Content (tool arguments and results, the output text) goes into telemetry only on
    request: `l0.instrument(capture_content=True)` or the GenAI semconv variable."""
    if settings.capture_content:
        return True
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CONTENT_ON


def tracer_for(provider: TracerProvider) -> Tracer:
    """l0's tracer from `provider` (cached per provider)."""
    tracer = _TRACERS.get(provider)
    if tracer is None:
        tracer = _TRACERS[provider] = provider.get_tracer(
            m.METER_NAME, l0_version(), schema_url=m.SCHEMA_URL
        )
    return tracer


class OTelSink:
    """Turns one session's lifecycle events into spans and metrics (see `mapping`)."""

    __slots__ = ("_ignored", "metrics", "spans")

    def __init__(
        self,
        session: Session,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        capture_content: bool | None = None,
        all_events: bool | None = None,
    ) -> None:
        tracer_provider = tracer_provider or trace.get_tracer_provider()
        meter_provider = meter_provider or metrics.get_meter_provider()
        if all_events is None:
            all_events = settings.events == "all"
        self.spans = SessionSpans(
            tracer_for(tracer_provider),
            session,
            capture_content=(
                capture_content_enabled() if capture_content is None else capture_content
            ),
            all_events=all_events,
        )
        self.metrics = SessionMetrics(instruments_for(meter_provider))
        self._ignored = frozenset[T]() if all_events else _UNRECORDED

    def handle(self, event: ObservabilityEvent) -> None:
        if event.type in self._ignored:
            return
        rule = MAPPING[event.type]
        if self.spans.attempt is None and event.type is T.ATTEMPT_END:
            return  # a second end of an attempt already ended: not a second operation
        opened = self.spans.handle(event, rule)
        if rule.metrics:
            ctx = opened.context() if opened is not None else None
            self.metrics.handle(event, ctx, self.spans.info)

    @contextlib.contextmanager
    def provider_scope(self) -> Iterator[None]:
        """Make the attempt span current while the session calls into the provider, so the
        provider's HTTP spans (`http_clients`) become its children, and mark the call as
        l0's so the official openai instrumentation stays out of it (`coexistence`).

        The session enters this around the factory call and the wait for the response,
        never across a `yield`, so attach and detach happen in the same context.
        """
        ctx = self.spans.attempt_context()
        if ctx is None:
            yield
            return
        stand_in()
        token = otel_context.attach(otel_context.set_value(PROVIDER_CALL, True, ctx))
        try:
            yield
        finally:
            otel_context.detach(token)

    @contextlib.contextmanager
    def parent_scope(self) -> Iterator[None]:
        """Make the root span (a multi-stream operation's) current while child sessions are
        started: each copies the context into its task, and its `l0.session` span takes
        the root as parent. Entered around task creation only, never across a `yield`."""
        ctx = self.spans.root_context()
        if ctx is None:
            yield
            return
        token = otel_context.attach(ctx)
        try:
            yield
        finally:
            otel_context.detach(token)


def _configured(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> bool:
    """False while the application has set no provider: then l0 emits nothing at all."""
    no_tracing = isinstance(tracer_provider, ProxyTracerProvider | NoOpTracerProvider)
    no_metrics = isinstance(meter_provider, NoOpMeterProvider) or (
        type(meter_provider).__name__ == "_ProxyMeterProvider"
    )
    return not (no_tracing and no_metrics)


def otel_sink_factory(session: Session) -> OTelSink | None:
    """The default sink factory: an `OTelSink` on the global providers, if any are set."""
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    if not _configured(tracer_provider, meter_provider):
        return None
    return OTelSink(session, tracer_provider, meter_provider)
