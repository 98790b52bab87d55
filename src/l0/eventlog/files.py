"""An event store from a file name: `.jsonl` is JSON Lines, anything else SQLite."""

from __future__ import annotations

import os

from .jsonl import JsonlEventStore
from .sqlite import SqliteEventStore

__all__ = ["open_event_store"]


def open_event_store(path: str | os.PathLike[str]) -> JsonlEventStore | SqliteEventStore:
    """The store a recording was written to; FileNotFoundError when there is none (SQLite
    would otherwise create an empty database)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such event store: {path}")
    return JsonlEventStore(path) if path.endswith(".jsonl") else SqliteEventStore(path)
