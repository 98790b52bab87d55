"""A JSON Lines file store: one record per line, appended; easy to ship and to grep."""

from __future__ import annotations

import os
from collections.abc import Sequence

import orjson

from .schema import Record

__all__ = ["JsonlEventStore", "create_jsonl_event_store"]


class JsonlEventStore:
    """Appends each batch with one `write` and flushes it to the OS (`fsync=True` also
    asks the disk). A crash can leave a torn last line: reading skips it."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = os.fspath(path)
        self.fsync = fsync

    def append(self, records: Sequence[Record]) -> None:
        if not records:
            return
        payload = b"".join(orjson.dumps(record) + b"\n" for record in records)
        with open(self.path, "ab") as file:
            file.write(payload)
            file.flush()
            if self.fsync:
                os.fsync(file.fileno())

    def read(self, stream_id: str) -> list[Record]:
        return [record for record in self._records() if record["stream_id"] == stream_id]

    def stream_ids(self) -> list[str]:
        return list(dict.fromkeys(record["stream_id"] for record in self._records()))

    def _records(self) -> list[Record]:
        try:
            with open(self.path, "rb") as file:
                lines = file.read().splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a torn line from a crash mid-write
        return records

    def __repr__(self) -> str:
        return f"<JsonlEventStore {self.path!r}>"


def create_jsonl_event_store(
    path: str | os.PathLike[str], *, fsync: bool = False
) -> JsonlEventStore:
    return JsonlEventStore(path, fsync=fsync)
