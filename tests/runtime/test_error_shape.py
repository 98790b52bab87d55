"""The final `L0Error`: the session's state on it, its record (`to_dict`/`to_json` and back),
and ALL_STREAMS_EXHAUSTED holding every attempt's error (docs/errors.md)."""

from __future__ import annotations

import datetime
import time
from typing import Any

import openai
import orjson
import pytest

import l0
from l0 import ErrorCategory, ErrorCode, EventType, L0Error, categorize_error
from l0 import ObservabilityEventType as T
from l0.errors import SerializedError, classify_error, error_type
from l0.testing import FaultServer, Reply

from .conftest import Recorder, drain, fast_retry, opener, wait_closed

TEXT = "Hello there world"


async def exhaust(fault_server: FaultServer, client: Any, **options: Any) -> l0.Result:
    """A primary that resets after two tokens, then gets a 503; a fallback that gets a 401."""
    fault_server.enqueue(Reply(text=TEXT, reset_after=2), Reply(status=503), model="m")
    fault_server.enqueue(Reply(status=401), model="m-fallback")
    return await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fallback")],
        retry=fast_retry(max_retries=1),
        **options,
    )


async def test_running_out_of_streams_raises_all_streams_exhausted(
    fault_server: FaultServer, client: Any
) -> None:
    rec = Recorder()
    result = await exhaust(fault_server, client, on_event=rec)
    events = await drain(result)

    error = events[-1].error
    assert events[-1].type is EventType.ERROR and error is result.error
    assert error.code is ErrorCode.ALL_STREAMS_EXHAUSTED
    # Every attempt's error as it was raised (and reported), in order; the last is the cause.
    assert error.errors == [e.error for e in rec.of(T.ERROR)]
    assert [error_type(e) for e in error.errors] == [
        "RemoteProtocolError",
        "InternalServerError",
        "AuthenticationError",
    ]
    assert error.__cause__ is error.errors[-1]
    assert isinstance(error.__cause__, openai.AuthenticationError)
    # The last attempt says what kind of failure ended the session; nothing is left to try.
    assert (error.category, error.status_code) == (ErrorCategory.FATAL, 401)
    assert categorize_error(error) is ErrorCategory.FATAL
    decision = classify_error(error)
    assert (decision.retry, decision.fallback) == (False, False)
    assert "AuthenticationError" in str(error)
    await wait_closed(fault_server)


async def test_the_error_carries_the_session_at_its_end(
    fault_server: FaultServer, client: Any
) -> None:
    context = {"request_id": "req-1", "tags": ["a"]}
    before = time.time()
    result = await exhaust(fault_server, client, context=context, meta={"user": "u-1"})
    context["tags"].append("changed after the call")
    with pytest.raises(L0Error) as caught:
        await result.read()
    after = time.time()

    error, state = caught.value, result.state
    assert before <= error.timestamp <= after
    assert (error.attempts, error.fallback_index) == (3, 1)
    assert (error.network_retry_count, error.model_retry_count, error.retry_count) == (1, 0, 1)
    assert (error.token_count, error.content_length) == (state.token_count, state.content_length)
    assert (error.checkpoint, error.checkpoint_length) == (state.checkpoint, 0)
    # The caller's context as it was at the call (deep-copied, read-only).
    assert error.to_dict()["context"] == {"request_id": "req-1", "tags": ["a"]}
    assert error.metadata["session_id"] == result.session_id
    assert error.metadata["reason"] == "http_401"
    assert dict(error.metadata["meta"]) == {"user": "u-1"}


async def test_a_checkpoint_is_carried_with_its_length(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text="One. Two. Three. Four. Five. Six. Seven.", reset_after=6))
    result = await l0.run(
        opener(client),
        retry=l0.Retry.none(),
        continue_from_last_good_token=True,
        check_intervals={"checkpoint": 1},
    )
    with pytest.raises(L0Error) as caught:
        await result.read()
    error = caught.value
    assert error.has_checkpoint
    assert error.checkpoint == result.state.checkpoint
    assert error.checkpoint_length == len(error.checkpoint) == result.state.checkpoint_length
    assert error.content_length == len(result.state.content) >= error.checkpoint_length


