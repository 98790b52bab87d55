"""`l0.pipe` through the real openai client against the fault server."""

from __future__ import annotations

from typing import Any

import openai
import pytest

import l0
from l0 import EventType
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply
from runtime.conftest import MESSAGES, Recorder, assert_no_leaked_tasks

from .conftest import closed_in_time

STALL = 30.0


def _asking(client: openai.AsyncOpenAI, model: str) -> Any:
    """A stage function: a task whose request carries the previous output."""

    def stage(previous: str) -> Any:
        def factory() -> Any:
            messages = [*MESSAGES, {"role": "user", "content": f"input: {previous}"}]
            return client.chat.completions.create(model=model, messages=messages, stream=True)

        return factory

    return stage


def _prompt(request: Any) -> str:
    return str(request.body["messages"][-1]["content"])


async def test_each_stage_feeds_the_next(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="a short summary"), model="summarize")
    fault_server.enqueue(Reply(text="un court résumé"), model="translate")
    recorder = Recorder()

    result = await l0.pipe(
        [
            {"name": "summarize", "fn": _asking(client, "summarize")},
            l0.Stage("translate", _asking(client, "translate")),
        ],
        "a long document",
        on_event=recorder,
    )

    assert result.output == "un court résumé" == result.state.content
    assert [_prompt(r) for r in fault_server.requests] == [
        "input: a long document",
        "input: a short summary",
    ]
    assert [(s.name, s.input, s.output) for s in result.stages] == [
        ("summarize", "a long document", "a short summary"),
        ("translate", "a short summary", "un court résumé"),
    ]
    assert all(s.result.outcome == "success" for s in result.stages)
    ends = [(e.index, e.stage, e.outcome) for e in recorder.events if e.type is T.PIPE_STAGE_END]
    assert ends == [(0, "summarize", "success"), (1, "translate", "success")]
    assert_no_leaked_tasks()


async def test_the_final_stage_streams_its_events(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="first stage output"), model="one")
    fault_server.enqueue(Reply(chunks=["stream", "ed ", "out"]), model="two")

    running = l0.pipe(
        [_asking(client, "one"), lambda previous: _asking(client, "two")(previous)], "go"
    )
    tokens = [e.text async for e in running if e.type is EventType.TOKEN]

    assert tokens == ["stream", "ed ", "out"]  # only the final stage's, as they came
    assert running.result is not None and running.result.output == "streamed out"
    # Unnamed stages: a function's name, or stageN for a lambda.
    assert [s.name for s in running.stages] == ["stage", "stage1"]


async def test_a_failing_stage_is_named_and_the_rest_never_run(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="fine"), model="one")
    fault_server.enqueue(Reply(status=400), model="two")

    running = l0.pipe(
        [
            l0.Stage("extract", _asking(client, "one")),
            l0.Stage("classify", _asking(client, "two")),
            l0.Stage("never", _asking(client, "three")),
        ],
        "doc",
    )
    with pytest.raises(l0.L0Error, match=r"stage 'classify' \(stages\[1\]\) failed") as raised:
        await running

    error = raised.value
    assert error.metadata["stage"] == "classify"
    assert isinstance(error.__cause__, l0.L0Error) and error.__cause__.status_code == 400
    assert [(s.name, s.result.outcome) for s in running.stages] == [
        ("extract", "success"),
        ("classify", "error"),
    ]
    assert [r.model for r in fault_server.requests] == ["one", "two"]


async def test_a_stage_function_that_raises_is_named(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="fine"), model="one")

    def broken(previous: str) -> Any:
        raise KeyError(previous)

    with pytest.raises(KeyError) as raised:
        await l0.pipe([_asking(client, "one"), l0.Stage("lookup", broken)], "x")

    assert "in l0.pipe stage 'lookup' (stages[1])" in (raised.value.__notes__ or [])


async def test_breaking_out_of_the_final_stage_closes_its_stream(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="one two three", stall_after=(1, STALL)), model="m")

    recorder = Recorder()
    running = l0.pipe([_asking(client, "m")], "x", on_event=recorder)
    async for event in running:
        if event.type is EventType.TOKEN:
            break

    await closed_in_time(fault_server)
    assert running.result is None
    (cancelled,) = [e for e in recorder.events if e.type is T.STREAM_CANCELLED]
    assert (cancelled.reason, cancelled.tokens_discarded) == ("discarded", 1)
    (end,) = [e for e in recorder.events if e.type is T.MULTI_END]
    assert end.outcome == "aborted"
    assert_no_leaked_tasks()


async def test_bad_stages_fail_at_the_call(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(ValueError, match="at least one stage"):
        l0.pipe([], "x")
    with pytest.raises(TypeError, match=r"stages\[1\] must be"):
        l0.pipe([_asking(client, "m"), 3], "x")
    with pytest.raises(TypeError, match=r"stages\[0\] has no 'fn'"):
        l0.pipe([{"name": "x"}], "x")
    running = l0.pipe([_asking(client, "m")], "x")
    with pytest.raises(RuntimeError, match="runs once"):
        await running
        await running
    with pytest.raises(TypeError, match=r"stage 'stage0' \(stages\[0\]\)"):
        await l0.pipe([lambda previous: 42], "x")
