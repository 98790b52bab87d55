"""Lifecycle event payloads: every field the README names, through the real openai client.

Fields that cost O(content) to build (checkpoint text, state hash) are `Deferred` until
read; per-check results (a passing rule, a quiet drift check) reach `on_event` but are
not even built for a session nobody listens to in detail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

import l0
from l0 import Event, EventType, ObservabilityEvent
from l0 import ObservabilityEventType as T
from l0.events import Deferred
from l0.guardrails import custom_pattern_rule
from l0.telemetry import facade
from l0.testing import FaultServer, Reply

from .conftest import Recorder, drain, fast_retry, opener

WORDS = "one two three four five six"


def _script_resume_then_fallback(server: FaultServer) -> None:
    """Primary: a reset after 5 words (resumed from the 4-word checkpoint), then a 401;
    the fallback finishes the text."""
    server.enqueue(Reply(text=WORDS, reset_after=5), Reply(status=401), model="m")
    server.enqueue(Reply(text=" five six"), model="m-fb")


async def _run_everything(client: Any, rec: Recorder) -> tuple[l0.Result, list[Event]]:
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fb")],
        retry=fast_retry(),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 2, "guardrails": 2, "drift": 2},
        guardrails=[custom_pattern_rule(["forbidden"])],
        drift=True,
        on_event=rec,
    )
    return result, await drain(result)


async def test_session_start_is_first_and_carries_the_first_attempt(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=WORDS))
    rec = Recorder()
    # Guardrails without drift: DRIFT_CHECK_SKIPPED, which used to come before SESSION_START.
    result = await l0.run(opener(client), guardrails=[custom_pattern_rule(["x"])], on_event=rec)
    await drain(result)
    types = rec.types()
    assert types[:2] == [T.SESSION_START, T.DRIFT_CHECK_SKIPPED]
    start = rec.of(T.SESSION_START)[0]
    assert (start.attempt, start.is_retry, start.is_fallback) == (1, False, False)
    assert start.session_id == result.session_id
    (summary,) = rec.of(T.SESSION_SUMMARY)
    assert start.ts >= summary.start_ts  # stamped just before SESSION_START was
    assert summary.start_ts <= summary.end_ts <= summary.ts
    assert summary.end_ts - summary.start_ts == pytest.approx(result.state.duration)


async def test_stream_adapter_and_fallback_fields(fault_server: FaultServer, client: Any) -> None:
    _script_resume_then_fallback(fault_server)
    rec = Recorder()
    result, _ = await _run_everything(client, rec)
    assert result.state.content == WORDS

    # STREAM_INIT: what l0 knows before calling the factory (its previous attempt's stream).
    inits = [(e.attempt, e.model, e.provider) for e in rec.of(T.STREAM_INIT)]
    assert inits == [(1, None, None), (2, "m", "openai"), (3, None, None)]
    wraps = rec.of(T.ADAPTER_WRAP_START)
    assert [(e.adapter_id, e.stream_type) for e in wraps] == [("openai", "AsyncStream")] * 2
    assert all(e.adapter_id == "openai" and e.success for e in rec.of(T.ADAPTER_WRAP_END))

    (fallback,) = rec.of(T.FALLBACK_START)
    assert (fallback.from_index, fallback.to_index) == (0, 1)
    assert (fallback.from_model, fallback.to_model) == ("m", None)
    (selected,) = rec.of(T.FALLBACK_MODEL_SELECTED)
    assert (selected.index, selected.model) == (1, "m-fb")
    types = rec.types()
    # Selected once the fallback's stream is open (its model is known then).
    assert types.index(T.FALLBACK_START) < types.index(T.FALLBACK_MODEL_SELECTED)
    assert types.index(T.FALLBACK_MODEL_SELECTED) < types.index(T.FALLBACK_END)


async def test_checkpoint_and_resume_fields_are_built_on_read(
    fault_server: FaultServer, client: Any
) -> None:
    _script_resume_then_fallback(fault_server)
    rec = Recorder()
    result, _ = await _run_everything(client, rec)
    state = result.state

    saved = rec.of(T.CHECKPOINT_SAVED)
    assert all(type(e.data["checkpoint"]) is Deferred for e in saved)  # nothing built yet
    first = saved[:2]
    assert [(e.checkpoint, e.token_count) for e in first] == [
        ("one two", 2),
        ("one two three four", 4),
    ]
    assert all(e.checkpoint_length == len(e.checkpoint) for e in saved)
    assert first[0].data["checkpoint"] == "one two"  # built once, then stored

    expected_hash = hashlib.sha256(b"one two three four").hexdigest()
    resumes = rec.of(T.RESUME_START)
    assert resumes and all(
        e.checkpoint == state.resume_point == "one two three four" for e in resumes
    )
    assert all(e.state_hash == expected_hash and e.token_count == 4 for e in resumes)
    ends = rec.of(T.RESUME_END)
    assert [e.success for e in ends] == [False, True]
    assert all(e.checkpoint == state.resume_point and e.state_hash == expected_hash for e in ends)

    continuations = rec.of(T.CONTINUATION_START)
    assert len(continuations) == 2  # the retry and the fallback both continue
    for event in continuations:
        assert (event.checkpoint, event.token_count) == ("one two three four", 4)
        assert event.checkpoint_length == len("one two three four")
        assert event.prompt_passed is False  # zero-argument factories take no prompt
    types = rec.types()
    first_resume = types.index(T.RESUME_START)
    assert types.index(T.CONTINUATION_START, first_resume) < types.index(
        T.STREAM_INIT, first_resume
    )
    # to_dict builds every deferred field.
    record = saved[-1].to_dict()
    assert record["checkpoint"] == state.content[: record["checkpoint_length"]]


async def test_a_deferred_checkpoint_outlives_the_retry_that_dropped_it(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=WORDS, reset_after=5), Reply(text="alpha beta gamma delta"))
    rec = Recorder()
    result = await l0.run(
        opener(client), retry=fast_retry(), check_intervals={"checkpoint": 2}, on_event=rec
    )
    await drain(result)
    assert result.state.content == "alpha beta gamma delta"
    # Read only now, after the RESET dropped "one two three four five".
    texts = [e.checkpoint for e in rec.of(T.CHECKPOINT_SAVED)]
    assert texts == ["one two", "one two three four", "alpha beta", "alpha beta gamma delta"]


async def test_passing_checks_reach_on_event_with_their_ids(
    fault_server: FaultServer, client: Any
) -> None:
    _script_resume_then_fallback(fault_server)
    rec = Recorder()
    await _run_everything(client, rec)

    results = rec.of(T.GUARDRAIL_RULE_RESULT)
    assert results and all(e.passed and e.violation is None for e in results)
    starts, ends = rec.of(T.GUARDRAIL_RULE_START), rec.of(T.GUARDRAIL_RULE_END)
    ids = [e.callback_id for e in starts]
    assert len(set(ids)) == len(ids) == len(results) == len(ends)
    assert [e.callback_id for e in results] == ids == [e.callback_id for e in ends]

    drift_results = rec.of(T.DRIFT_CHECK_RESULT)
    assert drift_results and not any(e.detected for e in drift_results)
    drift_starts = rec.of(T.DRIFT_CHECK_START)
    assert len(drift_starts) == len(drift_results)
    assert all(isinstance(e.token_count, int) for e in drift_starts)
    assert all(e.checkpoint == "" or WORDS.startswith(e.checkpoint) for e in drift_starts)


class _SinkRecorder:
    def __init__(self) -> None:
        self.events: list[ObservabilityEvent] = []

    def handle(self, event: ObservabilityEvent) -> None:
        self.events.append(event)


@pytest.fixture
def plain_sink() -> Iterator[_SinkRecorder]:
    """A registered sink, like OpenTelemetry's with events="lifecycle": not detailed."""
    sink = _SinkRecorder()

    def factory(session: facade.Session) -> _SinkRecorder:
        return sink

    facade.register_sink_factory(factory)
    yield sink
    facade.unregister_sink_factory(factory)


