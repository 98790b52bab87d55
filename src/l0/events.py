"""Lifecycle events: the vocabulary the engines use to report what happens.

Every moment of a session is one `ObservabilityEvent`. The engines hand them to the
telemetry facade (`l0.telemetry.facade`), which fans them out to callbacks, `on_event`,
OpenTelemetry and Sentry. The payload fields of each type are documented in
docs/events.md; durations in payloads are milliseconds where the field name says `_ms`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from types import MappingProxyType
from typing import Any


class ObservabilityEventType(str, Enum):
    SESSION_START = "SESSION_START"
    SESSION_SUMMARY = "SESSION_SUMMARY"
    SESSION_END = "SESSION_END"

    ATTEMPT_START = "ATTEMPT_START"
    ATTEMPT_END = "ATTEMPT_END"

    STREAM_INIT = "STREAM_INIT"
    STREAM_READY = "STREAM_READY"

    ADAPTER_WRAP_START = "ADAPTER_WRAP_START"
    ADAPTER_DETECTED = "ADAPTER_DETECTED"
    ADAPTER_WRAP_END = "ADAPTER_WRAP_END"

    TIMEOUT_START = "TIMEOUT_START"
    TIMEOUT_RESET = "TIMEOUT_RESET"
    TIMEOUT_TRIGGERED = "TIMEOUT_TRIGGERED"

    RETRY_START = "RETRY_START"
    RETRY_ATTEMPT = "RETRY_ATTEMPT"
    RETRY_END = "RETRY_END"
    RETRY_GIVE_UP = "RETRY_GIVE_UP"

    FALLBACK_START = "FALLBACK_START"
    FALLBACK_MODEL_SELECTED = "FALLBACK_MODEL_SELECTED"
    FALLBACK_END = "FALLBACK_END"

    GUARDRAIL_PHASE_START = "GUARDRAIL_PHASE_START"
    GUARDRAIL_RULE_START = "GUARDRAIL_RULE_START"
    GUARDRAIL_RULE_RESULT = "GUARDRAIL_RULE_RESULT"
    GUARDRAIL_RULE_END = "GUARDRAIL_RULE_END"
    GUARDRAIL_PHASE_END = "GUARDRAIL_PHASE_END"
    GUARDRAIL_CALLBACK_START = "GUARDRAIL_CALLBACK_START"
    GUARDRAIL_CALLBACK_END = "GUARDRAIL_CALLBACK_END"

    NETWORK_ERROR = "NETWORK_ERROR"
    NETWORK_RECOVERY = "NETWORK_RECOVERY"
    CONNECTION_DROPPED = "CONNECTION_DROPPED"
    CONNECTION_RESTORED = "CONNECTION_RESTORED"

    CHECKPOINT_SAVED = "CHECKPOINT_SAVED"
    RESUME_START = "RESUME_START"
    RESUME_END = "RESUME_END"

    TOOL_REQUESTED = "TOOL_REQUESTED"
    TOOL_START = "TOOL_START"
    TOOL_RESULT = "TOOL_RESULT"
    TOOL_ERROR = "TOOL_ERROR"
    TOOL_COMPLETED = "TOOL_COMPLETED"

    DRIFT_CHECK_START = "DRIFT_CHECK_START"
    DRIFT_CHECK_RESULT = "DRIFT_CHECK_RESULT"
    DRIFT_CHECK_END = "DRIFT_CHECK_END"
    DRIFT_CHECK_SKIPPED = "DRIFT_CHECK_SKIPPED"

    ERROR = "ERROR"
    COMPLETE = "COMPLETE"
    FINALIZATION_START = "FINALIZATION_START"
    FINALIZATION_END = "FINALIZATION_END"

    ABORT_REQUESTED = "ABORT_REQUESTED"
    ABORT_COMPLETED = "ABORT_COMPLETED"

    CONTINUATION_START = "CONTINUATION_START"

    STRUCTURED_PARSE_START = "STRUCTURED_PARSE_START"
    STRUCTURED_PARSE_END = "STRUCTURED_PARSE_END"
    STRUCTURED_PARSE_ERROR = "STRUCTURED_PARSE_ERROR"
    STRUCTURED_VALIDATION_START = "STRUCTURED_VALIDATION_START"
    STRUCTURED_VALIDATION_END = "STRUCTURED_VALIDATION_END"
    STRUCTURED_VALIDATION_ERROR = "STRUCTURED_VALIDATION_ERROR"
    STRUCTURED_AUTO_CORRECT_START = "STRUCTURED_AUTO_CORRECT_START"
    STRUCTURED_AUTO_CORRECT_END = "STRUCTURED_AUTO_CORRECT_END"

    # Multi-stream operations (l0.race, hedged l0.run): the parent of child sessions.
    MULTI_START = "MULTI_START"
    HEDGE_START = "HEDGE_START"
    MULTI_WINNER = "MULTI_WINNER"
    STREAM_CANCELLED = "STREAM_CANCELLED"
    CONSENSUS_RESULT = "CONSENSUS_RESULT"
    PIPE_STAGE_END = "PIPE_STAGE_END"
    MULTI_END = "MULTI_END"


class Deferred:
    """A payload field built on first read, such as a checkpoint's text or its hash.

    Copying the text into every event would cost O(content) per event; a `Deferred`
    holds only how to build it, so events stay O(1) unless a reader asks. Reading the
    field as an attribute (`event.checkpoint`) or through `to_dict()` builds it once and
    stores the value in `data` in its place.
    """

    __slots__ = ("_build",)

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    def resolve(self) -> Any:
        return self._build()

    def __repr__(self) -> str:
        return "Deferred(<built on read>)"


class ObservabilityEvent:
    """One lifecycle moment.

    `type`, `ts` (epoch seconds), `stream_id` (the attempt), `session_id`, the caller's
    `context` (read-only) and `meta` are always present; the type's payload is in `data`
    and also readable as attributes (`event.attempt`, `event.reason`...). Fields whose value
    costs O(content) to build (checkpoint text, state hash) are `Deferred` in `data` and
    built on first attribute read.
    """

    __slots__ = ("context", "data", "meta", "session_id", "stream_id", "ts", "type")

    def __init__(
        self,
        type: ObservabilityEventType,
        ts: float,
        stream_id: str,
        session_id: str,
        context: MappingProxyType[str, Any],
        meta: MappingProxyType[str, Any],
        data: dict[str, Any],
    ) -> None:
        self.type = type
        self.ts = ts
        self.stream_id = stream_id
        self.session_id = session_id
        self.context = context
        self.meta = meta
        self.data = data

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not slots: the payload fields.
        try:
            return self._field(name)
        except KeyError:
            raise AttributeError(f"{self.type.value} event has no field {name!r}") from None

    def _field(self, name: str) -> Any:
        data = self.__getattribute__("data")
        value = data[name]
        if type(value) is Deferred:
            value = data[name] = value.resolve()
        return value

    # The stream `Event` predicates, so one `on_event` handler can take both kinds.
    is_token = False
    is_tool_call = False
    is_complete = False
    is_error = False
    is_reset = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "ts": self.ts,
            "stream_id": self.stream_id,
            "session_id": self.session_id,
            "context": dict(self.context),
            "meta": dict(self.meta),
            **{name: self._field(name) for name in list(self.data)},
        }

    def __repr__(self) -> str:
        return f"ObservabilityEvent({self.type.value}, {self.data!r})"
