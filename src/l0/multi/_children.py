"""A child session of a multi-stream operation, driven by a task of its own.

Each child runs in its own task so that it can be cancelled alone: cancelling the task
lands in the session wherever it waits (the factory call, the connection, the next chunk),
and the session's cleanup closes the provider stream and ends its spans before the task
ends. `Child.cancel` is synchronous, so a winner can stop every loser in the same turn of
the event loop in which it won.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Any, cast

from ..events import ObservabilityEventType as T
from ..runtime.result import Result
from ._operation import Operation

__all__ = ["Child", "declare_winner", "report_cancelled", "settle"]

OnItem = Callable[["Child", Any], Awaitable[None] | None]
"""Takes each item the child yields; may return an awaitable to hold the child back."""


class Child:
    """One child session and the task that drives it."""

    __slots__ = (
        "_on_end",
        "_on_item",
        "begun",
        "cancelled",
        "ended",
        "ended_at",
        "first_at",
        "index",
        "opened",
        "result",
        "started_at",
        "task",
    )

    def __init__(
        self, index: int, result: Result, on_item: OnItem, on_end: Callable[[Child], None]
    ) -> None:
        self.index = index
        self.result = result
        self._on_item = on_item
        self._on_end = on_end
        self.task: asyncio.Task[None] | None = None
        self.started_at = 0.0
        self.first_at: float | None = None
        """When it delivered its first token (kept by operations that care)."""
        self.ended_at: float | None = None
        self.ended = False
        self.begun = False
        self.opened = False
        """Whether its session started (false for one stopped while it waited its turn)."""
        self.cancelled: str | None = None
        """Why the operation stopped it (`l0.waste.reason`): another child won
        ('race_loser', 'hedge_loser') or the operation itself was stopped ('discarded')."""

    def start(
        self, operation: Operation, *, raw: bool = False, slots: asyncio.Semaphore | None = None
    ) -> None:
        """Drive the session in a task of its own; with `slots`, only once it holds one
        (a concurrency limit: until then it sends nothing)."""
        self.started_at = asyncio.get_running_loop().time()
        self.task = operation.spawn(self._drive(raw, slots), f"l0 {operation.kind} {self.index}")

    async def _drive(self, raw: bool, slots: asyncio.Semaphore | None) -> None:
        self.begun = True
        try:
            if slots is None:
                await self._stream(raw)
                return
            async with slots:
                self.started_at = asyncio.get_running_loop().time()
                await self._stream(raw)
        finally:
            if not self.opened:
                # Stopped before its turn: a session that never ran ends 'aborted'.
                await self.result.aclose()
            self._end()

    def _end(self, _: object = None) -> None:
        self.ended = True
        self.ended_at = asyncio.get_running_loop().time()
        on_end = self._on_end
        # Ended, a child lets go of its task and of its operation's callbacks: a task
        # cancelled keeps its error, whose traceback holds this child, and the operation
        # keeps its children. Kept, each would be a cycle only the collector undoes.
        self.task = None
        self._on_item = self._on_end = _ended
        on_end(self)

    async def _stream(self, raw: bool) -> None:
        iterator = cast(
            "AsyncGenerator[Any, None]", self.result.raw() if raw else aiter(self.result)
        )
        self.opened = True
        try:
            async for item in iterator:
                held = self._on_item(self, item)
                if held is not None:
                    await held
        finally:
            # Cancelled while held back, the session waits at a `yield`: close it here.
            await iterator.aclose()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.ended

    def cancel(self, reason: str) -> bool:
        """Stop the child now (it closes its provider stream on its next step)."""
        if not self.running or self.cancelled is not None:
            return False
        self.cancelled = reason
        assert self.task is not None
        if not self.begun:
            # Cancelled before its first step, the task never runs `_drive`'s cleanup.
            self.task.add_done_callback(self._end)
        self.task.cancel()
        return True

    @property
    def elapsed(self) -> float:
        end = self.ended_at if self.ended_at is not None else asyncio.get_running_loop().time()
        return end - self.started_at


def _ended(*_: object) -> None:
    """The callbacks of a child that has ended."""


async def settle(children: list[Child]) -> None:
    """Wait until every child task has ended (losers have closed their streams).

    Shielded: a caller cancelled while it waits still gets every stream closed before it
    hears of the cancellation, and the cancellation then propagates.
    """
    tasks = [c.task for c in children if c.task is not None and not c.task.done()]
    if not tasks:
        return
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.shield(gathered)
    except asyncio.CancelledError:
        await gathered
        raise


def declare_winner(
    operation: Operation, winner: Child, children: Iterable[Child], reason: str
) -> None:
    """MULTI_WINNER for `winner`, then every other child cancelled as `reason`'s loser."""
    operation.emit(
        T.MULTI_WINNER,
        index=winner.index,
        child_session_id=winner.result.session_id,
        state=winner.result.state,
    )
    for other in children:
        if other is not winner:
            other.cancel(reason)


def report_cancelled(operation: Operation, child: Child) -> None:
    """STREAM_CANCELLED for a child the operation stopped, once its stream is closed: what
    it had received is the cost of the operation (`l0.tokens.wasted`)."""
    state = child.result.state
    operation.emit(
        T.STREAM_CANCELLED,
        index=child.index,
        reason=child.cancelled,
        tokens_discarded=state.token_count,
        child_session_id=child.result.session_id,
        state=state,
    )
