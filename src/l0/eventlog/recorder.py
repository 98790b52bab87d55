"""`EventRecorder`: writes one stream's records to a store, in batches.

Records are built per event (a small dict) and handed to the store every `batch_size`
records and at `flush()`: a store is written once per batch, never per token, and a
crash loses at most the batch not yet flushed. Consecutive tokens make one `tokens`
record (their texts and offsets side by side), so a token costs two list appends, not a
record. `redact` sees every record just before it is written and returns the record to
write (or None to drop it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..events import ObservabilityEventType as T
from ..types import Event, EventType, State
from .schema import SCHEMA_VERSION, Record, encode_event, plain
from .state import snapshot_state
from .store import EventStore

__all__ = ["EventRecorder", "Redact", "create_event_recorder"]

Redact = Callable[[Record], "Record | None"]


class EventRecorder:
    """Records one stream (`stream_id`) into `store`; time offsets from its creation."""

    def __init__(
        self,
        store: EventStore,
        stream_id: str,
        *,
        redact: Redact | None = None,
        batch_size: int = 256,
    ) -> None:
        self.store = store
        self.stream_id = stream_id
        self.redact = redact
        self.batch_size = batch_size
        self._started = time.monotonic()
        self._seq = 0
        self._buffer: list[Record] = []
        # The open run of tokens and their offsets, appended to in place (`token_run`
        # hands them out). An offset is taken as the token arrives: a clock reading kept
        # until the run closes and converted then cost one more float per token.
        self._texts: list[str] = []
        self._offsets: list[float] = []

    def token_run(self) -> tuple[list[str], list[float], int, float]:
        """For a hot loop: the open run's texts and offsets (append the token and
        `time.monotonic() - origin`), the batch size and the origin; at
        `len(texts) >= batch` call `flush()`, as `record_token` does."""
        return self._texts, self._offsets, self.batch_size, self._started

    # -- the stream the consumer sees

    def record_token(self, text: str) -> None:
        self._texts.append(text)
        self._offsets.append(time.monotonic() - self._started)
        if len(self._texts) >= self.batch_size:
            self.flush()

    def record_reset(self, keep: int, *, tokens: int | None = None) -> None:
        data: dict[str, Any] = {"keep": keep}
        if tokens is not None:
            data["tokens"] = tokens
        self._add("stream", "reset", data)

    def record_complete(self, usage: Mapping[str, int] | None = None) -> None:
        self._add("stream", "complete", {"usage": dict(usage) if usage is not None else None})

    def record_error(self, error: BaseException) -> None:
        self.record_event(Event(EventType.ERROR, error=error))

    def record_event(self, event: Event) -> None:
        """Any stream `Event` (tool call, data, progress...)."""
        self._add("stream", event.type.value, encode_event(event))

    # -- as the tap of a session (`l0.run(record=)`, see `l0.runtime.tap`)

    def event(self, event: Event, state: State) -> None:
        """A delivered event: a token joins the open run, a reset records the state's
        token count after it, anything else is recorded as it is."""
        kind = event.type
        if kind is EventType.TOKEN:
            self.record_token(event.text or "")
        elif kind is EventType.RESET:
            self.record_reset(event.keep, tokens=state.token_count)
        else:
            self.record_event(event)

    def end(self, state: State) -> None:
        """The stream ended: its final state, and everything written."""
        self.record_state(state)
        self.flush()

    # -- lifecycle moments

    def record_start(self, *, prompt: Any = None, **fields: Any) -> None:
        """The session started; `prompt` is stored only when given."""
        if prompt is not None:
            fields["prompt"] = prompt
        self.record_lifecycle(T.SESSION_START, fields)

    def record_checkpoint(self, checkpoint: str, *, token_count: int | None = None) -> None:
        self.record_lifecycle(
            T.CHECKPOINT_SAVED,
            {
                "checkpoint": checkpoint,
                "checkpoint_length": len(checkpoint),
                "token_count": token_count,
            },
        )

    def record_retry(
        self, reason: str, *, attempt: int, counts_toward_limit: bool = True, delay_ms: int = 0
    ) -> None:
        self.record_lifecycle(
            T.RETRY_ATTEMPT,
            {
                "reason": reason,
                "attempt": attempt,
                "counts_toward_limit": counts_toward_limit,
                "delay_ms": delay_ms,
            },
        )

    def record_fallback(self, to_index: int, *, reason: str = "") -> None:
        self.record_lifecycle(
            T.FALLBACK_START, {"from_index": to_index - 1, "to_index": to_index, "reason": reason}
        )

    def record_guardrail(self, rule: str, *, passed: bool, violations: Iterable[Any] = ()) -> None:
        self.record_lifecycle(
            T.GUARDRAIL_RULE_RESULT,
            {"rule_id": rule, "passed": passed, "violations": plain(list(violations))},
        )

    def record_lifecycle(self, type: T | str, data: Mapping[str, Any]) -> None:
        name = type.value if isinstance(type, T) else type
        self._add("lifecycle", name, plain(data))

    def record_state(self, state: State) -> None:
        """The session's final state (see `l0.eventlog.state`)."""
        self._add("state", "state", snapshot_state(state))

    # -- writing

    def _add(self, kind: str, type: str, data: dict[str, Any]) -> None:
        if self._texts:
            self._close_run()
        self._buffer.append(
            {
                "v": SCHEMA_VERSION,
                "stream_id": self.stream_id,
                "seq": self._seq,
                "t": time.monotonic() - self._started,
                "kind": kind,
                "type": type,
                "data": data,
            }
        )
        self._seq += 1
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def _close_run(self) -> None:
        texts, offsets = self._texts, self._offsets
        self._buffer.append(
            {
                "v": SCHEMA_VERSION,
                "stream_id": self.stream_id,
                "seq": self._seq,
                "t": offsets[0],
                "kind": "stream",
                "type": "tokens",
                "data": {"texts": texts[:], "t": offsets[:]},
            }
        )
        self._seq += 1
        texts.clear()
        offsets.clear()

    def flush(self) -> None:
        """Write the buffered records to the store as one batch."""
        if self._texts:
            self._close_run()
        batch, self._buffer = self._buffer, []
        redact = self.redact
        if redact is not None:
            batch = [r for r in map(redact, batch) if r is not None]
        if batch:
            self.store.append(batch)


def create_event_recorder(
    store: EventStore, stream_id: str, *, redact: Redact | None = None, batch_size: int = 256
) -> EventRecorder:
    return EventRecorder(store, stream_id, redact=redact, batch_size=batch_size)
