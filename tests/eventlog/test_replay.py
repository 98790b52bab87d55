"""`l0.run(record=)` then `l0.replay`: the same events in the same order and the same state."""

from __future__ import annotations

import random
import time
from typing import Any

import openai
import orjson

import l0
from eventlog.conftest import MESSAGES, comparable_state, consume, opener
from l0.testing import FaultServer, Reply

TEXT = "Replays reproduce every token of a session exactly as it was streamed."


def _scenario(rng: random.Random) -> tuple[list[Reply], list[Reply], dict[str, Any]]:
    """A random mix of faults on the primary model and, sometimes, a fallback."""
    faults = [
        lambda: Reply(text=TEXT, reset_after=rng.randint(1, 8)),
        lambda: Reply(status=rng.choice([429, 500, 503])),
        lambda: Reply(text=TEXT, error_after=rng.randint(1, 6)),
        lambda: Reply(text=TEXT, malformed_after=rng.randint(1, 6)),
    ]
    primary = [rng.choice(faults)() for _ in range(rng.randint(0, 3))]
    fallback: list[Reply] = []
    if rng.random() < 0.4:
        primary = [Reply(status=401)]  # not retried: straight to the fallback
        fallback = [Reply(text="The fallback answers. " + TEXT)]
    else:
        primary.append(Reply(text=TEXT))
    options: dict[str, Any] = {
        "continue_from_last_good_token": rng.random() < 0.5,
        "check_intervals": {"checkpoint": 2},  # checkpoints early, to continue from
    }
    if rng.random() < 0.3:
        rule = l0.pattern_rule([r"\bexactly\b"], severity="warning", name="no-exactly")
        options["guardrails"] = [rule]
    return primary, fallback, options


async def test_random_fault_scenarios_replay_event_for_event(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    rng = random.Random(20)
    store = l0.create_in_memory_event_store()
    kinds: set[str] = set()
    for _ in range(20):
        primary, fallback, options = _scenario(rng)
        fault_server.reset()
        fault_server.enqueue(*primary, model="primary")
        fault_server.enqueue(*fallback, model="fallback")
        live = await l0.run(
            opener(client, "primary"),
            fallbacks=[opener(client, "fallback")],
            retry=l0.Retry(attempts=4, max_retries=6, base_delay=0.0, max_delay=0.0),
            record=store,
            **options,
        )
        live_events = await consume(live)
        replayed = await l0.replay(stream_id=live.session_id, event_store=store)
        assert await consume(replayed) == live_events
        assert comparable_state(replayed.state) == comparable_state(live.state)
        assert replayed.outcome == live.outcome
        assert (replayed.error is None) == (live.error is None)
        kinds.update(e["type"] for e in live_events)
        kinds.update(_lifecycle(store, live.session_id))
    # The scenarios did cover what the replay has to reproduce.
    assert {"reset", "RETRY_ATTEMPT", "FALLBACK_START", "CONTINUATION_START"} <= kinds


def _lifecycle(store: l0.EventStore, stream_id: str) -> set[str]:
    return {r["type"] for r in store.read(stream_id) if r["kind"] == "lifecycle"}


async def test_a_failed_session_replays_its_error(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=401), model="m")
    store = l0.create_in_memory_event_store()
    live = await l0.run(opener(client), record=store)
    live_events = await consume(live)
    replayed = await l0.replay(stream_id=live.session_id, event_store=store)
    assert await consume(replayed) == live_events
    assert replayed.error is not None and live.error is not None
    assert replayed.error.to_dict() == live.error.to_dict()
    assert replayed.outcome == "error"


async def test_read_returns_the_recorded_text(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=TEXT), model="m")
    store = l0.create_in_memory_event_store()
    live = await l0.run(opener(client), record=store)
    text = await live.read()
    replayed = await l0.replay(event_store=store)  # the store's last recording
    assert await replayed.read() == text == TEXT


