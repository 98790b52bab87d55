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
    "AGREEMENT_BUCKETS",
    "ALL_METRICS",
    "ATTR_CONSENSUS_STRATEGY",
    "ATTR_DRIFT_TYPE",
    "ATTR_ERROR_CATEGORY",
    "ATTR_ERROR_TYPE",
    "ATTR_FALLBACK_INDEX",
    "ATTR_GUARDRAIL_RULE",
    "ATTR_GUARDRAIL_SEVERITY",
    "ATTR_MULTI_KIND",
    "ATTR_OPERATION_NAME",
    "ATTR_OUTCOME",
    "ATTR_PROVIDER_NAME",
    "ATTR_REQUEST_MODEL",
    "ATTR_RESPONSE_MODEL",
    "ATTR_RETRY_COUNTS_TOWARD_LIMIT",
    "ATTR_RETRY_REASON",
    "ATTR_SERVER_ADDRESS",
    "ATTR_SERVER_PORT",
    "ATTR_TIMEOUT_TYPE",
    "ATTR_TOKEN_MODALITY",
    "ATTR_WASTE_REASON",
    "CACHE_READ_INPUT_TOKENS",
    "CHECKPOINTS",
    "CONSENSUS_AGREEMENT",
    "CONSENSUS_STRATEGIES",
    "DRIFT_DETECTIONS",
    "DURATION_BUCKETS",
    "FALLBACKS",
    "GUARDRAIL_VIOLATIONS",
    "HEDGES",
    "INFERENCE_DURATION",
    "INPUT_TOKENS",
    "METER_NAME",
    "MULTI_KINDS",
    "MULTI_WINS",
    "OPERATION_INPUT_TOKENS",
    "OPERATION_OUTPUT_TOKENS",
    "OUTCOMES",
    "OUTPUT_TOKENS",
    "PROM_LABEL_INSTANCE",
    "PROM_LABEL_JOB",
    "PROM_LABEL_SCOPE_NAME",
    "PROM_TARGET_INFO",
    "REASONING_OUTPUT_TOKENS",
    "RESUMES",
    "RETRIES",
    "SCHEMA_URL",
    "SESSIONS",
    "SESSION_DURATION",
    "STREAMS_CANCELLED",
    "TIMEOUTS",
    "TIMEOUT_TYPES",
    "TIME_PER_OUTPUT_CHUNK",
    "TIME_TO_FIRST_CHUNK",
    "TOKENS",
    "TOKENS_WASTED",
    "TOKEN_BUCKETS",
    "UNKNOWN_MODALITY",
    "WASTE_REASONS",
    "InstrumentKind",
    "MetricSpec",
    "by_name",
    "prometheus_label",
]

InstrumentKind = Literal["counter", "up_down_counter", "histogram"]

METER_NAME: Final = "l0"
"""Instrumentation scope of l0's tracer and meter; Prometheus shows it as
`otel_scope_name="l0"`."""

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/gen-ai/0.1.0"
"""The GenAI semantic conventions l0 follows: release v0.1.0 of
open-telemetry/semantic-conventions-genai, the first since they left the core repository
(it builds on core semantic conventions v1.45.0, where `error.type` and `server.*` live).
The scope of l0's tracer and meter carries it (`otel_scope_schema_url` in Prometheus)."""

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
"""GenAI semconv advice for `gen_ai.client.inference.duration`, `...time_to_first_chunk` and
`...time_per_output_chunk` (seconds); l0 uses it for its session duration too."""

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
"""GenAI semconv advice for `gen_ai.client.inference.operation.{input,output}_tokens`."""

AGREEMENT_BUCKETS: Final[tuple[float, ...]] = (
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    0.95,
    0.99,
    1.0,
)
"""`l0.consensus.agreement` (a share, 0-1): fine near 1, where a drift from full agreement
starts, and a bucket boundary at 0.5, the majority line."""

# --- Attribute names (OpenTelemetry) --------------------------------------------------------

