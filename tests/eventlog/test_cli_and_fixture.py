"""`l0 replay FILE` prints a recorded session; the `l0_replay` fixture loads one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai

import l0
from eventlog.conftest import consume, opener
from l0.testing import FaultServer, Reply


async def _record(path: Path, fault_server: FaultServer, client: openai.AsyncOpenAI) -> l0.Result:
    fault_server.enqueue(Reply(text="alpha beta gamma", reset_after=2), model="m")
    fault_server.enqueue(Reply(text="alpha beta gamma delta"), model="m")
    store = l0.create_sqlite_event_store(path) if path.suffix == ".db" else None
    store = store or l0.create_jsonl_event_store(path)
    live = await l0.run(opener(client), record=store)
    await live.read()
    return live


async def test_l0_replay_prints_the_session_with_its_retry(
    tmp_path: Path, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    path = tmp_path / "session.db"
    live = await _record(path, fault_server, client)
    printed = _cli("replay", str(path), "--speed", "0")
    assert printed.returncode == 0, printed.stderr
    assert live.session_id in printed.stdout
    assert "[retry: discard all but" in printed.stdout
    assert "alpha beta gamma delta" in printed.stdout
    assert "success: 4 tokens, 2 attempt(s), 1 retries" in printed.stdout


def test_l0_replay_names_a_missing_file(tmp_path: Path) -> None:
    printed = _cli("replay", str(tmp_path / "none.db"))
    assert printed.returncode == 2
    assert "no such event store" in printed.stderr
    assert not (tmp_path / "none.db").exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "l0.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def test_the_fixture_loads_a_recording_as_the_same_stream_every_time(
    tmp_path: Path,
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
    l0_replay: Callable[..., Awaitable[l0.Result]],
) -> None:
    path = tmp_path / "session.jsonl"
    live = await _record(path, fault_server, client)
    first = await consume(await l0_replay(path))
    second = await l0_replay(str(path), stream_id=live.session_id)
    assert await consume(second) == first
    assert second.state.content == live.state.content == "alpha beta gamma delta"
