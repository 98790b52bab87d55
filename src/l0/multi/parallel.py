"""`l0.parallel` and `l0.batched`: many tasks, each a full session, on the `Pool` core.

`parallel` runs a list of tasks under a concurrency limit and returns every outcome
aligned with the tasks. `batched` maps items to tasks and runs them `batch_size` at a time,
each batch starting once the previous one has finished. Every task is checked before any
starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import _validate
from ._tasks import start_child, task_options
from .pool import ParallelResult, Pool

__all__ = ["batched", "parallel"]


async def parallel(
    tasks: Sequence[Any],
    concurrency: int | None = None,
    fail_fast: bool = False,
    **options: Any,
) -> ParallelResult:
    """Run every task, at most `concurrency` at once (None: all at once).

    A task is a stream factory, a dict of `l0.run` options or an `l0.Task`; `options`
    (any `l0.run` option) apply to every task, a task's own options win. A failed task
    does not stop the others unless `fail_fast`: then the first failure cancels every
    task still running (their connections closed) and those still waiting never start.
    """
    pool = Pool(concurrency, fail_fast=fail_fast, **options)
    results = [start_child(i, spec) for i, spec in enumerate(task_options(tasks, options))]
    return await pool._run(results, "parallel")


async def batched(
    items: Iterable[Any],
    handler: Callable[[Any], Any],
    batch_size: int = 10,
    fail_fast: bool = False,
    **options: Any,
) -> ParallelResult:
    """Run `handler(item)`'s task for every item, `batch_size` at a time: a batch starts
    when the previous one has finished. Outcomes are aligned with the items.

    `handler` maps an item to a task (a stream factory, a dict of `l0.run` options or an
    `l0.Task`), so every item is a full session with its own retries and telemetry.
    """
    size = _validate.integer("batch_size", batch_size, minimum=1)
    if not callable(handler):
        raise TypeError(f"handler must be callable, got {_validate.show(handler)}")
    tasks = [handler(item) for item in items]
    pool = Pool(None, fail_fast=fail_fast, **options)
    results = [start_child(i, spec) for i, spec in enumerate(task_options(tasks, options))]
    async with pool:
        for first in range(0, len(results), size):
            for result in results[first : first + size]:
                pool._add(result)
            await pool.wait()
        return pool._result()
