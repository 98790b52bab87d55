"""`l0.race`: every task starts at once; the first to complete successfully wins.

Each task is a full l0 session (its own retries, fallbacks, timeouts and checks). When one
completes successfully, every other is cancelled in the same turn of the event loop, and
`race` returns only once their provider streams are closed. Cancelling the caller does
the same for all of them. If every task fails, the race raises ALL_STREAMS_EXHAUSTED with
each task's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import L0Error
from ..events import ObservabilityEventType as T
from ..runtime.result import Result
from ..telemetry.callbacks import AnyCallback
from ..types import State
from ._children import Child, declare_winner, report_cancelled, settle
from ._operation import Operation
from ._tasks import start_child, task_options

__all__ = ["RaceResult", "race"]


@dataclass(frozen=True, slots=True)
class RaceResult:
    """The winner of a race: which task it was and its finished session."""

    winner_index: int
    result: Result
    """The winning session, run to completion (`result.state`, `result.session_id`)."""
    results: tuple[Result, ...]
    """Every task's session, by task index; the losers' outcome is 'aborted' (cancelled)
    or 'error' (failed before the winner arrived)."""

    @property
    def state(self) -> State:
        return self.result.state

    @property
    def content(self) -> str:
        return self.result.state.content


async def race(
    tasks: Sequence[Any], *, on_race_winner: AnyCallback | None = None, **options: Any
) -> RaceResult:
    """Run every task at once; return the first to complete successfully.

    A task is a stream factory, a dict of `l0.run` options or an `l0.Task`; `options`
    (any `l0.run` option) apply to every task, a task's own options win.
    `on_race_winner(index, state)` is called when the winner is known. Arguments are
    checked at the call.
    """
    if on_race_winner is not None and not callable(on_race_winner):
        raise TypeError(f"on_race_winner must be callable, got {type(on_race_winner).__name__}")
    results = [start_child(i, spec) for i, spec in enumerate(task_options(tasks, options))]
    winner = ("on_race_winner", on_race_winner) if on_race_winner is not None else None
    return await _Race(results, Operation("race", options, winner_callback=winner)).run()


def _ignore(child: Child, item: Any) -> None:
    """A racing session's events: its state keeps the text, nobody reads them live."""


class _Race:
    def __init__(self, results: list[Result], operation: Operation) -> None:
        self.op = operation
        self.children = [Child(i, r, _ignore, self._ended) for i, r in enumerate(results)]
        self.failed: list[Child] = []
        self.decided: asyncio.Future[Child | None] = asyncio.get_running_loop().create_future()

    async def run(self) -> RaceResult:
        self.op.emit(T.MULTI_START, task_count=len(self.children))
        for child in self.children:
            child.start(self.op)
        try:
            winner = await self.decided
        except asyncio.CancelledError:
            for child in self.children:
                child.cancel("discarded")
            await settle(self.children)
            self._end("aborted")
            raise
        await settle(self.children)
        if winner is None:
            error = self._exhausted()
            self._end("error", error=error)
            raise error
        self._end("success", winner_index=winner.index)
        return RaceResult(winner.index, winner.result, tuple(c.result for c in self.children))

    def _ended(self, child: Child) -> None:
        """A child's task ended: a loser closed, a failure, or the winner."""
        if child.cancelled is not None:
            report_cancelled(self.op, child)
            return
        if self.decided.done():
            return
        if child.result.outcome == "success":
            declare_winner(self.op, child, self.children, "race_loser")
            self.decided.set_result(child)
            return
        self.failed.append(child)
        if len(self.failed) == len(self.children):
            self.decided.set_result(None)

    def _exhausted(self) -> L0Error:
        """Every task failed: one error holding each task's, the last to fail as cause."""
        errors = [c.result.error for c in self.children if c.result.error is not None]
        last = self.failed[-1].result.error
        error = L0Error.exhausted(
            f"all {len(self.children)} race tasks failed; last error: {last!r}",
            errors,
            category=last.category if last is not None else None,
            metadata={"race_id": self.op.id},
        )
        error.__cause__ = last
        return error

    def _end(self, outcome: str, **data: Any) -> None:
        cancelled = sum(c.cancelled is not None for c in self.children)
        self.op.end(outcome=outcome, cancelled_count=cancelled, **data)