ATTR_OPERATION_NAME: Final = "gen_ai.operation.name"
ATTR_PROVIDER_NAME: Final = "gen_ai.provider.name"
ATTR_REQUEST_MODEL: Final = "gen_ai.request.model"
ATTR_RESPONSE_MODEL: Final = "gen_ai.response.model"
ATTR_SERVER_ADDRESS: Final = "server.address"
ATTR_SERVER_PORT: Final = "server.port"
ATTR_TOKEN_MODALITY: Final = "gen_ai.token.modality"
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_ERROR_CATEGORY: Final = "l0.error.category"
"""l0's error category (`ErrorCategory`): not a convention attribute, so under `l0.`."""
ATTR_OUTCOME: Final = "l0.outcome"
ATTR_RETRY_REASON: Final = "l0.retry.reason"
ATTR_RETRY_COUNTS_TOWARD_LIMIT: Final = "l0.retry.counts_toward_limit"
ATTR_FALLBACK_INDEX: Final = "l0.fallback.index"
ATTR_TIMEOUT_TYPE: Final = "l0.timeout.type"
ATTR_GUARDRAIL_RULE: Final = "l0.guardrail.rule"
ATTR_GUARDRAIL_SEVERITY: Final = "l0.guardrail.severity"
ATTR_DRIFT_TYPE: Final = "l0.drift.type"
ATTR_MULTI_KIND: Final = "l0.multi.kind"
ATTR_WASTE_REASON: Final = "l0.waste.reason"
ATTR_CONSENSUS_STRATEGY: Final = "l0.consensus.strategy"

OUTCOMES: Final[tuple[str, ...]] = ("success", "error", "aborted")
"""Values of `l0.outcome`."""
TIMEOUT_TYPES: Final[tuple[str, ...]] = ("initial", "inter")
"""Values of `l0.timeout.type`."""
MULTI_KINDS: Final[tuple[str, ...]] = ("race", "hedge", "parallel", "consensus", "pipe")
"""Values of `l0.multi.kind`: the multi-stream operation (`l0.race`, a hedged `l0.run`...)."""
CONSENSUS_STRATEGIES: Final[tuple[str, ...]] = ("majority", "unanimous", "best", "weighted")
"""Values of `l0.consensus.strategy`."""
WASTE_REASONS: Final[tuple[str, ...]] = (
    "retry",
    "fallback",
    "race_loser",
    "hedge_loser",
    "discarded",
)
"""Values of `l0.waste.reason`: why delivered tokens never reached the result (a retry or a
fallback started over, a losing race or hedge stream, output discarded otherwise)."""
UNKNOWN_MODALITY: Final = "unknown"
"""`gen_ai.token.modality` of every usage count: chat completions usage is not broken down
by modality, and the conventions say `unknown` then."""

_INFERENCE: Final[tuple[str, ...]] = (
    ATTR_OPERATION_NAME,
    ATTR_PROVIDER_NAME,
    ATTR_REQUEST_MODEL,
    ATTR_RESPONSE_MODEL,
    ATTR_SERVER_ADDRESS,
    ATTR_SERVER_PORT,
)
"""Attributes of every `gen_ai.client.inference.*` instrument (each when known)."""
_INFERENCE_WITH_ERROR: Final = (*_INFERENCE, ATTR_ERROR_TYPE)
_WHILE_STREAMING: Final = tuple(a for a in _INFERENCE if a != ATTR_RESPONSE_MODEL)
"""What is known of an attempt while its chunks arrive: not yet the response model."""
_USAGE: Final = (*_INFERENCE, ATTR_TOKEN_MODALITY)

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

INFERENCE_DURATION: Final = MetricSpec(
    name="gen_ai.client.inference.duration",
    kind="histogram",
    unit="s",
    description="Duration of one GenAI inference call (one l0 attempt), until its last chunk.",
    attributes=_INFERENCE_WITH_ERROR,
    prometheus_name="gen_ai_client_inference_duration_seconds",
    buckets=DURATION_BUCKETS,
)
TIME_TO_FIRST_CHUNK: Final = MetricSpec(
    name="gen_ai.client.inference.time_to_first_chunk",
    kind="histogram",
    unit="s",
    description="Time from the start of a GenAI inference call to its first streamed chunk.",
    attributes=_INFERENCE,
    prometheus_name="gen_ai_client_inference_time_to_first_chunk_seconds",
    buckets=DURATION_BUCKETS,
)
TIME_PER_OUTPUT_CHUNK: Final = MetricSpec(
    name="gen_ai.client.inference.time_per_output_chunk",
    kind="histogram",
    unit="s",
    description="Time between consecutive streamed chunks, recorded for every chunk after "
    "the first (only while l0 reports per-chunk events).",
    attributes=_WHILE_STREAMING,
    prometheus_name="gen_ai_client_inference_time_per_output_chunk_seconds",
    buckets=DURATION_BUCKETS,
)


