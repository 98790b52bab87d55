"""The OTel sink fed by hand: each kind of rule, summaries, content capture, defensive ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from telemetry_support import OTel, T, session_info, telemetry

from l0.errors import ErrorCode, L0Error
from l0.telemetry.facade import settings
from l0.telemetry.otel import OTelSink, otel_sink_factory


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    severity: str = "error"
    recoverable: bool = True
    position: int | None = None


def _sink(otel: OTel, **options: Any) -> OTelSink:
    info = options.pop("info", None) or session_info()
    return OTelSink(info, otel.tracer_provider, otel.meter_provider, **options)


def _start(tel: Any, attempt: int = 1) -> None:
    tel.emit(T.SESSION_START, attempts=2, max_retries=3, fallbacks=0)
    tel.emit(T.ATTEMPT_START, attempt=attempt, fallback_index=0, is_retry=False)


def _end(tel: Any, outcome: str = "success", error: Any = None) -> None:
    tel.emit(T.ATTEMPT_END, attempt=1, status="ok", error=None, checkpoints=0, duration=0.01)
    tel.emit(T.SESSION_SUMMARY, outcome=outcome, retry_count=0, fallback_depth=0)
    tel.emit(T.SESSION_END, outcome=outcome, error=error)


def test_violations_and_drift_are_span_events_and_metrics(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.GUARDRAIL_RULE_RESULT, index=0, rule_id="json", passed=True, violation=None)
    tel.emit(
        T.GUARDRAIL_RULE_RESULT,
        index=1,
        rule_id="pii",
        passed=False,
        violation=Violation("pii", "email address found", "fatal", False, 12),
    )
    tel.emit(T.DRIFT_CHECK_RESULT, detected=False, types=[], score=0.1)
    tel.emit(T.DRIFT_CHECK_RESULT, detected=True, types=["repetition", "tone_shift"], score=0.9)
    _end(tel)

    attempt = otel.one("chat")
    names = [e.name for e in attempt.events]
    assert names == ["l0.guardrail.violation", "l0.drift"]
    violation = dict(attempt.events[0].attributes or {})
    assert violation["l0.guardrail.rule"] == "pii"
    assert violation["l0.guardrail.severity"] == "fatal"
    assert violation["l0.guardrail.message"] == "email address found"
    assert violation["l0.guardrail.position"] == 12
    drift = dict(attempt.events[1].attributes or {})
    assert drift["l0.drift.types"] == ("repetition", "tone_shift")
    assert attempt.attributes["l0.guardrail.passes"] == 1
    assert attempt.attributes["l0.drift.passes"] == 1

    assert otel.total("l0.guardrail.violations", **{"l0.guardrail.rule": "pii"}) == 1
    assert otel.total("l0.drift.detections", **{"l0.drift.type": "repetition"}) == 1
    assert otel.total("l0.drift.detections", **{"l0.drift.type": "tone_shift"}) == 1


def test_high_frequency_moments_are_counted_by_default(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    for i in range(5):
        tel.emit(T.TIMEOUT_RESET, timeout_type="inter", configured_ms=300, token_index=i)
        tel.emit(T.CHECKPOINT_SAVED, checkpoint_length=10 * i, token_count=i)
    tel.emit(T.GUARDRAIL_PHASE_START, phase="stream", rule_count=2)
    tel.emit(T.DRIFT_CHECK_START, token_count=5)
    tel.emit(T.ATTEMPT_END, attempt=1, status="ok", error=None, checkpoints=5, duration=0.01)
    tel.emit(T.SESSION_SUMMARY, outcome="success", checkpoints_created=5)
    tel.emit(T.SESSION_END, outcome="success", error=None)

    attempt = otel.one("chat")
    assert attempt.events == ()
    assert attempt.attributes["l0.timeout.resets"] == 5
    assert attempt.attributes["l0.checkpoints"] == 5
    assert attempt.attributes["l0.guardrail.phases"] == 1
    assert attempt.attributes["l0.drift.checks"] == 1
    assert otel.total("l0.checkpoints") == 5  # from the summary, not per event


def test_events_all_records_each_moment(otel: OTel) -> None:
    settings.events = "all"
    tel = telemetry([_sink(otel)])
    _start(tel)
    for i in range(3):
        tel.emit(T.TIMEOUT_RESET, timeout_type="inter", configured_ms=300, token_index=i)
    tel.emit(T.CHECKPOINT_SAVED, checkpoint_length=10, token_count=3)
    tel.emit(T.GUARDRAIL_RULE_RESULT, index=0, rule_id="json", passed=True, violation=None)
    _end(tel)

    attempt = otel.one("chat")
    names = [e.name for e in attempt.events]
    assert names == [
        "l0.timeout.reset",
        "l0.timeout.reset",
        "l0.timeout.reset",
        "l0.checkpoint",
        "l0.guardrail.violation",
    ]
    assert "l0.timeout.resets" not in (attempt.attributes or {})


def test_open_spans_end_at_session_end(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.RESUME_START, checkpoint_length=40, token_count=8, reason="retry")
    tel.emit(T.TOOL_START, tool_name="search", tool_call_id="call_1")
    tel.emit(T.SESSION_END, outcome="aborted", error=None)

    names = sorted(s.name for s in otel.spans())
    assert names == ["chat", "execute_tool search", "l0.resume", "l0.session"]
    assert otel.tracker.open_spans() == []


def test_attributes_reach_their_span_however_it_ends(otel: OTel) -> None:
    # The sink sets a span's attributes when it ends: every ending path must set them.
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.TIMEOUT_START, timeout_type="initial", configured_ms=300)
    tel.emit(T.ATTEMPT_START, attempt=2, fallback_index=0, is_retry=True)  # ends attempt 1
    tel.emit(T.TIMEOUT_START, timeout_type="inter", configured_ms=500)
    tel.emit(T.TIMEOUT_RESET, timeout_type="inter", configured_ms=500, token_index=0)
    tel.emit(T.TOOL_REQUESTED, tool_name="search", tool_call_id="call_1", arguments_length=2)
    tel.emit(T.TOOL_START, tool_name="search", tool_call_id="call_1")
    tel.emit(T.COMPLETE, token_count=3, content_length=12)
    tel.emit(T.SESSION_END, outcome="aborted", error=None)  # ends attempt 2 and the tool

    first, second = sorted(otel.named("chat"), key=lambda s: (s.attributes or {})["l0.attempt"])
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["l0.timeout.initial_ms"] == 300
    assert second.attributes["l0.timeout.inter_ms"] == 500
    assert second.attributes["l0.timeout.resets"] == 1
    tool = otel.one("execute_tool search")
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.call.id"] == "call_1"
    assert tool.attributes["l0.tool.arguments_length"] == 2
    session = otel.one("l0.session")
    assert session.attributes is not None
    assert session.attributes["l0.token.count"] == 3
    assert session.attributes["l0.outcome"] == "aborted"


def test_session_error_sets_status_and_error_type(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    error = L0Error("all gone", ErrorCode.NETWORK_ERROR)
    tel.emit(T.ATTEMPT_END, attempt=1, status="error", error=error, error_type="NETWORK_ERROR")
    tel.emit(T.SESSION_END, outcome="error", error=error)

    session = otel.one("l0.session")
    assert session.status.status_code is StatusCode.ERROR
    assert session.attributes["error.type"] == "NETWORK_ERROR"
    attempt = otel.one("chat")
    assert attempt.status.status_code is StatusCode.ERROR
    assert [e.name for e in attempt.events] == ["exception"]


def test_abort_is_recorded_but_not_an_error(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.ABORT_REQUESTED, source="user")
    aborted = L0Error("the stream was aborted", ErrorCode.STREAM_ABORTED)
    tel.emit(T.ATTEMPT_END, attempt=1, status="error", error=aborted, error_type="STREAM_ABORTED")
    tel.emit(T.ABORT_COMPLETED, resources_freed=True, token_count=0, content_length=0)
    tel.emit(T.SESSION_END, outcome="aborted", error=aborted)

    attempt = otel.one("chat")
    assert attempt.status.status_code is StatusCode.UNSET
    assert attempt.attributes["error.type"] == "STREAM_ABORTED"
    session = otel.one("l0.session")
    assert session.status.status_code is StatusCode.UNSET
    assert [e.name for e in session.events] == ["l0.abort.requested", "l0.abort"]
    assert otel.total("l0.sessions", **{"l0.outcome": "aborted"}) == 1


def test_tool_calls_get_spans_and_arguments_only_with_capture(otel: OTel) -> None:
    arguments = {"city": "PLANTEDARGUMENT"}
    for capture in (False, True):
        otel.exporter.clear()
        tel = telemetry([_sink(otel, capture_content=capture)])
        _start(tel)
        tel.emit(T.ATTEMPT_END, attempt=1, status="ok", error=None, duration=0.01)
        tel.emit(
            T.TOOL_REQUESTED,
            tool_name="weather",
            tool_call_id="call_7",
            arguments=arguments,
            arguments_length=27,
            parse_error=None,
        )
        tel.emit(T.TOOL_RESULT, tool_call_id="call_7", result={"temp": "PLANTEDRESULT"})
        tel.emit(T.SESSION_END, outcome="success", error=None)

        tool = otel.one("execute_tool weather")
        session = otel.one("l0.session")
        assert tool.kind is SpanKind.INTERNAL
        assert tool.parent is not None and tool.parent.span_id == session.context.span_id
        assert tool.attributes["gen_ai.tool.name"] == "weather"
        assert tool.attributes["gen_ai.tool.call.id"] == "call_7"
        assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
        assert [e.name for e in session.events] == ["l0.tool_call"]
        dumped = orjson.dumps([dict(s.attributes or {}) for s in otel.spans()]).decode()
        assert ("PLANTEDARGUMENT" in dumped) is capture
        assert ("PLANTEDRESULT" in dumped) is capture
        if capture:
            assert orjson.loads(tool.attributes["gen_ai.tool.call.arguments"]) == arguments


def test_tool_error_ends_the_tool_span_with_error(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.TOOL_START, tool_name="search", tool_call_id="call_2")
    tel.emit(T.TOOL_ERROR, tool_call_id="call_2", error=TimeoutError("slow"), duration_ms=5)
    _end(tel)
    tool = otel.one("execute_tool search")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "TimeoutError"


def test_resume_span_and_counter(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.ATTEMPT_END, attempt=1, status="error", error=None, duration=0.01)
    tel.emit(T.RESUME_START, checkpoint_length=40, token_count=8, reason="retry")
    tel.emit(T.ATTEMPT_START, attempt=2, fallback_index=0, is_retry=True)
    tel.emit(T.RESUME_END, checkpoint_length=40, duration_ms=3, success=True, overlap_removed=2)
    _end(tel)
    resume = otel.one("l0.resume")
    assert resume.attributes["l0.checkpoint.length"] == 40
    assert resume.attributes["l0.resume.overlap_removed"] == 2
    assert [e.name for e in otel.one("l0.session").events] == ["l0.resume"]
    assert otel.total("l0.resumes") == 1


def test_attributes_reported_before_the_session_starts_are_kept(otel: OTel) -> None:
    tel = telemetry([_sink(otel, info=session_info(meta={"conversation_id": "conv-9"}))])
    tel.emit(T.DRIFT_CHECK_SKIPPED, reason="drift detection is off")
    _start(tel)
    _end(tel)
    session = otel.one("l0.session")
    assert session.attributes["l0.drift.skipped_reason"] == "drift detection is off"
    assert session.attributes["gen_ai.conversation.id"] == "conv-9"
    assert session.attributes["l0.session.id"] == "s1"


def test_session_span_is_a_child_of_the_callers_span(otel: OTel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as parent:
        tel = telemetry([_sink(otel)])
        _start(tel)
        assert trace.get_current_span() is parent
        _end(tel)
    session = otel.one("l0.session")
    assert session.parent is not None
    assert session.parent.span_id == parent.get_span_context().span_id
    attempt = otel.one("chat")
    assert attempt.parent is not None and attempt.parent.span_id == session.context.span_id


def test_the_factory_skips_sessions_when_nothing_is_configured(monkeypatch: Any) -> None:
    from opentelemetry import metrics
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: NoOpTracerProvider())
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: NoOpMeterProvider())
    assert otel_sink_factory(session_info()) is None


def test_a_broken_payload_never_breaks_the_stream(otel: OTel) -> None:
    tel = telemetry([_sink(otel)])
    _start(tel)
    tel.emit(T.ATTEMPT_END, attempt=object(), usage="garbage", duration="x", error=None)
    tel.emit(T.SESSION_END, outcome="success", error=None)
    assert {s.name for s in otel.spans()} == {"chat", "l0.session"}