async def test_per_check_payloads_are_not_built_without_a_detailed_listener(
    fault_server: FaultServer, client: Any, plain_sink: _SinkRecorder
) -> None:
    _script_resume_then_fallback(fault_server)
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fb")],
        retry=fast_retry(),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 2, "guardrails": 2, "drift": 2},
        guardrails=[custom_pattern_rule(["forbidden"])],
        drift=True,
    )
    await drain(result)
    types = {e.type for e in plain_sink.events}
    assert T.SESSION_START in types and T.RESUME_START in types  # the sink was there
    for per_check in (
        T.GUARDRAIL_RULE_START,
        T.GUARDRAIL_RULE_RESULT,
        T.DRIFT_CHECK_START,
        T.DRIFT_CHECK_RESULT,
        T.CHECKPOINT_SAVED,
        T.TIMEOUT_RESET,
    ):
        assert per_check not in types, per_check


class _ProgressAdapter:
    """A custom adapter over the openai stream that adds progress and data events."""

    name = "progress"

    def detect(self, stream: Any) -> bool:
        return False

    async def wrap(self, stream: Any) -> Any:
        yield Event(EventType.PROGRESS, data={"stage": "started"})
        async for chunk in stream:
            text = chunk.choices[0].delta.content if chunk.choices else None
            if text:
                yield Event(EventType.TOKEN, text=text)
        yield Event(EventType.DATA, data={"citations": ["a", "b"]})
        yield Event(EventType.COMPLETE)


async def test_data_and_progress_events_reach_the_consumer(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=WORDS))
    rec = Recorder()
    result = await l0.run(opener(client), adapter=_ProgressAdapter(), on_event=rec)
    events = await drain(result)
    kinds = [e.type for e in events]
    assert kinds[0] is EventType.PROGRESS and events[0].data == {"stage": "started"}
    assert kinds[-2:] == [EventType.DATA, EventType.COMPLETE]
    assert events[-2].data == {"citations": ["a", "b"]}
    assert result.state.content == WORDS
    assert rec.stream == events  # on_event sees them too

    # Without on_event (the plain loop) they arrive just the same.
    fault_server.enqueue(Reply(text=WORDS))
    plain = await drain(await l0.run(opener(client), adapter=_ProgressAdapter()))
    assert [e.type for e in plain] == kinds