async def test_each_record_carries_its_time_offset_and_the_schema_version(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=TEXT), model="m")
    store = l0.create_in_memory_event_store()
    live = await l0.run(opener(client), record=store)
    await live.read()
    records = store.read(live.session_id)
    assert [r["seq"] for r in records] == list(range(len(records)))
    offsets = [r["t"] for r in records]
    assert offsets == sorted(offsets) and offsets[0] >= 0
    assert {r["v"] for r in records} == {l0.eventlog.SCHEMA_VERSION}
    assert records[0]["type"] == "SESSION_START" and records[-1]["kind"] == "state"
    assert records[-2]["type"] == "SESSION_END"


async def test_speed_one_keeps_the_recorded_offsets() -> None:
    store = l0.create_in_memory_event_store()
    recorder = l0.create_event_recorder(store, "timed")
    recorder.record_start()
    for offset, text in ((0.05, "slow "), (0.1, "tokens")):
        recorder.record_token(text)
        recorder._buffer[-1]["t"] = offset  # as if the token had come then
    recorder.record_complete()
    recorder.flush()
    replayed = await l0.replay(stream_id="timed", event_store=store, speed=1.0)
    started = time.monotonic()
    arrivals = [(time.monotonic() - started, e.text) async for e in replayed if e.is_token]
    assert [text for _, text in arrivals] == ["slow ", "tokens"]
    assert arrivals[0][0] >= 0.05 and arrivals[1][0] >= 0.1
    assert replayed.state.content == "slow tokens" and replayed.state.completed


async def test_a_hand_recorded_stream_replays_with_its_state() -> None:
    store = l0.create_in_memory_event_store()
    recorder = l0.create_event_recorder(store, "manual")
    recorder.record_start(model="m")
    recorder.record_token("Hello")
    recorder.record_checkpoint("Hello", token_count=1)
    recorder.record_retry("network", attempt=2, counts_toward_limit=False)
    recorder.record_token(" world")
    recorder.record_complete({"completion_tokens": 2})
    recorder.flush()
    replayed = await l0.replay(stream_id="manual", event_store=store)
    assert await replayed.read() == "Hello world"
    state = replayed.state
    assert (state.token_count, state.checkpoint, state.network_retry_count) == (2, "Hello", 1)
    assert state.completed and state.usage == {"completion_tokens": 2}


async def test_abort_ends_a_replay_like_a_live_stream() -> None:
    store = l0.create_in_memory_event_store()
    recorder = l0.create_event_recorder(store, "long")
    for i in range(5):
        recorder.record_token(f"t{i} ")
    recorder.record_complete()
    recorder.flush()
    replayed = await l0.replay(stream_id="long", event_store=store)
    seen = []
    async for event in replayed:
        seen.append(event)
        if len(seen) == 2:
            replayed.abort()
    assert [e.type for e in seen] == [l0.EventType.TOKEN] * 2 + [l0.EventType.ERROR]
    assert replayed.outcome == "aborted"
    assert replayed.error is not None and replayed.error.code is l0.ErrorCode.STREAM_ABORTED


async def test_the_prompt_is_stored_only_when_asked(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=TEXT), Reply(text=TEXT), model="m")
    store = l0.create_in_memory_event_store()
    plain = await l0.run(opener(client), record=store)
    await plain.read()
    assert b"secret question" not in orjson.dumps(store.read(plain.session_id))
    asked = await l0.run(opener(client), record=l0.Recording(store, prompt=MESSAGES))
    await asked.read()
    start = store.read(asked.session_id)[0]
    assert start["data"]["prompt"] == MESSAGES


async def test_redact_sees_every_record_written(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=TEXT), model="m")
    store = l0.create_in_memory_event_store()
    seen: list[str] = []

    def redact(record: dict[str, Any]) -> dict[str, Any]:
        seen.append(record["type"])
        text = orjson.dumps(record).replace(b"Replays", b"[redacted]")
        return orjson.loads(text)  # type: ignore[no-any-return]

    live = await l0.run(opener(client), record=l0.Recording(store, stream_id="r", redact=redact))
    await live.read()
    written = store.read("r")
    assert len(seen) == len(written)
    assert b"Replays" not in orjson.dumps(written)
    replayed = await l0.replay(stream_id="r", event_store=store)
    assert (await replayed.read()).startswith("[redacted]")


