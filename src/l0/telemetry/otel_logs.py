"""Event-log records as OpenTelemetry log records, correlated with the session's trace.

`OtelLogExporter` is an event store (`l0.run(..., record=exporter)`): each batch the
recorder flushes becomes log records on the logger provider the application configured
(the OTel logs API; `l0` needs no SDK for it), each in the context of its session's
`l0.session` span so a backend links the log to the trace. A collector then ships them
anywhere. The content rule is the spans': no prompt or completion text unless capture is
on (`l0.instrument(capture_content=True)` or the GenAI semconv variable); without it the
token records, which carry nothing but text, are not exported at all.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger_provider

from .otel import capture_content_enabled
from .otel_metrics import l0_version
from .otel_traces import session_span_context

if TYPE_CHECKING:
    from ..eventlog.schema import Record
    from ..types import State

__all__ = ["OtelLogExporter"]

_CONTENT = frozenset(
    {"text", "texts", "checkpoint", "resume_point", "prompt", "arguments", "content"}
)
_TEXT_ONLY = frozenset({"token", "tokens"})
_SEVERITY = {"error": SeverityNumber.ERROR, "ERROR": SeverityNumber.WARN}


class OtelLogExporter:
    """An event store that writes to OpenTelemetry logs and reads nothing back."""

    def __init__(
        self,
        *,
        logger_provider: LoggerProvider | None = None,
        capture_content: bool | None = None,
    ) -> None:
        provider = logger_provider or get_logger_provider()
        self._logger = provider.get_logger("l0", l0_version())
        self._capture = capture_content
        # stream id -> (the session's state, for its span; its start, epoch ns)
        self._sessions: dict[str, tuple[weakref.ref[State], int]] = {}

    def bind(self, stream_id: str, state: State) -> None:
        """Called by the recording when its session starts (see `record_result`)."""
        self._sessions[stream_id] = (weakref.ref(state), time.time_ns())

    def append(self, records: Sequence[Record]) -> None:
        capture = capture_content_enabled() if self._capture is None else self._capture
        for record in records:
            if record["type"] in _TEXT_ONLY and not capture:
                continue
            self._emit(record, capture)
            if record["kind"] == "state":
                self._sessions.pop(record["stream_id"], None)

    def _emit(self, record: Record, capture: bool) -> None:
        stream_id = record["stream_id"]
        state_ref, started = self._sessions.get(stream_id, (None, time.time_ns()))
        state = state_ref() if state_ref is not None else None
        span_context = session_span_context(state) if state is not None else None
        context = (
            trace.set_span_in_context(trace.NonRecordingSpan(span_context))
            if span_context is not None
            else None
        )
        data = record["data"] if capture else _without_content(record["data"])
        self._logger.emit(
            timestamp=started + int(record["t"] * 1e9),
            context=context,
            severity_number=_SEVERITY.get(record["type"], SeverityNumber.INFO),
            event_name=f"l0.{record['kind']}.{record['type']}",
            body=_any_value(data),
            attributes={
                "l0.stream.id": stream_id,
                "l0.event.seq": record["seq"],
                "l0.event.offset_s": record["t"],
                "l0.eventlog.schema_version": record["v"],
            },
        )

    def read(self, stream_id: str) -> list[Record]:
        return []  # a log pipeline is write-only: replay from another store

    def stream_ids(self) -> list[str]:
        return []


def _without_content(value: Any) -> Any:
    """`value` with text fields replaced by their lengths (`text` -> `text_length`)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _CONTENT:
                if isinstance(item, str):
                    out[f"{key}_length"] = len(item)
                continue
            out[key] = _without_content(item)
        return out
    if isinstance(value, list):
        return [_without_content(item) for item in value]
    return value


def _any_value(value: Any) -> Any:
    """An OTel `AnyValue`: no None inside maps or lists."""
    if isinstance(value, dict):
        return {k: _any_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_any_value(v) for v in value if v is not None]
    return value
