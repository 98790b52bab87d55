"""The one table: what every lifecycle event becomes in OpenTelemetry and Sentry.

Engines report `ObservabilityEvent`s; this table says, for each `ObservabilityEventType`,
whether it starts or ends a span, becomes a span event, sets span attributes, or is a
high-frequency moment that is only counted (and recorded as a span event with
`events="all"`); which metrics it feeds; and which Sentry breadcrumb it leaves. The OTel
and Sentry sinks read it, docs/observability.md shows it (`render_table()`), and a test
walks every enum member, so an event type can never be silently dropped.

Privacy lives here too: each rule names the payload fields it copies. Nothing is copied
wholesale, so prompt and completion text (or anything else a payload may grow later) stays
out of telemetry unless a rule copies it explicitly, and only when content capture is on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import orjson
from opentelemetry.util.types import AttributeValue

from .. import errors
from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from . import metric_names as m

__all__ = [
    "MAPPING",
    "Action",
    "Attributes",
    "Crumb",
    "Rule",
    "Target",
    "error_type",
    "render_table",
    "request_attributes",
]

Attributes = dict[str, AttributeValue]
Extract = Callable[[ObservabilityEvent, bool], Attributes]
"""Safe span/breadcrumb attributes of an event; the flag says whether content may be copied."""


class Action(str, Enum):
    START_SPAN = "starts span"
    END_SPAN = "ends span"
    EVENT = "span event"
    ATTRIBUTES = "span attributes"
    DETAIL = "summarised"
    """High frequency: counted on the span; a span event only with `events="all"`."""


class Target(str, Enum):
    """The span a rule acts on. ATTEMPT falls back to SESSION between attempts.

    MULTI is the root of a multi-stream operation (`l0.race`, `l0.hedge`...), the parent of
    its child sessions; its events come from the operation, never from a session.
    """

    SESSION = "l0.session"
    ATTEMPT = "chat {model}"
    RESUME = "l0.resume"
    TOOL = "execute_tool {name}"
    MULTI = "l0.{kind}"


@dataclass(frozen=True, slots=True)
class Crumb:
    """A Sentry breadcrumb: category `l0.<phase>` and a level (or a function of the event)."""

    category: str
    level: str | Callable[[ObservabilityEvent], str] = "info"

    def level_of(self, event: ObservabilityEvent) -> str:
        return self.level if isinstance(self.level, str) else self.level(event)


def _no_attributes(event: ObservabilityEvent, capture: bool) -> Attributes:
    return {}


@dataclass(frozen=True, slots=True)
class Rule:
    """What one event type becomes.

    `name` is the span event name (EVENT, DETAIL, and `announce` for spans) or the span
    name (START_SPAN). For an EVENT rule with `notable`, events that are not notable (a
    passing guardrail rule, a clean drift check) are treated like DETAIL. `summary` is the
    span attribute counting the events not recorded individually.
    """

    action: Action
    target: Target
    name: str = ""
    attributes: Extract = _no_attributes
    notable: Callable[[ObservabilityEvent], bool] | None = None
    summary: str | None = None
    announce: str | None = None
    """START_SPAN only: also a span event with this name on the session span."""
    metrics: tuple[str, ...] = ()
    breadcrumb: Crumb | None = None


# --------------------------------------------------------------------- value helpers


def _value(value: Any) -> AttributeValue | None:
    """An OTel attribute value, or None for anything that is not a plain scalar (dropped)."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and value:
        if all(isinstance(v, str) for v in value):
            return tuple(value)
        if all(isinstance(v, bool) for v in value):
            return tuple(value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
    return None


_PLAIN: Final = frozenset({str, int, float, bool})
"""Exact types copied as they are, without `_value`'s checks (most payload values)."""


def _fields(**names: str) -> Extract:
    """Copy the named payload fields (payload name=attribute key), skipping None values."""
    pairs = tuple(names.items())

    def extract(event: ObservabilityEvent, capture: bool) -> Attributes:
        data = event.data
        out: Attributes = {}
        for field, key in pairs:
            value = data.get(field)
            if value is None:
                continue
            if type(value) not in _PLAIN:
                value = _value(value)
                if value is None:
                    continue
            out[key] = value
        return out

    return extract


def _merge(*extracts: Extract) -> Extract:
    def extract(event: ObservabilityEvent, capture: bool) -> Attributes:
        out: Attributes = {}
        for part in extracts:
            out.update(part(event, capture))
        return out

    return extract


def error_type(error: object) -> str | None:
    """OTel `error.type` of a payload's error: `l0.errors.error_type` names exceptions."""
    if error is None:
        return None
    if isinstance(error, str):
        # Payloads give "TypeError: message"; the message is not a type (and may be long).
        return error.split(":", 1)[0].strip() or None
    if isinstance(error, BaseException):
        return errors.error_type(error)
    return type(error).__qualname__


def _error(event: ObservabilityEvent, capture: bool) -> Attributes:
    kind = error_type(event.data.get("error"))
    return {"error.type": kind} if kind else {}


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return str(value)


def _content(field: str, key: str) -> Extract:
    """A content-bearing field: copied only when content capture is on."""

    def extract(event: ObservabilityEvent, capture: bool) -> Attributes:
        value = event.data.get(field)
        if not capture or value is None:
            return {}
        return {key: value if isinstance(value, str) else _json(value)}

    return extract


def _timeout_start(event: ObservabilityEvent, capture: bool) -> Attributes:
    kind, configured = event.data.get("timeout_type"), event.data.get("configured_ms")
    if not isinstance(kind, str) or not isinstance(configured, int):
        return {}
    return {f"l0.timeout.{kind}_ms": configured}


def _finish_reasons(event: ObservabilityEvent, capture: bool) -> Attributes:
    reason = event.data.get("finish_reason")
    return {"gen_ai.response.finish_reasons": (reason,)} if isinstance(reason, str) else {}


def _attempt_finish_reasons(event: ObservabilityEvent, capture: bool) -> Attributes:
    """An attempt that failed before its finish reason arrived reports `error` in its
    place, as the conventions ask, so cut-off streams can be counted."""
    if event.data.get("error") is not None and event.data.get("finish_reason") is None:
        return {"gen_ai.response.finish_reasons": ("error",)}
    return _finish_reasons(event, capture)


_USAGE_KEYS: Final = (
    ("input_tokens", "gen_ai.usage.input_tokens"),
    ("output_tokens", "gen_ai.usage.output_tokens"),
    ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
    ("reasoning_output_tokens", "gen_ai.usage.reasoning.output_tokens"),
)
"""Field of l0's usage dict (adapters fill it) → span attribute."""


def _usage(event: ObservabilityEvent, capture: bool) -> Attributes:
    usage = event.data.get("usage")
    if usage is None or not isinstance(usage, Mapping):  # None: skip the ABC check
        return {}
    out: Attributes = {}
    for field, key in _USAGE_KEYS:
        value = usage.get(field)
        if isinstance(value, int):
            out[key] = value
    return out


def _float(value: Any) -> AttributeValue | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> AttributeValue | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> AttributeValue | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> AttributeValue | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _choice_count(value: Any) -> AttributeValue | None:
    return value if _int(value) is not None and value != 1 else None  # only when not 1


def _output_type(value: Any) -> AttributeValue | None:
    kind = value.get("type") if isinstance(value, Mapping) else None
    return _OUTPUT_TYPES.get(kind) if isinstance(kind, str) else None


_OUTPUT_TYPES: Final = {"text": "text", "json_object": "json", "json_schema": "json"}
"""OpenAI `response_format.type` → `gen_ai.output.type`."""

_REQUEST: Final[Mapping[str, tuple[str, Callable[[Any], AttributeValue | None]]]] = {
    "temperature": ("gen_ai.request.temperature", _float),
    "top_p": ("gen_ai.request.top_p", _float),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", _float),
    "presence_penalty": ("gen_ai.request.presence_penalty", _float),
    "max_tokens": ("gen_ai.request.max_tokens", _int),
    "max_completion_tokens": ("gen_ai.request.max_tokens", _int),
    "stop": ("gen_ai.request.stop_sequences", _strings),
    "seed": ("gen_ai.request.seed", _int),
    "n": ("gen_ai.request.choice.count", _choice_count),
    "reasoning_effort": ("gen_ai.request.reasoning.level", _str),
    "response_format": ("gen_ai.output.type", _output_type),
    "service_tier": ("openai.request.service_tier", _str),
}
"""Request parameter (an OpenAI chat completions body field) → span attribute and the
check its value must pass. Adapters report these fields (`StreamInfo.request`); nothing
else of a request body ever reaches telemetry."""


def request_attributes(params: Mapping[str, Any]) -> Attributes:
    """The GenAI request attributes of a request body's parameters (unknown keys ignored)."""
    out: Attributes = {}
    for field, (key, check) in _REQUEST.items():
        value = check(params.get(field))
        if value is not None:
            out[key] = value
    return out


def _request(event: ObservabilityEvent, capture: bool) -> Attributes:
    params = event.data.get("request")
    return request_attributes(params) if isinstance(params, Mapping) else {}


def _seconds(field: str, key: str) -> Extract:
    def extract(event: ObservabilityEvent, capture: bool) -> Attributes:
        value = event.data.get(field)
        return {key: float(value)} if isinstance(value, int | float) else {}

    return extract


def _violation(event: ObservabilityEvent, capture: bool) -> Attributes:
    out = _fields(
        index="l0.guardrail.index",
        rule_id="l0.guardrail.rule_id",
        passed="l0.guardrail.passed",
        phase="l0.guardrail.phase",
        callback_id="l0.guardrail.callback_id",
    )(event, capture)
    violation = event.data.get("violation")
    if violation is None:
        return out
    for field, key in (
        ("rule", m.ATTR_GUARDRAIL_RULE),
        ("severity", m.ATTR_GUARDRAIL_SEVERITY),
        ("message", "l0.guardrail.message"),
        ("recoverable", "l0.guardrail.recoverable"),
        ("position", "l0.guardrail.position"),
    ):
        value = _value(getattr(violation, field, None))
        if value is not None:
            out[key] = value
    return out


def _is_violation(event: ObservabilityEvent) -> bool:
    return event.data.get("violation") is not None and not event.data.get("passed", False)


def _violation_level(event: ObservabilityEvent) -> str:
    severity = getattr(event.data.get("violation"), "severity", "error")
    return {"warning": "warning", "fatal": "error"}.get(str(severity), "warning")


def _is_drift(event: ObservabilityEvent) -> bool:
    return bool(event.data.get("detected"))


def _tool_arguments_valid(event: ObservabilityEvent, capture: bool) -> Attributes:
    if "parse_error" not in event.data:
        return {}
    return {"l0.tool.arguments_valid": event.data.get("parse_error") is None}


def _error_level(event: ObservabilityEvent) -> str:
    recovering = event.data.get("will_retry") or event.data.get("will_fallback")
    return "warning" if recovering else "error"


def _multi_end(event: ObservabilityEvent, capture: bool) -> Attributes:
    out = _fields(
        outcome=m.ATTR_OUTCOME,
        winner_index="l0.multi.winner_index",
        cancelled_count="l0.multi.cancelled_count",
        hedges="l0.hedge.count",
        success_count="l0.multi.success_count",
        failed_count="l0.multi.failed_count",
        output_stage="l0.pipe.stage.name",
    )(event, capture)
    return out | _error(event, capture)


def _session_end_level(event: ObservabilityEvent) -> str:
    return {"success": "info", "aborted": "warning"}.get(str(event.data.get("outcome")), "error")


# ------------------------------------------------------------------------------ table

_TOOL = _fields(tool_name="gen_ai.tool.name", tool_call_id="gen_ai.tool.call.id")

MAPPING: Final[Mapping[T, Rule]] = {
    # -- session ---------------------------------------------------------------------
    T.SESSION_START: Rule(
        Action.START_SPAN,
        Target.SESSION,
        "l0.session",
        _fields(
            attempts="l0.retry.attempts",
            max_retries="l0.retry.max_retries",
            fallbacks="l0.fallback.count",
            continuation="l0.continuation",
            guardrails="l0.guardrail.count",
            drift="l0.drift.enabled",
        ),
        metrics=(m.ACTIVE_SESSIONS.name,),
        breadcrumb=Crumb("l0.session"),
    ),
    T.SESSION_SUMMARY: Rule(
        Action.ATTRIBUTES,
        Target.SESSION,
        attributes=_fields(
            outcome=m.ATTR_OUTCOME,
            token_count="l0.token.count",
            content_length="l0.content.length",
            retry_count="l0.retry.count",
            model_retry_count="l0.retry.model_count",
            network_retry_count="l0.retry.network_count",
            fallback_depth=m.ATTR_FALLBACK_INDEX,
            attempts="l0.attempt.count",
            checkpoints_created="l0.checkpoints",
            data_outputs="l0.data.count",
            resumed="l0.resumed",
            guardrail_violations="l0.guardrail.violations",
            drift_detected="l0.drift.detected",
            time_to_first_token_ms="l0.time_to_first_token_ms",
        ),
        metrics=(m.CHECKPOINTS.name,),
    ),
    T.SESSION_END: Rule(
        Action.END_SPAN,
        Target.SESSION,
        attributes=_merge(_fields(outcome=m.ATTR_OUTCOME), _error),
        metrics=(m.SESSIONS.name, m.SESSION_DURATION.name, m.ACTIVE_SESSIONS.name),
        breadcrumb=Crumb("l0.session", _session_end_level),
    ),
    # -- attempts --------------------------------------------------------------------
    T.ATTEMPT_START: Rule(
        Action.START_SPAN,
        Target.ATTEMPT,
        "chat",
        _fields(
            attempt="l0.attempt",
            fallback_index=m.ATTR_FALLBACK_INDEX,
            is_retry="l0.is_retry",
            is_fallback="l0.is_fallback",
        ),
        breadcrumb=Crumb("l0.attempt"),
    ),
    T.ATTEMPT_END: Rule(
        Action.END_SPAN,
        Target.ATTEMPT,
        attributes=_merge(
            _fields(
                provider=m.ATTR_PROVIDER_NAME,
                request_model=m.ATTR_REQUEST_MODEL,
                response_model=m.ATTR_RESPONSE_MODEL,
                response_id="gen_ai.response.id",
                token_count="l0.token.count",
                data_events="l0.data.count",
                progress_events="l0.progress.count",
                status="l0.attempt.status",
                error_type=m.ATTR_ERROR_TYPE,
                category=m.ATTR_ERROR_CATEGORY,
            ),
            _attempt_finish_reasons,
            _usage,
            _seconds("time_to_first_chunk", "gen_ai.response.time_to_first_chunk"),
        ),
        metrics=(
            m.INFERENCE_DURATION.name,
            m.TIME_TO_FIRST_CHUNK.name,
            m.INPUT_TOKENS.name,
            m.OUTPUT_TOKENS.name,
            m.CACHE_READ_INPUT_TOKENS.name,
            m.REASONING_OUTPUT_TOKENS.name,
            m.OPERATION_INPUT_TOKENS.name,
            m.OPERATION_OUTPUT_TOKENS.name,
            m.TOKENS.name,
        ),
    ),
    T.STREAM_INIT: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.stream.init",
        _fields(model=m.ATTR_REQUEST_MODEL, provider=m.ATTR_PROVIDER_NAME),
    ),
    T.STREAM_READY: Rule(
        Action.ATTRIBUTES,
        Target.ATTEMPT,
        attributes=_merge(
            _request,
            _fields(
                provider=m.ATTR_PROVIDER_NAME,
                request_model=m.ATTR_REQUEST_MODEL,
                server_address=m.ATTR_SERVER_ADDRESS,
                server_port=m.ATTR_SERVER_PORT,
                adapter="l0.adapter",
            ),
        ),
    ),
    T.ADAPTER_WRAP_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.adapter.wrap_start",
        _fields(stream_type="l0.stream.type", adapter_id="l0.adapter"),
    ),
    T.ADAPTER_DETECTED: Rule(
        Action.ATTRIBUTES, Target.ATTEMPT, attributes=_fields(adapter_id="l0.adapter")
    ),
    T.ADAPTER_WRAP_END: Rule(Action.DETAIL, Target.ATTEMPT, "l0.adapter.wrap_end"),
    # -- timeouts --------------------------------------------------------------------
    T.TIMEOUT_START: Rule(Action.ATTRIBUTES, Target.ATTEMPT, attributes=_timeout_start),
    T.TIMEOUT_RESET: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.timeout.reset",
        _fields(token_index="l0.token.index"),
        summary="l0.timeout.resets",
        metrics=(m.TIME_PER_OUTPUT_CHUNK.name,),
    ),
    T.TIMEOUT_TRIGGERED: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.timeout",
        _fields(
            timeout_type=m.ATTR_TIMEOUT_TYPE,
            elapsed_ms="l0.timeout.elapsed_ms",
            configured_ms="l0.timeout.configured_ms",
        ),
        metrics=(m.TIMEOUTS.name,),
        breadcrumb=Crumb("l0.timeout", "warning"),
    ),
    # -- retries ---------------------------------------------------------------------
    T.RETRY_START: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.retry.start",
        _fields(attempt="l0.attempt", max_attempts="l0.retry.attempts"),
    ),
    T.RETRY_ATTEMPT: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.retry",
        _fields(
            index="l0.retry.index",
            attempt="l0.attempt",
            reason=m.ATTR_RETRY_REASON,
            category=m.ATTR_ERROR_CATEGORY,
            counts_toward_limit=m.ATTR_RETRY_COUNTS_TOWARD_LIMIT,
            delay_ms="l0.retry.delay_ms",
            retry_after_ms="l0.retry.retry_after_ms",
        ),
        metrics=(m.RETRIES.name, m.TOKENS_WASTED.name),
        breadcrumb=Crumb("l0.retry", "warning"),
    ),
    T.RETRY_END: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.retry.end",
        _fields(attempt="l0.attempt", success="l0.retry.success", duration_ms="l0.duration_ms"),
        breadcrumb=Crumb("l0.retry"),
    ),
    T.RETRY_GIVE_UP: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.retry.give_up",
        _fields(attempts="l0.attempt.count", last_error="error.type", reason=m.ATTR_RETRY_REASON),
        breadcrumb=Crumb("l0.retry", "error"),
    ),
    # -- fallbacks -------------------------------------------------------------------
    T.FALLBACK_START: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.fallback",
        _fields(
            from_index="l0.fallback.from_index",
            to_index=m.ATTR_FALLBACK_INDEX,
            from_model="l0.fallback.from_model",
            to_model="l0.fallback.to_model",
            reason="l0.fallback.reason",
        ),
        metrics=(m.FALLBACKS.name, m.TOKENS_WASTED.name),
        breadcrumb=Crumb("l0.fallback", "warning"),
    ),
    T.FALLBACK_MODEL_SELECTED: Rule(
        Action.ATTRIBUTES,
        Target.SESSION,
        attributes=_fields(index=m.ATTR_FALLBACK_INDEX, model="l0.fallback.model"),
    ),
    T.FALLBACK_END: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.fallback.end",
        _fields(
            index=m.ATTR_FALLBACK_INDEX, success="l0.fallback.success", duration_ms="l0.duration_ms"
        ),
        breadcrumb=Crumb("l0.fallback"),
    ),
    # -- guardrails ------------------------------------------------------------------
    T.GUARDRAIL_PHASE_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.guardrail.phase_start",
        _fields(phase="l0.guardrail.phase", rule_count="l0.guardrail.count"),
        summary="l0.guardrail.phases",
    ),
    T.GUARDRAIL_RULE_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.guardrail.rule_start",
        _fields(
            index="l0.guardrail.index",
            rule_id="l0.guardrail.rule_id",
            callback_id="l0.guardrail.callback_id",
        ),
        summary="l0.guardrail.rule_checks",
    ),
    T.GUARDRAIL_RULE_RESULT: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.guardrail.violation",
        _violation,
        notable=_is_violation,
        summary="l0.guardrail.passes",
        metrics=(m.GUARDRAIL_VIOLATIONS.name,),
        breadcrumb=Crumb("l0.guardrail", _violation_level),
    ),
    T.GUARDRAIL_RULE_END: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.guardrail.rule_end",
        _fields(
            index="l0.guardrail.index",
            rule_id="l0.guardrail.rule_id",
            callback_id="l0.guardrail.callback_id",
            passed="l0.guardrail.passed",
            duration_ms="l0.duration_ms",
        ),
    ),
    T.GUARDRAIL_PHASE_END: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.guardrail.phase_end",
        _fields(
            phase="l0.guardrail.phase",
            passed="l0.guardrail.passed",
            violations="l0.guardrail.violations",
            duration_ms="l0.duration_ms",
        ),
    ),
    T.GUARDRAIL_CALLBACK_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.guardrail.callback_start",
        _fields(index="l0.guardrail.index", rule_id="l0.guardrail.rule_id"),
        summary="l0.guardrail.callbacks",
    ),
    T.GUARDRAIL_CALLBACK_END: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.guardrail.callback_end",
        _merge(
            _fields(
                index="l0.guardrail.index",
                rule_id="l0.guardrail.rule_id",
                success="l0.guardrail.success",
                duration_ms="l0.duration_ms",
            ),
            _error,
        ),
    ),
    # -- network ---------------------------------------------------------------------
    T.NETWORK_ERROR: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.network.error",
        _fields(
            error="error.type",
            code="l0.network.reason",
            category=m.ATTR_ERROR_CATEGORY,
            will_retry="l0.will_retry",
        ),
        breadcrumb=Crumb("l0.network", "warning"),
    ),
    T.NETWORK_RECOVERY: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.network.recovery",
        _fields(attempt_count="l0.network.error_count", duration_ms="l0.duration_ms"),
        breadcrumb=Crumb("l0.network"),
    ),
    T.CONNECTION_DROPPED: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.connection.dropped",
        _fields(reason="l0.network.reason"),
        breadcrumb=Crumb("l0.network", "warning"),
    ),
    T.CONNECTION_RESTORED: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.connection.restored",
        _fields(duration_ms="l0.duration_ms"),
        breadcrumb=Crumb("l0.network"),
    ),
    # -- checkpoints and resumption --------------------------------------------------
    T.CHECKPOINT_SAVED: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.checkpoint",
        _fields(checkpoint_length="l0.checkpoint.length", token_count="l0.token.count"),
        # Counted from ATTEMPT_END/SESSION_SUMMARY (`l0.checkpoints`), which the session
        # reports even when it does not emit one event per checkpoint.
    ),
    T.RESUME_START: Rule(
        Action.START_SPAN,
        Target.RESUME,
        "l0.resume",
        _fields(
            checkpoint_length="l0.checkpoint.length",
            token_count="l0.checkpoint.token_count",
            reason="l0.resume.reason",
        ),
        announce="l0.resume",
        metrics=(m.RESUMES.name,),
        breadcrumb=Crumb("l0.resume"),
    ),
    T.RESUME_END: Rule(
        Action.END_SPAN,
        Target.RESUME,
        attributes=_fields(
            success="l0.resume.success",
            duration_ms="l0.duration_ms",
            overlap_removed="l0.resume.overlap_removed",
        ),
    ),
    # -- tools -----------------------------------------------------------------------
    T.TOOL_REQUESTED: Rule(
        Action.START_SPAN,
        Target.TOOL,
        "execute_tool",
        _merge(
            _TOOL,
            _fields(arguments_length="l0.tool.arguments_length"),
            _tool_arguments_valid,
            _content("arguments", "gen_ai.tool.call.arguments"),
        ),
        announce="l0.tool_call",
        breadcrumb=Crumb("l0.tool"),
    ),
    T.TOOL_START: Rule(Action.START_SPAN, Target.TOOL, "execute_tool", _TOOL),
    T.TOOL_RESULT: Rule(
        Action.END_SPAN,
        Target.TOOL,
        attributes=_merge(
            _TOOL,
            _fields(duration_ms="l0.duration_ms"),
            _content("result", "gen_ai.tool.call.result"),
        ),
    ),
    T.TOOL_ERROR: Rule(
        Action.END_SPAN,
        Target.TOOL,
        attributes=_merge(_TOOL, _fields(duration_ms="l0.duration_ms"), _error),
        breadcrumb=Crumb("l0.tool", "error"),
    ),
    T.TOOL_COMPLETED: Rule(
        Action.END_SPAN, Target.TOOL, attributes=_merge(_TOOL, _fields(status="l0.tool.status"))
    ),
    # -- drift -----------------------------------------------------------------------
    T.DRIFT_CHECK_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.drift.check_start",
        _fields(token_count="l0.token.count", strategy="l0.drift.strategy"),
        summary="l0.drift.checks",
    ),
    T.DRIFT_CHECK_RESULT: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.drift",
        _fields(
            detected="l0.drift.detected",
            types="l0.drift.types",
            score="l0.drift.score",
            threshold="l0.drift.threshold",
        ),
        notable=_is_drift,
        summary="l0.drift.passes",
        metrics=(m.DRIFT_DETECTIONS.name,),
        breadcrumb=Crumb("l0.drift", "warning"),
    ),
    T.DRIFT_CHECK_END: Rule(
        Action.DETAIL, Target.ATTEMPT, "l0.drift.check_end", _fields(duration_ms="l0.duration_ms")
    ),
    T.DRIFT_CHECK_SKIPPED: Rule(
        Action.ATTRIBUTES, Target.SESSION, attributes=_fields(reason="l0.drift.skipped_reason")
    ),
    # -- errors, completion, abort ---------------------------------------------------
    T.ERROR: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.error",
        _merge(
            _error,
            _fields(
                category=m.ATTR_ERROR_CATEGORY,
                reason="l0.error.reason",
                will_retry="l0.will_retry",
                will_fallback="l0.will_fallback",
            ),
        ),
        breadcrumb=Crumb("l0.error", _error_level),
    ),
    T.COMPLETE: Rule(
        Action.ATTRIBUTES,
        Target.SESSION,
        attributes=_merge(
            _fields(token_count="l0.token.count", content_length="l0.content.length"),
            _finish_reasons,
            _usage,
        ),
    ),
    T.FINALIZATION_START: Rule(Action.DETAIL, Target.SESSION, "l0.finalization.start"),
    T.FINALIZATION_END: Rule(
        Action.ATTRIBUTES,
        Target.SESSION,
        attributes=_fields(duration_ms="l0.finalization.duration_ms"),
    ),
    T.ABORT_REQUESTED: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.abort.requested",
        _fields(source="l0.abort.source"),
        breadcrumb=Crumb("l0.abort", "warning"),
    ),
    T.ABORT_COMPLETED: Rule(
        Action.EVENT,
        Target.SESSION,
        "l0.abort",
        _fields(
            resources_freed="l0.abort.resources_freed",
            token_count="l0.token.count",
            content_length="l0.content.length",
        ),
        breadcrumb=Crumb("l0.abort"),
    ),
    # -- continuation ----------------------------------------------------------------
    T.CONTINUATION_START: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.continuation",
        _fields(
            checkpoint_length="l0.checkpoint.length",
            token_count="l0.checkpoint.token_count",
            prompt_passed="l0.continuation.prompt_passed",
        ),
    ),
    # -- structured output (l0.structured: once per attempt, at its completion check) -
    T.STRUCTURED_PARSE_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.structured.parse_start",
        _fields(content_length="l0.content.length"),
    ),
    T.STRUCTURED_PARSE_END: Rule(
        Action.ATTRIBUTES,
        Target.ATTEMPT,
        attributes=_fields(
            success="l0.structured.parsed", duration_ms="l0.structured.parse_duration_ms"
        ),
    ),
    T.STRUCTURED_PARSE_ERROR: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.structured.parse_error",
        _merge(_error, _content("error", "l0.structured.error")),
        breadcrumb=Crumb("l0.structured", "warning"),
    ),
    T.STRUCTURED_VALIDATION_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.structured.validation_start",
        _fields(schema_name="l0.structured.schema"),
    ),
    T.STRUCTURED_VALIDATION_END: Rule(
        Action.ATTRIBUTES,
        Target.ATTEMPT,
        attributes=_fields(
            valid="l0.structured.valid", duration_ms="l0.structured.validation_duration_ms"
        ),
    ),
    T.STRUCTURED_VALIDATION_ERROR: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.structured.validation_error",
        _fields(schema_name="l0.structured.schema", error_count="l0.structured.error_count"),
        breadcrumb=Crumb("l0.structured", "warning"),
    ),
    T.STRUCTURED_AUTO_CORRECT_START: Rule(
        Action.DETAIL,
        Target.ATTEMPT,
        "l0.structured.auto_correct_start",
        _fields(error_count="l0.structured.error_count"),
    ),
    T.STRUCTURED_AUTO_CORRECT_END: Rule(
        Action.EVENT,
        Target.ATTEMPT,
        "l0.structured.auto_correct",
        _fields(
            success="l0.structured.auto_correct.success",
            corrections_made="l0.structured.auto_correct.corrections",
            duration_ms="l0.duration_ms",
        ),
        breadcrumb=Crumb("l0.structured"),
    ),
    # -- multi-stream operations -----------------------------------------------------
    T.MULTI_START: Rule(
        Action.START_SPAN,
        Target.MULTI,
        "l0.{kind}",
        _fields(
            kind=m.ATTR_MULTI_KIND,
            task_count="l0.multi.task_count",
            max_hedges="l0.hedge.max",
            concurrency="l0.multi.concurrency",
            fail_fast="l0.multi.fail_fast",
            strategy=m.ATTR_CONSENSUS_STRATEGY,
            stages="l0.pipe.stages",
        ),
        breadcrumb=Crumb("l0.multi"),
    ),
    T.HEDGE_START: Rule(
        Action.EVENT,
        Target.MULTI,
        "l0.hedge",
        _fields(
            index="l0.multi.index",
            after_ms="l0.hedge.after_ms",
            quantile="l0.hedge.quantile",
        ),
        metrics=(m.HEDGES.name,),
        breadcrumb=Crumb("l0.multi", "warning"),
    ),
    T.MULTI_WINNER: Rule(
        Action.EVENT,
        Target.MULTI,
        "l0.multi.winner",
        _fields(index="l0.multi.winner_index", child_session_id="l0.multi.child.session_id"),
        metrics=(m.MULTI_WINS.name,),
        breadcrumb=Crumb("l0.multi"),
    ),
    T.STREAM_CANCELLED: Rule(
        Action.EVENT,
        Target.MULTI,
        "l0.stream.cancelled",
        _fields(
            index="l0.multi.index",
            reason=m.ATTR_WASTE_REASON,
            tokens_discarded="l0.tokens.discarded",
            child_session_id="l0.multi.child.session_id",
        ),
        metrics=(m.STREAMS_CANCELLED.name, m.TOKENS_WASTED.name),
        breadcrumb=Crumb("l0.multi"),
    ),
    T.CONSENSUS_RESULT: Rule(
        Action.EVENT,
        Target.MULTI,
        "l0.consensus.result",
        _fields(
            strategy=m.ATTR_CONSENSUS_STRATEGY,
            status="l0.consensus.status",
            agreement="l0.consensus.agreement",
            agreeing="l0.consensus.agreeing",
            disagreed_fields="l0.consensus.disagreed_fields",
        ),
        metrics=(m.CONSENSUS_AGREEMENT.name,),
        breadcrumb=Crumb("l0.multi"),
    ),
    T.PIPE_STAGE_END: Rule(
        Action.EVENT,
        Target.MULTI,
        "l0.pipe.stage",
        _fields(
            index="l0.multi.index",
            stage="l0.pipe.stage.name",
            outcome=m.ATTR_OUTCOME,
            child_session_id="l0.multi.child.session_id",
        ),
        breadcrumb=Crumb("l0.multi"),
    ),
    T.MULTI_END: Rule(
        Action.END_SPAN,
        Target.MULTI,
        attributes=_multi_end,
        breadcrumb=Crumb("l0.multi", _session_end_level),
    ),
}


