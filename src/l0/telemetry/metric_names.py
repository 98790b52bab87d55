"""The metric contract: instrument names, units, attributes and bucket boundaries.

One module holds every name so the OpenTelemetry sink that records the metrics, the
shipped Grafana dashboards that query them and the docs cannot drift apart (DESIGN.md §5).
It imports nothing beyond the standard library.

Each `MetricSpec` carries both the OpenTelemetry instrument (what the sink creates) and the
Prometheus names the same instrument gets after OpenTelemetry's Prometheus translation, as
produced by `opentelemetry-exporter-prometheus`'s `PrometheusMetricReader` and by the
Collector's `prometheus` exporter (`UnderscoreEscapingWithSuffixes`): dots become
underscores, the unit `s` appends `_seconds`, annotation units such as `{token}` are
dropped, monotonic counters end in `_total`, histograms expose `_bucket`, `_sum` and
`_count`, and an up-down counter becomes a gauge. `tests/stack/test_collector_config.py`
checks these names against the real exporter output; docs/metrics.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ACTIVE_SESSIONS",
    "ALL_METRICS",
    "ATTR_DRIFT_TYPE",
    "ATTR_ERROR_CATEGORY",
    "ATTR_ERROR_TYPE",
    "ATTR_FALLBACK_INDEX",
    "ATTR_GUARDRAIL_RULE",
    "ATTR_GUARDRAIL_SEVERITY",
    "ATTR_OPERATION_NAME",
    "ATTR_OUTCOME",
    "ATTR_PROVIDER_NAME",
    "ATTR_REQUEST_MODEL",
    "ATTR_RETRY_COUNTS_TOWARD_LIMIT",
    "ATTR_RETRY_REASON",
    "ATTR_TIMEOUT_TYPE",
    "ATTR_TOKEN_TYPE",
    "CHECKPOINTS",
    "DRIFT_DETECTIONS",
    "DURATION_BUCKETS",
    "FALLBACKS",
    "GUARDRAIL_VIOLATIONS",
    "METER_NAME",
    "OPERATION_DURATION",
    "OUTCOMES",
    "PROM_LABEL_INSTANCE",
    "PROM_LABEL_JOB",
    "PROM_LABEL_SCOPE_NAME",
    "PROM_TARGET_INFO",
    "RESUMES",
    "RETRIES",
    "SESSIONS",
    "SESSION_DURATION",
    "TIMEOUTS",
    "TIMEOUT_TYPES",
    "TIME_TO_FIRST_CHUNK",
    "TOKENS",
    "TOKEN_BUCKETS",
    "TOKEN_TYPES",
    "TOKEN_USAGE",
    "InstrumentKind",
    "MetricSpec",
    "by_name",
    "prometheus_label",
]

InstrumentKind = Literal["counter", "up_down_counter", "histogram"]

METER_NAME: Final = "l0"
"""Instrumentation scope of l0's meter; Prometheus shows it as `otel_scope_name="l0"`."""

# --- Bucket advice -----------------------------------------------------------------------

DURATION_BUCKETS: Final[tuple[float, ...]] = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
"""OTel GenAI semconv advice for `gen_ai.client.operation.duration` (seconds); l0 uses it
for every duration histogram (time to first chunk, session duration)."""

TOKEN_BUCKETS: Final[tuple[float, ...]] = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
"""OTel GenAI semconv advice for `gen_ai.client.token.usage`."""

# --- Attribute names (OpenTelemetry) --------------------------------------------------------

ATTR_OPERATION_NAME: Final = "gen_ai.operation.name"
ATTR_PROVIDER_NAME: Final = "gen_ai.provider.name"
ATTR_REQUEST_MODEL: Final = "gen_ai.request.model"
ATTR_TOKEN_TYPE: Final = "gen_ai.token.type"
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_ERROR_CATEGORY: Final = "error.category"
ATTR_OUTCOME: Final = "l0.outcome"
ATTR_RETRY_REASON: Final = "l0.retry.reason"
ATTR_RETRY_COUNTS_TOWARD_LIMIT: Final = "l0.retry.counts_toward_limit"
ATTR_FALLBACK_INDEX: Final = "l0.fallback.index"
ATTR_TIMEOUT_TYPE: Final = "l0.timeout.type"
ATTR_GUARDRAIL_RULE: Final = "l0.guardrail.rule"
ATTR_GUARDRAIL_SEVERITY: Final = "l0.guardrail.severity"
ATTR_DRIFT_TYPE: Final = "l0.drift.type"

