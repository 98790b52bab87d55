"""The `on_*` callbacks and the `on_event` handler, as a telemetry sink.

Callbacks are isolated: one that raises is logged at debug level and the stream goes on.
An async callback is scheduled as a task and tracked, so it is never dropped: the session
awaits outstanding callback tasks before it ends.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from ..types import Event, State

__all__ = ["NO_CALLBACKS", "CallbackSink", "Callbacks", "invoke"]

logger = logging.getLogger("l0.callbacks")

AnyCallback = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Callbacks:
    """The seeds' lifecycle callbacks; every one is optional."""

    on_start: AnyCallback | None = None
    on_complete: AnyCallback | None = None
    on_error: AnyCallback | None = None
    on_event: AnyCallback | None = None
    on_violation: AnyCallback | None = None
    on_retry: AnyCallback | None = None
    on_fallback: AnyCallback | None = None
    on_resume: AnyCallback | None = None
    on_checkpoint: AnyCallback | None = None
    on_timeout: AnyCallback | None = None
    on_abort: AnyCallback | None = None
    on_drift: AnyCallback | None = None
    on_tool_call: AnyCallback | None = None

    def __post_init__(self) -> None:
        for name in _NAMES:
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable, got {type(value).__name__}")

    def any_set(self) -> bool:
        return self is not NO_CALLBACKS and any(getattr(self, name) is not None for name in _NAMES)


_NAMES = tuple(f.name for f in fields(Callbacks))
NO_CALLBACKS = Callbacks()


class PendingCallbacks:
    """Tasks of async callbacks still running."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def track(self, awaitable: Any, name: str) -> None:
        task = asyncio.ensure_future(_isolated(awaitable, name))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks))


async def _isolated(awaitable: Any, name: str) -> None:
    try:
        await awaitable
    except Exception:
        logger.debug("async callback %s raised", name, exc_info=True)


def invoke(callback: AnyCallback, name: str, pending: PendingCallbacks, *args: Any) -> None:
    """Call a user callback; never let it break the stream."""
    try:
        outcome = callback(*args)
    except Exception:
        logger.debug("callback %s raised", name, exc_info=True)
        return
    if inspect.isawaitable(outcome):
        pending.track(outcome, name)


class CallbackSink:
    """Routes lifecycle events to the matching `on_*` callback."""

    def __init__(self, callbacks: Callbacks, state: State, pending: PendingCallbacks) -> None:
        self.callbacks = callbacks
        self.state = state
        self.pending = pending

    def handle(self, event: ObservabilityEvent) -> None:
        cb = self.callbacks
        if cb.on_event is not None:
            invoke(cb.on_event, "on_event", self.pending, event)
        route = _ROUTES.get(event.type)
        if route is None:
            return
        name, args = route
        callback = getattr(cb, name)
        if callback is None:
            return
        arguments = args(event, self.state)
        if arguments is not None:
            invoke(callback, name, self.pending, *arguments)

    def token_event(self, event: Event) -> None:
        """Stream events (tokens, tool calls...) also reach `on_event`."""
        if self.callbacks.on_event is not None:
            invoke(self.callbacks.on_event, "on_event", self.pending, event)


def _violation(e: ObservabilityEvent, _: State) -> tuple[Any, ...] | None:
    violation = e.data.get("violation")
    return (violation,) if violation is not None and not e.data.get("passed", True) else None


def _drift(e: ObservabilityEvent, _: State) -> tuple[Any, ...] | None:
    return (e.data["types"], e.data.get("score")) if e.data.get("detected") else None


_ROUTES: dict[T, tuple[str, Callable[[ObservabilityEvent, State], tuple[Any, ...] | None]]] = {
    T.ATTEMPT_START: (
        "on_start",
        lambda e, _: (e.data["attempt"], e.data["is_retry"], e.data["is_fallback"]),
    ),
    T.COMPLETE: ("on_complete", lambda _, s: (s,)),
    T.ERROR: (
        "on_error",
        lambda e, _: (e.data["error"], e.data["will_retry"], e.data["will_fallback"]),
    ),
    T.GUARDRAIL_RULE_RESULT: ("on_violation", _violation),
    T.RETRY_ATTEMPT: ("on_retry", lambda e, _: (e.data["attempt"], e.data["reason"])),
    T.FALLBACK_START: ("on_fallback", lambda e, _: (e.data["to_index"], e.data["reason"])),
    T.RESUME_START: ("on_resume", lambda e, s: (s.checkpoint, e.data["token_count"])),
    T.CHECKPOINT_SAVED: ("on_checkpoint", lambda e, s: (s.checkpoint, e.data["token_count"])),
    T.TIMEOUT_TRIGGERED: (
        "on_timeout",
        lambda e, _: (e.data["timeout_type"], e.data["elapsed_ms"]),
    ),
    T.ABORT_COMPLETED: (
        "on_abort",
        lambda e, _: (e.data["token_count"], e.data["content_length"]),
    ),
    T.DRIFT_CHECK_RESULT: ("on_drift", _drift),
    T.TOOL_REQUESTED: (
        "on_tool_call",
        lambda e, _: (e.data["tool_name"], e.data["tool_call_id"], e.data["arguments"]),
    ),
}
