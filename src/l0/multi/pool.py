"""`l0.Pool`: child sessions under a concurrency limit, results as they complete.

The core of `l0.parallel` and `l0.batched`. Every submitted task becomes a child session
at once (checked at `submit`), but it sends its request only once it holds one of the
`concurrency` slots, so the provider never sees more than that many at a time. With
`fail_fast`, the first task that fails stops every other: the running ones are cancelled
and their connections closed, the waiting ones never start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from .. import _validate
from ..errors import ErrorCode, L0Error
from ..events import ObservabilityEventType as T
from ..runtime.result import Result
from ._children import Child, report_cancelled, settle
from ._operation import Operation
from ._tasks import start_child, task_spec

__all__ = ["ParallelResult", "Pool", "TaskResult"]


@dataclass(frozen=True, slots=True)
class TaskResult:
    """One finished task of a pool: its index, its session, its error if it failed."""

    index: int
    result: Result
    """The task's session (`state`, `session_id`, `outcome`)."""
    error: L0Error | None
    """Why it failed: the session's error, or STREAM_ABORTED if the pool stopped it."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content(self) -> str:
        return self.result.state.content


@dataclass(frozen=True, slots=True)
class ParallelResult:
    """Every task's outcome, aligned with the tasks."""

    results: tuple[Result | None, ...]
    """The session of each task that succeeded (read `.state.content`); None where it
    failed or never ran."""
    errors: tuple[L0Error | None, ...]
    """The error of each task that failed or was stopped; None where it succeeded."""

    @property
    def success_count(self) -> int:
        return sum(r is not None for r in self.results)

    @property
    def failure_count(self) -> int:
        return len(self.results) - self.success_count

    @property
    def all_succeeded(self) -> bool:
        return self.failure_count == 0

    @property
    def contents(self) -> tuple[str | None, ...]:
        """Each successful task's text (None where it failed)."""
        return tuple(r.state.content if r is not None else None for r in self.results)


def _ignore(child: Child, item: Any) -> None:
    """A pooled session's events: its state keeps the text, nobody reads them live."""


def _concurrency(value: object) -> int | None:
    if value is None:
        return None
    return _validate.integer("concurrency", value, minimum=1)


