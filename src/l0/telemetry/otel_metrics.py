"""l0's metrics (DESIGN §5): instruments per meter provider, recorded from lifecycle events.

Instruments are created once per meter provider and cached. Each measurement is recorded
with the context of the span the event belongs to, so the SDK's trace-based exemplar
filter links the metric to the trace. Attributes are low-cardinality only: never session,
response or tool-call ids.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram, Meter, MeterProvider, UpDownCounter

from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from . import metric_names as m
from .mapping import Attributes
from .otel_traces import AttemptInfo, session_attempt_info

__all__ = ["Instruments", "SessionMetrics", "instruments_for", "l0_version", "recorded_events"]


@lru_cache(maxsize=1)
def l0_version() -> str:
    """l0's version, for the instrumentation scope (read once, lazily: metadata is slow)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("l0")
    except PackageNotFoundError:
        return "0.0.0"


class Instruments:
    """Every instrument of the metric contract, created from one meter."""

    def __init__(self, meter: Meter) -> None:
        self.counters: dict[str, Counter] = {}
        self.histograms: dict[str, Histogram] = {}
        self.up_down: dict[str, UpDownCounter] = {}
        for spec in m.ALL_METRICS:
            if spec.kind == "counter":
                self.counters[spec.name] = meter.create_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )
            elif spec.kind == "histogram":
                self.histograms[spec.name] = _histogram(meter, spec)
            else:
                self.up_down[spec.name] = meter.create_up_down_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )


def _histogram(meter: Meter, spec: m.MetricSpec) -> Histogram:
    """A histogram with the semconv bucket advice where the API takes advice.

    opentelemetry-api < 1.30 has no `explicit_bucket_boundaries_advisory` and raises
    TypeError for it: there the histogram gets the SDK's default buckets (or a View's).
    """
    buckets = list(spec.buckets or ())
    if buckets:
        try:
            return meter.create_histogram(
                spec.name,
                unit=spec.unit,
                description=spec.description,
                explicit_bucket_boundaries_advisory=buckets,
            )
        except TypeError:
            pass
    return meter.create_histogram(spec.name, unit=spec.unit, description=spec.description)


_CACHE: weakref.WeakKeyDictionary[MeterProvider, Instruments] = weakref.WeakKeyDictionary()


def instruments_for(provider: MeterProvider) -> Instruments:
    """The instruments of `provider`, created on first use."""
    instruments = _CACHE.get(provider)
    if instruments is None:
        meter = provider.get_meter(m.METER_NAME, l0_version(), schema_url=m.SCHEMA_URL)
        instruments = _CACHE[provider] = Instruments(meter)
    return instruments


Handler = Callable[["SessionMetrics", ObservabilityEvent, Context | None, AttemptInfo], None]


