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
from .mapping import Action, Attributes, Rule, Target, error_type

__all__ = ["AttemptInfo", "SessionSpans", "describe_failed_request", "session_span_context"]

logger = logging.getLogger("l0.telemetry")

_SESSION_SPANS: weakref.WeakKeyDictionary[Any, SpanContext] = weakref.WeakKeyDictionary()


def session_span_context(state: Any) -> SpanContext | None:
    """The `l0.session` span of the session that owns `state` (for the Sentry sink)."""
    try:
        return _SESSION_SPANS.get(state)
    except TypeError:
        return None


def _ns(ts: float) -> int:
    return int(ts * 1e9)


@dataclass(slots=True)
class AttemptInfo:
    """What is known about the current attempt's provider call (for spans and metrics)."""

    provider: str | None = None
    request_model: str | None = None
    server_address: str | None = None
    server_port: int | None = None

    def take(self, data: dict[str, Any]) -> None:
        for field in ("provider", "request_model", "server_address", "server_port"):
            value = data.get(field)
            if value is not None:
                setattr(self, field, value)

    def attributes(self) -> Attributes:
        out: Attributes = {}
        if self.provider:
            out[m.ATTR_PROVIDER_NAME] = self.provider
        if self.request_model:
            out[m.ATTR_REQUEST_MODEL] = self.request_model
        if self.server_address:
            out["server.address"] = self.server_address
        if self.server_port:
            out["server.port"] = self.server_port
        return out


