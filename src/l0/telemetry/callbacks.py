"""The `on_*` callbacks and the `on_event` handler, as a telemetry sink.

Callbacks are isolated: one that raises is logged at debug level and the stream goes on.
An async callback is scheduled as a task and tracked. Callbacks never hold the caller:
when the session ends (completes, fails, is aborted, cancelled or timed out) it returns at
once, and callback tasks still running get `callback_grace` seconds before they are
cancelled (and logged on the `l0.callbacks` logger).
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
    """Tasks of async callbacks still running.

    They never hold the session: when it ends (`release`), the ones still running get a
    grace period, then are cancelled and logged. The deadline is a timer handle, not a
    task, so a session whose callbacks are done leaves nothing behind.
    """

    __slots__ = ("_deadline", "_grace", "tasks")

    def __init__(self) -> None:
        self.tasks: dict[asyncio.Task[None], tuple[str, Any]] = {}
        self._grace: float | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def track(self, awaitable: Any, name: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # e.g. `result.abort()` from a thread with no loop
            _close(awaitable)
            logger.debug("async callback %s dropped: no running event loop", name)
            return
        task = loop.create_task(_isolated(awaitable, name), name=f"l0 callback {name}")
        self.tasks[task] = (name, awaitable)
        task.add_done_callback(self._done)
        if self._grace is not None and self._deadline is None:
            self._deadline = loop.call_later(self._grace, self._expire)

    def release(self, grace: float) -> None:
        """The session ended: callbacks still running have `grace` seconds to finish."""
        self._grace = grace
        if self.tasks and self._deadline is None:
            self._deadline = asyncio.get_running_loop().call_later(grace, self._expire)

    def _done(self, task: asyncio.Task[None]) -> None:
        _, awaitable = self.tasks.pop(task, ("", None))
        if task.cancelled():
            _close(awaitable)  # cancelled before it started: no "never awaited" warning
        if not self.tasks and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        late = [(task, name) for task, (name, _) in self.tasks.items() if not task.done()]
        if not late:
            return
        logger.warning(
            "cancelling %d async callback(s) still running %gs after the session ended "
            "(callback_grace): %s",
            len(late),
            self._grace,
            ", ".join(sorted({name for _, name in late})),
        )
        for task, _ in late:
            task.cancel()


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if inspect.iscoroutine(awaitable) and close is not None:
        close()


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
