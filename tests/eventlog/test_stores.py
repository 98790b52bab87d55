"""The stores: memory, JSON Lines and SQLite give back what was recorded; a SQLite writer
killed mid-session loses at most its unflushed batch and never an earlier session."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import openai
import pytest

import l0
from eventlog.conftest import comparable_state, consume, opener
from l0.testing import FaultServer, Reply

WRITER = Path(__file__).with_name("_writer.py")


def _stores(tmp_path: Path) -> dict[str, l0.EventStore]:
    return {
        "memory": l0.create_in_memory_event_store(),
        "jsonl": l0.create_jsonl_event_store(tmp_path / "events.jsonl"),
        "sqlite": l0.create_sqlite_event_store(tmp_path / "events.db"),
    }


@pytest.mark.parametrize("kind", ["memory", "jsonl", "sqlite"])
async def test_each_store_replays_a_retried_session(
    kind: str, tmp_path: Path, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    store = _stores(tmp_path)[kind]
    fault_server.enqueue(Reply(text="one two three four", reset_after=2), model="m")
    fault_server.enqueue(Reply(text="one two three four five"), model="m")
    live = await l0.run(opener(client), record=store)
    live_events = await consume(live)
    assert store.stream_ids() == [live.session_id]
    replayed = await l0.replay(stream_id=live.session_id, event_store=store)
    assert await consume(replayed) == live_events
    assert comparable_state(replayed.state) == comparable_state(live.state)
    assert live.state.retry_count == 1


def test_a_torn_jsonl_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    store = l0.create_jsonl_event_store(path)
    recorder = l0.create_event_recorder(store, "s")
    recorder.record_token("kept")
    recorder.flush()
    with path.open("ab") as file:
        file.write(b'{"v": 1, "stream_id": "s", "seq": 1, "t"')  # a crash mid-write
    assert [r["data"]["texts"] for r in store.read("s")] == [["kept"]]


def test_sqlite_uses_wal_and_one_transaction_per_batch(tmp_path: Path) -> None:
    store = l0.create_sqlite_event_store(tmp_path / "events.db")
    recorder = l0.create_event_recorder(store, "s", batch_size=3)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    for word in ("a", "b", "c", "d"):
        recorder.record_token(word)
    assert statements.count("BEGIN") == statements.count("COMMIT") == 1
    assert [r["data"]["texts"] for r in store.read("s")] == [["a", "b", "c"]]  # d waits
    recorder.flush()
    assert [r["data"]["texts"] for r in store.read("s")] == [["a", "b", "c"], ["d"]]
    mode = sqlite3.connect(tmp_path / "events.db").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


def _kill_writer_mid_session(path: Path) -> int:
    """Run the writer until it says how many tokens passed, SIGKILL it; that count."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line.startswith("ready"), line
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL
    return int(line.split()[1])


async def test_a_killed_sqlite_writer_loses_at_most_its_unflushed_batch(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    seen = _kill_writer_mid_session(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    store = l0.create_sqlite_event_store(path)
    complete = await l0.replay(stream_id="complete", event_store=store)
    assert await complete.read() == "".join(f"w{i} " for i in range(50))
    assert complete.state.completed
    killed = store.read("killed")
    tokens = sum(len(r["data"]["texts"]) for r in killed if r["type"] == "tokens")
    # Whole batches only (16 tokens each), in order, every one the consumer had passed.
    assert [r["seq"] for r in killed] == list(range(len(killed)))
    assert killed[0]["type"] == "SESSION_START"
    assert tokens % 16 == 0 and tokens >= seen
    replayed = await l0.replay(stream_id="killed", event_store=store)
    text = await replayed.read()
    assert text.startswith("w0 w1 w2 ") and not replayed.state.completed