class Pool:
    """Run tasks with at most `concurrency` at once (None: no limit).

    ```python
    async with l0.Pool(4) as pool:
        for prompt in prompts:
            pool.submit(lambda p=prompt: client.chat.completions.create(..., stream=True))
        async for done in pool:          # in the order they complete
            print(done.index, done.content if done.ok else done.error)
    ```

    `options` (any `l0.run` option) apply to every task, a task's own options win.
    Leaving the block waits for the tasks still running; leaving it by an exception
    (or cancellation) cancels them, and closes their connections, first.
    """

    def __init__(
        self, concurrency: int | None = None, *, fail_fast: bool = False, **options: Any
    ) -> None:
        self._concurrency = _concurrency(concurrency)
        self._fail_fast = _validate.boolean("fail_fast", fail_fast)
        self._options = options
        self._children: list[Child] = []
        self._errors: dict[int, L0Error] = {}
        self._finished: asyncio.Queue[Child] = asyncio.Queue()
        self._ended = 0
        self._delivered = 0
        self._all_ended = asyncio.Event()
        self._all_ended.set()
        self._slots: asyncio.Semaphore | None = None
        self._op: Operation | None = None
        self._stopped_by: Child | None = None
        self._closed = False

    def _start(self, kind: str = "parallel", **attributes: Any) -> Operation:
        if self._op is not None:
            raise RuntimeError("an l0.Pool runs once; make a new one")
        if self._concurrency is not None:
            self._slots = asyncio.Semaphore(self._concurrency)
        self._op = Operation(kind, self._options)
        self._op.emit(
            T.MULTI_START,
            concurrency=self._concurrency,
            fail_fast=self._fail_fast,
            **attributes,
        )
        return self._op

    async def __aenter__(self) -> Pool:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close(stop=exc is not None)

    async def _run(
        self,
        results: list[Result],
        kind: str,
        finish: Callable[[Operation, ParallelResult], dict[str, Any]] | None = None,
        **attributes: Any,
    ) -> ParallelResult:
        """Run checked sessions to the end as one operation of `kind` (`parallel`,
        `consensus`...); `finish` reports what the operation made of them and returns
        MULTI_END's data."""
        op = self._start(kind, **attributes)
        try:
            for result in results:
                self._add(result)
            gathered = await self.gather()
        except BaseException:
            await self._close(stop=True)
            raise
        await self._close(stop=False, **(finish(op, gathered) if finish else {}))
        return gathered

    # ----------------------------------------------------------------------- tasks

    def submit(self, task: Any) -> int:
        """Add a task (a stream factory, a dict of `l0.run` options or an `l0.Task`);
        it starts when a slot is free. Returns its index. Bad arguments fail here."""
        index = len(self._children)
        return self._add(start_child(index, task_spec(index, task, self._options)))

    def _add(self, result: Result) -> int:
        if self._op is None or self._closed:
            raise RuntimeError("submit inside `async with l0.Pool(...) as pool:`")
        child = Child(len(self._children), result, _ignore, self._child_ended)
        self._children.append(child)
        self._all_ended.clear()
        child.start(self._op, slots=self._slots)
        if self._stopped_by is not None:
            child.cancel("discarded")
        return child.index

    def _child_ended(self, child: Child) -> None:
        assert self._op is not None
        error = self._error_of(child)
        if error is not None:
            self._errors[child.index] = error
        if child.cancelled is not None and child.opened:
            report_cancelled(self._op, child)
        elif error is not None and self._fail_fast and self._stopped_by is None:
            self._stop(child)
        self._finished.put_nowait(child)
        self._ended += 1
        if self._ended == len(self._children):
            self._all_ended.set()

    def _error_of(self, child: Child) -> L0Error | None:
        result = child.result
        if result.outcome == "success":
            return None
        if result.error is not None:
            return result.error
        why = f"tasks[{self._stopped_by.index}] failed" if self._stopped_by else "pool stopped"
        return L0Error(
            f"tasks[{child.index}] was stopped before it finished: {why}",
            ErrorCode.STREAM_ABORTED,
            metadata={"pool_id": self._op.id if self._op else None},
        )

    def _stop(self, failed: Child | None) -> None:
        """fail_fast (or the caller left): cancel every task still running or waiting."""
        self._stopped_by = failed
        for child in self._children:
            child.cancel("discarded")

    # --------------------------------------------------------------------- results

    def __aiter__(self) -> AsyncIterator[TaskResult]:
        return self

    async def __anext__(self) -> TaskResult:
        """The next task to finish; the iteration ends when every submitted one has."""
        if self._delivered == len(self._children):
            raise StopAsyncIteration
        child = await self._finished.get()
        self._delivered += 1
        return TaskResult(child.index, child.result, self._errors.get(child.index))

    async def wait(self) -> None:
        """Wait until every task submitted so far has finished. Cancelling the caller
        cancels them, and returns once their connections are closed."""
        try:
            await self._all_ended.wait()
        except asyncio.CancelledError:
            self._stop(None)
            await settle(self._children)
            raise

    async def gather(self) -> ParallelResult:
        """Wait for every task; their outcomes aligned with the submission order."""
        await self.wait()
        return self._result()

    def _result(self) -> ParallelResult:
        return ParallelResult(
            tuple(None if c.index in self._errors else c.result for c in self._children),
            tuple(self._errors.get(c.index) for c in self._children),
        )

    async def _close(self, *, stop: bool, **data: Any) -> None:
        if self._op is None or self._closed:
            return
        self._closed = True
        if stop:
            self._stop(None)
        try:
            await self.wait()
        finally:
            self._end(aborted=stop, **data)

    def _end(self, *, aborted: bool, **data: Any) -> None:
        assert self._op is not None
        failed = len(self._errors)
        if aborted:
            data.setdefault("outcome", "aborted")
        elif failed:
            # The span says a task failed, with the first failure's error attributes.
            data.setdefault("outcome", "error")
            data.setdefault("error", self._errors[min(self._errors)])
        self._op.end(
            outcome=data.pop("outcome", "success"),
            success_count=len(self._children) - failed,
            failed_count=failed,
            cancelled_count=sum(c.cancelled is not None for c in self._children),
            **data,
        )
