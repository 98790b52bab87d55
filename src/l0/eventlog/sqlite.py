"""The SQLite store, the embedded durable default: stdlib `sqlite3` in WAL mode.

Each `append` is one transaction, so a batch is either all on disk or not at all: a
process killed mid-session loses at most the batch it had not appended yet, and sessions
appended before are never touched (SQLite's journal guarantees it; tests/eventlog kill a
writer to check). `synchronous=NORMAL` in WAL mode survives a process crash; pass
`synchronous="FULL"` to survive a power cut too.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence

import orjson

from .schema import SCHEMA_VERSION, Record

__all__ = ["SqliteEventStore", "create_sqlite_event_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS l0_events (
    stream_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    v INTEGER NOT NULL,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream_id, seq)
)
"""


class SqliteEventStore:
    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}")
        self.path = os.fspath(path)
        # One connection, shared by the threads of the process under a lock: sessions
        # append from whichever thread runs their event loop.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute(_SCHEMA)

    def append(self, records: Sequence[Record]) -> None:
        if not records:
            return
        rows = [
            (
                r["stream_id"],
                r["seq"],
                r.get("v", SCHEMA_VERSION),
                r["t"],
                r["kind"],
                r["type"],
                orjson.dumps(r["data"]),
            )
            for r in records
        ]
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany("INSERT INTO l0_events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def read(self, stream_id: str) -> list[Record]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stream_id, seq, v, t, kind, type, data FROM l0_events"
                " WHERE stream_id = ? ORDER BY seq",
                (stream_id,),
            ).fetchall()
        return [
            {
                "v": v,
                "stream_id": sid,
                "seq": seq,
                "t": t,
                "kind": kind,
                "type": type_,
                "data": orjson.loads(data),
            }
            for sid, seq, v, t, kind, type_, data in rows
        ]

    def stream_ids(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stream_id FROM l0_events GROUP BY stream_id ORDER BY min(rowid)"
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<SqliteEventStore {self.path!r}>"


def create_sqlite_event_store(
    path: str | os.PathLike[str], *, synchronous: str = "NORMAL"
) -> SqliteEventStore:
    return SqliteEventStore(path, synchronous=synchronous)
