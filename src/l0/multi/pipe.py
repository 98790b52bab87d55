"""`l0.pipe`: stages run one after another, each one's output the next one's input.

A stage is a function from the previous output (the pipe's `input` for the first) to a
task, so each stage is a full l0 session with its own retries and checks. The pipe is
awaited for the whole result, or iterated to stream the final stage's events as they
arrive (the earlier stages run first). A stage that fails stops the pipe with an error
naming the stage; `pipe.stages` keeps what every stage that ran did.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode, L0Error
from ..events import ObservabilityEventType as T
from ..run import start
from ..runtime.result import Result
from ..types import Event, EventType, State
from ._children import Child, report_cancelled, settle
from ._operation import Operation
from ._tasks import task_spec

__all__ = ["Pipe", "PipeResult", "Stage", "StageResult", "pipe"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: `fn(previous_output)` returns its task (a stream factory, a dict of
    `l0.run` options or an `l0.Task`; or an awaitable of one)."""

    name: str
    fn: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class StageResult:
    """What one stage did."""

    name: str
    input: Any
    result: Result
    """The stage's session (`state`, `session_id`, `outcome`, `error`)."""

    @property
    def state(self) -> State:
        return self.result.state

    @property
    def output(self) -> str:
        return self.result.state.content


@dataclass(frozen=True, slots=True)
class PipeResult:
    """The final stage's output and every stage's session."""

    output: str
    stages: tuple[StageResult, ...]

    @property
    def state(self) -> State:
        """The final stage's state."""
        return self.stages[-1].state


def _stage(index: int, spec: object) -> Stage:
    if isinstance(spec, Stage):
        return spec
    if isinstance(spec, Mapping):
        name, fn = spec.get("name", f"stage{index}"), spec.get("fn")
    elif callable(spec):
        name, fn = getattr(spec, "__name__", f"stage{index}"), spec
    else:
        raise TypeError(
            f"stages[{index}] must be an l0.Stage, a dict with 'name' and 'fn', or a function, "
            f"got {type(spec).__name__}"
        )
    if not callable(fn):
        raise TypeError(f"stages[{index}] has no 'fn' (a function of the previous output)")
    if not isinstance(name, str) or not name:
        raise TypeError(f"stages[{index}]: name must be a non-empty str, got {name!r}")
    return Stage(name if name != "<lambda>" else f"stage{index}", fn)


def pipe(stages: Sequence[Any], input: Any, **options: Any) -> Pipe:
    """Run `stages` in order, each on the previous one's output; `options` (any `l0.run`
    option) apply to every stage. Await the returned `Pipe` for a `PipeResult`, or
    iterate it to stream the final stage's events. Stages are checked at the call."""
    if isinstance(stages, str | bytes) or not isinstance(stages, Sequence):
        raise TypeError(f"stages must be a list of stages, got {type(stages).__name__}")
    if not stages:
        raise ValueError("stages must hold at least one stage")
    return Pipe([_stage(i, s) for i, s in enumerate(stages)], input, options)


class _End:
    """Put in the queue once the stage's session has ended."""


_END = _End()


class Pipe:
    """A pipe not yet run: `await` it, or `async for event in` it (once)."""

    def __init__(self, stages: list[Stage], input: Any, options: Mapping[str, Any]) -> None:
        self._stages = stages
        self._input = input
        self._options = options
        self._used = False
        self.stages: list[StageResult] = []
        """Every stage that ran so far (read it after an error too)."""
        self.result: PipeResult | None = None

    def __await__(self) -> Generator[Any, None, PipeResult]:
        return self._collect().__await__()

    def __aiter__(self) -> AsyncGenerator[Event, None]:
        return self._events()

    async def _collect(self) -> PipeResult:
        async for _ in self._events():
            pass
        assert self.result is not None
        return self.result

    async def _events(self) -> AsyncGenerator[Event, None]:
        if self._used:
            raise RuntimeError("an l0.pipe runs once; call l0.pipe() again")
        self._used = True
        op = Operation("pipe", self._options)
        op.emit(T.MULTI_START, task_count=len(self._stages), stages=[s.name for s in self._stages])
        outcome, error = "aborted", None
        try:
            value = self._input
            for index, stage in enumerate(self._stages):
                final = index == len(self._stages) - 1
                result = await self._session(index, stage, value)
                async with contextlib.aclosing(self._drive(op, index, result, live=final)) as run:
                    async for event in run:
                        yield event
                self.stages.append(StageResult(stage.name, value, result))
                op.emit(
                    T.PIPE_STAGE_END,
                    index=index,
                    stage=stage.name,
                    outcome=result.outcome,
                    child_session_id=result.session_id,
                )
                if result.outcome != "success":
                    raise _failed(index, stage, result)
                value = result.state.content
            self.result = PipeResult(value, tuple(self.stages))
            outcome = "success"
        except Exception as exc:
            outcome, error = "error", exc
            raise
        finally:
            last = self.stages[-1].name if self.stages else None
            op.end(outcome=outcome, error=error, output_stage=last)

    async def _session(self, index: int, stage: Stage, value: Any) -> Result:
        """The stage's session; its function's errors and bad tasks name the stage."""
        try:
            task = stage.fn(value)
            if inspect.isawaitable(task):
                task = await task
            return start(**task_spec(index, task, self._options))
        except Exception as exc:
            exc.add_note(f"in l0.pipe stage {stage.name!r} (stages[{index}])")
            raise

    async def _drive(
        self, op: Operation, index: int, result: Result, *, live: bool
    ) -> AsyncGenerator[Event, None]:
        """Run one stage's session beneath the pipe's span; yield its events if `live`."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def on_item(child: Child, item: Any) -> None:
            if live and item.type is not EventType.ERROR:  # the failure is raised instead
                queue.put_nowait(item)

        child = Child(index, result, on_item, lambda c: queue.put_nowait(_END))
        child.start(op)
        try:
            while (item := await queue.get()) is not _END:
                yield item
        finally:
            stopped = child.cancel("discarded")  # the consumer left before the stage ended
            await settle([child])
            if stopped:
                report_cancelled(op, child)


def _failed(index: int, stage: Stage, result: Result) -> L0Error:
    """The stage's failure, naming the stage; the session's error is the cause."""
    cause = result.error
    error = L0Error(
        f"l0.pipe stage {stage.name!r} (stages[{index}]) failed: {cause}",
        cause.code if cause is not None else ErrorCode.STREAM_ABORTED,
        category=cause.category if cause is not None else None,
        metadata={"stage": stage.name, "stage_index": index},
    )
    error.__cause__ = cause
    return error