def describe_failed_request(error: BaseException | None) -> AttemptInfo | None:
    """Provider, model and server of an attempt that failed before its stream opened.

    openai and httpx errors carry the request they were raised for; only the URL and the
    body's `model` are read (never the messages), so a 503 on the first try still gets a
    `chat {model}` span and metric attributes.
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
    model = body.get("model") if isinstance(body, dict) else None
    info.request_model = model if isinstance(model, str) else None
    return info


def _aborted(error: object) -> bool:
    """A consumer stop or `abort()`: recorded, but not a failure of the provider call."""
    if isinstance(error, asyncio.CancelledError):
        return True
    return isinstance(error, L0Error) and error.code is ErrorCode.STREAM_ABORTED


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
        self.session: Span | None = None
        self.attempt: Span | None = None
        self.resume: Span | None = None
        self.tools: dict[str, Span] = {}
        self._session_attributes = _session_attributes(session)
        self._session_counts: dict[str, int] = {}
        self._attempt_counts: dict[str, int] = {}
        self._attempt_named = False
        self._checkpoints_seen = 0
        self._starts: dict[Target, Callable[[ObservabilityEvent, Rule], Span]] = {
            Target.SESSION: self._start_session,
            Target.ATTEMPT: self._start_attempt,
            Target.RESUME: self._start_resume,
            Target.TOOL: self._start_tool,
        }
        self._ends: dict[Target, Callable[[ObservabilityEvent, Rule], Span | None]] = {
            Target.SESSION: self._end_session,
            Target.ATTEMPT: self._end_attempt,
            Target.RESUME: self._end_resume,
            Target.TOOL: self._end_tool,
        }

    # ------------------------------------------------------------------ dispatch

    def handle(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        """Apply `rule` to `event`; return the span it went to (for metric exemplars)."""
        action = rule.action
        if action is Action.START_SPAN:
            return self._start(event, rule)
        if action is Action.END_SPAN:
            return self._end(event, rule)
        span = self._target(rule.target)
        if action is Action.ATTRIBUTES:
            self._set(span, rule.target, rule.attributes(event, self.capture))
            return span
        if span is None:
            return None
        notable = action is Action.EVENT and (rule.notable is None or rule.notable(event))
        if notable or self.all_events:
            span.add_event(rule.name, rule.attributes(event, self.capture), _ns(event.ts))
        elif rule.summary is not None:
            counts = self._attempt_counts if span is self.attempt else self._session_counts
            counts[rule.summary] = counts.get(rule.summary, 0) + 1
        return span

    def _target(self, target: Target) -> Span | None:
        if target is Target.ATTEMPT and self.attempt is not None:
            return self.attempt
        if target is Target.RESUME and self.resume is not None:
            return self.resume
        return self.session

    def _set(self, span: Span | None, target: Target, attributes: Attributes) -> None:
        if span is None:
            # Before SESSION_START (e.g. DRIFT_CHECK_SKIPPED while the session is built).
            self._session_attributes.update(attributes)
            return
        span.set_attributes(attributes)
        if span is self.attempt:
            self.info.take(_info_fields(attributes))
            self._name_attempt()

    def _start(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        span = self._starts[rule.target](event, rule)
        if rule.announce and self.session is not None:
            self.session.add_event(
                rule.announce, rule.attributes(event, self.capture), _ns(event.ts)
            )
        return span

    def _end(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        return self._ends[rule.target](event, rule)

    def _child(self, name: str, kind: SpanKind, attributes: Attributes, ts: float) -> Span:
        parent = trace.set_span_in_context(self.session) if self.session is not None else None
        return self.tracer.start_span(
            name, context=parent, kind=kind, attributes=attributes, start_time=_ns(ts)
        )

    # ------------------------------------------------------------------- session

    def _start_session(self, event: ObservabilityEvent, rule: Rule) -> Span:
        attributes = {**self._session_attributes, **rule.attributes(event, self.capture)}
        # The caller's current span (at the first iteration) is the parent.
        span = self.session = self.tracer.start_span(
            rule.name,
            context=otel_context.get_current(),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns(event.ts),
        )
        with contextlib.suppress(TypeError):  # a state that takes no weak reference
            _SESSION_SPANS[self.state] = span.get_span_context()
        return span

    def _end_session(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        span = self.session
        if span is None:
            return None
        self._close_children(event.ts)
        span.set_attributes({**rule.attributes(event, self.capture), **self._session_counts})
        outcome = event.data.get("outcome")
        if outcome == "error":
            span.set_status(Status(StatusCode.ERROR, error_type(event.data.get("error"))))
        elif outcome == "success":
            # DESIGN §4: a session that recovered says so explicitly, whatever its attempts did.
            span.set_status(Status(StatusCode.OK))
        span.end(_ns(event.ts))
        self.session = None
        return span

    def _close_children(self, ts: float) -> None:
        """End anything still open: SESSION_END is the last event on every path."""
        if self.attempt is not None:
            self._finish_attempt(self.attempt, ts)
        if self.resume is not None:
            self.resume.end(_ns(ts))
            self.resume = None
        for span in self.tools.values():
            span.end(_ns(ts))
        self.tools.clear()

    # ------------------------------------------------------------------- attempts

    def _start_attempt(self, event: ObservabilityEvent, rule: Rule) -> Span:
        if self.attempt is not None:
            self._finish_attempt(self.attempt, event.ts)
        self.info = AttemptInfo()
        self._attempt_named = False
        attributes: Attributes = {m.ATTR_OPERATION_NAME: "chat"}
        attributes.update(rule.attributes(event, self.capture))
        span = self.attempt = self._child(rule.name, SpanKind.CLIENT, attributes, event.ts)
        return span

    def _name_attempt(self, fallback: str | None = None) -> None:
        model = self.info.request_model or fallback
        if self.attempt is not None and model and not self._attempt_named:
            self.attempt.update_name(f"chat {model}")
            self._attempt_named = True

    def _end_attempt(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        span = self.attempt
        if span is None:
            return None
        data = event.data
        error = data.get("error")
        self.info.take(data)
        if error is not None and self.info.request_model is None:
            described = describe_failed_request(error)
            if described is not None:
                self.info = described
        span.set_attributes(self.info.attributes())
        span.set_attributes(rule.attributes(event, self.capture))
        self._name_attempt(data.get("response_model"))
        checkpoints = data.get("checkpoints")
        if isinstance(checkpoints, int):
            span.set_attribute("l0.checkpoints", checkpoints - self._checkpoints_seen)
            self._checkpoints_seen = checkpoints
        if error is not None and not _aborted(error):
            span.set_status(Status(StatusCode.ERROR, error_type(error)))
            if isinstance(error, BaseException):
                span.record_exception(error, timestamp=_ns(event.ts))
        elif error is None and self.capture:
            span.set_attribute("gen_ai.output.messages", self._output_messages(data))
        self._finish_attempt(span, event.ts)
        return span

    def _finish_attempt(self, span: Span, ts: float) -> None:
        if self._attempt_counts:
            span.set_attributes(self._attempt_counts)
            self._attempt_counts = {}
        span.end(_ns(ts))
        self.attempt = None

    def _output_messages(self, data: dict[str, Any]) -> str:
        message = {
            "role": "assistant",
            "parts": [{"type": "text", "content": self.state.content}],
            "finish_reason": data.get("finish_reason") or "stop",
        }
        return orjson.dumps([message]).decode()

    # -------------------------------------------------------------- resume, tools

    def _start_resume(self, event: ObservabilityEvent, rule: Rule) -> Span:
        if self.resume is not None:
            self.resume.end(_ns(event.ts))
        attributes = rule.attributes(event, self.capture)
        self.resume = self._child(rule.name, SpanKind.INTERNAL, attributes, event.ts)
        return self.resume

    def _end_resume(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        span = self.resume
        if span is None:
            return None
        span.set_attributes(rule.attributes(event, self.capture))
        span.end(_ns(event.ts))
        self.resume = None
        return span

    def _start_tool(self, event: ObservabilityEvent, rule: Rule) -> Span:
        attributes = rule.attributes(event, self.capture)
        key = _tool_key(event)
        span = self.tools.get(key)
        if span is not None:
            span.set_attributes(attributes)
            return span
        name = event.data.get("tool_name")
        attributes = {m.ATTR_OPERATION_NAME: "execute_tool", "gen_ai.tool.type": "function"} | (
            attributes
        )
        span_name = f"{rule.name} {name}" if isinstance(name, str) and name else rule.name
        span = self.tools[key] = self._child(span_name, SpanKind.INTERNAL, attributes, event.ts)
        return span

    def _end_tool(self, event: ObservabilityEvent, rule: Rule) -> Span | None:
        span = self.tools.pop(_tool_key(event), None)
        if span is None:
            return None
        span.set_attributes(rule.attributes(event, self.capture))
        error = event.data.get("error")
        if event.type is T.TOOL_ERROR or event.data.get("status") == "error":
            span.set_status(Status(StatusCode.ERROR, error_type(error) or "tool_error"))
            if isinstance(error, BaseException):
                span.record_exception(error, timestamp=_ns(event.ts))
        span.end(_ns(event.ts))
        return span

    # ------------------------------------------------------------------- context

    def attempt_context(self) -> otel_context.Context | None:
        """The context that makes the provider's own spans children of the attempt."""
        if self.attempt is None:
            return None
        return trace.set_span_in_context(self.attempt)


def _tool_key(event: ObservabilityEvent) -> str:
    call_id = event.data.get("tool_call_id")
    return str(call_id) if call_id else str(event.data.get("tool_name", ""))


def _info_fields(attributes: Attributes) -> dict[str, Any]:
    return {
        "provider": attributes.get(m.ATTR_PROVIDER_NAME),
        "request_model": attributes.get(m.ATTR_REQUEST_MODEL),
        "server_address": attributes.get("server.address"),
        "server_port": attributes.get("server.port"),
    }


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
