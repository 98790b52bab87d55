"""Event stores: where a recording's records go, and where a replay reads them.

A store is anything with `append(records)` (one batch of one stream's records, never
empty, written atomically where the medium allows), `read(stream_id)` (the stream's
records in order) and `stream_ids()`. The recorder calls `append` once per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .schema import Record

__all__ = ["EventStore", "InMemoryEventStore", "create_in_memory_event_store"]


@runtime_checkable
class EventStore(Protocol):
    def append(self, records: Sequence[Record]) -> None: ...
    def read(self, stream_id: str) -> list[Record]: ...
    def stream_ids(self) -> list[str]: ...


class InMemoryEventStore:
    """Records in a dict, for tests and for replaying within one process."""

    def __init__(self) -> None:
        self._streams: dict[str, list[Record]] = {}

    def append(self, records: Sequence[Record]) -> None:
        self._streams.setdefault(records[0]["stream_id"], []).extend(records)

    def read(self, stream_id: str) -> list[Record]:
        return list(self._streams.get(stream_id, ()))

    def stream_ids(self) -> list[str]:
        return list(self._streams)

    def __repr__(self) -> str:
        return f"<InMemoryEventStore streams={len(self._streams)}>"


def create_in_memory_event_store() -> InMemoryEventStore:
    return InMemoryEventStore()