async def test_a_session_that_stops_raises_the_error_that_stopped_it(
    fault_server: FaultServer, client: Any
) -> None:
    def forbid(context: Any) -> list[l0.GuardrailViolation]:
        if "secret" in context.delta:
            return [l0.GuardrailViolation("no_secrets", "leaked", severity="fatal")]
        return []

    fault_server.enqueue(Reply(text="the secret is out"))
    rule = l0.GuardrailRule(name="no_secrets", check=forbid, severity="fatal")
    result = await l0.run(
        opener(client), fallbacks=[opener(client)], guardrails=[rule], context={"k": "v"}
    )
    with pytest.raises(L0Error) as caught:
        await result.read()
    error = caught.value
    # Not exhausted: a fatal violation is not retried and does not fall back.
    assert error.code is ErrorCode.FATAL_GUARDRAIL_VIOLATION
    assert error.errors == [] and error.__cause__ is None
    assert (error.attempts, dict(error.context)) == (1, {"k": "v"})
    assert error.token_count == result.state.token_count > 0


async def test_the_record_round_trips(fault_server: FaultServer, client: Any) -> None:
    result = await exhaust(fault_server, client, context={"request_id": "req-1", "n": [1, 2]})
    await drain(result)
    error = result.error
    assert error is not None

    record = error.to_json()
    data = orjson.loads(record)
    assert data == error.to_dict()
    assert data["code"] == "ALL_STREAMS_EXHAUSTED" and data["name"] == "L0Error"
    # Exceptions become their type and message.
    assert data["cause"] == {"type": "AuthenticationError", "message": str(error.__cause__)}
    assert [entry["type"] for entry in data["errors"]][1:] == [
        "InternalServerError",
        "AuthenticationError",
    ]

    back = L0Error.from_json(record)
    assert back.to_dict() == data
    assert (back.code, back.category, back.timestamp) == (
        error.code,
        error.category,
        error.timestamp,
    )
    assert isinstance(back.__cause__, SerializedError)
    assert back.__cause__.type == "AuthenticationError"
    assert [str(e) for e in back.errors] == [str(e) for e in error.errors]
    assert L0Error.from_dict(back.to_dict()).to_dict() == data


def test_the_record_is_json_safe() -> None:
    when = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    timeout = L0Error("initial token timeout after 200 ms", ErrorCode.INITIAL_TOKEN_TIMEOUT)
    try:
        raise ValueError("bad") from None
    except ValueError as exc:
        last = exc
    error = L0Error(
        "all streams exhausted",
        ErrorCode.ALL_STREAMS_EXHAUSTED,
        category=ErrorCategory.MODEL,
        checkpoint="Hello",
        context={"when": when, "ids": (1, 2), "nested": {"k": object}},
        metadata={"reason": "stream_error"},
        errors=[timeout, last],
    )
    error.__cause__ = last

    data = orjson.loads(error.to_json())
    assert data["context"] == {"when": str(when), "ids": [1, 2], "nested": {"k": str(object)}}
    assert data["checkpoint_length"] == 5 and data["has_checkpoint"] is True
    assert data["errors"] == [
        {"type": "L0Error", "code": "INITIAL_TOKEN_TIMEOUT", "message": str(timeout)},
        {"type": "ValueError", "message": "bad"},
    ]
    back = L0Error.from_dict(data)
    assert back.errors[0].code is ErrorCode.INITIAL_TOKEN_TIMEOUT  # type: ignore[attr-defined]
    assert back.to_dict() == data


def test_a_record_without_the_checkpoint_text_keeps_its_length() -> None:
    data = L0Error("x", ErrorCode.DRIFT_DETECTED, checkpoint="Hello there").to_dict()
    del data["checkpoint"]
    back = L0Error.from_dict(data)
    assert (back.checkpoint, back.checkpoint_length) == ("", 11)
