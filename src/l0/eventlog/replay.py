"""`l0.replay()`: a recorded session back as a `Result`, consumed exactly like a live one.

The replay yields the recorded stream events in order, rebuilds `state.content` from the
token and reset records as the live session did, keeps the counts the lifecycle records
tell (attempt, retries, checkpoint), and ends with the recorded final state. With
`speed=1` each record is due at its original time offset (`speed=2` twice as fast);
`speed=0` replays at once. Nothing is called: no provider, no callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import _validate
from ..errors import ErrorCode, L0Error
from ..runtime.result import Result
from ..telemetry.facade import Telemetry
from ..types import Event, EventType, State, TokenEvent
from .schema import Record, decode_event
from .state import restore_state
from .store import EventStore

if TYPE_CHECKING:
    from ..runtime.tap import Tap

__all__ = ["replay"]

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


async def replay(
    stream_id: str | None = None, *, event_store: EventStore, speed: float = 0.0
) -> Result:
    """Replay the recording `stream_id` (default: the store's last one) from `event_store`."""
    speed = _validate.number("speed", speed)
    if stream_id is None:
        ids = event_store.stream_ids()
        if not ids:
            raise ValueError("event_store holds no recording")
        stream_id = ids[-1]
    elif not isinstance(stream_id, str):
        raise TypeError(f"stream_id must be a str, got {_validate.show(stream_id)}")
    records = event_store.read(stream_id)
    if not records:
        raise ValueError(f"event_store has no recording with stream_id {stream_id!r}")
    return Result(_Replay(stream_id, records, speed))


class _Unwatched:
    """A replay waits on no provider: nothing to watch."""

    def bind(self, generator: AsyncGenerator[Any, None], /) -> None:
        pass


class _Replay:
    """The `Engine` a replay's `Result` drives (see `l0.runtime.result.Engine`)."""

    raw = False
    tap: Tap | None = None  # a replay is not recorded again

    def __init__(self, stream_id: str, records: Sequence[Record], speed: float) -> None:
        self.session_id = _session_id(records) or stream_id
        self.state = State()
        self.error: L0Error | None = None
        self.outcome = "pending"
        self.watch = _Unwatched()
        self.tel = Telemetry(self.session_id, _EMPTY, _EMPTY, [], False)
        self._records = records
        self._speed = speed
        self._stop = asyncio.Event()

    def abort(self) -> None:
        self._stop.set()

    async def events(self) -> AsyncGenerator[Any, None]:
        if self.raw:
            raise RuntimeError("a replay has no provider chunks: iterate it for events")
        state = self.state
        started = state.started_at = time.monotonic()
        try:
            for record in self._records:
                if self._speed and not await self._due(started + record["t"] / self._speed):
                    yield self._aborted()
                    return
                kind, data = record["kind"], record["data"]
                if record["type"] == "tokens":
                    async for event in self._tokens(started, data):
                        yield event
                    if self._stop.is_set():
                        yield self._aborted()
                        return
                elif kind == "stream":
                    event = decode_event(record["type"], data)
                    self._apply(event, data)
                    yield event
                    if self._stop.is_set():
                        yield self._aborted()
                        return
                elif kind == "lifecycle":
                    _count(state, record["type"], data)
                elif kind == "state":
                    restore_state(state, data)
        finally:
            if self.outcome == "pending":
                self.outcome = "aborted"
                state.aborted = True
            if state.ended_at is None:
                state.ended_at = time.monotonic()

    async def _tokens(self, started: float, data: Mapping[str, Any]) -> AsyncGenerator[Event, None]:
        """A run of tokens, each at its own offset; stops early when aborted."""
        state, speed = self.state, self._speed
        for text, offset in zip(data["texts"], data["t"], strict=True):
            if speed and not await self._due(started + offset / speed):
                return
            state._pieces.append(text)
            if state.first_token_at is None:
                state.first_token_at = time.monotonic()
            yield TokenEvent(text)
            if self._stop.is_set():
                return

    async def _due(self, at: float) -> bool:
        """Wait until `at`; False when aborted first."""
        delay = at - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        return not self._stop.is_set()

    def _apply(self, event: Event, data: Mapping[str, Any]) -> None:
        state = self.state
        kind = event.type
        if kind is EventType.TOKEN:
            state._pieces.append(event.text or "")
            if state.first_token_at is None:
                state.first_token_at = time.monotonic()
        elif kind is EventType.RESET:
            state._rewind(event.keep, data.get("tokens", _tokens_within(state, event.keep)))
        elif kind is EventType.TOOL_CALL:
            state.tool_calls.append(event.data)
        elif kind is EventType.DATA:
            state.data_outputs.append(event.data)
        elif kind is EventType.PROGRESS:
            state.last_progress = event.data
        elif kind is EventType.COMPLETE:
            state.usage = event.usage
            state.completed = True
            self.outcome = "success"
        elif kind is EventType.ERROR:
            assert isinstance(event.error, L0Error)
            self.error = event.error
            aborted = event.error.code is ErrorCode.STREAM_ABORTED
            self.outcome = "aborted" if aborted else "error"

    def _aborted(self) -> Event:
        error = L0Error("the stream was aborted", ErrorCode.STREAM_ABORTED)
        self.error = error
        self.outcome = "aborted"
        self.state.aborted = True
        return Event(EventType.ERROR, error=error)


def _count(state: State, type: str, data: Mapping[str, Any]) -> None:
    """What a lifecycle record tells about the state while the replay runs."""
    if type == "ATTEMPT_START":
        state.attempt = data.get("attempt", state.attempt + 1)
        state.fallback_index = data.get("fallback_index", state.fallback_index)
    elif type == "RETRY_ATTEMPT":
        if data.get("counts_toward_limit", True):
            state.model_retry_count += 1
        else:
            state.network_retry_count += 1
    elif type == "FALLBACK_START":
        state.fallback_index = data.get("to_index", state.fallback_index + 1)
    elif type == "CHECKPOINT_SAVED":
        state.checkpoint_length = data.get("checkpoint_length", 0)
        state.checkpoint_token_count = data.get("token_count") or 0


def _tokens_within(state: State, keep: int) -> int:
    """Tokens in the first `keep` characters, for a reset recorded without its count."""
    tokens = state._token_base
    length = 0
    for piece in state._pieces:
        if length >= keep:
            break
        length += len(piece)
        tokens += 1
    return tokens


def _session_id(records: Sequence[Record]) -> str | None:
    for record in records:
        if record["type"] == "SESSION_START":
            session_id = record["data"].get("session_id")
            return session_id if isinstance(session_id, str) else None
    return None
