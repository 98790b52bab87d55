"""`Result`: what `l0.run()` returns — an async iterator of events with state and control."""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import L0Error
from ..types import Event, State
from .tools import run_tool

if TYPE_CHECKING:
    from ..telemetry.facade import Telemetry
    from .tap import Tap

__all__ = ["Engine", "Result"]


class _Watch(Protocol):
    def bind(self, generator: AsyncGenerator[Any, None], /) -> None: ...


class Engine(Protocol):
    """What a `Result` drives: a `Session`, or a multi-stream engine (a hedged run,
    `l0.multi`) that gives one ordinary stream over several sessions."""

    raw: bool
    outcome: str
    tap: Tap | None

    @property
    def state(self) -> State: ...
    @property
    def error(self) -> L0Error | None: ...
    @property
    def session_id(self) -> str: ...
    @property
    def watch(self) -> _Watch: ...
    @property
    def tel(self) -> Telemetry: ...
    def events(self) -> AsyncGenerator[Any, None]: ...
    def abort(self) -> None: ...


class Result:
    """One l0 session.

    Iterate it once (`async for event in result`), or `await result.read()` for the text.
    Breaking out of the loop closes the provider stream as soon as the loop lets go of the
    iterator; `aclose()` or `async with result:` does it deterministically.
    """

    def __init__(self, session: Engine) -> None:
        self._session = session
        self._iterator: weakref.ref[AsyncGenerator[Any, None]] | None = None
        self._strong: AsyncGenerator[Any, None] | None = None

    @property
    def state(self) -> State:
        return self._session.state

    @property
    def error(self) -> L0Error | None:
        """The final error when the session failed."""
        return self._session.error

    @property
    def session_id(self) -> str:
        return self._session.session_id

    @property
    def outcome(self) -> str:
        """'pending' while running, then 'success', 'error' or 'aborted'."""
        return self._session.outcome

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._start(raw=False)

    def raw(self) -> AsyncIterator[Any]:
        """Iterate the provider's own chunks (e.g. `ChatCompletionChunk`) instead of events,
        with the same retries, fallbacks and timeouts."""
        return self._start(raw=True)

    def _start(self, *, raw: bool) -> AsyncGenerator[Any, None]:
        if self._iterator is not None:
            live = self._iterator()
            if live is not None and self._session.raw == raw:
                return live
            raise RuntimeError("this l0 result was already consumed; call l0.run() again")
        self._session.raw = raw
        generator = self._session.events()
        self._session.watch.bind(generator)
        # Only a weak reference: when the consumer's loop drops the iterator (break), it is
        # finalized and the provider stream closed, even while `result` stays referenced.
        self._iterator = weakref.ref(generator)
        return generator

    async def read(self) -> str:
        """Run to the end and return the text; raises the `L0Error` if the session failed."""
        generator = self._strong = self._start(raw=False)
        try:
            async for _ in generator:
                pass
        finally:
            self._strong = None
        if self._session.error is not None:
            raise self._session.error
        return self._session.state.content

    async def run_tool(self, call: Mapping[str, Any], tool: Callable[..., Any]) -> Any:
        """Execute a tool call (a TOOL_CALL event's `data`) and record it in the session:
        TOOL_START/RESULT/ERROR/COMPLETED events and an `execute_tool {name}` span."""
        return await run_tool(self._session.tel, call, tool)

    def abort(self) -> None:
        """Stop the session now, even while it waits on a stalled provider."""
        self._session.abort()

    async def aclose(self) -> None:
        """Close the session and the provider stream."""
        live = self._iterator() if self._iterator is not None else None
        if live is not None:
            await live.aclose()
        elif self._iterator is None:
            self._iterator = weakref.ref(_closed())
            self._session.outcome = "aborted"

    async def __aenter__(self) -> Result:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<l0.Result {self._session.outcome} {self._session.state!r}>"


async def _closed() -> AsyncGenerator[Any, None]:
    return
    yield  # pragma: no cover
