"""Guardrails, drift, continuation and detailed events, end to end through the real client."""

from __future__ import annotations

from typing import Any

import openai
from opentelemetry.sdk.trace import ReadableSpan
from telemetry_support import COMPLETION, OTel, run

from l0.guardrails import GuardrailContext, GuardrailRule, GuardrailViolation
from l0.telemetry.facade import settings
from l0.testing import FaultServer, Reply


def _attempts(otel: OTel) -> list[ReadableSpan]:
    return sorted(otel.named("chat"), key=lambda s: s.start_time or 0)


def _forbidden(ctx: GuardrailContext) -> list[GuardrailViolation]:
    if "FORBIDDEN" in ctx.content:
        return [GuardrailViolation("no_forbidden", "a forbidden word", "error")]
    return []


async def test_a_guardrail_violation_is_an_event_and_a_metric(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text="this has a FORBIDDEN word"), Reply(text=COMPLETION))
    rule = GuardrailRule("no_forbidden", check=_forbidden)
    result = await run(client, guardrails=[rule])
    assert await result.read() == COMPLETION

    failed, passed = _attempts(otel)
    [violation] = [dict(e.attributes or {}) for e in failed.events if e.name.endswith("violation")]
    assert violation["l0.guardrail.rule"] == "no_forbidden"
    assert violation["l0.guardrail.severity"] == "error"
    assert failed.attributes["error.type"] == "GUARDRAIL_VIOLATION"
    assert not [e for e in passed.events if e.name == "l0.guardrail.violation"]
    counted = {"l0.guardrail.rule": "no_forbidden", "l0.guardrail.severity": "error"}
    assert otel.total("l0.guardrail.violations", **counted) == 1
    assert otel.total("l0.retries", **{"l0.error.category": "content"}) == 1


async def test_drift_detection_is_an_event_and_a_metric(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(
        Reply.loop("the same sentence again and again. ", 40), Reply(text=COMPLETION)
    )
    result = await run(client, drift=True)
    assert await result.read() == COMPLETION

    drifted = _attempts(otel)[0]
    [drift] = [dict(e.attributes or {}) for e in drifted.events if e.name == "l0.drift"]
    types = drift["l0.drift.types"]
    assert types
    assert otel.total("l0.drift.detections", **{"l0.drift.type": types[0]}) >= 1


async def test_continuation_records_a_resume_span_and_checkpoints(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    text = "one two three four five six seven eight nine ten"
    fault_server.enqueue(Reply(text=text, reset_after=6), Reply(text=" seven eight nine ten"))
    result = await run(
        client, continue_from_last_good_token=True, check_intervals={"checkpoint": 2}
    )
    assert await result.read() == text

    resume = otel.one("l0.resume")
    session = otel.one("l0.session")
    assert resume.parent is not None and resume.parent.span_id == session.context.span_id
    assert resume.attributes["l0.checkpoint.length"] > 0
    assert resume.attributes["l0.resume.success"] is True
    assert "l0.resume" in [e.name for e in session.events]
    assert session.attributes["l0.checkpoints"] >= 3
    assert _attempts(otel)[0].attributes["l0.checkpoints"] == 3
    assert otel.total("l0.resumes") == 1
    assert otel.total("l0.checkpoints") == session.attributes["l0.checkpoints"]


async def test_detailed_sessions_are_summarised_by_default(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    """An `on_event` handler makes the session report per-token moments; OTel counts them."""
    fault_server.enqueue(Reply(text=COMPLETION))
    seen: list[Any] = []
    result = await run(client, on_event=seen.append)
    assert await result.read() == COMPLETION

    [attempt] = _attempts(otel)
    assert attempt.attributes["l0.timeout.resets"] == 4
    assert not [e for e in attempt.events if e.name == "l0.timeout.reset"]


async def test_events_all_records_each_moment(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    settings.events = "all"
    fault_server.enqueue(Reply(text=COMPLETION))
    result = await run(client)
    assert await result.read() == COMPLETION

    [attempt] = _attempts(otel)
    names = [e.name for e in attempt.events]
    assert names.count("l0.timeout.reset") == 4
    assert "l0.stream.init" in names
    assert "l0.finalization.start" in [e.name for e in otel.one("l0.session").events]
