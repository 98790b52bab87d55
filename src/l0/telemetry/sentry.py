"""The Sentry sink: breadcrumbs for lifecycle moments, one event when a session finally fails.

Breadcrumbs follow the mapping table (`Rule.breadcrumb`): category `l0.<phase>`, level by
severity, and the same content-free data as the span attributes. An exception is captured
only at SESSION_END with outcome "error" — errors that a retry or fallback recovered from
are breadcrumbs, never events — and it is the provider's original exception (the final
`L0Error`'s `__cause__`, through l0's own errors) when there is one, tagged with the session
id, outcome, retry/fallback counts and the OpenTelemetry trace id of the `l0.session` span;
the `l0.error` context holds the final error's fields, as the session span's `l0.error.*`
attributes do.

Sentry's own integrations (e.g. `OpenAIIntegration`, on by default when openai is
installed) capture every exception raised by a provider call, including the ones l0 is
about to retry. While l0 calls the provider (`provider_scope`), error events captured from
inside that call are dropped: l0 handles that error, and reports it itself if the session
finally fails. Everything else the application captures is untouched.

`sentry_sdk` is never imported here: the sink exists only when the application has
imported and initialised it (`sys.modules`), so `import l0` stays light.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from ..errors import L0Error
from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from .facade import Session
from .mapping import MAPPING, error_type
from .otel import capture_content_enabled
from .otel_traces import error_attributes, session_span_context

__all__ = ["SentrySink", "active_sentry", "sentry_sink_factory", "set_enabled"]

logger = logging.getLogger("l0.telemetry")

_enabled: bool | None = None
_in_provider_call: ContextVar[bool] = ContextVar("l0_in_provider_call", default=False)
_processor_installed = False


def set_enabled(enabled: bool | None) -> None:
    """`l0.instrument(sentry=...)`: True/False forces it; None means on when Sentry is active."""
    global _enabled
    _enabled = enabled


def active_sentry() -> Any:
    """The `sentry_sdk` module when the application initialised it, else None."""
    sdk = sys.modules.get("sentry_sdk")
    if sdk is None:
        return None
    try:
        client = sdk.get_client()
        # A client without a transport (no DSN, or closed) sends nothing: no sink then.
        active = bool(client.is_active()) and getattr(client, "transport", None) is not None
    except Exception:
        return None
    return sdk if active else None


def sentry_sink_factory(session: Session) -> SentrySink | None:
    """The default sink factory: a `SentrySink` when Sentry is initialised and not turned off."""
    if _enabled is False:
        return None
    sdk = active_sentry()
    if sdk is None:
        return None
    return SentrySink(sdk, session, capture_content=capture_content_enabled())


class SentrySink:
    """Breadcrumbs and the final failure of one session."""

    def __init__(self, sdk: Any, session: Session, *, capture_content: bool = False) -> None:
        self._sdk = sdk
        self._session_id = session.session_id
        self._state = session.state
        self._capture = capture_content
        self._summary: dict[str, Any] = {}
        _install_processor()

    @contextlib.contextmanager
    def provider_scope(self) -> Iterator[None]:
        """Mark the provider call, so integration-captured errors l0 handles are dropped."""
        token = _in_provider_call.set(True)
        try:
            yield
        finally:
            _in_provider_call.reset(token)

    def handle(self, event: ObservabilityEvent) -> None:
        rule = MAPPING[event.type]
        crumb = rule.breadcrumb
        if crumb is not None and (rule.notable is None or rule.notable(event)):
            data: dict[str, Any] = {"l0.session.id": self._session_id}
            data.update(rule.attributes(event, self._capture))
            self._sdk.add_breadcrumb(
                category=crumb.category,
                level=crumb.level_of(event),
                message=event.type.value,
                data=data,
            )
        if event.type is T.SESSION_SUMMARY:
            self._summary = dict(event.data)
        elif event.type is T.SESSION_END and event.data.get("outcome") == "error":
            self._capture_failure(event.data.get("error"))

    def _capture_failure(self, error: Any) -> None:
        if not isinstance(error, BaseException):
            return
        original = error
        while isinstance(original, L0Error) and original.__cause__ is not None:
            original = original.__cause__  # ALL_STREAMS_EXHAUSTED ▸ the last attempt's ▸ ...
        sdk = self._sdk
        with sdk.new_scope() as scope:
            scope.set_tags(self._tags(error))
            scope.set_context("l0.error", error_attributes(error, self._capture))
            self._link_trace(scope)
            if not self._capture:
                scope.add_event_processor(_without_local_variables)
            _forget_last_seen()
            sdk.capture_exception(original)

    def _tags(self, error: BaseException) -> dict[str, Any]:
        summary = self._summary
        return {
            "l0.session.id": self._session_id,
            "l0.outcome": "error",
            "l0.error.code": error_type(error),
            "l0.retry.count": summary.get("retry_count", 0),
            "l0.fallback.index": summary.get("fallback_depth", 0),
            "l0.attempt.count": summary.get("attempts", 0),
        }

    def _link_trace(self, scope: Any) -> None:
        """Put the OTel trace id on the event; and as Sentry's trace context when Sentry has
        no span of its own, so the event opens the l0 trace."""
        span_context = session_span_context(self._state)
        if span_context is None or not span_context.is_valid:
            return
        trace_id = format(span_context.trace_id, "032x")
        span_id = format(span_context.span_id, "016x")
        scope.set_tag("otel.trace_id", trace_id)
        scope.set_context("otel", {"trace_id": trace_id, "span_id": span_id})
        if self._sdk.get_current_span() is None:
            scope.set_context(
                "trace", {"trace_id": trace_id, "span_id": span_id, "op": "l0.session"}
            )


def _install_processor() -> None:
    """Install (once per process) the global processor that drops handled provider errors."""
    global _processor_installed
    if _processor_installed:
        return
    scope = importlib.import_module("sentry_sdk.scope")
    scope.add_global_event_processor(_drop_handled_provider_errors)
    _processor_installed = True


def _drop_handled_provider_errors(
    event: dict[str, Any], hint: dict[str, Any] | None
) -> dict[str, Any] | None:
    if not _in_provider_call.get() or "exception" not in event:
        return event
    # The Dedupe integration already remembered this exception: make it forget, or the
    # final capture of the same exception would be dropped as a duplicate.
    _forget_last_seen()
    return None


def _forget_last_seen() -> None:
    try:
        dedupe = importlib.import_module("sentry_sdk.integrations.dedupe")
        dedupe.DedupeIntegration.reset_last_seen()
    except Exception:
        logger.debug("could not reset Sentry's dedupe state", exc_info=True)


def _without_local_variables(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Drop stack-frame local variables: in a stream they hold prompts, completions and
    request headers (credentials). Kept with `capture_content=True`."""
    for section in ("exception", "threads"):
        for value in (event.get(section) or {}).get("values") or ():
            for frame in (value.get("stacktrace") or {}).get("frames") or ():
                frame.pop("vars", None)
    return event
