"""Hedged streams: `l0.run(..., hedge=l0.Hedge(after=...))`.

The run starts as usual. If its first token has not arrived `after` seconds later, a
hedge starts alongside it: the next fallback if there is one, else the same factory
again, each a full session of its own. The first to deliver a token wins; the others are
cancelled in that same turn of the event loop and their streams closed. The consumer sees
one ordinary stream: the winner's events, through the same `Result` as any run.

`after` is seconds, or a quantile ("p90", "p99.9") of the recent times to first token of
the same model in this process (`_ttft`); until `min_samples` are known, `default_after`.
The winner runs in its own task and hands its events over through a short buffer, which
holds it back when the consumer falls behind.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _validate
from ..errors import ErrorCode, L0Error
from ..events import ObservabilityEventType as T
from ..run import start
from ..runtime.result import Result
from ..types import Event, EventType, State
from ._children import Child, declare_winner, report_cancelled, settle
from ._operation import Operation
from ._ttft import history

if TYPE_CHECKING:
    from ..runtime.tap import Tap
    from ..telemetry.facade import Telemetry

__all__ = ["Hedge", "hedged"]

_QUANTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?)")
_HIGH_WATER = 256
"""Events the winner may run ahead of the consumer before it waits."""
_LOW_WATER = 64


@dataclass(frozen=True, slots=True)
class Hedge:
    """When to start a hedge stream, and how many.

    `after`: seconds without a first token, or a quantile of this process's recent times
    to first token for the model, as "p50" ... "p99.9". `max_hedges`: hedges per run (each
    waits `after` again). `default_after`: the wait while fewer than `min_samples` times are
    known for the model.
    """

    after: float | str
    max_hedges: int = 1
    default_after: float = 1.0
    min_samples: int = 20

    def __post_init__(self) -> None:
        if isinstance(self.after, str):
            _quantile(self.after)
        else:
            _validate.seconds("Hedge: after", self.after)
        _validate.integer("Hedge: max_hedges", self.max_hedges, minimum=1)
        _validate.seconds("Hedge: default_after", self.default_after)
        _validate.integer("Hedge: min_samples", self.min_samples, minimum=1)

    def delay(self, key: Any) -> float:
        """Seconds to wait for a first token before hedging a call of `key` (`_ttft`)."""
        if not isinstance(self.after, str):
            return float(self.after)
        learned = history.quantile(key, _quantile(self.after), self.min_samples)
        return self.default_after if learned is None else learned


def _quantile(text: str) -> float:
    found = _QUANTILE.fullmatch(text)
    value = float(found.group(1)) / 100 if found else 0.0
    if not 0 < value < 1:
        raise ValueError(f'Hedge: after must be seconds or a quantile like "p95", got {text!r}')
    return value


def hedged(hedge: object, options: Mapping[str, Any]) -> Result:
    """The result of `l0.run(**options, hedge=hedge)`; arguments are checked here."""
    if not isinstance(hedge, Hedge):
        raise TypeError(f"hedge must be an l0.Hedge, got {_validate.show(hedge)}")
    return Result(_Hedged(hedge, options, start(**options)))


class _Unwatched:
    """Each child session has its own watchdog; the hedge has nothing to watch."""

    def bind(self, generator: AsyncGenerator[Any, None], /) -> None:
        pass


class _Hedged:
    """The engine of a hedged run (`Result` drives it like a session)."""

    watch = _Unwatched()
    tap: Tap | None = None  # sees the winner's events as they are delivered (record=)

    def __init__(self, hedge: Hedge, options: Mapping[str, Any], first: Result) -> None:
        self.hedge = hedge
        self._options = options
        self.raw = False
        self.outcome = "pending"
        self._error: L0Error | None = None
        self.op = Operation("hedge", options)
        self._children = [Child(0, first, self._item, self._ended)]
        self._winner: Child | None = None
        self._buffer: deque[Any] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._space: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._aborted = False
        stream = options["stream"]
        self._site = getattr(stream, "__code__", stream)

    # ----------------------------------------------------------------- Engine

    @property
    def state(self) -> State:
        return (self._winner or self._children[0]).result.state

    @property
    def error(self) -> L0Error | None:
        return self._error

    @property
    def session_id(self) -> str:
        """The winning session's id (the first session's until one wins)."""
        return (self._winner or self._children[0]).result.session_id

    @property
    def tel(self) -> Telemetry:
        """Tools the consumer runs are recorded beneath the `l0.hedge` span."""
        return self.op.tel

    def abort(self) -> None:
        if self.outcome != "pending" or self._aborted:
            return
        self._aborted = True
        if self._winner is not None:
            self._winner.result.abort()  # it ends with STREAM_ABORTED, passed on as usual
            return
        self._stop_timer()
        for child in self._children:
            child.cancel("discarded")
        self._wake()

    async def events(self) -> AsyncGenerator[Any, None]:
        loop = asyncio.get_running_loop()
        self.op.emit(T.MULTI_START, max_hedges=self.hedge.max_hedges)
        self._children[0].start(self.op, raw=self.raw)
        self._schedule(loop)
        buffer = self._buffer
        try:
            while True:
                if buffer:
                    item = buffer.popleft()
                    if self._space is not None and len(buffer) <= _LOW_WATER:
                        self._release()
                    if self.tap is not None and not self.raw:
                        self.tap.event(item, self.state)
                    yield item
                    continue
                if self._over():
                    break
                self._wakeup = loop.create_future()
                await self._wakeup
            if self._winner is None:
                yield self._fail()
            else:
                self.outcome = self._winner.result.outcome
                self._error = self._winner.result.error
        finally:
            await self._finish()

    # -------------------------------------------------------------- children

    def _item(self, child: Child, item: Any) -> asyncio.Future[None] | None:
        if self._winner is None:
            if isinstance(item, Event) and item.type is EventType.ERROR:
                return None  # it failed without a token: the others may still win
            child.first_at = asyncio.get_running_loop().time()
            self._win(child)
        elif child is not self._winner:
            return None  # a loser's token from the turn in which the winner won
        self._buffer.append(item)
        self._wake()
        if len(self._buffer) < _HIGH_WATER:
            return None
        self._space = asyncio.get_running_loop().create_future()
        return self._space

    def _win(self, child: Child) -> None:
        self._winner = child
        self._stop_timer()
        declare_winner(self.op, child, self._children, "hedge_loser")

    def _ended(self, child: Child) -> None:
        if child.cancelled is not None:
            report_cancelled(self.op, child)
        self._wake()

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if len(self._children) > self.hedge.max_hedges:
            return
        delay = self.hedge.delay(history.key(self._site))
        self._timer = loop.call_later(delay, self._start_hedge, delay)

    def _start_hedge(self, delay: float) -> None:
        self._timer = None
        if self._winner is not None or self._aborted:
            return
        if not any(c.running for c in self._children):
            return  # every stream failed already: the run is ending
        index = len(self._children)
        child = Child(index, start(**self._candidate(index)), self._item, self._ended)
        self._children.append(child)
        after = self.hedge.after
        self.op.emit(
            T.HEDGE_START,
            index=index,
            after_ms=int(delay * 1000),
            quantile=after if isinstance(after, str) else None,
        )
        child.start(self.op, raw=self.raw)
        self._schedule(asyncio.get_running_loop())

    def _candidate(self, index: int) -> Mapping[str, Any]:
        """The options of hedge `index`: the next fallback, else the same stream again."""
        fallbacks = tuple(self._options.get("fallbacks") or ())
        if index > len(fallbacks):
            return self._options
        return {**self._options, "stream": fallbacks[index - 1], "fallbacks": fallbacks[index:]}

    # ---------------------------------------------------------------- ending

    def _over(self) -> bool:
        if self._winner is not None:
            return self._winner.ended
        return not any(c.running for c in self._children)

    def _fail(self) -> Event:
        """No child delivered a token: the run ends with their failure (or the abort)."""
        errors = [c.result.error for c in self._children if c.result.error is not None]
        if self._aborted:
            error = L0Error("the stream was aborted", ErrorCode.STREAM_ABORTED)
        elif len(errors) == 1:
            error = errors[0]
        else:
            last = errors[-1] if errors else None
            error = L0Error.exhausted(
                f"all {len(self._children)} hedged streams failed; last error: {last!r}",
                errors,
                category=last.category if last is not None else None,
                metadata={"hedge_id": self.op.id},
            )
            error.__cause__ = last
        self._error = error
        self.outcome = "aborted" if error.code is ErrorCode.STREAM_ABORTED else "error"
        return Event(EventType.ERROR, error=error)

    async def _finish(self) -> None:
        """Every path out: stop what still runs, wait until every stream is closed."""
        self._stop_timer()
        if self.outcome == "pending":
            self.outcome = "aborted"  # the consumer stopped early
        for child in self._children:
            child.cancel("discarded")
        self._release()
        await settle(self._children)
        self._learn()
        winner = self._winner
        self.op.end(
            outcome=self.outcome,
            winner_index=winner.index if winner is not None else None,
            cancelled_count=sum(c.cancelled is not None for c in self._children),
            hedges=len(self._children) - 1,
            error=self._error,
        )
        if self.tap is not None:
            self.tap.end(self.state)

    def _learn(self) -> None:
        """Teach the TTFT history: the winner's time, and the wait of each loser that
        started before it (a lower bound of its time, see `_ttft`). A hedge that lost
        to an earlier stream waited less than the delay: that says nothing of the tail."""
        winner = self._winner
        if winner is None or winner.first_at is None:
            return
        history.learn(self._site, winner.result.state.model)
        key = history.key(self._site)
        history.record(key, winner.first_at - winner.started_at)
        for child in self._children:
            if child.cancelled == "hedge_loser" and child.started_at < winner.started_at:
                history.record(key, winner.first_at - child.started_at)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _release(self) -> None:
        if self._space is not None and not self._space.done():
            self._space.set_result(None)
        self._space = None