def _usage(name: str, description: str) -> MetricSpec:
    return MetricSpec(
        name=f"gen_ai.client.inference.usage.{name}",
        kind="counter",
        unit="{token}",
        description=description,
        attributes=_USAGE,
        prometheus_name=f"gen_ai_client_inference_usage_{name.replace('.', '_')}_total",
    )


INPUT_TOKENS: Final = _usage(
    "input_tokens", "Input (prompt) tokens used, cached ones included; 0 when none reported."
)
OUTPUT_TOKENS: Final = _usage(
    "output_tokens",
    "Output (completion) tokens used, reasoning ones included; 0 when none reported.",
)
CACHE_READ_INPUT_TOKENS: Final = _usage(
    "cache_read.input_tokens", "Input tokens served from the provider's prompt cache."
)
REASONING_OUTPUT_TOKENS: Final = _usage(
    "reasoning.output_tokens", "Output tokens the model spent on reasoning."
)
OPERATION_INPUT_TOKENS: Final = MetricSpec(
    name="gen_ai.client.inference.operation.input_tokens",
    kind="histogram",
    unit="{token}",
    description="Input tokens per GenAI inference call (for percentiles, not totals).",
    attributes=_INFERENCE_WITH_ERROR,
    prometheus_name="gen_ai_client_inference_operation_input_tokens",
    buckets=TOKEN_BUCKETS,
)
OPERATION_OUTPUT_TOKENS: Final = MetricSpec(
    name="gen_ai.client.inference.operation.output_tokens",
    kind="histogram",
    unit="{token}",
    description="Output tokens per GenAI inference call (for percentiles, not totals).",
    attributes=_INFERENCE_WITH_ERROR,
    prometheus_name="gen_ai_client_inference_operation_output_tokens",
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
TOKENS_WASTED: Final = MetricSpec(
    name="l0.tokens.wasted",
    kind="counter",
    unit="{token}",
    description="Tokens (stream chunks) delivered and then dropped from the result, by reason: "
    "the cost of reliability.",
    attributes=(ATTR_WASTE_REASON, ATTR_PROVIDER_NAME, ATTR_REQUEST_MODEL),
    prometheus_name="l0_tokens_wasted_total",
)
HEDGES: Final = MetricSpec(
    name="l0.hedges",
    kind="counter",
    unit="{hedge}",
    description="Hedge streams started because no first token came in time.",
    attributes=(ATTR_MULTI_KIND,),
    prometheus_name="l0_hedges_total",
)
STREAMS_CANCELLED: Final = MetricSpec(
    name="l0.streams.cancelled",
    kind="counter",
    unit="{stream}",
    description="Child sessions of a multi-stream operation cancelled because another won.",
    attributes=(ATTR_MULTI_KIND,),
    prometheus_name="l0_streams_cancelled_total",
)
MULTI_WINS: Final = MetricSpec(
    name="l0.multi.wins",
    kind="counter",
    unit="{win}",
    description="Races and hedges won, by the winning stream's provider and model.",
    attributes=(ATTR_MULTI_KIND, ATTR_PROVIDER_NAME, ATTR_REQUEST_MODEL),
    prometheus_name="l0_multi_wins_total",
)
CONSENSUS_AGREEMENT: Final = MetricSpec(
    name="l0.consensus.agreement",
    kind="histogram",
    unit="1",
    description="Agreement of each l0.consensus (0-1): the share of the tasks' weight behind "
    "the consensus output, by strategy.",
    attributes=(ATTR_CONSENSUS_STRATEGY,),
    prometheus_name="l0_consensus_agreement",
    buckets=AGREEMENT_BUCKETS,
)

ALL_METRICS: Final[tuple[MetricSpec, ...]] = (
    INFERENCE_DURATION,
    TIME_TO_FIRST_CHUNK,
    TIME_PER_OUTPUT_CHUNK,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    CACHE_READ_INPUT_TOKENS,
    REASONING_OUTPUT_TOKENS,
    OPERATION_INPUT_TOKENS,
    OPERATION_OUTPUT_TOKENS,
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
    TOKENS_WASTED,
    HEDGES,
    STREAMS_CANCELLED,
    MULTI_WINS,
    CONSENSUS_AGREEMENT,
)

_BY_NAME: Final[dict[str, MetricSpec]] = {m.name: m for m in ALL_METRICS}


def by_name(name: str) -> MetricSpec:
    """The spec of the instrument called `name` (KeyError if it is not in the contract)."""
    return _BY_NAME[name]