async def test_bad_arguments_fail_at_the_call() -> None:
    import pytest

    with pytest.raises(TypeError, match="record must be an event store"):
        await l0.run(lambda: iter(()), record="file.db")  # type: ignore[arg-type]
    store = l0.create_in_memory_event_store()
    with pytest.raises(ValueError, match="no recording"):
        await l0.replay(stream_id="missing", event_store=store)
    with pytest.raises(ValueError, match="speed"):
        await l0.replay(event_store=store, speed=-1)


async def test_data_and_progress_events_replay_with_their_payloads() -> None:
    image = l0.DataPayload("image", mime_type="image/png", base64="iVBORw0KGgo=", metadata={"w": 1})

    async def generation() -> Any:
        yield l0.Event(l0.EventType.PROGRESS, data=l0.Progress(percent=50.0, step=1))
        yield l0.Event(l0.EventType.DATA, data=image)
        yield l0.Event(l0.EventType.TOKEN, text="an image")
        yield l0.Event(l0.EventType.PROGRESS, data=l0.Progress(percent=100.0, step=2))

    store = l0.create_in_memory_event_store()
    live = await l0.run(generation, record=store)
    live_events = await consume(live)
    replayed = await l0.replay(stream_id=live.session_id, event_store=store)
    events = [e async for e in replayed]
    assert [{"type": e.type.value, **l0.eventlog.encode_event(e)} for e in events] == live_events
    assert replayed.state.data_outputs == live.state.data_outputs == [image]
    assert replayed.state.last_progress == live.state.last_progress
    assert isinstance(events[0].data, l0.Progress)


async def test_a_wrapped_client_records_each_session(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="first"), Reply(text="second"), model="m")
    store = l0.create_in_memory_event_store()
    wrapped = l0.wrap(client, record=store)
    texts = []
    for _ in range(2):
        response = await wrapped.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        texts.append(await response.read())
    assert len(store.stream_ids()) == 2
    replays = [await l0.replay(stream_id=s, event_store=store) for s in store.stream_ids()]
    assert [await r.read() for r in replays] == texts == ["first", "second"]


async def test_a_hedged_session_records_the_stream_its_consumer_received(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(
        Reply(text="stalled", stall_before_first=30.0), Reply(text="the hedge answers"), model="m"
    )
    store = l0.create_in_memory_event_store()
    live = await l0.run(opener(client), hedge=l0.Hedge(after=0.01), record=store)
    live_events = await consume(live)
    assert live.state.content == "the hedge answers"
    (stream_id,) = store.stream_ids()
    replayed = await l0.replay(stream_id=stream_id, event_store=store)
    assert await consume(replayed) == live_events
    assert comparable_state(replayed.state) == comparable_state(live.state)


async def test_a_session_with_on_event_records_the_same_stream(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    # With a callback every token leaves the session through its general event path,
    # not the token loop's shortcut: both reach the recorder.
    fault_server.enqueue(Reply(text=TEXT, reset_after=4), Reply(text=TEXT), model="m")
    store = l0.create_in_memory_event_store()
    seen: list[l0.Event] = []
    live = await l0.run(
        opener(client),
        retry=l0.Retry(attempts=2, base_delay=0.0, max_delay=0.0),
        record=store,
        on_event=seen.append,
    )
    live_events = await consume(live)
    assert any(e["type"] == "reset" for e in live_events)
    replayed = await l0.replay(stream_id=live.session_id, event_store=store)
    assert await consume(replayed) == live_events
    assert comparable_state(replayed.state) == comparable_state(live.state)


async def test_raw_iteration_records_the_lifecycle_and_the_final_state(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=TEXT), model="m")
    store = l0.create_in_memory_event_store()
    live = await l0.run(opener(client), record=store)
    chunks = [chunk async for chunk in live.raw()]
    assert chunks and live.state.content == TEXT
    records = store.read(live.session_id)
    assert {r["kind"] for r in records} == {"lifecycle", "state"}
    final = records[-1]["data"]
    assert (final["completed"], final["content_length"]) == (True, len(TEXT))
