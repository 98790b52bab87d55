"""`DocumentWindow.process_all`: one l0 session per window on `l0.parallel`, through the
real openai client against the fault server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

import l0
from l0.testing import FaultServer, Reply
from runtime.conftest import make_client

DOCUMENT = "\n\n".join(f"Paragraph {i} has some words in it." for i in range(5))


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture
async def client(fault_server: FaultServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with make_client(fault_server) as c:
        yield c


def summarise(client: openai.AsyncOpenAI) -> Any:
    """The window's task: a request naming the window by model, with its text."""

    def task(chunk: l0.WindowChunk) -> Any:
        messages = [{"role": "user", "content": l0.format_context(chunk.text, label="doc")}]
        return lambda: client.chat.completions.create(
            model=f"w{chunk.index}", messages=messages, stream=True
        )

    return task


async def test_every_window_is_a_session_with_its_status(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    window = l0.create_window(DOCUMENT, size=8, overlap=0, strategy="paragraph", tokenizer=words)
    assert window.total_chunks == 5
    for i in (0, 2, 4):
        fault_server.enqueue(Reply(text=f"summary {i}"), model=f"w{i}")
    fault_server.enqueue(Reply(status=503), Reply(text="summary 1"), model="w1")  # retried
    fault_server.enqueue(Reply(status=400), model="w3")

    results = await window.process_all(
        summarise(client), concurrency=2, retry=l0.Retry(base_delay=0.0, max_delay=0.0)
    )

    assert [r.chunk for r in results] == list(window)
    assert [r.status for r in results] == ["success"] * 3 + ["error", "success"]
    assert [r.content for r in results] == [f"summary {i}" if i != 3 else None for i in range(5)]
    failed = results[3]
    assert failed.result is None and failed.error is not None and failed.error.status_code == 400
    # Each session sent its own window's text.
    for request in fault_server.requests:
        index = int(str(request.model)[1:])
        assert window.get(index).text in request.body["messages"][0]["content"]
    assert [r.model for r in fault_server.requests].count("w1") == 2
    assert 1 <= fault_server.peak_in_flight <= 2


async def test_fail_fast_stops_the_other_windows(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    window = l0.create_window(DOCUMENT, size=8, overlap=0, strategy="paragraph", tokenizer=words)
    fault_server.enqueue(Reply(status=400), model="w0")
    fault_server.default = Reply(text="never needed")

    results = await window.process_all(summarise(client), concurrency=1, fail_fast=True)

    assert [r.status for r in results] == ["error"] * 5
    assert results[0].error is not None and results[0].error.status_code == 400
    assert all(r.error.code is l0.ErrorCode.STREAM_ABORTED for r in results[1:] if r.error)
    assert [r.model for r in fault_server.requests] == ["w0"]  # the waiting never started


async def test_an_empty_document_runs_nothing() -> None:
    assert await l0.create_window("").process_all(lambda chunk: None) == []


async def test_fn_must_be_callable() -> None:
    with pytest.raises(TypeError, match="fn must be callable"):
        await l0.create_window("text").process_all("summarise")  # type: ignore[arg-type]
