"""End to end over OTLP/HTTP: the real span and metric exporters post protobuf to a local
receiver, which decodes it with the OTLP collector protos."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from telemetry_support import COMPLETION, OTel, run

from l0.telemetry.instrument import instrument
from l0.testing import FaultServer, Reply


class Receiver:
    """A minimal OTLP/HTTP receiver: records the decoded export requests."""

    def __init__(self) -> None:
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                response: Any
                if self.path == "/v1/traces":
                    receiver.traces.append(
                        trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                    )
                    response = trace_service_pb2.ExportTraceServiceResponse()
                elif self.path == "/v1/metrics":
                    request = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
                    receiver.metrics.append(request)
                    response = metrics_service_pb2.ExportMetricsServiceResponse()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = response.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) for every span received."""
        out = []
        for request in self.traces:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    out.extend((resource, span) for span in scope_spans.spans)
        return out

    def metric_names(self, scope: str = "l0") -> set[str]:
        return {
            metric.name
            for request in self.metrics
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            if scope_metrics.scope.name == scope
            for metric in scope_metrics.metrics
        }


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        out[pair.key] = getattr(value, value.WhichOneof("value") or "string_value")
    return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


async def test_spans_and_metrics_reach_an_otlp_receiver(
    otel: OTel,
    receiver: Receiver,
    fault_server: FaultServer,
    client: openai.AsyncOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    handle = instrument(exporter="otlp", httpx=False)
    try:
        fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION))
        assert await (await run(client)).read() == COMPLETION
        assert handle.force_flush()
    finally:
        handle.shutdown()

    spans = {span.name: span for _, span in receiver.spans()}
    assert {"l0.session", "chat gpt-test"} <= set(spans)
    session, attempt = spans["l0.session"], spans["chat gpt-test"]
    assert attempt.parent_span_id == session.span_id
    assert _attributes(session.attributes)["l0.retry.count"] == 1
    assert {"l0.retry"} <= {event.name for event in session.events}
    names = receiver.metric_names()
    assert {
        "gen_ai.client.inference.duration",
        "l0.sessions",
        "l0.retries",
        "l0.sessions.active",
    } <= names


def test_a_fresh_service_exports_over_otlp_by_environment(receiver: Receiver) -> None:
    """A new process: instrument() with only the endpoint variable set, httpx spans on."""
    code = """
        import asyncio, openai, l0
        import l0.telemetry as telemetry
        from l0.testing import FaultServer, Reply

        async def main():
            handle = telemetry.instrument("svc-otlp")
            async with FaultServer() as server:
                server.enqueue(Reply(status=503), Reply(text="hello over otlp"))
                client = openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0)
                result = await l0.run(
                    lambda: client.chat.completions.create(
                        model="gpt-e2e", messages=[{"role": "user", "content": "hi"}],
                        stream=True,
                    ),
                    retry=l0.Retry(base_delay=0.0, max_delay=0.0),
                )
                print(await result.read())
                await client.close()
            handle.shutdown()

        asyncio.run(main())
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello over otlp"

    received = receiver.spans()
    assert {resource["service.name"] for resource, _ in received} == {"svc-otlp"}
    by_id = {span.span_id: span for _, span in received}
    attempts = [span for span in by_id.values() if span.name == "chat gpt-e2e"]
    assert len(attempts) == 2
    http = [span for span in by_id.values() if span.name.startswith("POST")]
    assert len(http) == 2
    assert {span.parent_span_id for span in http} == {span.span_id for span in attempts}
    assert {
        "l0.sessions",
        "l0.retries",
        "gen_ai.client.inference.usage.input_tokens",
    } <= receiver.metric_names()
    # No usage chunk was asked for in this request: the counters count 0, and the cache
    # and reasoning parts (reported only when the provider sends them) are absent.
    assert "gen_ai.client.inference.usage.cache_read.input_tokens" not in receiver.metric_names()
