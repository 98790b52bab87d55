"""The GenAI semantic conventions (v0.1.0) on l0's spans and metrics, end to end.

Real openai client against the fault server, real OTel SDK (in-memory exporter and
reader): request parameters read from the request the SDK sent, cached and reasoning
usage from OpenAI's details blocks, l0's own attributes under `l0.`, the schema URL.
"""

from __future__ import annotations

from typing import Any

import openai
from telemetry_support import COMPLETION, OTel, run

import l0
from l0.adapters.openai import REQUEST_PARAMS
from l0.telemetry import metric_names as m
from l0.telemetry.facade import settings
from l0.telemetry.mapping import request_attributes
from l0.testing import FaultServer, Reply

LONG_PROMPT = [{"role": "user", "content": "word " * 1300}]
"""Past OpenAI's 1,024-token prompt-cache threshold: the fault server reports cached input."""

PARAMETERS: dict[str, Any] = {
    "temperature": 0.2,
    "top_p": 0.9,
    "frequency_penalty": 0.1,
    "presence_penalty": 0.3,
    "max_completion_tokens": 64,
    "stop": ["END"],
    "seed": 7,
    "n": 1,
    "reasoning_effort": "low",
    "response_format": {"type": "json_object"},
}
EXPECTED = {
    "gen_ai.request.temperature": 0.2,
    "gen_ai.request.top_p": 0.9,
    "gen_ai.request.frequency_penalty": 0.1,
    "gen_ai.request.presence_penalty": 0.3,
    "gen_ai.request.max_tokens": 64,
    "gen_ai.request.stop_sequences": ("END",),
    "gen_ai.request.seed": 7,
    "gen_ai.request.reasoning.level": "low",
    "gen_ai.output.type": "json",
}


def _stream(client: openai.AsyncOpenAI, messages: Any = LONG_PROMPT, **params: Any) -> Any:
    return lambda: client.chat.completions.create(
        model="gpt-test",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        **params,
    )


def _retry() -> l0.Retry:
    return l0.Retry(attempts=2, max_retries=3, base_delay=0.0, max_delay=0.0)


async def test_the_chat_span_has_the_request_parameters_and_usage_details(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION))
    result = await l0.run(_stream(client, **PARAMETERS), retry=_retry())
    assert await result.read() == COMPLETION

    [attempt] = otel.named("chat")
    a = attempt.attributes
    assert {key: a.get(key) for key in EXPECTED} == EXPECTED
    assert "gen_ai.request.choice.count" not in a  # n=1 is the default: not reported
    assert a["gen_ai.request.stream"] is True
    input_tokens = a["gen_ai.usage.input_tokens"]
    assert input_tokens >= 1300
    # OpenAI's prompt cache: whole 128-token blocks past the first 1,024.
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1024 + (input_tokens - 1024) // 128 * 128
    assert a["gen_ai.usage.reasoning.output_tokens"] == 0
    assert a["gen_ai.response.finish_reasons"] == ("stop",)

    usage = {"gen_ai.request.model": "gpt-test", "gen_ai.token.modality": "unknown"}
    assert otel.total(m.INPUT_TOKENS.name, **usage) == input_tokens
    assert (
        otel.total(m.CACHE_READ_INPUT_TOKENS.name, **usage)
        == (a["gen_ai.usage.cache_read.input_tokens"])
    )
    assert otel.total(m.REASONING_OUTPUT_TOKENS.name, **usage) == 0
    assert [p.sum for p in otel.points(m.OPERATION_INPUT_TOKENS.name)] == [input_tokens]
    for attributes in otel.metric_attributes():
        assert not any(key.startswith("gen_ai.request.t") for key in attributes)


async def test_an_attempt_that_failed_before_its_stream_has_its_request_and_an_error_reason(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION))
    result = await l0.run(_stream(client, **{**PARAMETERS, "n": 3}), retry=_retry())
    assert await result.read() == COMPLETION

    failed, retried = otel.named("chat")
    for span in (failed, retried):
        assert {key: span.attributes.get(key) for key in EXPECTED} == EXPECTED
        assert span.attributes["gen_ai.request.choice.count"] == 3
    assert failed.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert failed.attributes["l0.error.category"] == "transient"
    assert "error.category" not in failed.attributes
    # Usage counted for the failed operation too: 0, as the conventions ask.
    failed_usage = {"error.type": "InternalServerError"}
    [point] = [
        p
        for p in otel.points(m.OPERATION_INPUT_TOKENS.name)
        if p.attributes.get("error.type") == failed_usage["error.type"]
    ]
    assert point.sum == 0
    retry = next(e for e in otel.one("l0.session").events if e.name == "l0.retry")
    assert retry.attributes["l0.error.category"] == "transient"
    assert otel.total("l0.retries", **{"l0.error.category": "transient"}) == 1


async def test_schema_url_on_the_tracer_and_the_meter(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION))
    await (await run(client)).read()

    spans = [s for s in otel.spans() if s.instrumentation_scope and s.name != "request"]
    l0_spans = [s for s in spans if s.instrumentation_scope.name == "l0"]
    assert l0_spans
    assert {s.instrumentation_scope.schema_url for s in l0_spans} == {m.SCHEMA_URL}
    data = otel.reader.get_metrics_data()
    scopes = [
        scope.scope
        for resource_metrics in data.resource_metrics
        for scope in resource_metrics.scope_metrics
        if scope.scope.name == "l0"
    ]
    assert scopes and {scope.schema_url for scope in scopes} == {m.SCHEMA_URL}


async def test_time_per_output_chunk_is_recorded_with_all_events(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    chunks = ["one ", "two ", "three ", "four"]
    settings.events = "lifecycle"
    fault_server.enqueue(Reply(chunks=chunks))
    await (await run(client)).read()
    assert otel.points(m.TIME_PER_OUTPUT_CHUNK.name) == []

    settings.events = "all"
    fault_server.enqueue(Reply(chunks=chunks))
    result = await run(client)
    await result.read()
    [point] = otel.points(m.TIME_PER_OUTPUT_CHUNK.name)
    assert point.count == result.state.token_count - 1  # every chunk after the first
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "server.address": "127.0.0.1",
        "server.port": fault_server.port,
    }


def test_every_request_parameter_an_adapter_reports_becomes_an_attribute() -> None:
    samples: dict[str, Any] = {
        "temperature": 1,
        "top_p": 1.0,
        "frequency_penalty": 0,
        "presence_penalty": 0,
        "max_tokens": 10,
        "max_completion_tokens": 10,
        "stop": "x",
        "seed": 1,
        "n": 2,
        "reasoning_effort": "high",
        "response_format": {"type": "text"},
        "service_tier": "flex",
    }
    assert set(samples) == set(REQUEST_PARAMS)
    for key, value in samples.items():
        assert request_attributes({key: value}), key
    assert request_attributes({"messages": [{"role": "user", "content": "secret"}]}) == {}
    assert request_attributes({"temperature": 1})["gen_ai.request.temperature"] == 1.0
