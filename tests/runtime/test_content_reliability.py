"""Guardrails, drift, continuation and tool calls through the real openai client."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import l0
from l0 import ErrorCode, EventType
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, Recorder, check_contract, drain, fast_retry, opener, tokens

CLEAN = "Streams recover from resets and stalls without losing a single word."


async def test_a_violating_attempt_is_retried_and_reported_once(
    fault_server: FaultServer, client: Any
) -> None:
    refusal = "As an AI language model, I cannot help with that. " * 3
    fault_server.enqueue(Reply(text=refusal), Reply(text=CLEAN))
    violations: list[Any] = []
    result = await l0.run(
        opener(client),
        guardrails=l0.Guardrails.recommended(),
        retry=fast_retry(),
        on_violation=violations.append,
    )
    events = await drain(result)
    check_contract(result, events)
    assert result.state.content == CLEAN
    assert result.state.model_retry_count == 1  # CONTENT counts toward `attempts`
    # The first check finds meta commentary and a refusal: each is reported once.
    assert [v.rule for v in violations] == ["pattern", "pattern"]
    assert [v.message.split(":")[0] for v in violations] == ["Meta commentary", "Refusal"]
    assert result.state.violations == violations


async def test_a_fatal_violation_halts_without_retry(
    fault_server: FaultServer, client: Any
) -> None:
    def forbid(context: Any) -> list[l0.GuardrailViolation]:
        if "secret" in context.delta:
            return [l0.GuardrailViolation("no_secrets", "leaked", severity="fatal")]
        return []

    fault_server.enqueue(Reply(text="the secret is out"), Reply(text=CLEAN))
    rule = l0.GuardrailRule(name="no_secrets", check=forbid, severity="fatal")
    result = await l0.run(opener(client), guardrails=[rule], retry=fast_retry())
    events = await drain(result)
    check_contract(result, events)
    assert result.error is not None
    assert result.error.code is ErrorCode.FATAL_GUARDRAIL_VIOLATION
    assert len(fault_server.requests) == 1


async def test_a_rule_that_raises_is_isolated(fault_server: FaultServer, client: Any) -> None:
    def broken(context: Any) -> list[l0.GuardrailViolation]:
        raise RuntimeError("bug in a custom rule")

    fault_server.enqueue(Reply(text=CLEAN))
    result = await l0.run(opener(client), guardrails=[l0.GuardrailRule("broken", broken)])
    assert await result.read() == CLEAN
    assert result.state.retry_count == 0
    assert result.state.violations == []


async def test_a_repetition_loop_is_cut_by_drift(fault_server: FaultServer, client: Any) -> None:
    loop = Reply.loop("I will say this again and again. ", times=200)
    fault_server.enqueue(loop, Reply(text=CLEAN))
    drifts: list[tuple[list[str], float | None]] = []
    result = await l0.run(
        opener(client),
        drift=True,
        retry=fast_retry(),
        on_drift=lambda types, confidence: drifts.append((types, confidence)),
    )
    events = await drain(result)
    check_contract(result, events)
    assert result.state.content == CLEAN
    assert drifts and "repetition" in drifts[0][0]
    assert result.state.model_retry_count == 1
    # The loop was cut long before its end: far fewer tokens than it would have sent.
    first_attempt = tokens(events[: [e.type for e in events].index(EventType.RESET)])
    assert len(first_attempt) < 200 * 7 / 4


async def test_a_reset_resumes_from_the_checkpoint_without_loss_or_duplicates(
    fault_server: FaultServer, client: Any
) -> None:
    words = "one two three four five six seven eight nine ten"
    fault_server.enqueue(
        Reply(text=words, reset_after=7),  # a checkpoint at 6 tokens, " seven" is lost
        # The model, asked to continue, repeats its last word first.
        Reply(text="six seven eight nine ten"),
    )
    prompts: list[str | None] = []

    def factory(prompt: str | None) -> Any:
        prompts.append(prompt)
        extra = [{"role": "user", "content": prompt}] if prompt else []
        return client.chat.completions.create(model="m", messages=[*MESSAGES, *extra], stream=True)

    recorder = Recorder()
    result = await l0.run(
        factory,
        continue_from_last_good_token=True,
        build_continuation_prompt=lambda checkpoint: f"Continue after: {checkpoint}",
        check_intervals={"checkpoint": 2},
        retry=fast_retry(),
        on_event=recorder,
    )
    events = await drain(result)
    check_contract(result, events)
    assert result.state.content == words
    assert result.state.resumed
    assert result.state.resume_point == "one two three four five six"
    resets = [e for e in events if e.type is EventType.RESET]
    assert [r.keep for r in resets] == [len("one two three four five six")]
    assert prompts == [None, "Continue after: one two three four five six"]
    assert fault_server.requests[1].body["messages"][-1]["content"].startswith("Continue")
    (resume_end,) = recorder.of(T.RESUME_END)
    assert resume_end.overlap_removed == len("six")


async def test_checkpoint_events_carry_lengths_not_text(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=CLEAN))
    recorder = Recorder()
    result = await l0.run(
        opener(client),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 2},
        on_event=recorder,
    )
    await result.read()
    saved = recorder.of(T.CHECKPOINT_SAVED)
    assert len(saved) == result.state.token_count // 2
    for event in saved:
        assert not any(isinstance(value, str) for value in event.data.values())
    assert saved[-1].checkpoint_length == result.state.checkpoint_length


async def test_continuation_is_refused_for_structured_output() -> None:
    class Answer(BaseModel):
        value: int

    with pytest.raises(ValueError, match="continue_from_last_good_token"):
        await l0.structured(Answer, lambda: None, continue_from_last_good_token=True)


async def test_a_malformed_tool_call_is_reported_not_fatal(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(tool_calls=[("get_weather", '{"city": "Par')]))
    calls: list[tuple[str, str, dict[str, Any]]] = []
    recorder = Recorder()
    result = await l0.run(
        opener(client), on_tool_call=lambda *call: calls.append(call), on_event=recorder
    )
    events = await drain(result)
    check_contract(result, events)
    (tool_event,) = [e for e in events if e.is_tool_call]
    assert tool_event.data["arguments"] == '{"city": "Par'
    assert calls[0][0] == "get_weather" and calls[0][2] == {}
    (requested,) = recorder.of(T.TOOL_REQUESTED)
    assert requested.parse_error
    assert result.outcome == "success"


async def test_run_tool_records_the_execution(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(tool_calls=[("get_weather", '{"city": "Paris"}'), ("explode", "{}")])
    )
    recorder = Recorder()
    result = await l0.run(opener(client), on_event=recorder)
    outputs = []
    async for event in result:
        if event.is_tool_call and event.data["name"] == "get_weather":
            outputs.append(await result.run_tool(event.data, lambda city: f"sunny in {city}"))
        elif event.is_tool_call:
            with pytest.raises(ZeroDivisionError):
                await result.run_tool(event.data, lambda: 1 / 0)
    assert outputs == ["sunny in Paris"]
    kinds = [e.type for e in recorder.lifecycle if e.type.value.startswith("TOOL_")]
    assert kinds == [
        T.TOOL_REQUESTED,
        T.TOOL_REQUESTED,
        T.TOOL_START,
        T.TOOL_RESULT,
        T.TOOL_COMPLETED,
        T.TOOL_START,
        T.TOOL_ERROR,
        T.TOOL_COMPLETED,
    ]
    assert [e.status for e in recorder.of(T.TOOL_COMPLETED)] == ["success", "error"]