OUTCOMES: Final[tuple[str, ...]] = ("success", "error", "aborted")
"""Values of `l0.outcome`."""
TIMEOUT_TYPES: Final[tuple[str, ...]] = ("initial", "inter")
"""Values of `l0.timeout.type`."""
TOKEN_TYPES: Final[tuple[str, ...]] = ("input", "output")
"""Values of `gen_ai.token.type`."""

_GENAI_ATTRIBUTES: Final[tuple[str, ...]] = (
    ATTR_OPERATION_NAME,
    ATTR_PROVIDER_NAME,
    ATTR_REQUEST_MODEL,
    ATTR_ERROR_TYPE,
)

# --- Prometheus-side label names that do not come from metric attributes ------------------

PROM_LABEL_JOB: Final = "job"
"""Direct scrape: the scrape job name. Via the Collector's `prometheus` exporter (with
`honor_labels: true`): `service.name` (`service.namespace/service.name` when set)."""
PROM_LABEL_INSTANCE: Final = "instance"
"""Direct scrape: host:port of the target. Via the Collector: `service.instance.id`."""
PROM_LABEL_SCOPE_NAME: Final = "otel_scope_name"
"""Instrumentation scope name on every series (also `otel_scope_version`,
`otel_scope_schema_url`)."""
PROM_TARGET_INFO: Final = "target_info"
"""Gauge carrying the resource attributes (`service_name`, `telemetry_sdk_*`...)."""


