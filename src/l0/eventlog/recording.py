"""`l0.run(..., record=...)`: a whole session recorded as it runs.

Lifecycle moments arrive through the telemetry facade, as a sink like OpenTelemetry's; the
events the consumer receives are recorded as they pass out of the session, one small dict
per event (the token loop never calls the facade per token, and recording must not make
it). When the stream ends — completed, failed, or left by the consumer — the final
state is recorded and the last batch flushed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from ..types import EventType
from .recorder import EventRecorder, Redact
from .store import EventStore

if TYPE_CHECKING:
    from ..errors import L0Error
    from ..runtime.result import Engine, Result
    from ..telemetry.facade import Telemetry
    from ..types import State

__all__ = ["Recording", "record_result"]

_TOKEN = EventType.TOKEN
_RESET = EventType.RESET


@dataclass(frozen=True, slots=True)
class Recording:
    """How to record a session: `l0.run(..., record=l0.Recording(store, ...))`.

    `stream_id` defaults to the session id (`result.session_id`). The prompt is not
    recorded unless passed as `prompt`. `redact` sees every record before it is written.
    """

    store: EventStore
    stream_id: str | None = None
    prompt: Any = None
    redact: Redact | None = None
    batch_size: int = 256


def record_result(result: Result, record: EventStore | Recording) -> Result:
    """Make `result` record its session as it is consumed."""
    recording = record if isinstance(record, Recording) else Recording(record)
    engine = result._session
    recorder = EventRecorder(
        recording.store,
        recording.stream_id or engine.session_id,
        redact=recording.redact,
        batch_size=recording.batch_size,
    )
    bind = getattr(recording.store, "bind", None)
    if callable(bind):  # a store that wants the session, like the OTel log exporter
        bind(recorder.stream_id, engine.state)
    engine.tel.add_sink(_LifecycleSink(recorder, recording.prompt))
    result._session = _Recorded(engine, recorder)
    return result


class _LifecycleSink:
    """Each lifecycle event as a record; SESSION_START also carries context and meta."""

    def __init__(self, recorder: EventRecorder, prompt: Any) -> None:
        self._recorder = recorder
        self._prompt = prompt

    def handle(self, event: ObservabilityEvent) -> None:
        data = event.data
        if event.type is T.SESSION_START:
            data = {**data, "session_id": event.session_id}
            if event.context:
                data["context"] = event.context
            if event.meta:
                data["meta"] = event.meta
            if self._prompt is not None:
                data["prompt"] = self._prompt
        self._recorder.record_lifecycle(event.type, data)


class _Recorded:
    """The session engine, with the events it yields recorded on their way out."""

    def __init__(self, engine: Engine, recorder: EventRecorder) -> None:
        self._engine = engine
        self._recorder = recorder

    @property
    def raw(self) -> bool:
        return self._engine.raw

    @raw.setter
    def raw(self, value: bool) -> None:
        self._engine.raw = value

    @property
    def outcome(self) -> str:
        return self._engine.outcome

    @outcome.setter
    def outcome(self, value: str) -> None:
        self._engine.outcome = value

    @property
    def state(self) -> State:
        return self._engine.state

    @property
    def error(self) -> L0Error | None:
        return self._engine.error

    @property
    def session_id(self) -> str:
        return self._engine.session_id

    @property
    def watch(self) -> Any:
        return self._engine.watch

    @property
    def tel(self) -> Telemetry:
        return self._engine.tel

    def abort(self) -> None:
        self._engine.abort()

    async def events(self) -> AsyncGenerator[Any, None]:
        engine, recorder = self._engine, self._recorder
        inner = engine.events()
        try:
            if engine.raw:  # provider chunks: only the lifecycle is recorded
                async for chunk in inner:
                    yield chunk
                return
            other, state = recorder.record_event, engine.state
            texts, clock, batch = recorder.token_run()
            # `record_token`, inlined with locals only: this loop runs once per token.
            text, read, now, token = texts.append, clock.append, monotonic, _TOKEN
            left = batch
            async for event in inner:
                kind = event.type
                if kind is token:
                    text(event.text)
                    read(now())
                    left -= 1
                    if not left:
                        recorder.flush()
                        left = batch
                elif kind is _RESET:
                    recorder.record_reset(event.keep, tokens=state.token_count)
                else:
                    other(event)
                yield event
        finally:
            await inner.aclose()
            recorder.record_state(engine.state)
            recorder.flush()
