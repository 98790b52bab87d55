"""The span tree of one session: `l0.session` ▸ `chat {model}` / `l0.resume` / `execute_tool`.

Spans are started and ended explicitly from lifecycle events, with the parent passed as a
context: nothing is ever attached here, so no context is held across the session's
`yield`s and the consumer's current span is never changed. The only attach happens in
`OTelSink.provider_scope`, around calls into the provider.

Every span ends on every path: each START has a matching END in the session's event
order, and SESSION_END (always the last event) ends whatever is still open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, Tracer

from ..errors import ErrorCode, L0Error
from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from . import metric_names as m
from .facade import Session
from .mapping import Action, Attributes, Rule, Target, error_type, request_attributes

__all__ = [
    "AttemptInfo",
    "SessionSpans",
    "describe_failed_request",
    "error_attributes",
    "session_attempt_info",
    "session_span_context",
]

logger = logging.getLogger("l0.telemetry")

_SESSION_SPANS: weakref.WeakKeyDictionary[Any, SpanContext] = weakref.WeakKeyDictionary()
_SESSIONS: weakref.WeakKeyDictionary[Any, weakref.ref[SessionSpans]] = (
    weakref.WeakKeyDictionary()
)  # a weak value too: the spans hold the state, which would keep the entry alive


def session_span_context(state: Any) -> SpanContext | None:
    """The `l0.session` span of the session that owns `state` (for the Sentry sink)."""
    try:
        return _SESSION_SPANS.get(state)
    except TypeError:
        return None


def session_attempt_info(state: Any) -> AttemptInfo | None:
    """Provider and model of the latest attempt of the session that owns `state`: a
    multi-stream operation's metrics name its child sessions' models with it."""
    try:
        ref = _SESSIONS.get(state)
    except TypeError:
        return None
    spans = ref() if ref is not None else None
    return spans.info if spans is not None else None


def _ns(ts: float) -> int:
    return int(ts * 1e9)


def error_attributes(error: object, capture: bool) -> Attributes:
    """The session's final `L0Error` as `l0.error.*` attributes, for the session span and
    the Sentry event alike: its content-free fields; the caller's `context` only when
    content is captured (its values are the caller's, like prompts)."""
    if not isinstance(error, L0Error):
        return {}
    attributes: Attributes = {
        "l0.error.code": error.code.value,
        "l0.error.category": error.category.value,
        "l0.error.timestamp": error.timestamp,
        "l0.error.token_count": error.token_count,
        "l0.error.content_length": error.content_length,
        "l0.error.checkpoint_length": error.checkpoint_length,
        "l0.error.attempts": error.attempts,
        "l0.error.model_retry_count": error.model_retry_count,
        "l0.error.network_retry_count": error.network_retry_count,
        "l0.error.fallback_index": error.fallback_index,
    }
    if error.status_code is not None:
        attributes["l0.error.status_code"] = error.status_code
    reason = error.metadata.get("reason")
    if isinstance(reason, str):
        attributes["l0.error.reason"] = reason
    if error.errors:
        attributes["l0.error.attempt_error_types"] = [
            error_type(e) or type(e).__qualname__ for e in error.errors
        ]
    if capture and error.context:
        attributes["l0.error.context"] = orjson.dumps(error.to_dict()["context"]).decode()
    return attributes


@dataclass(slots=True)
class AttemptInfo:
    """What is known about the current attempt's provider call (for spans and metrics)."""

    provider: str | None = None
    request_model: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    request: Attributes | None = None
    """Request parameter attributes of a failed request (span only, never on metrics)."""

    def take(self, data: dict[str, Any]) -> None:
        """Keep the fields `data` (a payload) knows; None leaves a field as it was."""
        for field in _INFO_FIELDS.values():
            value = data.get(field)
            if value is not None:
                setattr(self, field, value)

    def attributes(self) -> Attributes:
        out: Attributes = {}
        for key, field in _INFO_FIELDS.items():
            value = getattr(self, field)
            if value:
                out[key] = value
        return out


_INFO_FIELDS: dict[str, str] = {
    m.ATTR_PROVIDER_NAME: "provider",
    m.ATTR_REQUEST_MODEL: "request_model",
    m.ATTR_SERVER_ADDRESS: "server_address",
    m.ATTR_SERVER_PORT: "server_port",
}
"""Span attribute → `AttemptInfo` field."""


def describe_failed_request(error: BaseException | None) -> AttemptInfo | None:
    """Provider, model, server and request parameters of an attempt that failed before
    its stream opened.

    openai and httpx errors carry the request they were raised for; only the URL and the
    body's `model` and parameters are read (never the messages), so a 503 on the first try
    still gets a `chat {model}` span and metric attributes.
    """
    try:
        request = getattr(error, "request", None)
    except RuntimeError:  # httpx raises when an error has no request attached
        return None
    url = getattr(request, "url", None)
    if request is None or url is None:
        return None
    info = AttemptInfo()
    if type(error).__module__.split(".")[0] == "openai":
        info.provider = "openai"
    info.server_address = getattr(url, "host", None) or None
    scheme = getattr(url, "scheme", "")
    info.server_port = getattr(url, "port", None) or (443 if scheme == "https" else 80)
    try:
        body = orjson.loads(getattr(request, "content", b""))
    except (orjson.JSONDecodeError, TypeError, RuntimeError):
        return info
    if not isinstance(body, dict):
        return info
    model = body.get("model")
    info.request_model = model if isinstance(model, str) else None
    info.request = request_attributes(body)
    return info


def _aborted(error: object) -> bool:
    """A consumer stop or `abort()`: recorded, but not a failure of the provider call."""
    if isinstance(error, asyncio.CancelledError):
        return True
    return isinstance(error, L0Error) and error.code is ErrorCode.STREAM_ABORTED


class _Open:
    """A span l0 keeps open across events, and what it gets when it ends.

    Attributes reported while it is open (`pending`) and the summary counters (`counts`)
    are set in one `set_attributes` call when it ends, instead of one SDK call (a lock and
    a validation pass) per lifecycle event. Nothing reads a span's attributes before it
    ends (samplers see only the start attributes), so the exported span is the same.
    """

    __slots__ = ("_context", "counts", "pending", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.pending: Attributes = {}
        self.counts: dict[str, int] = {}
        self._context: otel_context.Context | None = None

    def context(self) -> otel_context.Context:
        """The span as a parent (of child spans) and as the context of its measurements."""
        if self._context is None:
            self._context = trace.set_span_in_context(self.span)
        return self._context

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def end(self, ts: float, attributes: Attributes | None = None) -> None:
        """Set what was collected, then `attributes`, then the counters; end the span."""
        final = self.pending
        if attributes:
            final.update(attributes)
        if self.counts:
            final.update(self.counts)
        if final:
            self.span.set_attributes(final)
        self.span.end(_ns(ts))


class SessionSpans:
    """Starts, annotates and ends the spans of one session from its lifecycle events."""

    def __init__(
        self, tracer: Tracer, session: Session, *, capture_content: bool, all_events: bool
    ) -> None:
        self.tracer = tracer
        self.state = session.state
        self.capture = capture_content
        self.all_events = all_events
        self.info = AttemptInfo()
        self.session: _Open | None = None
        self.attempt: _Open | None = None
        self.resume: _Open | None = None
        self.tools: dict[str, _Open] = {}
        self._session_attributes = _session_attributes(session)
        self._attempt_named = False
        self._checkpoints_seen = 0

    # ------------------------------------------------------------------ dispatch

    def handle(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        """Apply `rule` to `event`; return the span it went to (for metric exemplars)."""
        return _ACTIONS[rule.action](self, event, rule)

    def _attributes(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        target = self._target(rule.target)
        self._set(target, rule.attributes(event, self.capture))
        return target

    def _event(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        """A span event, unless it is not notable (a passing check): then like a detail."""
        if rule.notable is None or rule.notable(event):
            return self._add_event(event, rule)
        return self._detail(event, rule)

    def _detail(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        """High frequency: counted, or a span event of its own with `events="all"`."""
        if self.all_events:
            return self._add_event(event, rule)
        target = self._target(rule.target)
        if target is not None and rule.summary is not None:
            target.count(rule.summary)
        return target

    def _add_event(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        target = self._target(rule.target)
        if target is not None:
            target.span.add_event(rule.name, rule.attributes(event, self.capture), _ns(event.ts))
        return target

    def _target(self, target: Target) -> _Open | None:
        """The attempt span for ATTEMPT rules while one is open, else the root span: the
        session's, or a multi-stream operation's for MULTI rules (only START/END rules name
        the resume and tool spans)."""
        if target is Target.ATTEMPT and self.attempt is not None:
            return self.attempt
        return self.session

    def _set(self, target: _Open | None, attributes: Attributes) -> None:
        if target is None:
            # Before SESSION_START (e.g. DRIFT_CHECK_SKIPPED while the session is built).
            self._session_attributes.update(attributes)
            return
        target.pending.update(attributes)
        if target is self.attempt and not _INFO_FIELDS.keys().isdisjoint(attributes):
            self.info.take({field: attributes.get(key) for key, field in _INFO_FIELDS.items()})
            self._name_attempt()

    def _start(self, event: ObservabilityEvent, rule: Rule) -> _Open:
        opened = _STARTS[rule.target](self, event, rule)
        if rule.announce and self.session is not None:
            self.session.span.add_event(
                rule.announce, rule.attributes(event, self.capture), _ns(event.ts)
            )
        return opened

    def _end(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        return _ENDS[rule.target](self, event, rule)

    def _child(self, name: str, kind: SpanKind, attributes: Attributes, ts: float) -> _Open:
        parent = self.session.context() if self.session is not None else None
        return _Open(
            self.tracer.start_span(
                name, context=parent, kind=kind, attributes=attributes, start_time=_ns(ts)
            )
        )

    # ------------------------------------------------------------------- session

    def _start_session(self, event: ObservabilityEvent, rule: Rule) -> _Open:
        attributes = {**self._session_attributes, **rule.attributes(event, self.capture)}
        # The caller's current span (at the first iteration) is the parent.
        span = self.tracer.start_span(
            rule.name,
            context=otel_context.get_current(),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns(event.ts),
        )
        with contextlib.suppress(TypeError):  # a state that takes no weak reference
            _SESSION_SPANS[self.state] = span.get_span_context()
            _SESSIONS[self.state] = weakref.ref(self)
        self.session = _Open(span)
        return self.session

    def _start_multi(self, event: ObservabilityEvent, rule: Rule) -> _Open:
        """The root of a multi-stream operation, `l0.race` or `l0.hedge`: it takes the
        session's place here, and `root_context` makes it the parent of the children."""
        attributes = {**self._session_attributes, **rule.attributes(event, self.capture)}
        attributes["l0.multi.id"] = attributes.pop("l0.session.id")
        span = self.tracer.start_span(
            f"l0.{event.data.get('kind', 'multi')}",
            context=otel_context.get_current(),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns(event.ts),
        )
        self.session = _Open(span)
        return self.session

    def _end_session(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        opened = self.session
        if opened is None:
            return None
        self._close_children(event.ts)
        outcome = event.data.get("outcome")
        attributes = rule.attributes(event, self.capture)
        if outcome == "error":
            error = event.data.get("error")
            opened.span.set_status(Status(StatusCode.ERROR, error_type(error)))
            attributes = {**attributes, **error_attributes(error, self.capture)}
        elif outcome == "success":
            # DESIGN §4: a session that recovered says so explicitly, whatever its attempts did.
            opened.span.set_status(_OK)
        opened.end(event.ts, attributes)
        self.session = None
        return opened

    def _close_children(self, ts: float) -> None:
        """End anything still open: SESSION_END is the last event on every path."""
        if self.attempt is not None:
            self._finish_attempt(self.attempt, ts)
        if self.resume is not None:
            self.resume.end(ts)
            self.resume = None
        for opened in self.tools.values():
            opened.end(ts)
        self.tools.clear()

    # ------------------------------------------------------------------- attempts

    def _start_attempt(self, event: ObservabilityEvent, rule: Rule) -> _Open:
        if self.attempt is not None:
            self._finish_attempt(self.attempt, event.ts)
        self.info = AttemptInfo()
        self._attempt_named = False
        attributes: Attributes = {m.ATTR_OPERATION_NAME: "chat", "gen_ai.request.stream": True}
        conversation = self._session_attributes.get("gen_ai.conversation.id")
        if conversation is not None:
            attributes["gen_ai.conversation.id"] = conversation
        attributes.update(rule.attributes(event, self.capture))
        self.attempt = self._child(rule.name, SpanKind.CLIENT, attributes, event.ts)
        return self.attempt

    def _name_attempt(self, fallback: str | None = None) -> None:
        model = self.info.request_model or fallback
        if self.attempt is not None and model and not self._attempt_named:
            self.attempt.span.update_name(f"chat {model}")
            self._attempt_named = True

    def _end_attempt(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        opened = self.attempt
        if opened is None:
            return None
        data = event.data
        error = data.get("error")
        self.info.take(data)
        if error is not None and self.info.request_model is None:
            described = describe_failed_request(error)
            if described is not None:
                self.info = described
        attributes = self.info.attributes()
        if self.info.request:
            attributes.update(self.info.request)
        attributes.update(rule.attributes(event, self.capture))
        self._name_attempt(data.get("response_model"))
        checkpoints = data.get("checkpoints")
        if isinstance(checkpoints, int):
            attributes["l0.checkpoints"] = checkpoints - self._checkpoints_seen
            self._checkpoints_seen = checkpoints
        if error is not None and not _aborted(error):
            opened.span.set_status(Status(StatusCode.ERROR, error_type(error)))
            if isinstance(error, BaseException):
                opened.span.record_exception(error, timestamp=_ns(event.ts))
        elif error is None and self.capture:
            attributes["gen_ai.output.messages"] = self._output_messages(data)
        self._finish_attempt(opened, event.ts, attributes)
        return opened

    def _finish_attempt(
        self, opened: _Open, ts: float, attributes: Attributes | None = None
    ) -> None:
        opened.end(ts, attributes)
        self.attempt = None

    def _output_messages(self, data: dict[str, Any]) -> str:
        message = {
            "role": "assistant",
            "parts": [{"type": "text", "content": self.state.content}],
            "finish_reason": data.get("finish_reason") or "stop",
        }
        return orjson.dumps([message]).decode()

    # -------------------------------------------------------------- resume, tools

    def _start_resume(self, event: ObservabilityEvent, rule: Rule) -> _Open:
        if self.resume is not None:
            self.resume.end(event.ts)
        attributes = rule.attributes(event, self.capture)
        self.resume = self._child(rule.name, SpanKind.INTERNAL, attributes, event.ts)
        return self.resume

    def _end_resume(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        opened = self.resume
        if opened is None:
            return None
        opened.end(event.ts, rule.attributes(event, self.capture))
        self.resume = None
        return opened

    def _start_tool(self, event: ObservabilityEvent, rule: Rule) -> _Open:
        attributes = rule.attributes(event, self.capture)
        key = _tool_key(event)
        opened = self.tools.get(key)
        if opened is not None:
            opened.pending.update(attributes)
            return opened
        name = event.data.get("tool_name")
        attributes = {m.ATTR_OPERATION_NAME: "execute_tool", "gen_ai.tool.type": "function"} | (
            attributes
        )
        span_name = f"{rule.name} {name}" if isinstance(name, str) and name else rule.name
        opened = self.tools[key] = self._child(span_name, SpanKind.INTERNAL, attributes, event.ts)
        return opened

    def _end_tool(self, event: ObservabilityEvent, rule: Rule) -> _Open | None:
        opened = self.tools.pop(_tool_key(event), None)
        if opened is None:
            return None
        error = event.data.get("error")
        if event.type is T.TOOL_ERROR or event.data.get("status") == "error":
            opened.span.set_status(Status(StatusCode.ERROR, error_type(error) or "tool_error"))
            if isinstance(error, BaseException):
                opened.span.record_exception(error, timestamp=_ns(event.ts))
        opened.end(event.ts, rule.attributes(event, self.capture))
        return opened

    # ------------------------------------------------------------------- context

    def attempt_context(self) -> otel_context.Context | None:
        """The context that makes the provider's own spans children of the attempt."""
        return self.attempt.context() if self.attempt is not None else None

    def root_context(self) -> otel_context.Context | None:
        """The context that makes sessions started in it children of the root span."""
        return self.session.context() if self.session is not None else None


_OK = Status(StatusCode.OK)

_STARTS: dict[Target, Callable[[SessionSpans, ObservabilityEvent, Rule], _Open]] = {
    Target.SESSION: SessionSpans._start_session,
    Target.ATTEMPT: SessionSpans._start_attempt,
    Target.RESUME: SessionSpans._start_resume,
    Target.TOOL: SessionSpans._start_tool,
    Target.MULTI: SessionSpans._start_multi,
}
_ENDS: dict[Target, Callable[[SessionSpans, ObservabilityEvent, Rule], _Open | None]] = {
    Target.SESSION: SessionSpans._end_session,
    Target.ATTEMPT: SessionSpans._end_attempt,
    Target.RESUME: SessionSpans._end_resume,
    Target.TOOL: SessionSpans._end_tool,
    Target.MULTI: SessionSpans._end_session,
}
_ACTIONS: dict[Action, Callable[[SessionSpans, ObservabilityEvent, Rule], _Open | None]] = {
    Action.START_SPAN: SessionSpans._start,
    Action.END_SPAN: SessionSpans._end,
    Action.ATTRIBUTES: SessionSpans._attributes,
    Action.EVENT: SessionSpans._event,
    Action.DETAIL: SessionSpans._detail,
}


def _tool_key(event: ObservabilityEvent) -> str:
    call_id = event.data.get("tool_call_id")
    return str(call_id) if call_id else str(event.data.get("tool_name", ""))


def _session_attributes(session: Session) -> Attributes:
    """`l0.session.id`, and `gen_ai.conversation.id` when the caller's context or meta has
    a `conversation_id`."""
    attributes: Attributes = {"l0.session.id": session.session_id}
    for source in (session.meta, session.context):
        conversation = source.get("conversation_id") if source else None
        if isinstance(conversation, str | int) and not isinstance(conversation, bool):
            attributes["gen_ai.conversation.id"] = str(conversation)
            break
    return attributes
