"""Sentry, through the real sentry_sdk and a capturing transport: breadcrumbs for lifecycle
moments; one event, with the original exception, only when a session finally fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai
import pytest
import sentry_sdk
from telemetry_support import COMPLETION, OTel, T, factory, run, session_info, telemetry

import l0
from l0.telemetry import facade
from l0.telemetry import sentry as sentry_module
from l0.telemetry.sentry import SentrySink, sentry_sink_factory
from l0.testing import FaultServer, Reply


def _crumbs(transport: Any) -> list[dict[str, Any]]:
    """Breadcrumbs as an event sent now would carry them."""
    sentry_sdk.capture_message("probe")
    probe = [e for e in transport.events() if e.get("message") == "probe"][-1]
    values: list[dict[str, Any]] = probe.get("breadcrumbs", {}).get("values", [])
    return [c for c in values if str(c.get("category", "")).startswith("l0.")]


def _levels(crumbs: list[dict[str, Any]], category: str) -> list[str]:
    return [c["level"] for c in crumbs if c["category"] == category]


async def test_final_failure_is_captured_once_with_the_original_exception(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(*[Reply(status=503)] * 4)
    result = await run(client)
    with pytest.raises(l0.L0Error):
        await result.read()

    [event] = sentry.errors()
    main = event["exception"]["values"][-1]
    assert main["type"] == "InternalServerError"
    assert main["module"] == "openai"
    tags = event["tags"]
    assert tags["l0.session.id"] == result.session_id
    assert tags["l0.outcome"] == "error"
    assert tags["l0.error.code"] == "ALL_STREAMS_EXHAUSTED"
    assert tags["l0.retry.count"] == 3
    assert tags["l0.fallback.index"] == 0
    session = otel.one("l0.session")
    trace_id = format(session.context.trace_id, "032x")
    assert tags["otel.trace_id"] == trace_id
    assert event["contexts"]["trace"]["trace_id"] == trace_id
    assert event["contexts"]["otel"]["span_id"] == format(session.context.span_id, "016x")

    crumbs = [c for c in event["breadcrumbs"]["values"] if c["category"].startswith("l0.")]
    assert _levels(crumbs, "l0.retry") == ["warning", "warning", "warning", "error"]
    assert _levels(crumbs, "l0.error") == ["warning", "warning", "warning", "error"]
    assert "warning" in _levels(crumbs, "l0.network")
    retry = next(c for c in crumbs if c["category"] == "l0.retry")
    assert retry["data"]["l0.retry.reason"] == "http_503"
    assert retry["data"]["l0.error.category"] == "transient"
    assert "error.category" not in retry["data"]
    assert retry["data"]["l0.session.id"] == result.session_id


async def test_a_recovered_error_is_only_a_breadcrumb(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(status=503), Reply(text=COMPLETION, reset_after=1))
    fault_server.enqueue(Reply(status=401), model="gpt-primary")
    fault_server.enqueue(Reply(text=COMPLETION))
    # Sentry's OpenAIIntegration (on by default) captures every failed create() call; the
    # ones raised inside l0's provider call are dropped, since l0 handles them.
    assert sentry_sdk.get_client().get_integration("openai") is not None
    result = await run(client)
    assert await result.read() == COMPLETION

    assert sentry.errors() == []
    crumbs = _crumbs(sentry)
    assert _levels(crumbs, "l0.retry") == ["warning", "warning", "info"]
    assert _levels(crumbs, "l0.error") == ["warning", "warning"]
    assert _levels(crumbs, "l0.session") == ["info", "info"]
    assert "info" in _levels(crumbs, "l0.network")


async def test_the_applications_own_captures_are_untouched(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION))
    async for event in await run(client):
        if event.is_token:
            sentry_sdk.capture_exception(ValueError("the app's own error"))
    assert len(sentry.errors()) == 4


async def test_fallback_and_timeout_breadcrumbs(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_first=3.0), model="gpt-primary")
    fault_server.enqueue(Reply(status=401), model="gpt-primary")
    fault_server.enqueue(Reply(text=COMPLETION), model="gpt-fallback")
    result = await run(
        client,
        "gpt-primary",
        fallbacks=[
            lambda: client.chat.completions.create(
                model="gpt-fallback", messages=[{"role": "user", "content": "x"}], stream=True
            )
        ],
        timeout=l0.Timeout(initial_token=0.3, inter_token=1.0),
    )
    assert await result.read() == COMPLETION
    assert sentry.errors() == []
    crumbs = _crumbs(sentry)
    assert _levels(crumbs, "l0.timeout") == ["warning"]
    assert _levels(crumbs, "l0.fallback") == ["warning", "info"]


async def test_an_abort_is_not_an_error_event(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, stall_before_first=5.0))
    result = await run(client, timeout=l0.Timeout(initial_token=10.0, inter_token=10.0))
    import asyncio

    asyncio.get_running_loop().call_later(0.2, result.abort)
    with pytest.raises(l0.L0Error):
        await result.read()
    assert sentry.errors() == []
    crumbs = _crumbs(sentry)
    assert _levels(crumbs, "l0.abort") == ["warning", "info"]
    assert _levels(crumbs, "l0.session")[-1] == "warning"


async def test_an_l0_error_without_a_provider_cause_is_captured_itself(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(*[Reply(text=COMPLETION, stall_before_first=3.0)] * 4)
    result = await run(client, timeout=l0.Timeout(initial_token=0.2, inter_token=1.0))
    with pytest.raises(l0.L0Error):
        await result.read()
    [event] = sentry.errors()
    main = event["exception"]["values"][-1]
    # The last attempt's timeout: l0's own error, with no provider exception beneath it.
    assert (main["type"], main["value"]) == ("L0Error", str(result.error.__cause__))
    assert event["tags"]["l0.error.code"] == "ALL_STREAMS_EXHAUSTED"
    assert (
        event["contexts"]["l0.error"]["l0.error.attempt_error_types"]
        == ["INITIAL_TOKEN_TIMEOUT"] * 4
    )


@pytest.mark.parametrize("capture", [False, True])
async def test_the_event_and_the_session_span_record_the_same_error_fields(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI, capture: bool
) -> None:
    facade.settings.capture_content = capture  # the otel fixture restores it
    fault_server.enqueue(Reply(status=503), Reply(status=401))
    context = {"request_id": "req-7", "tenant": "acme"}
    result = await run(client, context=context, meta={"user": "u1"})
    with pytest.raises(l0.L0Error):
        await result.read()
    [event] = sentry.errors()
    recorded = event["contexts"]["l0.error"]
    span = {k: v for k, v in otel.one("l0.session").attributes.items() if k.startswith("l0.error.")}
    assert recorded == {k: list(v) if isinstance(v, tuple) else v for k, v in span.items()}
    error = result.error
    assert recorded["l0.error.code"] == "ALL_STREAMS_EXHAUSTED"
    assert recorded["l0.error.category"] == "fatal"  # the last attempt's: 401
    assert recorded["l0.error.timestamp"] == error.timestamp
    assert recorded["l0.error.attempt_error_types"] == [
        "InternalServerError",
        "AuthenticationError",
    ]
    assert recorded["l0.error.reason"] == "http_401"
    # The caller's context is theirs, like a prompt: only with content capture on.
    assert ("req-7" in str(recorded)) is capture
    assert ("req-7" in str(span)) is capture


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    severity: str


def test_guardrail_breadcrumb_level_follows_severity(sentry: Any) -> None:
    tel = telemetry([SentrySink(sentry_sdk, session_info())])
    for severity in ("warning", "error", "fatal"):
        tel.emit(
            T.GUARDRAIL_RULE_RESULT,
            passed=False,
            violation=Violation("json", "unbalanced braces", severity),
        )
    tel.emit(T.GUARDRAIL_RULE_RESULT, passed=True, violation=None)
    crumbs = _crumbs(sentry)
    assert _levels(crumbs, "l0.guardrail") == ["warning", "warning", "error"]
    assert crumbs[0]["data"]["l0.guardrail.rule"] == "json"


def test_no_sink_without_an_active_client() -> None:
    assert sentry_sink_factory(session_info()) is None


def test_sentry_can_be_turned_off(sentry: Any) -> None:
    assert isinstance(sentry_sink_factory(session_info()), SentrySink)
    sentry_module.set_enabled(False)
    try:
        assert sentry_sink_factory(session_info()) is None
    finally:
        sentry_module.set_enabled(None)


def _failing_provider_call() -> None:
    completion = COMPLETION.upper()  # a local holding output, as stream frames do
    raise ConnectionResetError(f"reset after {len(completion)} characters")


def _final_failure() -> l0.L0Error:
    try:
        _failing_provider_call()
    except ConnectionResetError as exc:
        error = l0.L0Error("NETWORK: reset", l0.ErrorCode.NETWORK_ERROR)
        error.__cause__ = exc
        return error
    raise AssertionError("unreachable")


@pytest.mark.parametrize("capture", [False, True])
def test_local_variables_are_dropped_unless_content_is_captured(sentry: Any, capture: bool) -> None:
    tel = telemetry([SentrySink(sentry_sdk, session_info(), capture_content=capture)])
    tel.emit(T.SESSION_START)
    tel.emit(T.SESSION_END, outcome="error", error=_final_failure())
    [event] = sentry.errors()
    assert event["exception"]["values"][-1]["type"] == "ConnectionResetError"
    assert (COMPLETION.upper() in sentry.raw()) is capture


async def test_race_and_hedge_breadcrumbs(
    otel: OTel, sentry: Any, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    """Every multi-stream event is an `l0.multi` breadcrumb: the start, a hedge (a warning:
    the first token was late), the winner, each cancelled loser, the end. A race or hedge
    that won is no error event, though a stream of it was cancelled."""
    patient = l0.Timeout(initial_token=30.0, inter_token=30.0)
    for _ in range(2):  # the race's slow task, then the hedged run's primary
        fault_server.enqueue(Reply(text=COMPLETION, stall_before_first=30.0), model="gpt-slow")
        fault_server.enqueue(Reply(text=COMPLETION), model="gpt-fast")
    slow, fast = factory(client, "gpt-slow"), factory(client, "gpt-fast")
    raced = await l0.race([slow, fast], timeout=patient)
    # The hedge is the next fallback: its reply does not depend on which request came first.
    hedged = await run(
        client, "gpt-slow", fallbacks=[fast], hedge=l0.Hedge(after=0.05), timeout=patient
    )
    assert await hedged.read() == COMPLETION

    assert sentry.errors() == []
    crumbs = [c for c in _crumbs(sentry) if c["category"] == "l0.multi"]
    assert [(c["message"], c["level"]) for c in crumbs] == [
        ("MULTI_START", "info"),
        ("MULTI_WINNER", "info"),
        ("STREAM_CANCELLED", "info"),
        ("MULTI_END", "info"),
        ("MULTI_START", "info"),
        ("HEDGE_START", "warning"),
        ("MULTI_WINNER", "info"),
        ("STREAM_CANCELLED", "info"),
        ("MULTI_END", "info"),
    ]
    race, hedge = crumbs[:4], crumbs[4:]
    assert race[0]["data"]["l0.multi.kind"] == "race"
    assert race[0]["data"]["l0.multi.task_count"] == 2
    assert hedge[0]["data"]["l0.multi.kind"] == "hedge"
    assert hedge[0]["data"]["l0.hedge.max"] == 1
    assert hedge[1]["data"]["l0.multi.index"] == 1
    assert hedge[1]["data"]["l0.hedge.after_ms"] == 50
    for crumbs_of, reason, winner in (
        (race, "race_loser", raced.result.session_id),
        (hedge, "hedge_loser", hedged.session_id),
    ):
        start, won, cancelled, end = (c["data"] for c in (crumbs_of[0], *crumbs_of[-3:]))
        # Every crumb of the operation carries its id; the winner's and the loser's also
        # name their child session.
        operation = start["l0.session.id"]
        assert won["l0.multi.winner_index"] == 1 and won["l0.multi.child.session_id"] == winner
        assert cancelled["l0.multi.index"] == 0 and cancelled["l0.waste.reason"] == reason
        assert cancelled["l0.tokens.discarded"] == 0
        assert cancelled["l0.multi.child.session_id"] not in (winner, operation)
        assert won["l0.session.id"] == cancelled["l0.session.id"] == operation
        assert end["l0.session.id"] == operation
        assert end["l0.outcome"] == "success" and end["l0.multi.cancelled_count"] == 1
    assert hedge[-1]["data"]["l0.hedge.count"] == 1
