"""No prompt, completion, tool arguments or API key in spans, metrics or Sentry payloads,
unless content capture is on. Real openai client (with a planted key), real httpx
instrumentation, real sentry_sdk with its default integrations and local variables on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from telemetry_support import COMPLETION, PROMPT, SECRET, OTel, run

import l0
from l0.telemetry.facade import settings
from l0.testing import FaultServer, Reply

TOOL_ARGUMENT = "PLANTEDTOOLARGUMENT"
PLANTED = (SECRET, "PLANTEDPROMPT", "PLANTEDCOMPLETION", TOOL_ARGUMENT)


@pytest.fixture
def httpx_spans(otel: OTel) -> Iterator[None]:
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    yield
    instrumentor.uninstrument()


def _dump_spans(spans: list[ReadableSpan]) -> str:
    """Everything a span exporter would send, as text."""
    return "\n".join(span.to_json() for span in spans)


def _everything(otel: OTel, sentry: Any) -> str:
    metrics = json.dumps(otel.metric_attributes(), default=str)
    return "\n".join((_dump_spans(otel.spans()), metrics, sentry.raw()))


async def _sessions(fault_server: FaultServer, client: openai.AsyncOpenAI) -> None:
    """A recovered session with a tool call, and a session that finally fails mid-stream."""
    tool_call = ("lookup", json.dumps({"query": TOOL_ARGUMENT}))
    fault_server.enqueue(
        Reply(text=COMPLETION, reset_after=2),
        Reply(text=COMPLETION, tool_calls=[tool_call], usage=True),
    )
    result = await run(client)
    assert await result.read() == COMPLETION
    assert result.state.tool_calls

    fault_server.enqueue(*[Reply(text=COMPLETION, reset_after=3)] * 4)
    failing = await run(client)
    with pytest.raises(l0.L0Error):
        await failing.read()


async def test_nothing_planted_leaks_by_default(
    otel: OTel,
    httpx_spans: None,
    sentry: Any,
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
) -> None:
    await _sessions(fault_server, client)

    assert len(sentry.errors()) == 1  # the final failure was captured ...
    assert fault_server.requests[-1].body["messages"][0]["content"] == PROMPT  # ... and sent
    assert otel.named("execute_tool lookup")
    dumped = _everything(otel, sentry)
    for planted in PLANTED:
        assert planted not in dumped, planted


async def test_capture_content_opts_in(
    otel: OTel,
    sentry: Any,
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
) -> None:
    settings.capture_content = True
    await _sessions(fault_server, client)

    spans = _dump_spans(otel.spans())
    assert TOOL_ARGUMENT in spans
    assert "PLANTEDCOMPLETION" in spans  # gen_ai.output.messages on the successful attempt
    assert SECRET not in _everything(otel, sentry)
