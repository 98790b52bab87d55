"""The telemetry facade: the one call engines make to report a lifecycle moment.

Engines call `telemetry.emit(ObservabilityEventType.X, field=value, ...)`. The facade
stamps the event and hands it to each sink of the session: the `on_*` callbacks, the
`on_event` handler, and whatever global sinks are registered (OpenTelemetry, Sentry).
Engines never import OpenTelemetry or Sentry; sinks never reach into engines.

Cost model: a session makes a few dozen lifecycle calls, never one per token unless
`detailed` is on (an `on_event` handler is set, or `l0.instrument(events="all")`). With no
sink at all `emit` returns after one truth test, and the session does not even build the
payloads of its larger events (`Telemetry.enabled`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from ..events import ObservabilityEvent, ObservabilityEventType

if TYPE_CHECKING:
    from ..types import State

__all__ = [
    "Session",
    "Sink",
    "SinkFactory",
    "Telemetry",
    "TelemetrySettings",
    "register_sink_factory",
    "settings",
    "unregister_sink_factory",
]

logger = logging.getLogger("l0.telemetry")


class Sink(Protocol):
    """Receives every lifecycle event of one session, in order.

    A sink may also define `provider_scope() -> ContextManager`: the session enters it
    around each call into the provider (the factory call and the wait for the response),
    never across a `yield`. The OpenTelemetry sink uses it to make the provider's HTTP
    spans children of the attempt span. Likewise `parent_scope()`, entered by a
    multi-stream operation (`l0.multi`) while it starts its child sessions.
    """

    def handle(self, event: ObservabilityEvent) -> None: ...


@dataclass(frozen=True, slots=True)
class Session:
    """What a sink factory learns about a session when it starts."""

    session_id: str
    state: State
    context: Mapping[str, Any]
    meta: Mapping[str, Any]
    detailed: bool


SinkFactory = Callable[[Session], "Sink | None"]


@dataclass(slots=True)
class TelemetrySettings:
    """Process-wide telemetry choices; `l0.instrument()` sets them."""

    events: str = "lifecycle"
    capture_content: bool = False
    factories: list[SinkFactory] = field(default_factory=list)


settings = TelemetrySettings()


def register_sink_factory(factory: SinkFactory) -> None:
    """Add a sink to every session started from now on (idempotent)."""
    if factory not in settings.factories:
        settings.factories.append(factory)


def unregister_sink_factory(factory: SinkFactory) -> None:
    if factory in settings.factories:
        settings.factories.remove(factory)


class Telemetry:
    """One session's view of the facade."""

    __slots__ = (
        "_scoped",
        "context",
        "detailed",
        "enabled",
        "meta",
        "session_id",
        "sinks",
        "stream_id",
    )

    def __init__(
        self,
        session_id: str,
        context: MappingProxyType[str, Any],
        meta: MappingProxyType[str, Any],
        sinks: Sequence[Sink],
        detailed: bool,
    ) -> None:
        self.session_id = session_id
        self.stream_id = session_id
        self.context = context
        self.meta = meta
        # Tuples: `()` is shared, and an open session holds what it keeps for its whole life.
        self.sinks = tuple(sinks)
        # Whether any sink listens. Like `logging.isEnabledFor`, it lets a caller skip
        # building a large payload nobody will read.
        self.enabled = bool(sinks)
        self.detailed = detailed
        scoped = tuple(s for s in self.sinks if callable(getattr(s, "provider_scope", None)))
        self._scoped = self.sinks if len(scoped) == len(self.sinks) else scoped

    @classmethod
    def start(
        cls,
        session_id: str,
        state: State,
        context: MappingProxyType[str, Any],
        meta: MappingProxyType[str, Any],
        local_sinks: list[Sink],
        detailed: bool,
    ) -> Telemetry:
        """Build the session's sink list: its own sinks, then the registered ones."""
        detailed = detailed or settings.events == "all"
        info = Session(session_id, state, context, meta, detailed)
        sinks = list(local_sinks)
        for factory in settings.factories:
            try:
                sink = factory(info)
            except Exception as exc:
                _report_setup_failure(factory, exc)
                continue
            if sink is not None:
                sinks.append(sink)
        return cls(session_id, context, meta, sinks, detailed)

    def add_sink(self, sink: Sink) -> None:
        """Attach a sink to a session built without it (`l0.run(record=)` adds the event
        recorder's): from now on the session reports to it like to the others."""
        self.sinks = (*self.sinks, sink)
        self.enabled = True
        if callable(getattr(sink, "provider_scope", None)):
            self._scoped = (*self._scoped, sink)

    def emit(self, type: ObservabilityEventType, **data: Any) -> None:
        if not self.enabled:
            return
        event = ObservabilityEvent(
            type, time.time(), self.stream_id, self.session_id, self.context, self.meta, data
        )
        for sink in self.sinks:
            try:
                sink.handle(event)
            except Exception:
                # A broken sink must never break the stream it observes.
                logger.debug("telemetry sink %r failed on %s", sink, type.value, exc_info=True)

    def provider_scope(self) -> contextlib.AbstractContextManager[None]:
        """Enter every sink's provider scope (see `Sink`) for a call into the provider."""
        return self._entered_scopes(self._scoped, "provider_scope") if self._scoped else _NO_SCOPE

    def parent_scope(self) -> contextlib.AbstractContextManager[None]:
        """Enter every sink's parent scope (see `Sink`): sessions started inside it are
        children of this telemetry's root. Looked up per call: only multi-stream
        operations ask, so sessions pay nothing for it."""
        scoped = [s for s in self.sinks if callable(getattr(s, "parent_scope", None))]
        return self._entered_scopes(scoped, "parent_scope") if scoped else _NO_SCOPE

    @contextlib.contextmanager
    def _entered_scopes(self, sinks: Sequence[Sink], name: str) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for sink in sinks:
                try:
                    stack.enter_context(getattr(sink, name)())
                except Exception:
                    logger.debug("%s of %r failed", name, sink, exc_info=True)
            yield


_NO_SCOPE = contextlib.nullcontext()  # reusable: most sessions have no scoped sink

_failed_factories: list[SinkFactory] = []  # by identity: a factory need not be hashable


def _report_setup_failure(factory: SinkFactory, exc: Exception) -> None:
    """Say once, at WARNING, that a sink cannot be set up; sessions go on without it.

    A factory that fails fails for every session (a broken provider, an API too old), so
    repeating it would flood the log; the details are at DEBUG each time.
    """
    logger.debug("telemetry sink %r could not be set up", factory, exc_info=exc)
    if any(failed is factory for failed in _failed_factories):
        return
    _failed_factories.append(factory)
    name = getattr(factory, "__qualname__", None) or repr(factory)
    logger.warning(
        "l0 telemetry sink %s could not be set up (%s: %s); sessions stream without it",
        name,
        type(exc).__name__,
        exc,
    )
