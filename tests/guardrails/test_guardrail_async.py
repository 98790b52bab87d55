"""Fast (sync) and slow (deferred) guardrail check paths."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import Any

from l0.events import ObservabilityEvent, ObservabilityEventType
from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailResult,
    json_rule,
    run_async_guardrail_check,
    run_guardrail_check_async,
)
from l0.telemetry.facade import Telemetry

T = ObservabilityEventType
BIG = "[" + " " * 2000


def lazy(delta: str) -> GuardrailContext:
    """A context whose content is not built yet (as the runtime passes it)."""
    return GuardrailContext(lambda: delta, False, delta)


class Sink:
    def __init__(self) -> None:
        self.events: list[ObservabilityEvent] = []

    def handle(self, event: ObservabilityEvent) -> None:
        self.events.append(event)


def engine_with_sink() -> tuple[GuardrailEngine, Sink]:
    sink = Sink()
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    return GuardrailEngine([json_rule()], Telemetry("s", empty, empty, [sink], False)), sink


def test_small_delta_takes_the_fast_path() -> None:
    engine = GuardrailEngine([json_rule()])
    results: list[GuardrailResult] = []
    result = run_async_guardrail_check(engine, GuardrailContext("", False, "[}"), results.append)
    assert result is not None and result.should_retry and results == []


def test_big_delta_without_a_loop_runs_synchronously() -> None:
    engine = GuardrailEngine([json_rule()])
    result = run_async_guardrail_check(engine, lazy(BIG), lambda r: None)
    assert result is not None and result.passed


def test_small_built_content_takes_the_fast_path_even_with_a_big_delta() -> None:
    async def main() -> GuardrailResult | None:
        engine = GuardrailEngine([json_rule()])
        return run_async_guardrail_check(engine, GuardrailContext(BIG, False, BIG), print)

    assert asyncio.run(main()) is not None


async def test_big_delta_is_deferred_and_delivered_in_order() -> None:
    engine, sink = engine_with_sink()
    results: list[GuardrailResult] = []
    assert run_async_guardrail_check(engine, lazy(BIG), results.append) is None
    assert results == []
    # A later check first runs the deferred one: checkers see deltas in stream order.
    later = engine.check(GuardrailContext("", False, "}"))
    assert len(results) == 1 and results[0].passed
    assert [v.message for v in later.violations] == ["Mismatched '}': expected ']'"]
    kinds = [e.type for e in sink.events]
    assert kinds[:2] == [T.GUARDRAIL_CALLBACK_START, T.GUARDRAIL_CALLBACK_END]
    end = sink.events[1].data
    assert end["success"] is True and end["error"] is None and end["duration_ms"] >= 0
    assert end["callback_id"] == sink.events[0].data["callback_id"]


async def test_deferred_check_runs_on_the_next_loop_iteration() -> None:
    engine = GuardrailEngine([json_rule()])
    results: list[GuardrailResult] = []
    run_async_guardrail_check(engine, lazy(BIG + "}"), results.append)
    await asyncio.sleep(0)
    assert len(results) == 1 and results[0].should_retry


async def test_callback_that_raises_is_reported() -> None:
    engine, sink = engine_with_sink()

    def callback(result: GuardrailResult) -> None:
        raise RuntimeError("callback bug")

    run_async_guardrail_check(engine, lazy(BIG), callback)
    await asyncio.sleep(0)
    end = sink.events[-1].data
    assert end["success"] is False and end["error"] == "RuntimeError: callback bug"


async def test_run_guardrail_check_async_always_defers() -> None:
    engine, sink = engine_with_sink()
    result = await run_guardrail_check_async(engine, GuardrailContext("", False, "[}"))
    assert result.should_retry
    assert sink.events[0].type is T.GUARDRAIL_CALLBACK_START


async def test_reset_delivers_pending_checks_first() -> None:
    engine = GuardrailEngine([json_rule()])
    results: list[GuardrailResult] = []
    run_async_guardrail_check(engine, lazy(BIG + "}"), results.append)
    engine.reset()
    assert len(results) == 1 and results[0].should_retry
    assert engine.check(GuardrailContext("", False, "{}")).passed
