"""The provider's HTTP spans are children of the attempt span, one per request; the
consumer's context is not touched; no "Failed to detach context" is ever logged. The real
HTTP client instrumentations l0 turns on (httpx, httpx2, and aiohttp where installed), the
real openai client (httpx2 on openai 3, httpx on openai 2), real HTTP to the fault server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from telemetry_support import COMPLETION, OTel, eventually, run

import l0
from l0.telemetry.http_clients import instrument_http_clients, uninstrument_http_clients
from l0.testing import FaultServer, Reply


@pytest.fixture
def http_spans(otel: OTel) -> Iterator[list[Any]]:
    """Every installed HTTP client instrumentation on, as `l0.instrument()` turns them on."""
    instrumentors = instrument_http_clients(otel.tracer_provider)
    assert instrumentors, "no HTTP client instrumentation is installed"
    yield instrumentors
    uninstrument_http_clients(instrumentors)
    assert not any(i.is_instrumented_by_opentelemetry for i in instrumentors)


async def test_http_spans_are_children_of_attempt_spans(
    otel: OTel,
    http_spans: list[Any],
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION, reset_after=1))
    fault_server.enqueue(Reply(text=COMPLETION))
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        result = await run(client)
        async for _ in result:
            assert trace.get_current_span() is parent
        assert trace.get_current_span() is parent

    session = otel.one("l0.session")
    attempts = sorted(otel.named("chat "), key=lambda s: s.start_time or 0)
    http = sorted(
        (s for s in otel.spans() if s.kind is SpanKind.CLIENT and not s.name.startswith("chat")),
        key=lambda s: s.start_time or 0,
    )
    assert len(attempts) == 3
    assert len(http) == 3, [s.name for s in otel.spans()]
    for attempt, request in zip(attempts, http, strict=True):
        assert attempt.parent is not None and attempt.parent.span_id == session.context.span_id
        assert request.parent is not None
        assert request.parent.span_id == attempt.context.span_id
        assert request.context.trace_id == session.context.trace_id
        assert request.attributes is not None
        method = request.attributes.get("http.request.method") or request.attributes["http.method"]
        assert method == "POST"
    first = http[0].attributes or {}
    assert first.get("http.response.status_code", first.get("http.status_code")) == 503
    assert "Failed to detach context" not in caplog.text


async def test_http_spans_of_a_timed_out_attempt_stay_in_its_subtree(
    otel: OTel,
    http_spans: list[Any],
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_headers=3.0), Reply(text=COMPLETION))
    result = await run(client, timeout=l0.Timeout(initial_token=0.3, inter_token=1.0))
    assert await result.read() == COMPLETION

    attempts = {s.context.span_id for s in otel.named("chat")}
    assert len(attempts) == 2
    http = [s for s in otel.spans() if s.kind is SpanKind.CLIENT and not s.name.startswith("chat")]
    assert len(http) == 2
    assert all(s.parent is not None and s.parent.span_id in attempts for s in http)
    assert "Failed to detach context" not in caplog.text
    assert trace.get_current_span() is trace.INVALID_SPAN


@pytest.mark.parametrize("how", ["cancel", "abort"])
async def test_stopping_inside_the_provider_call_detaches_cleanly(
    otel: OTel,
    http_spans: list[Any],
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    """Cancellation and abort() land while the attempt's context is attached (the session
    is waiting for response headers): it is detached in the same context, spans end."""
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_headers=5.0))
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        result = await run(client, timeout=l0.Timeout(initial_token=10.0, inter_token=10.0))
        task = asyncio.create_task(result.read())
        await eventually(lambda: len(fault_server.requests) == 1)
        await asyncio.sleep(0.05)
        if how == "cancel":
            task.cancel()
        else:
            result.abort()
        with pytest.raises((asyncio.CancelledError, l0.L0Error)):
            await task
        assert trace.get_current_span() is parent

    session = otel.one("l0.session")
    assert session.attributes is not None and session.attributes["l0.outcome"] == "aborted"
    http = [s for s in otel.spans() if s.kind is SpanKind.CLIENT and not s.name.startswith("chat")]
    [attempt] = otel.named("chat")
    assert [s.parent.span_id for s in http if s.parent] == [attempt.context.span_id]
    assert "Failed to detach context" not in caplog.text


@pytest.mark.parametrize("client_module", ["httpx", "httpx2"])
async def test_one_http_span_per_request_with_every_instrumentation_on(
    otel: OTel, http_spans: list[Any], fault_server: FaultServer, client_module: str
) -> None:
    """httpx and httpx2 instrumented side by side: a request through either client is one
    span, never one from each instrumentation."""
    module = pytest.importorskip(client_module)
    async with module.AsyncClient() as http:
        response = await http.get(f"{fault_server.url}/nowhere")
    assert response.status_code == 404
    [span] = [s for s in otel.spans() if s.kind is SpanKind.CLIENT]
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.httpx"


async def test_litellm_requests_through_aiohttp_are_children_of_attempt_spans(
    otel: OTel, http_spans: list[Any], fault_server: FaultServer
) -> None:
    """LiteLLM's default transport is aiohttp: its instrumentation gives each attempt one
    HTTP span, and the httpx instrumentations add none."""
    pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")
    litellm = pytest.importorskip("litellm")
    # The aiohttp instrumentation traces sessions created after it was turned on; drop
    # the clients (and their sessions) earlier tests left in LiteLLM's cache.
    litellm.in_memory_llm_clients_cache.flush_cache()
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION))

    def factory() -> Any:
        return litellm.acompletion(
            model="openai/gpt-lite",
            api_base=fault_server.url,
            api_key="k",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            max_retries=0,
        )

    result = await l0.run(factory, retry=l0.Retry(base_delay=0.0, max_delay=0.0))
    assert await result.read() == COMPLETION

    attempts = {s.context.span_id for s in otel.named("chat")}
    http = [s for s in otel.spans() if s.kind is SpanKind.CLIENT and not s.name.startswith("chat")]
    assert len(attempts) == 2
    assert len(http) == 2, [(s.name, s.instrumentation_scope) for s in http]
    assert {s.parent.span_id for s in http if s.parent} == attempts
    assert trace.get_current_span() is trace.INVALID_SPAN
