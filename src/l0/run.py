"""`l0.run()`: one reliable, observable session over a stream factory."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _validate
from .adapters import Adapter
from .runtime.options import CheckIntervals, Options, StreamFactory
from .runtime.result import Result
from .runtime.retry import Retry
from .runtime.session import Session
from .runtime.timeouts import Timeout
from .telemetry.callbacks import NO_CALLBACKS, AnyCallback, Callbacks

if TYPE_CHECKING:
    from .drift import DriftConfig
    from .eventlog import EventStore, Recording
    from .guardrails.types import GuardrailRule
    from .multi import Hedge

__all__ = ["run", "start"]


async def run(
    stream: StreamFactory,
    *,
    fallbacks: Sequence[StreamFactory] | None = None,
    retry: Retry | None = None,
    timeout: Timeout | None = None,
    adapter: str | Adapter | None = None,
    guardrails: Sequence[GuardrailRule] | None = None,
    drift: bool | DriftConfig | None = None,
    continue_from_last_good_token: bool = False,
    build_continuation_prompt: Callable[[str], str] | None = None,
    deduplicate_continuation: bool = True,
    check_intervals: CheckIntervals | Mapping[str, int] | None = None,
    context: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    callback_grace: float = 5.0,
    hedge: Hedge | None = None,
    record: EventStore | Recording | None = None,
    on_start: AnyCallback | None = None,
    on_complete: AnyCallback | None = None,
    on_error: AnyCallback | None = None,
    on_event: AnyCallback | None = None,
    on_violation: AnyCallback | None = None,
    on_retry: AnyCallback | None = None,
    on_fallback: AnyCallback | None = None,
    on_resume: AnyCallback | None = None,
    on_checkpoint: AnyCallback | None = None,
    on_timeout: AnyCallback | None = None,
    on_abort: AnyCallback | None = None,
    on_drift: AnyCallback | None = None,
    on_tool_call: AnyCallback | None = None,
) -> Result:
    """Run `stream()` reliably: retries, fallbacks, timeouts, checks, telemetry.

    `stream` (and each fallback) is a zero-argument callable returning the provider
    stream or an awaitable of it — e.g. `lambda: client.chat.completions.create(...,
    stream=True)`. It is called again for every retry, so each attempt is a fresh request.
    A factory that takes one argument receives the continuation prompt (or None) when
    `continue_from_last_good_token` resumes from a checkpoint.

    Callbacks never hold the caller: when the session ends, async callbacks still running
    get `callback_grace` seconds, then are cancelled (docs/events.md).

    With `hedge=l0.Hedge(after=...)`, a second stream starts when the first token is late
    and the first to deliver one wins (docs/multi.md).

    With `record=store` (or `l0.Recording(store, ...)`) the session is recorded as it
    runs, for `l0.replay` (docs/eventlog.md).

    Arguments are checked here (a `TypeError` or `ValueError` naming the argument, see
    docs/errors.md); the stream starts when the result is first iterated.
    """
    return start(**locals())


def start(**kwargs: Any) -> Result:
    """`run()` without the `await`, for code that builds results synchronously (`l0.wrap`).

    Takes `run()`'s keyword arguments; unknown names are a TypeError, as for `run()`.
    """
    unknown = kwargs.keys() - _NAMES
    if unknown:
        raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
    record = kwargs.pop("record", None)
    if record is not None:
        _validate.recording("record", record)
        from .eventlog import record_result  # imported when used, like multi

        return record_result(start(**kwargs), record)
    hedge = kwargs.pop("hedge", None)
    if hedge is not None:
        from .multi.hedge import hedged  # multi is built on `start`: imported when used

        return hedged(hedge, kwargs)
    arguments = {**_DEFAULTS, **kwargs}
    del arguments["hedge"], arguments["record"]
    given = {name: arguments.pop(name) for name in _CALLBACKS}
    # Most sessions set no callback: they share one empty set instead of validating 13.
    unset = [*given.values()].count(None) == len(given)
    callbacks = NO_CALLBACKS if unset else Callbacks(**given)
    options = Options.build(callbacks=callbacks, **arguments)
    return Result(Session(options))


_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(run).parameters.items()
    if parameter.default is not parameter.empty
}
_CALLBACKS = tuple(name for name in _DEFAULTS if name.startswith("on_"))
_NAMES = frozenset(_DEFAULTS) | {"stream"}
