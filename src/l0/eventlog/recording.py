"""`l0.run(..., record=...)`: a whole session recorded as it runs.

Lifecycle moments arrive through the telemetry facade, as a sink like OpenTelemetry's; the
events the consumer receives reach the recorder as the session's tap (`l0.runtime.tap`):
its token loop appends each token to the recorder's open run, and every other event is
recorded as it is yielded (the token loop never calls the facade per token, and
recording must not make it). When the stream ends — completed, failed, or left by the
consumer — the final state is recorded and the last batch flushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import ObservabilityEvent
from ..events import ObservabilityEventType as T
from .recorder import EventRecorder, Redact
from .store import EventStore

if TYPE_CHECKING:
    from ..runtime.result import Result

__all__ = ["Recording", "record_result"]


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
    engine.tap = recorder
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
