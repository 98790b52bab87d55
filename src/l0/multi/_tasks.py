"""Tasks: what a multi-stream operation runs, each one a full `l0.run()` session.

A task is a stream factory (as `l0.run`'s `stream=`), a dict of `l0.run` options, or an
`l0.Task`. Options given to the operation itself apply to every task; a task's own options
win. Each child is built with `l0.run`'s own `start`, so it is checked at the call (a bad
task fails before anything starts) and gets its own retries, fallbacks and telemetry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..run import start
from ..runtime.result import Result

__all__ = ["Task", "start_child", "task_options", "task_spec"]


class Task:
    """One task of `l0.race` (and the other multi-stream operations): `l0.run` options.

    `l0.Task(stream, fallbacks=[...], retry=l0.Retry(...))` is the same as the dict
    `{"stream": stream, "fallbacks": [...], "retry": l0.Retry(...)}`.
    """

    __slots__ = ("options",)

    def __init__(self, stream: Callable[..., Any], **options: Any) -> None:
        self.options: Mapping[str, Any] = MappingProxyType({"stream": stream, **options})

    def __repr__(self) -> str:
        return f"l0.Task({', '.join(sorted(self.options))})"


def task_options(tasks: object, shared: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every task as the `l0.run` keyword arguments of its session."""
    if isinstance(tasks, str | bytes) or not isinstance(tasks, Sequence):
        raise TypeError(f"tasks must be a list of tasks, got {type(tasks).__name__}")
    if not tasks:
        raise ValueError("tasks must hold at least one task")
    return [task_spec(i, task, shared) for i, task in enumerate(tasks)]


def task_spec(index: int, task: object, shared: Mapping[str, Any]) -> dict[str, Any]:
    """Task `index` as the `l0.run` keyword arguments of its session."""
    return {**shared, **_own_options(index, task)}


def _own_options(index: int, task: object) -> Mapping[str, Any]:
    if isinstance(task, Task):
        return task.options
    if isinstance(task, Mapping):
        if "stream" not in task:
            raise TypeError(f"tasks[{index}] has no 'stream' (a stream factory)")
        return task
    if callable(task):
        return {"stream": task}
    raise TypeError(
        f"tasks[{index}] must be a stream factory, a dict of l0.run options or an l0.Task, "
        f"got {type(task).__name__}"
    )


def start_child(index: int, options: Mapping[str, Any]) -> Result:
    """The session of task `index`; its bad arguments fail here, naming the task."""
    try:
        return start(**options)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"tasks[{index}]: {exc}") from exc