class SessionMetrics:
    """Records one session's measurements."""

    __slots__ = ("_i", "_last_chunk", "_started")

    def __init__(self, instruments: Instruments) -> None:
        self._i = instruments
        self._started: float | None = None
        self._last_chunk: float | None = None

    def handle(self, event: ObservabilityEvent, ctx: Context | None, info: AttemptInfo) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event, ctx, info)

    def _count(self, name: str, amount: int, attrs: Attributes, ctx: Context | None) -> None:
        self._i.counters[name].add(amount, attrs, context=ctx)

    # -------------------------------------------------------------------- session

    def _session_start(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        self._started = time.monotonic()
        self._i.up_down[m.ACTIVE_SESSIONS.name].add(1, context=ctx)

    def _session_end(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        outcome: Attributes = {m.ATTR_OUTCOME: str(e.data.get("outcome"))}
        self._count(m.SESSIONS.name, 1, outcome, ctx)
        if self._started is not None:
            duration = time.monotonic() - self._started
            self._i.histograms[m.SESSION_DURATION.name].record(duration, outcome, context=ctx)
            self._i.up_down[m.ACTIVE_SESSIONS.name].add(-1, context=ctx)
            self._started = None

    def _summary(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        checkpoints = e.data.get("checkpoints_created")
        if isinstance(checkpoints, int) and checkpoints > 0:
            self._count(m.CHECKPOINTS.name, checkpoints, {}, ctx)

    # ------------------------------------------------------------------- attempts

    def _attempt_end(self, e: ObservabilityEvent, ctx: Context | None, info: AttemptInfo) -> None:
        data = e.data
        attrs = _inference_attributes(info)
        response_model = data.get("response_model")
        if isinstance(response_model, str) and response_model:
            attrs[m.ATTR_RESPONSE_MODEL] = response_model
        with_error = attrs
        if data.get("error_type"):
            with_error = {**attrs, m.ATTR_ERROR_TYPE: str(data["error_type"])}
        histograms = self._i.histograms
        duration = data.get("duration")
        if isinstance(duration, int | float):
            histograms[m.INFERENCE_DURATION.name].record(duration, with_error, context=ctx)
        ttfc = data.get("time_to_first_chunk")
        if isinstance(ttfc, int | float):
            histograms[m.TIME_TO_FIRST_CHUNK.name].record(ttfc, attrs, context=ctx)
        usage = data.get("usage")
        self._usage(usage if isinstance(usage, dict) else {}, attrs, with_error, ctx)
        tokens = data.get("token_count")
        if isinstance(tokens, int) and tokens > 0:
            model = {k: attrs[k] for k in m.TOKENS.attributes if k in attrs}
            self._count(m.TOKENS.name, tokens, model, ctx)

    def _usage(
        self, usage: dict[str, Any], attrs: Attributes, with_error: Attributes, ctx: Context | None
    ) -> None:
        """Every attempt counts its tokens, 0 when the provider reported none (a failed
        attempt, or a stream without a usage chunk), as the conventions ask; the cache and
        reasoning parts only when the provider reported them."""
        counted = {**attrs, m.ATTR_TOKEN_MODALITY: m.UNKNOWN_MODALITY}
        counters, histograms = self._i.counters, self._i.histograms
        for spec, field, always in _USAGE_COUNTERS:
            value = usage.get(field)
            if isinstance(value, int):
                counters[spec.name].add(value, counted, context=ctx)
            elif always:
                counters[spec.name].add(0, counted, context=ctx)
        for spec, field in _USAGE_HISTOGRAMS:
            value = usage.get(field)
            amount = value if isinstance(value, int) else 0
            histograms[spec.name].record(amount, with_error, context=ctx)

    def _chunk(self, e: ObservabilityEvent, ctx: Context | None, info: AttemptInfo) -> None:
        """Time per output chunk, from the per-chunk events (`events="all"`): the gap since
        the attempt's previous chunk. The first chunk of an attempt only starts the clock."""
        last, self._last_chunk = self._last_chunk, e.ts
        if last is None or e.data.get("token_index") == 1:
            return
        histogram = self._i.histograms[m.TIME_PER_OUTPUT_CHUNK.name]
        histogram.record(max(e.ts - last, 0.0), _inference_attributes(info), context=ctx)

    # -------------------------------------------------------------- reliability

    def _retry(self, e: ObservabilityEvent, ctx: Context | None, info: AttemptInfo) -> None:
        data = e.data
        attrs: Attributes = {
            m.ATTR_RETRY_REASON: str(data.get("reason")),
            m.ATTR_ERROR_CATEGORY: str(data.get("category")),
            m.ATTR_RETRY_COUNTS_TOWARD_LIMIT: bool(data.get("counts_toward_limit")),
        }
        self._count(m.RETRIES.name, 1, attrs, ctx)
        self._wasted("retry", e, ctx, info)

    def _fallback(self, e: ObservabilityEvent, ctx: Context | None, info: AttemptInfo) -> None:
        index = e.data.get("to_index")
        attrs: Attributes = {m.ATTR_FALLBACK_INDEX: index} if isinstance(index, int) else {}
        self._count(m.FALLBACKS.name, 1, attrs, ctx)
        self._wasted("fallback", e, ctx, info)

    def _wasted(
        self, reason: str, e: ObservabilityEvent, ctx: Context | None, info: AttemptInfo
    ) -> None:
        """Tokens the retry boundary dropped, charged to the attempt that delivered them:
        `info` still describes it, as the next attempt has not opened its stream yet."""
        tokens = e.data.get("tokens_discarded")
        if not isinstance(tokens, int) or tokens <= 0:
            return
        delivered_by = info.attributes()
        attrs: Attributes = {m.ATTR_WASTE_REASON: reason}
        attrs.update((k, delivered_by[k]) for k in m.TOKENS_WASTED.attributes if k in delivered_by)
        self._count(m.TOKENS_WASTED.name, tokens, attrs, ctx)

    def _timeout(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        attrs: Attributes = {m.ATTR_TIMEOUT_TYPE: str(e.data.get("timeout_type"))}
        self._count(m.TIMEOUTS.name, 1, attrs, ctx)

    def _violation(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        violation = e.data.get("violation")
        if violation is None or e.data.get("passed", False):
            return
        attrs: Attributes = {
            m.ATTR_GUARDRAIL_RULE: str(getattr(violation, "rule", "unknown")),
            m.ATTR_GUARDRAIL_SEVERITY: str(getattr(violation, "severity", "error")),
        }
        self._count(m.GUARDRAIL_VIOLATIONS.name, 1, attrs, ctx)

    def _drift(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        if not e.data.get("detected"):
            return
        types = e.data.get("types") or ("unknown",)
        for drift_type in types:
            self._count(m.DRIFT_DETECTIONS.name, 1, {m.ATTR_DRIFT_TYPE: str(drift_type)}, ctx)

    def _resume(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        self._count(m.RESUMES.name, 1, {}, ctx)

    # ------------------------------------------------------- multi-stream operations
    # These events come from the operation; provider and model are its child session's,
    # which that session's own sink knows (`session_attempt_info`).

    def _hedge(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        self._count(m.HEDGES.name, 1, {m.ATTR_MULTI_KIND: "hedge"}, ctx)

    def _winner(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        attrs: Attributes = {m.ATTR_MULTI_KIND: str(e.data.get("kind"))}
        child = session_attempt_info(e.data.get("state"))
        if child is not None:
            attrs.update(_model_attributes(child, m.MULTI_WINS))
        self._count(m.MULTI_WINS.name, 1, attrs, ctx)

    def _cancelled(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        self._count(m.STREAMS_CANCELLED.name, 1, {m.ATTR_MULTI_KIND: str(e.data.get("kind"))}, ctx)
        child = session_attempt_info(e.data.get("state")) or AttemptInfo()
        self._wasted(str(e.data.get("reason")), e, ctx, child)

    def _consensus(self, e: ObservabilityEvent, ctx: Context | None, _: AttemptInfo) -> None:
        attrs: Attributes = {m.ATTR_CONSENSUS_STRATEGY: str(e.data.get("strategy"))}
        histogram = self._i.histograms[m.CONSENSUS_AGREEMENT.name]
        histogram.record(float(e.data["agreement"]), attrs, context=ctx)


_HANDLERS: dict[T, Handler] = {
    T.SESSION_START: SessionMetrics._session_start,
    T.SESSION_END: SessionMetrics._session_end,
    T.SESSION_SUMMARY: SessionMetrics._summary,
    T.ATTEMPT_END: SessionMetrics._attempt_end,
    T.TIMEOUT_RESET: SessionMetrics._chunk,
    T.RETRY_ATTEMPT: SessionMetrics._retry,
    T.FALLBACK_START: SessionMetrics._fallback,
    T.TIMEOUT_TRIGGERED: SessionMetrics._timeout,
    T.GUARDRAIL_RULE_RESULT: SessionMetrics._violation,
    T.DRIFT_CHECK_RESULT: SessionMetrics._drift,
    T.RESUME_START: SessionMetrics._resume,
    T.HEDGE_START: SessionMetrics._hedge,
    T.MULTI_WINNER: SessionMetrics._winner,
    T.STREAM_CANCELLED: SessionMetrics._cancelled,
    T.CONSENSUS_RESULT: SessionMetrics._consensus,
}


def _model_attributes(info: AttemptInfo, spec: m.MetricSpec) -> Attributes:
    known = info.attributes()
    return {key: known[key] for key in spec.attributes if key in known}


def _inference_attributes(info: AttemptInfo) -> Attributes:
    return {m.ATTR_OPERATION_NAME: "chat", **info.attributes()}


_USAGE_COUNTERS: tuple[tuple[m.MetricSpec, str, bool], ...] = (
    (m.INPUT_TOKENS, "input_tokens", True),
    (m.OUTPUT_TOKENS, "output_tokens", True),
    (m.CACHE_READ_INPUT_TOKENS, "cache_read_input_tokens", False),
    (m.REASONING_OUTPUT_TOKENS, "reasoning_output_tokens", False),
)
"""Usage counter, the field of l0's usage dict it counts, and whether it counts 0 too."""
_USAGE_HISTOGRAMS: tuple[tuple[m.MetricSpec, str], ...] = (
    (m.OPERATION_INPUT_TOKENS, "input_tokens"),
    (m.OPERATION_OUTPUT_TOKENS, "output_tokens"),
)


def recorded_events() -> frozenset[T]:
    """The event types that record metrics (a test checks it against the mapping table)."""
    return frozenset(_HANDLERS)
