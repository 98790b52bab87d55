"""Every fault of the fault server, crossed with {retry succeeds, fallback succeeds, exhausted}.

All through the real `openai.AsyncOpenAI` client over loopback. Each scenario also checks
the stream contract (one terminal event, last; the events rebuild `state.content`), that
every connection the session opened is closed when it ends, and that no l0 task is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

import l0
from l0 import ErrorCategory, ErrorCode, EventType, L0Error
from l0 import ObservabilityEventType as T
from l0.errors import error_type
from l0.testing import FaultServer, Reply

from .conftest import (
    Recorder,
    assert_no_leaked_tasks,
    drain,
    fast_retry,
    opener,
    short_timeout,
    tokens,
    wait_closed,
)

TEXT = "Hello there world"
TOOL = ("get_weather", '{"city": "Paris", "unit": "celsius"}')
STALL = 5.0  # the server's stall; the client's 0.2 s timeouts cut it long before


@dataclass(frozen=True)
class Fault:
    name: str
    reply: Reply
    kind: str  # "network": counts toward max_retries only; "model": toward attempts
    code: ErrorCode | None  # each attempt's L0Error code; None: the provider's exception
    category: ErrorCategory
    cause: str | None = None  # the l0 name (`error_type`) of the provider's exception
    status: int | None = None
    partial: bool = False  # tokens reach the consumer before the fault
    good: Reply = field(default_factory=lambda: Reply(text=TEXT))
    options: dict[str, Any] = field(default_factory=dict)
    timeout: str | None = None  # the TIMEOUT_TRIGGERED type


FAULTS = [
    Fault(
        "http_429_retry_after",
        Reply(status=429, retry_after=0.05),
        "network",
        None,
        ErrorCategory.TRANSIENT,
        "RateLimitError",
        429,
    ),
    Fault(
        "http_503_retry_after_ms",
        Reply(status=503, retry_after_ms=20),
        "network",
        None,
        ErrorCategory.TRANSIENT,
        "InternalServerError",
        503,
    ),
    Fault(
        "reset_after_2",
        Reply(text=TEXT, reset_after=2),
        "network",
        None,
        ErrorCategory.NETWORK,
        "RemoteProtocolError",  # wrapped by openai 3, raw on openai 2
        partial=True,
    ),
    Fault(
        "stall_before_headers",
        Reply(text=TEXT, stall_before_headers=STALL),
        "network",
        ErrorCode.INITIAL_TOKEN_TIMEOUT,
        ErrorCategory.NETWORK,
        timeout="initial",
    ),
    Fault(
        "stall_before_first",
        Reply(text=TEXT, stall_before_first=STALL),
        "network",
        ErrorCode.INITIAL_TOKEN_TIMEOUT,
        ErrorCategory.NETWORK,
        timeout="initial",
    ),
    Fault(
        "stall_after_2",
        Reply(text=TEXT, stall_after=(2, STALL)),
        "network",
        ErrorCode.INTER_TOKEN_TIMEOUT,
        ErrorCategory.NETWORK,
        partial=True,
        timeout="inter",
    ),
    Fault(
        "malformed_after_2",
        Reply(text=TEXT, malformed_after=2),
        "model",
        None,
        ErrorCategory.MODEL,
        "JSONDecodeError",
        partial=True,
    ),
    Fault(
        "in_band_error_after_2",
        Reply(text=TEXT, error_after=2),
        "network",  # error.code "server_error": TRANSIENT
        None,
        ErrorCategory.TRANSIENT,
        "APIError",
        partial=True,
    ),
    Fault(
        "empty_output",
        Reply(empty=True),
        "network",  # ZERO_OUTPUT is TRANSIENT
        ErrorCode.ZERO_OUTPUT,
        ErrorCategory.TRANSIENT,
    ),
    Fault(
        "repetition_loop",
        Reply.loop("The cat sat on the mat. ", times=40),
        "model",  # drift is a CONTENT failure: it counts toward attempts
        ErrorCode.DRIFT_DETECTED,
        ErrorCategory.CONTENT,
        partial=True,
        options={"drift": True},
    ),
    Fault(
        "tool_call_deltas_reset",
        Reply(tool_calls=[TOOL], reset_after=2),
        "network",
        None,
        ErrorCategory.NETWORK,
        "RemoteProtocolError",  # wrapped by openai 3, raw on openai 2
        good=Reply(tool_calls=[TOOL]),
    ),
    Fault(
        "usage_chunk_reset_before_finish",
        Reply(text=TEXT, usage=True, reset_after=3),
        "network",
        None,
        ErrorCategory.NETWORK,
        "RemoteProtocolError",  # wrapped by openai 3, raw on openai 2
        partial=True,
        good=Reply(text=TEXT, usage=True),
    ),
]


def faults() -> list[Any]:
    return [pytest.param(fault, id=fault.name) for fault in FAULTS]


def expected_content(fault: Fault) -> str:
    return "" if fault.good.tool_calls else TEXT


def check_success(fault: Fault, result: l0.Result, events: list[Any]) -> None:
    state = result.state
    assert state.content == expected_content(fault)
    assert "".join(tokens(events)).endswith(state.content)
    assert events[-1].type is EventType.COMPLETE
    resets = [e for e in events if e.type is EventType.RESET]
    if fault.partial:
        # Tokens of the failed attempt were shown: the consumer is told to drop them all.
        assert resets and all(e.keep == 0 for e in resets)
    else:
        assert not resets
    if fault.good.tool_calls:
        name, arguments = TOOL
        assert [(c["name"], c["arguments"]) for c in state.tool_calls] == [(name, arguments)]
        calls = [e.data for e in events if e.type is EventType.TOOL_CALL]
        assert calls == state.tool_calls and calls[0]["id"].startswith("call_")
        assert state.finish_reason == "tool_calls"
    else:
        assert state.tool_calls == []
        assert state.finish_reason == "stop"
    if fault.good.usage:
        assert state.usage is not None and state.usage["output_tokens"] == 3
        assert state.usage["total_tokens"] == (
            state.usage["input_tokens"] + state.usage["output_tokens"]
        )
        assert events[-1].usage == state.usage


def check_retry_accounting(fault: Fault, result: l0.Result, rec: Recorder, retries: int) -> None:
    state = result.state
    if fault.kind == "network":
        assert (state.network_retry_count, state.model_retry_count) == (retries, 0)
    else:
        assert (state.network_retry_count, state.model_retry_count) == (0, retries)
    attempts = rec.of(T.RETRY_ATTEMPT)
    assert len(attempts) == retries
    for event in attempts:
        assert event.counts_toward_limit is (fault.kind == "model")
        assert event.category == fault.category.value
    if fault.timeout is not None:
        triggered = rec.of(T.TIMEOUT_TRIGGERED)
        assert triggered and {e.timeout_type for e in triggered} == {fault.timeout}
        assert all(e.elapsed_ms >= 200 and e.configured_ms == 200 for e in triggered)
    if fault.kind == "network":
        assert len(rec.of(T.NETWORK_ERROR)) >= retries


def run(client: Any, fault: Fault, rec: Recorder, **options: Any) -> Any:
    options.setdefault("retry", fast_retry())
    return l0.run(
        opener(client, "m"),
        timeout=short_timeout(),
        on_event=rec,
        **fault.options,
        **options,
    )


@pytest.mark.parametrize("fault", faults())
async def test_retry_succeeds(fault_server: FaultServer, client: Any, fault: Fault) -> None:
    fault_server.enqueue(fault.reply, fault.good, model="m")
    rec = Recorder()
    result = await run(client, fault, rec)
    events = await drain(result)

    check_success(fault, result, events)
    assert len(fault_server.requests) == 2
    assert result.state.fallback_index == 0
    check_retry_accounting(fault, result, rec, retries=1)
    starts = rec.of(T.ATTEMPT_START)
    assert [(e.attempt, e.is_retry, e.fallback_index) for e in starts] == [
        (1, False, 0),
        (2, True, 0),
    ]
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


@pytest.mark.parametrize("fault", faults())
async def test_fallback_succeeds(fault_server: FaultServer, client: Any, fault: Fault) -> None:
    fault_server.default = fault.reply
    fault_server.enqueue(fault.good, model="m-fallback")
    rec = Recorder()
    result = await run(
        client,
        fault,
        rec,
        retry=fast_retry(attempts=2, max_retries=1),
        fallbacks=[opener(client, "m-fallback")],
    )
    events = await drain(result)

    check_success(fault, result, events)
    assert [r.model for r in fault_server.requests] == ["m", "m", "m-fallback"]
    assert result.state.fallback_index == 1
    check_retry_accounting(fault, result, rec, retries=1)
    (fallback,) = rec.of(T.FALLBACK_START)
    assert (fallback.from_index, fallback.to_index) == (0, 1)
    assert rec.of(T.ATTEMPT_START)[-1].fallback_index == 1
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


@pytest.mark.parametrize("fault", faults())
async def test_exhausted_gives_typed_error(
    fault_server: FaultServer, client: Any, fault: Fault
) -> None:
    fault_server.default = fault.reply
    rec = Recorder()
    result = await run(
        client,
        fault,
        rec,
        retry=fast_retry(attempts=2, max_retries=1),
        fallbacks=[opener(client, "m-fallback")],
    )
    events = await drain(result)

    assert [r.model for r in fault_server.requests] == ["m", "m", "m-fallback", "m-fallback"]
    error = events[-1].error
    assert events[-1].type is EventType.ERROR and isinstance(error, L0Error)
    assert error.code is ErrorCode.ALL_STREAMS_EXHAUSTED
    assert error.category is fault.category  # the last attempt's
    assert error.status_code == fault.status
    # Every attempt's error, in order, as on_error saw it; the last one is the cause.
    assert error.errors == [e.error for e in rec.of(T.ERROR)]
    assert len(error.errors) == 4 and error.__cause__ is error.errors[-1]
    for attempt_error in error.errors:
        if fault.cause is None:
            assert attempt_error.code is fault.code
        else:
            assert error_type(attempt_error) == fault.cause
    state = result.state
    assert (error.fallback_index, state.fallback_index) == (1, 1)
    assert error.attempts == state.attempt == 4
    assert error.content_length == state.content_length
    assert error.token_count == state.token_count
    assert error.model_retry_count == state.model_retry_count
    assert error.network_retry_count == state.network_retry_count
    # The last good checkpoint, with or without continuation (docs/continuation.md).
    assert (error.checkpoint, error.checkpoint_length) == (
        state.checkpoint,
        state.checkpoint_length,
    )
    assert error.content_length >= error.checkpoint_length
    # One retry per stream: the primary's and the fallback's.
    check_retry_accounting(fault, result, rec, retries=2)
    assert rec.of(T.RETRY_GIVE_UP)
    assert rec.types()[-1] is T.SESSION_END
    assert rec.of(T.SESSION_END)[0].outcome == "error"
    assert rec.of(T.SESSION_END)[0].error is error
    assert not state.completed
    await wait_closed(fault_server)
    assert_no_leaked_tasks()


# -- retry decisions (DESIGN §3), through the real client -------------------------------


@pytest.mark.parametrize(
    ("status", "cause"),
    [(401, openai.AuthenticationError), (403, openai.PermissionDeniedError)],
)
async def test_auth_errors_never_retry_but_fall_back(
    fault_server: FaultServer, client: Any, status: int, cause: type[Exception]
) -> None:
    fault_server.enqueue(Reply(status=status), model="m")
    fault_server.enqueue(Reply(text=TEXT), model="m-fallback")
    rec = Recorder()
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fallback")],
        retry=fast_retry(),
        on_event=rec,
    )
    await drain(result)
    assert [r.model for r in fault_server.requests] == ["m", "m-fallback"]
    assert not rec.of(T.RETRY_ATTEMPT)
    assert rec.of(T.FALLBACK_START)[0].reason == f"http_{status}"
    assert result.state.content == TEXT

    # Without a fallback: the typed error, after exactly one request.
    fault_server.reset()
    fault_server.enqueue(Reply(status=status))
    result = await l0.run(opener(client, "m"), retry=fast_retry())
    events = await drain(result)
    error = events[-1].error
    assert (error.category, error.status_code) == (ErrorCategory.FATAL, status)
    assert isinstance(error.__cause__, cause)
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_client_errors_are_not_retried(
    fault_server: FaultServer, client: Any, status: int
) -> None:
    fault_server.default = Reply(status=status)
    result = await l0.run(opener(client), retry=fast_retry())
    events = await drain(result)
    error = events[-1].error
    assert (error.code, error.category, error.status_code) == (
        ErrorCode.ALL_STREAMS_EXHAUSTED,
        ErrorCategory.PROVIDER,
        status,
    )
    assert isinstance(error.__cause__, openai.APIStatusError)
    assert len(fault_server.requests) == 1
    assert result.state.retry_count == 0


async def test_context_length_goes_straight_to_fallback(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply(status=400, error_code="context_length_exceeded", error_message="too long"),
        model="m",
    )
    fault_server.enqueue(Reply(text=TEXT), model="m-fallback")
    rec = Recorder()
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fallback")],
        retry=fast_retry(),
        on_event=rec,
    )
    await drain(result)
    assert [r.model for r in fault_server.requests] == ["m", "m-fallback"]
    assert not rec.of(T.RETRY_ATTEMPT)
    assert rec.of(T.FALLBACK_START)[0].reason == "context_length"
    assert result.state.content == TEXT


@pytest.mark.parametrize(
    ("reply", "expected_ms"),
    [
        (Reply(status=429, retry_after=0.3), 300),
        (Reply(status=503, retry_after_ms=150), 150),
        (Reply(status=429, retry_after=1, retry_after_ms=120), 120),
    ],
    ids=["retry-after", "retry-after-ms", "ms-wins"],
)
async def test_retry_after_is_honoured(
    fault_server: FaultServer, client: Any, reply: Reply, expected_ms: int
) -> None:
    fault_server.enqueue(reply, Reply(text=TEXT))
    rec = Recorder()
    result = await l0.run(opener(client), retry=fast_retry(), on_event=rec)
    await drain(result)
    (retry,) = rec.of(T.RETRY_ATTEMPT)
    assert (retry.retry_after_ms, retry.delay_ms) == (expected_ms, expected_ms)
    assert result.state.duration is not None and result.state.duration >= expected_ms / 1000
    assert result.state.content == TEXT


async def test_retry_after_is_capped(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(status=429, retry_after=3600), Reply(text=TEXT))
    rec = Recorder()
    result = await l0.run(opener(client), retry=fast_retry(max_retry_after=0.05), on_event=rec)
    await drain(result)
    (retry,) = rec.of(T.RETRY_ATTEMPT)
    assert retry.retry_after_ms == 3_600_000
    assert retry.delay_ms == 50
    assert result.state.content == TEXT


async def test_network_and_transient_retries_use_max_retries_only(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply(text=TEXT, reset_after=1),
        Reply(status=429),
        Reply(status=503),
        Reply(text=TEXT, error_after=1),
        Reply(text=TEXT),
    )
    # attempts=1 allows no model retry at all; these four never count toward it.
    result = await l0.run(
        opener(client), retry=fast_retry(attempts=1, max_retries=4), timeout=short_timeout()
    )
    await drain(result)
    assert result.state.content == TEXT
    assert (result.state.network_retry_count, result.state.model_retry_count) == (4, 0)


async def test_max_retries_is_the_ceiling(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(text=TEXT, reset_after=1)
    result = await l0.run(opener(client), retry=fast_retry(attempts=5, max_retries=3))
    events = await drain(result)
    assert events[-1].error.network_retry_count == 3
    assert len(fault_server.requests) == 4


async def test_model_errors_count_toward_attempts(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(text=TEXT, malformed_after=1)
    result = await l0.run(opener(client), retry=fast_retry(attempts=3, max_retries=10))
    events = await drain(result)
    error = events[-1].error
    assert (error.model_retry_count, error.network_retry_count) == (2, 0)
    assert len(fault_server.requests) == 3


async def test_network_retries_leave_attempts_for_model_errors(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(
        Reply(text=TEXT, malformed_after=1),
        Reply(text=TEXT, reset_after=1),
        Reply(status=500),
        Reply(text=TEXT),
    )
    result = await l0.run(opener(client), retry=fast_retry(attempts=2, max_retries=10))
    await drain(result)
    assert result.state.content == TEXT
    assert (result.state.model_retry_count, result.state.network_retry_count) == (1, 2)


async def test_each_fallback_gets_a_fresh_budget(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(text=TEXT, reset_after=1)
    fault_server.enqueue(Reply(text=TEXT, reset_after=1), Reply(text=TEXT), model="m-fallback")
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fallback")],
        retry=fast_retry(max_retries=1),
    )
    await drain(result)
    assert [r.model for r in fault_server.requests] == ["m", "m", "m-fallback", "m-fallback"]
    assert result.state.content == TEXT
    assert result.state.network_retry_count == 2