# ---------------------------------------------------------------------------- docs


def _describe(rule: Rule) -> str:
    target = f"`{rule.target.value}`"
    if rule.action is Action.START_SPAN:
        text = f"starts {target}"
        if rule.target is Target.MULTI:
            text += " (`l0.race`, `l0.hedge`, `l0.parallel`...), the parent of its child sessions"
        if rule.announce:
            text += f" + event `{rule.announce}` on `l0.session`"
        return text
    if rule.action is Action.END_SPAN:
        return f"ends {target}"
    if rule.action is Action.ATTRIBUTES:
        return f"attributes on {target}"
    if rule.action is Action.EVENT:
        text = f"event `{rule.name}` on {target}"
        if rule.notable is not None:
            text += f" when it finds something; else counted in `{rule.summary}`"
        return text
    counted = f"counted in `{rule.summary}`" if rule.summary else "not recorded"
    return f'{counted}; event `{rule.name}` on {target} with `events="all"`'


def _crumb(rule: Rule) -> str:
    crumb = rule.breadcrumb
    if crumb is None:
        return ""
    level = crumb.level if isinstance(crumb.level, str) else "by severity"
    return f"`{crumb.category}` ({level})"


def render_table(rows: Sequence[T] | None = None) -> str:
    """The mapping as the Markdown table in docs/observability.md."""
    lines = [
        "| event | OpenTelemetry | metrics | Sentry breadcrumb |",
        "| --- | --- | --- | --- |",
    ]
    for event_type in rows if rows is not None else list(T):
        rule = MAPPING[event_type]
        metrics = ", ".join(f"`{name}`" for name in rule.metrics)
        lines.append(f"| `{event_type.value}` | {_describe(rule)} | {metrics} | {_crumb(rule)} |")
    return "\n".join(lines) + "\n"
