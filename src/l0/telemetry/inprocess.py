"""An in-process OpenTelemetry setup whose spans and metrics can be printed as text.

`make demo` uses it. It configures the SDK the way an application would (its own
providers, set globally) and then calls `l0.instrument()`, which joins them — so what is
printed is what any backend would receive.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from .instrument import Instrumentation, instrument

DIM, BOLD, RESET = ("\033[2m", "\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
SPAN_ATTRIBUTES = (
    "l0.outcome",
    "l0.retry.count",
    "l0.fallback.index",
    "l0.token.count",
    "gen_ai.request.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.output_tokens",
    "gen_ai.response.time_to_first_chunk",
    "error.type",
    "http.response.status_code",
    "l0.multi.winner_index",
    "l0.multi.cancelled_count",
    "l0.hedge.count",
)
EVENT_ATTRIBUTES = (
    "reason",
    "timeout_type",
    "elapsed_ms",
    "to_index",
    "category",
    "will_retry",
    "index",
    "winner_index",
    "discarded",
    "after_ms",
)


class InProcessTelemetry:
    def __init__(self, spans: Any, reader: Any, handle: Instrumentation) -> None:
        self._spans = spans
        self._reader = reader
        self._handle = handle

    @classmethod
    def install(cls, service_name: str) -> InProcessTelemetry:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        resource = Resource.create({"service.name": service_name})
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader], resource=resource))
        # Joins the providers above; adds OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        handle = instrument(service_name)
        return cls(spans, reader, handle)

    def span_tree(self, session_id: str) -> str:
        spans = list(self._spans.get_finished_spans())
        root = next(
            (s for s in spans if (s.attributes or {}).get("l0.session.id") == session_id), None
        )
        if root is None:
            return "  (no session span: is an OpenTelemetry SDK installed?)"
        trace_id = root.context.trace_id
        in_trace = [s for s in spans if s.context.trace_id == trace_id]
        # From the outermost span recorded here: a race or hedge holds its child sessions.
        by_id = {s.context.span_id: s for s in in_trace}
        while root.parent is not None and root.parent.span_id in by_id:
            root = by_id[root.parent.span_id]
        children: dict[int | None, list[Any]] = defaultdict(list)
        for span in in_trace:
            children[span.parent.span_id if span.parent else None].append(span)
        lines = [f"  trace {trace_id:032x}"]
        _render(root, children, depth=1, out=lines)
        return "\n".join(lines)

    def metrics_summary(self) -> str:
        data = self._reader.get_metrics_data()
        lines = []
        for metric in _metrics(data):
            for point in metric.data.data_points:
                labels = ", ".join(f"{k}={v}" for k, v in sorted(point.attributes.items()))
                lines.append(f"  {metric.name:<44} {_value(point):>12}  {DIM}{labels}{RESET}")
        return "\n".join(lines)

    def shutdown(self) -> None:
        self._handle.force_flush()
        self._handle.shutdown()


def _render(span: Any, children: dict[int | None, list[Any]], depth: int, out: list[str]) -> None:
    pad = "  " * depth
    duration_ms = (span.end_time - span.start_time) / 1e6
    status = span.status.status_code.name
    attributes = span.attributes or {}
    shown = " ".join(f"{k}={_short(attributes[k])}" for k in SPAN_ATTRIBUTES if k in attributes)
    out.append(f"{pad}{span.name}  {duration_ms:.1f} ms  {status}  {DIM}{shown}{RESET}")
    for event in span.events:
        fields = event.attributes or {}
        detail = " ".join(
            f"{k}={_short(v)}" for k, v in fields.items() if k.split(".")[-1] in EVENT_ATTRIBUTES
        )
        out.append(f"{pad}  · {event.name} {DIM}{detail}{RESET}")
    for child in sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time):
        _render(child, children, depth + 1, out)


def _metrics(data: Any) -> Iterable[Any]:
    for resource_metrics in data.resource_metrics if data else ():
        for scope in resource_metrics.scope_metrics:
            if scope.scope.name == "l0":
                yield from sorted(scope.metrics, key=lambda m: m.name)


def _value(point: Any) -> str:
    if hasattr(point, "bucket_counts"):
        return f"n={point.count} sum={point.sum:.3g}"
    return str(point.value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ",".join(map(str, value))
    return str(value)
