"""Constants and helpers shared by the telemetry tests (planted secrets, stream factories)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import openai
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import l0
from l0.events import ObservabilityEventType
from l0.telemetry.facade import Session, Sink, Telemetry
from l0.types import State

SECRET = "sk-l0-planted-secret"
PROMPT = "PLANTEDPROMPT tell me about the weather on Titan"
COMPLETION = "PLANTEDCOMPLETION alpha beta gamma"
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]

RETRY = l0.Retry(attempts=2, max_retries=3, base_delay=0.0, max_delay=0.0)
# Long enough that a loaded machine never times out a healthy stream; stalls last 3 s+.
TIMEOUT = l0.Timeout(initial_token=1.0, inter_token=1.0)


def factory(client: openai.AsyncOpenAI, model: str = "gpt-test") -> Callable[[], Any]:
    """A stream factory as users write it: the real client, stream=True, usage on."""
    return lambda: client.chat.completions.create(
        model=model,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )


async def run(client: openai.AsyncOpenAI, model: str = "gpt-test", **options: Any) -> l0.Result:
    options.setdefault("retry", RETRY)
    options.setdefault("timeout", TIMEOUT)
    return await l0.run(factory(client, model), **options)


async def eventually(check: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait for something the event loop finishes later (an async generator's finalizer)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def telemetry(
    sinks: list[Sink],
    *,
    context: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    session_id: str = "s1",
) -> Telemetry:
    """A session's facade with the given sinks, for emitting events by hand."""
    return Telemetry(
        session_id,
        MappingProxyType(context or {}),
        MappingProxyType(meta or {}),
        sinks,
        detailed=False,
    )


def session_info(
    *, context: dict[str, Any] | None = None, meta: dict[str, Any] | None = None
) -> Session:
    return Session("s1", State(), context or {}, meta or {}, False)


T = ObservabilityEventType


class SpanTracker(SpanProcessor):
    """Remembers every span started and ended, to prove none leaked."""

    def __init__(self) -> None:
        self.started: dict[int, str] = {}
        self.ended: set[int] = set()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.ended.add(span.context.span_id)

    def open_spans(self) -> list[str]:
        return [name for sid, name in self.started.items() if sid not in self.ended]

    def clear(self) -> None:
        self.started.clear()
        self.ended.clear()


@dataclass
class OTel:
    """The in-memory ends of the global providers."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracker: SpanTracker
    collected: list[Any] = field(default_factory=list)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def collect(self) -> None:
        """Take this test's measurements so far (delta temporality) into `collected`."""
        data: MetricsData | None = self.reader.get_metrics_data()
        if data is None:
            return
        for resource_metrics in data.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                if scope.scope.name != "l0":
                    continue
                self.collected.extend(scope.metrics)

    def points(self, name: str) -> list[Any]:
        self.collect()
        return [
            p for metric in self.collected if metric.name == name for p in metric.data.data_points
        ]

    def total(self, name: str, **attributes: Any) -> float:
        """Sum of a counter (or count of a histogram) over points matching `attributes`."""
        total = 0.0
        for point in self.points(name):
            if all(point.attributes.get(k) == v for k, v in attributes.items()):
                total += getattr(point, "value", None) if hasattr(point, "value") else point.count
        return total

    def metric_attributes(self) -> list[dict[str, Any]]:
        self.collect()
        return [dict(p.attributes) for m in self.collected for p in m.data.data_points]

    def active_sessions(self) -> float:
        self.collect()
        values = [
            p.value
            for m in self.collected
            if m.name == "l0.sessions.active"
            for p in m.data.data_points
        ]
        return values[-1] if values else 0


def sentry_transport() -> Any:
    """A real sentry_sdk Transport subclass that keeps every envelope instead of sending."""
    from sentry_sdk.envelope import Envelope
    from sentry_sdk.transport import Transport

    class Capturing(Transport):
        def __init__(self, options: dict[str, Any] | None = None) -> None:
            super().__init__(options)
            self.envelopes: list[Envelope] = []

        def capture_envelope(self, envelope: Envelope) -> None:
            self.envelopes.append(envelope)

        def events(self) -> list[dict[str, Any]]:
            found = [e.get_event() for e in self.envelopes]
            return [dict(event) for event in found if event is not None]

        def errors(self) -> list[dict[str, Any]]:
            return [e for e in self.events() if "exception" in e]

        def raw(self) -> str:
            return b"".join(e.serialize() for e in self.envelopes).decode(errors="replace")

    return Capturing()
