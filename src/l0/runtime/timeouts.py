"""Timeouts without a timer per token.

`asyncio.wait_for` around every `__anext__` costs a task and a timer handle per token. The
watchdog instead ticks a few times per timeout period and compares a chunk counter that the
hot loop bumps: O(1) per token with no allocation. When the provider has been silent for
the configured time, and only while the session is actually waiting on the provider (never
while the consumer is busy with a token), it cancels the waiting task; the session turns
that cancellation into a typed timeout error and retries. "Waiting" is read off the
session's async generator (`ag_running` is true while it awaits inside, false while the
consumer holds a token), so the loop itself flips no flag per token.

Detection happens between `timeout` and `1.25 * timeout` after the last chunk.

The watchdog cancels the task at most once per watched wait, and only inside one (between
`arm` and `disarm`): a second cancellation, or one landing while the session closes a
failed attempt, would reach the caller as a real `CancelledError`. Like `asyncio.timeout`,
it counts the task's cancellation requests, so a cancellation from anyone else still
propagates.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import _validate

if TYPE_CHECKING:
    from ..types import State

__all__ = ["Interrupt", "Timeout", "Watchdog"]

_TICKS_PER_PERIOD = 4


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to wait for the first token and between tokens; `None` disables one.

    `initial_token` starts when the attempt starts, so it covers the factory call and the
    connection as well as the wait for the first chunk.
    """

    initial_token: float | None = 10.0
    inter_token: float | None = 10.0

    def __post_init__(self) -> None:
        for name in ("initial_token", "inter_token"):
            value = getattr(self, name)
            if value is not None:  # None disables it; infinity is not a way to say so
                _validate.seconds(f"Timeout: {name}", value, positive=True, or_none=True)


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Why the watchdog cut the wait: a timeout ('initial'/'inter') or an abort."""

    kind: str
    elapsed: float
    configured: float | None


class Watchdog:
    """Watches one attempt at a time on behalf of one consuming task."""

    __slots__ = (
        "_armed",
        "_cancels_before",
        "_generator",
        "_handle",
        "_last_progress",
        "_last_seen",
        "_loop",
        "_period",
        "_started",
        "_state",
        "_streaming",
        "cancelled",
        "fired",
        "seen",
        "task",
        "timeout",
    )

    def __init__(self, timeout: Timeout, state: State) -> None:
        self.timeout = timeout
        self._state = state
        limits = [t for t in (timeout.initial_token, timeout.inter_token) if t is not None]
        self._period = min(limits) / _TICKS_PER_PERIOD if limits else None
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[object] | None = None
        self.fired: Interrupt | None = None
        # True while a cancellation we sent is in flight: only that one is ours to absorb.
        self.cancelled = False
        self._cancels_before = 0
        self._armed = False
        self._generator: weakref.ref[AsyncGenerator[object, None]] | None = None
        self.seen = 0
        self._streaming = False
        self._last_seen = 0
        self._started = 0.0
        self._last_progress = 0.0

    def bind(self, generator: AsyncGenerator[object, None]) -> None:
        """The session generator whose waits are watched."""
        self._generator = weakref.ref(generator)

    @property
    def waiting(self) -> bool:
        """True while the session awaits the provider (or a backoff), not the consumer."""
        if not self._armed:
            return False
        generator = self._generator() if self._generator is not None else None
        return generator is not None and bool(getattr(generator, "ag_running", False))

    def arm(self) -> None:
        """Start watching a new attempt from the calling task."""
        self.arm_idle()
        assert self._loop is not None
        self.fired = None
        self._streaming = False
        self._last_seen = self._progress()
        self._started = self._last_progress = self._loop.time()
        if self._period is not None:
            self._handle = self._loop.call_at(self._started + self._period, self._tick)

    def arm_idle(self) -> None:
        """Watch without a timeout (a backoff sleep): only `abort()` can cut it."""
        self.disarm()
        self._loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self._armed = True

    def disarm(self) -> None:
        """End the watched wait; from here an abort is only flagged, never sent."""
        self._armed = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.cancelled and self.task is not None:
            # The provider's code swallowed our cancellation: take its request back.
            self.cancelled = False
            self.task.uncancel()
        # The next wait names its task again. Kept, a task that ends cancelled would hold
        # its error, whose traceback holds the session that holds this: a cycle.
        self.task = None

    def take_back(self) -> Interrupt | None:
        """Called on a `CancelledError`: the interrupt it carried if it was ours alone.

        None means it is a real cancellation (ours was not in flight, or someone else
        cancelled the task as well) and must propagate.
        """
        if not self.cancelled or self.task is None:
            return None
        self.cancelled = False
        if self.task.uncancel() > self._cancels_before:
            return None
        return self.fired

    def interrupt(self, kind: str) -> None:
        """Stop the attempt now (an abort): cancel the wait, or flag it for the next chunk."""
        if self.fired is not None:
            return
        elapsed = self._loop.time() - self._started if self._loop is not None else 0.0
        self.fired = Interrupt(kind, elapsed, None)
        # From the watched task itself (a callback), the loop notices `fired` on its own.
        if self.waiting and self.task is not None and self.task is not _current_task():
            self._cancel(self.task)

    def _cancel(self, task: asyncio.Task[object]) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self._cancels_before = task.cancelling()
        task.cancel()

    def _progress(self) -> int:
        """Chunks seen: the session counts non-token chunks here; tokens are in the state."""
        return self.seen + self._state.token_count

    def _tick(self) -> None:
        assert self._loop is not None and self._period is not None
        if self.fired is not None:
            if self.cancelled:  # already sent
                self._handle = None
                return
            # An abort flagged from the watched task itself: deliver it once it waits.
            if self.waiting and self.task is not None:
                self._handle = None
                self._cancel(self.task)
                return
            self._handle = self._loop.call_at(self._loop.time() + self._period, self._tick)
            return
        now = self._loop.time()
        progress = self._progress()
        if progress != self._last_seen or not self.waiting:
            self._streaming = self._streaming or progress != self._last_seen
            self._last_seen = progress
            self._last_progress = now
        if self._streaming:
            limit, kind, since = self.timeout.inter_token, "inter", self._last_progress
        else:
            limit, kind, since = self.timeout.initial_token, "initial", self._started
        if limit is not None and self.waiting and now - since >= limit:
            self._handle = None
            self.fired = Interrupt(kind, now - since, limit)
            if self.task is not None:
                self._cancel(self.task)
            return
        self._handle = self._loop.call_at(now + self._period, self._tick)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # abort() called from outside any event loop
        return None
