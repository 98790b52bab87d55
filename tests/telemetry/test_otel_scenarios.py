"""Span trees and metrics of real sessions: the openai client against the fault server.

Every test also proves (through the `otel` fixture) that no span was left open, and checks
that `l0.sessions.active` is back to zero.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from telemetry_support import COMPLETION, OTel, eventually, factory, run
from tests.runtime.footprint import cycles

import l0
from l0.testing import FaultServer, Reply


def _children(otel: OTel, parent: ReadableSpan) -> list[ReadableSpan]:
    return sorted(
        (s for s in otel.spans() if s.parent and s.parent.span_id == parent.context.span_id),
        key=lambda s: s.start_time or 0,
    )


def _attempts(otel: OTel) -> list[ReadableSpan]:
    return _children(otel, otel.one("l0.session"))


def _event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events]


def _event(span: ReadableSpan, name: str) -> dict[str, Any]:
    found = [dict(e.attributes or {}) for e in span.events if e.name == name]
    assert found, f"{span.name} has no event {name}: {_event_names(span)}"
    return found[0]


async def test_success_span_tree_attributes_and_metrics(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, usage=True))
    result = await run(client, context={"conversation_id": "conv-1"})
    assert await result.read() == COMPLETION

    session = otel.one("l0.session")
    assert session.kind is SpanKind.INTERNAL
    assert session.parent is None
    assert session.status.status_code is StatusCode.OK
    assert session.attributes["l0.session.id"] == result.session_id
    assert session.attributes["l0.outcome"] == "success"
    assert session.attributes["l0.retry.count"] == 0
    assert session.attributes["l0.fallback.index"] == 0
    assert session.attributes["l0.token.count"] == result.state.token_count
    assert session.attributes["gen_ai.conversation.id"] == "conv-1"

    [attempt] = _attempts(otel)
    assert attempt.name == "chat gpt-test"
    assert attempt.kind is SpanKind.CLIENT
    a = attempt.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-test"
    assert a["gen_ai.response.model"] == "gpt-test"
    assert str(a["gen_ai.response.id"]).startswith("chatcmpl-")
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.output_tokens"] == 4
    assert a["gen_ai.usage.input_tokens"] > 0
    assert 0 < a["gen_ai.response.time_to_first_chunk"] < 5
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == fault_server.port
    assert a["l0.attempt"] == 1 and a["l0.fallback.index"] == 0 and a["l0.is_retry"] is False
    assert "error.type" not in a

    model = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-test"}
    server = {"server.address": "127.0.0.1", "server.port": fault_server.port}
    [duration] = otel.points("gen_ai.client.inference.duration")
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat",
        **model,
        "gen_ai.response.model": "gpt-test",
        **server,
    }
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    # Exemplars link the measurement to the attempt span.
    assert duration.exemplars
    assert duration.exemplars[0].trace_id == attempt.context.trace_id
    assert duration.exemplars[0].span_id == attempt.context.span_id
    assert otel.total("gen_ai.client.inference.time_to_first_chunk", **model, **server) == 1
    assert otel.total("gen_ai.client.inference.usage.output_tokens", **model) == 4
    assert otel.total("gen_ai.client.inference.operation.output_tokens", **model) == 1
    assert otel.total("l0.tokens", **model) == result.state.token_count
    assert otel.total("l0.sessions", **{"l0.outcome": "success"}) == 1
    assert otel.total("l0.session.duration", **{"l0.outcome": "success"}) == 1
    assert otel.active_sessions() == 0
    for attributes in otel.metric_attributes():
        assert result.session_id not in attributes.values()


async def test_retry_after_503(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION))
    result = await run(client)
    assert await result.read() == COMPLETION

    failed, retried = _attempts(otel)
    assert failed.name == retried.name == "chat gpt-test"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "InternalServerError"
    assert failed.attributes["gen_ai.provider.name"] == "openai"
    exception = _event(failed, "exception")
    assert exception["exception.type"].endswith("InternalServerError")
    assert _event(failed, "l0.error")["l0.will_retry"] is True
    assert retried.status.status_code is StatusCode.UNSET
    assert retried.attributes["l0.is_retry"] is True

    session = otel.one("l0.session")
    assert session.status.status_code is StatusCode.OK  # recovered
    assert session.attributes["l0.retry.count"] == 1
    retry = _event(session, "l0.retry")
    assert retry["l0.retry.reason"] == "http_503"
    assert retry["l0.error.category"] == "transient"

    assert (
        otel.total(
            "l0.retries",
            **{
                "l0.retry.reason": "http_503",
                "l0.error.category": "transient",
                "l0.retry.counts_toward_limit": False,
            },
        )
        == 1
    )
    assert otel.total("gen_ai.client.inference.duration", **{"error.type": "InternalServerError"})
    assert otel.active_sessions() == 0


async def test_reset_mid_stream_then_retry(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, reset_after=2), Reply(text=COMPLETION))
    result = await run(client)
    assert await result.read() == COMPLETION

    dropped, recovered = _attempts(otel)
    # The same name on openai 2 (httpx's exception) and 3 (APIConnectionError from httpx2's).
    assert dropped.attributes["error.type"] == "RemoteProtocolError"
    assert _event(dropped, "l0.network.error")["l0.network.reason"] == "RemoteProtocolError"
    assert dropped.attributes["l0.token.count"] == 2
    assert {"l0.network.error", "l0.connection.dropped", "exception"} <= set(_event_names(dropped))
    assert "l0.network.recovery" in _event_names(recovered)
    assert otel.total("l0.retries", **{"l0.error.category": "network"}) == 1
    assert otel.active_sessions() == 0


async def test_fallback_after_401(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=401), model="gpt-primary")
    fault_server.enqueue(Reply(text=COMPLETION), model="gpt-fallback")
    result = await l0.run(
        factory(client, "gpt-primary"),
        fallbacks=[factory(client, "gpt-fallback")],
        retry=l0.Retry(attempts=2, max_retries=3, base_delay=0.0, max_delay=0.0),
    )
    assert await result.read() == COMPLETION

    primary, fallback = _attempts(otel)
    assert primary.name == "chat gpt-primary"
    assert primary.attributes["error.type"] == "AuthenticationError"
    assert fallback.name == "chat gpt-fallback"
    assert fallback.attributes["l0.fallback.index"] == 1
    session = otel.one("l0.session")
    assert session.attributes["l0.fallback.index"] == 1
    assert _event(session, "l0.fallback")["l0.fallback.index"] == 1
    assert "l0.fallback.end" in _event_names(session)
    assert otel.total("l0.fallbacks", **{"l0.fallback.index": 1}) == 1
    assert otel.active_sessions() == 0


async def test_initial_timeout_then_retry(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_first=3.0), Reply(text=COMPLETION))
    result = await run(client, timeout=l0.Timeout(initial_token=0.3, inter_token=1.0))
    assert await result.read() == COMPLETION

    stalled, _ = _attempts(otel)
    assert stalled.attributes["error.type"] == "INITIAL_TOKEN_TIMEOUT"
    timeout = _event(stalled, "l0.timeout")
    assert timeout["l0.timeout.type"] == "initial"
    assert timeout["l0.timeout.configured_ms"] == 300
    assert otel.total("l0.timeouts", **{"l0.timeout.type": "initial"}) == 1
    assert otel.active_sessions() == 0


async def test_exhausted_retries_end_in_error(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(*[Reply(status=503)] * 4)
    result = await run(client)
    with pytest.raises(l0.L0Error):
        await result.read()

    attempts = _attempts(otel)
    assert len(attempts) == 4
    assert all(a.status.status_code is StatusCode.ERROR for a in attempts)
    session = otel.one("l0.session")
    assert session.status.status_code is StatusCode.ERROR
    assert session.attributes["l0.outcome"] == "error"
    # The session ran out of streams; each attempt keeps its own error.type.
    assert session.attributes["error.type"] == "ALL_STREAMS_EXHAUSTED"
    assert {a.attributes["error.type"] for a in attempts} == {"InternalServerError"}
    assert session.attributes["l0.error.category"] == "transient"
    assert session.attributes["l0.error.attempt_error_types"] == ("InternalServerError",) * 4
    assert (
        session.attributes["l0.error.attempts"],
        session.attributes["l0.error.status_code"],
    ) == (
        4,
        503,
    )
    assert session.attributes["l0.retry.count"] == 3
    assert "l0.retry.give_up" in _event_names(session)
    assert otel.total("l0.sessions", **{"l0.outcome": "error"}) == 1
    assert otel.total("l0.retries") == 3
    assert otel.active_sessions() == 0


async def test_consumer_break_ends_every_span(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, chunk_delay=0.05))
    result = await run(client)
    async for event in result:
        if event.is_token:
            break
    await eventually(lambda: bool(otel.named("l0.session")))

    session = otel.one("l0.session")
    assert session.attributes["l0.outcome"] == "aborted"
    [attempt] = _attempts(otel)
    assert attempt.attributes["error.type"] == "cancelled"
    assert attempt.status.status_code is StatusCode.UNSET
    assert otel.total("l0.sessions", **{"l0.outcome": "aborted"}) == 1
    assert otel.active_sessions() == 0


async def test_aclose_ends_every_span(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, chunk_delay=0.05))
    result = await run(client)
    iterator = aiter(result)
    await anext(iterator)
    await result.aclose()

    assert otel.one("l0.session").attributes["l0.outcome"] == "aborted"
    assert otel.active_sessions() == 0


async def test_cancellation_ends_every_span(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, stall_after=(1, 5.0)))
    result = await run(client, timeout=l0.Timeout(initial_token=5.0, inter_token=10.0))
    first = asyncio.Event()

    async def consume() -> None:
        async for event in result:
            if event.is_token:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert otel.one("l0.session").attributes["l0.outcome"] == "aborted"
    assert len(_attempts(otel)) == 1
    assert otel.active_sessions() == 0


async def test_abort_during_a_stall(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_first=5.0))
    result = await run(client, timeout=l0.Timeout(initial_token=10.0, inter_token=10.0))
    asyncio.get_running_loop().call_later(0.2, result.abort)
    with pytest.raises(l0.L0Error):
        await result.read()

    session = otel.one("l0.session")
    assert session.attributes["l0.outcome"] == "aborted"
    assert session.status.status_code is StatusCode.UNSET
    assert _event(session, "l0.abort.requested")["l0.abort.source"] == "user"
    assert "l0.abort" in _event_names(session)
    [attempt] = _attempts(otel)
    assert attempt.attributes["error.type"] == "STREAM_ABORTED"
    assert otel.total("l0.sessions", **{"l0.outcome": "aborted"}) == 1
    assert otel.active_sessions() == 0


async def test_consumer_span_is_unchanged_while_iterating(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION))
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        result = await run(client)
        async for _ in result:
            assert trace.get_current_span() is parent
        assert trace.get_current_span() is parent
    assert trace.get_current_span() is not parent

    session = otel.one("l0.session")
    assert session.parent is not None
    assert session.parent.span_id == parent.get_span_context().span_id
    assert session.context.trace_id == parent.get_span_context().trace_id


async def test_an_sdk_provider_set_by_hand_receives_l0_telemetry(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    """No `l0.instrument()` here: the conftest set the global providers by hand."""
    from l0.telemetry.instrument import _current

    assert _current is None
    fault_server.enqueue(Reply(text=COMPLETION))
    assert await (await run(client)).read() == COMPLETION
    assert otel.named("chat gpt-test")


async def test_a_break_at_the_retry_boundary_ends_the_attempt_once(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    """The session reports ATTEMPT_END again from `_finish` for an attempt `_decide` already
    ended (runtime bug); the sink counts the operation once."""
    fault_server.enqueue(Reply(text=COMPLETION, reset_after=2), Reply(text=COMPLETION))
    result = await run(client)
    async for event in result:
        if event.is_reset:
            break
    await eventually(lambda: bool(otel.named("l0.session")))

    assert len(_attempts(otel)) == 1
    assert otel.total("gen_ai.client.inference.duration") == 1
    assert otel.one("l0.session").attributes["l0.outcome"] == "aborted"
    assert otel.active_sessions() == 0


_FIRST_ATTEMPTS: dict[str, tuple[list[Reply], dict[str, Any]]] = {
    "none": ([], {}),
    "HTTP 503": ([Reply(status=503)], {}),
    "reset mid-stream": ([Reply(text=COMPLETION, reset_after=3)], {}),
    "in-band error": ([Reply(text=COMPLETION, error_after=3)], {}),
    "empty output": ([Reply(empty=True)], {}),
    "drift, full stack": (
        [Reply.loop("the same sentence again and again. ", 40)],
        {"drift": True, "guardrails": l0.Guardrails.recommended()},
    ),
}


@pytest.mark.parametrize("failed", list(_FIRST_ATTEMPTS), ids=list(_FIRST_ATTEMPTS))
async def test_a_traced_session_leaves_nothing_to_the_garbage_collector(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI, failed: str
) -> None:
    # With spans, metrics, failed attempts and the real client, a session that succeeds
    # makes no reference cycles: what it made is freed when it ends, not in a collection.
    # (A failed attempt's traceback runs through the session's frames; the session kept
    # the error for a final error until it succeeded.)
    replies, options = _FIRST_ATTEMPTS[failed]
    fault_server.enqueue(*replies, Reply(text=COMPLETION))
    with cycles() as left:
        result = await run(client, **options)
        assert await result.read() == COMPLETION
        assert result.state.retry_count == len(replies)
        del result
    assert left == []
