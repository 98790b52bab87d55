"""The parent of a multi-stream operation: its telemetry, its listeners, its child tasks.

An operation reports its own lifecycle (MULTI_START, HEDGE_START, MULTI_WINNER,
STREAM_CANCELLED, MULTI_END) through the telemetry facade, like a session does, so the
OpenTelemetry sink makes it an `l0.race` / `l0.hedge` span and the `on_event` handler sees
it on the bus. Child sessions are started inside the facade's parent scope: each task
copies the context, and its `l0.session` span becomes a child of the operation's span.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Mapping
from typing import Any

from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from ..runtime.options import freeze
from ..telemetry.callbacks import AnyCallback, PendingCallbacks, invoke
from ..telemetry.facade import Sink, Telemetry
from ..types import State

__all__ = ["Operation"]


class _Listeners:
    """The caller's `on_event` handler and winner callback, as a sink of the operation."""

    def __init__(
        self, on_event: AnyCallback | None, winner: tuple[str, AnyCallback] | None
    ) -> None:
        self.on_event = on_event
        self.winner = winner
        self.pending = PendingCallbacks()

    def handle(self, event: ObservabilityEvent) -> None:
        if self.on_event is not None:
            invoke(self.on_event, "on_event", self.pending, event)
        if self.winner is not None and event.type is T.MULTI_WINNER:
            name, callback = self.winner
            invoke(callback, name, self.pending, event.data["index"], event.data["state"])


class Operation:
    """One `l0.race`, hedged `l0.run`...: the span and events above its child sessions."""

    def __init__(
        self,
        kind: str,
        options: Mapping[str, Any],
        *,
        winner_callback: tuple[str, AnyCallback] | None = None,
    ) -> None:
        self.kind = kind
        self.id = uuid.uuid4().hex
        on_event = options.get("on_event")
        self._listeners = (
            _Listeners(on_event, winner_callback) if on_event or winner_callback else None
        )
        local: list[Sink] = [self._listeners] if self._listeners is not None else []
        self.tel = Telemetry.start(
            self.id,
            State(),
            freeze(options.get("context") or {}),
            freeze(options.get("meta") or {}),
            local,
            detailed=False,
        )
        self._grace = float(options.get("callback_grace", 5.0))

    def emit(self, type: T, **data: Any) -> None:
        self.tel.emit(type, kind=self.kind, **data)

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A task for a child session, whose spans go beneath the operation's span."""
        with self.tel.parent_scope():
            return asyncio.get_running_loop().create_task(coroutine, name=name)

    def end(self, **data: Any) -> None:
        self.emit(T.MULTI_END, **data)
        if self._listeners is not None:
            self._listeners.pending.release(self._grace)
