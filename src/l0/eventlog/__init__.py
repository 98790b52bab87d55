"""The event log: record a session's events to a store, and replay them (docs/eventlog.md).

`l0.run(..., record=store)` records a session; `l0.replay(stream_id=, event_store=)`
turns the recording back into a `Result`. Stores: in memory, JSON Lines, SQLite (the
durable default). `OtelLogExporter` (from `l0.telemetry.otel_logs`, imported on first
use) ships records as OpenTelemetry log records.
"""

from typing import Any

from .files import open_event_store
from .jsonl import JsonlEventStore, create_jsonl_event_store
from .recorder import EventRecorder, Redact, create_event_recorder
from .recording import Recording, record_result
from .replay import replay
from .schema import SCHEMA_VERSION, Record, decode_event, encode_event
from .sqlite import SqliteEventStore, create_sqlite_event_store
from .store import EventStore, InMemoryEventStore, create_in_memory_event_store

__all__ = [
    "SCHEMA_VERSION",
    "EventRecorder",
    "EventStore",
    "InMemoryEventStore",
    "JsonlEventStore",
    "OtelLogExporter",
    "Record",
    "Recording",
    "Redact",
    "SqliteEventStore",
    "create_event_recorder",
    "create_in_memory_event_store",
    "create_jsonl_event_store",
    "create_sqlite_event_store",
    "decode_event",
    "encode_event",
    "open_event_store",
    "record_result",
    "replay",
]


def __getattr__(name: str) -> Any:
    # OpenTelemetry is imported by l0.telemetry only, and only when asked for.
    if name == "OtelLogExporter":
        from ..telemetry.otel_logs import OtelLogExporter

        return OtelLogExporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