def prometheus_label(attribute: str) -> str:
    """The Prometheus label name of an OpenTelemetry attribute (`l0.outcome` → `l0_outcome`).

    Every character outside `[a-zA-Z0-9_]` becomes `_`; a leading digit gets a `key_`
    prefix. That is what both the SDK's Prometheus reader and the Collector produce.
    """
    out = "".join(ch if (ch.isascii() and (ch.isalnum() or ch == "_")) else "_" for ch in attribute)
    if out[:1].isdigit():
        out = "key_" + out
    return out


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One instrument of the metric contract and its Prometheus names."""

    name: str
    """OpenTelemetry instrument name."""
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[str, ...]
    """Attribute keys the instrument is recorded with (low cardinality only)."""
    prometheus_name: str
    """Metric family name in Prometheus (counters include `_total`)."""
    buckets: tuple[float, ...] | None = None
    """Explicit bucket boundaries advice (histograms only)."""

    @property
    def prometheus_series(self) -> tuple[str, ...]:
        """Series names a Prometheus query can select."""
        if self.kind == "histogram":
            base = self.prometheus_name
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        return (self.prometheus_name,)

    @property
    def prometheus_type(self) -> str:
        """`# TYPE` of the family in the exposition text."""
        return {"counter": "counter", "up_down_counter": "gauge", "histogram": "histogram"}[
            self.kind
        ]

    @property
    def prometheus_labels(self) -> tuple[str, ...]:
        """Label names from the attributes (plus `le` on `_bucket`, not listed here)."""
        return tuple(prometheus_label(a) for a in self.attributes)


# --- The instruments ------------------------------------------------------------------------

OPERATION_DURATION: Final = MetricSpec(
    name="gen_ai.client.operation.duration",
    kind="histogram",
    unit="s",
    description="Duration of one GenAI client operation (one l0 attempt), until its last chunk.",
    attributes=_GENAI_ATTRIBUTES,
    prometheus_name="gen_ai_client_operation_duration_seconds",
    buckets=DURATION_BUCKETS,
)
TIME_TO_FIRST_CHUNK: Final = MetricSpec(
    name="gen_ai.client.operation.time_to_first_chunk",
    kind="histogram",
    unit="s",
    description="Time from the start of a GenAI client operation to its first streamed chunk.",
    attributes=_GENAI_ATTRIBUTES,
    prometheus_name="gen_ai_client_operation_time_to_first_chunk_seconds",
    buckets=DURATION_BUCKETS,
)
TOKEN_USAGE: Final = MetricSpec(
    name="gen_ai.client.token.usage",
    kind="histogram",
    unit="{token}",
    description="Number of input and output tokens used per GenAI client operation.",
    attributes=(*_GENAI_ATTRIBUTES, ATTR_TOKEN_TYPE),
    prometheus_name="gen_ai_client_token_usage",
    buckets=TOKEN_BUCKETS,
)
SESSIONS: Final = MetricSpec(
    name="l0.sessions",
    kind="counter",
    unit="{session}",
    description="l0 sessions finished, by outcome.",
    attributes=(ATTR_OUTCOME,),
    prometheus_name="l0_sessions_total",
)
SESSION_DURATION: Final = MetricSpec(
    name="l0.session.duration",
    kind="histogram",
    unit="s",
    description="Duration of an l0 session, all attempts, retries and fallbacks included.",
    attributes=(ATTR_OUTCOME,),
    prometheus_name="l0_session_duration_seconds",
    buckets=DURATION_BUCKETS,
)
ACTIVE_SESSIONS: Final = MetricSpec(
    name="l0.sessions.active",
    kind="up_down_counter",
    unit="{session}",
    description="l0 sessions in flight.",
    attributes=(),
    prometheus_name="l0_sessions_active",
)
RETRIES: Final = MetricSpec(
    name="l0.retries",
    kind="counter",
    unit="{retry}",
    description="Retries l0 made, by reason and error category.",
    attributes=(ATTR_RETRY_REASON, ATTR_ERROR_CATEGORY, ATTR_RETRY_COUNTS_TOWARD_LIMIT),
    prometheus_name="l0_retries_total",
)
FALLBACKS: Final = MetricSpec(
    name="l0.fallbacks",
    kind="counter",
    unit="{fallback}",
    description="Switches to a fallback stream, by fallback index (1 = first fallback).",
    attributes=(ATTR_FALLBACK_INDEX,),
    prometheus_name="l0_fallbacks_total",
)
TIMEOUTS: Final = MetricSpec(
    name="l0.timeouts",
    kind="counter",
    unit="{timeout}",
    description="Initial-token and inter-token timeouts that fired.",
    attributes=(ATTR_TIMEOUT_TYPE,),
    prometheus_name="l0_timeouts_total",
)
GUARDRAIL_VIOLATIONS: Final = MetricSpec(
    name="l0.guardrail.violations",
    kind="counter",
    unit="{violation}",
    description="Guardrail violations, by rule and severity.",
    attributes=(ATTR_GUARDRAIL_RULE, ATTR_GUARDRAIL_SEVERITY),
    prometheus_name="l0_guardrail_violations_total",
)
DRIFT_DETECTIONS: Final = MetricSpec(
    name="l0.drift.detections",
    kind="counter",
    unit="{detection}",
    description="Drift detections, by drift type.",
    attributes=(ATTR_DRIFT_TYPE,),
    prometheus_name="l0_drift_detections_total",
)
CHECKPOINTS: Final = MetricSpec(
    name="l0.checkpoints",
    kind="counter",
    unit="{checkpoint}",
    description="Checkpoints saved.",
    attributes=(),
    prometheus_name="l0_checkpoints_total",
)
RESUMES: Final = MetricSpec(
    name="l0.resumes",
    kind="counter",
    unit="{resume}",
    description="Continuations from a checkpoint.",
    attributes=(),
    prometheus_name="l0_resumes_total",
)
TOKENS: Final = MetricSpec(
    name="l0.tokens",
    kind="counter",
    unit="{token}",
    description="Tokens (stream chunks) delivered to the consumer.",
    attributes=(ATTR_PROVIDER_NAME, ATTR_REQUEST_MODEL),
    prometheus_name="l0_tokens_total",
)

ALL_METRICS: Final[tuple[MetricSpec, ...]] = (
    OPERATION_DURATION,
    TIME_TO_FIRST_CHUNK,
    TOKEN_USAGE,
    SESSIONS,
    SESSION_DURATION,
    ACTIVE_SESSIONS,
    RETRIES,
    FALLBACKS,
    TIMEOUTS,
    GUARDRAIL_VIOLATIONS,
    DRIFT_DETECTIONS,
    CHECKPOINTS,
    RESUMES,
    TOKENS,
)

_BY_NAME: Final[dict[str, MetricSpec]] = {m.name: m for m in ALL_METRICS}


def by_name(name: str) -> MetricSpec:
    """The spec of the instrument called `name` (KeyError if it is not in the contract)."""
    return _BY_NAME[name]
