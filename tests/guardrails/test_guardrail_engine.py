"""GuardrailEngine: dedup, isolation, severities, attempts, validation, telemetry, linearity."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from l0.events import ObservabilityEvent, ObservabilityEventType
from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailResult,
    GuardrailRule,
    Guardrails,
    GuardrailViolation,
    Severity,
    create_guardrail_engine,
    json_rule,
    markdown_rule,
    pattern_rule,
    strict_json_rule,
    zero_output_rule,
)
from l0.guardrails.types import PASSED
from l0.telemetry.facade import Telemetry

T = ObservabilityEventType


class Sink:
    def __init__(self) -> None:
        self.events: list[ObservabilityEvent] = []

    def handle(self, event: ObservabilityEvent) -> None:
        self.events.append(event)

    def types(self) -> list[ObservabilityEventType]:
        return [e.type for e in self.events]

    def of(self, kind: ObservabilityEventType) -> list[ObservabilityEvent]:
        return [e for e in self.events if e.type is kind]


def telemetry(detailed: bool = False) -> tuple[Telemetry, Sink]:
    sink = Sink()
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    return Telemetry("session", empty, empty, [sink], detailed), sink


def ctx(delta: str, completed: bool = False) -> GuardrailContext:
    return GuardrailContext("", completed, delta)


def constant_rule(
    name: str, severity: Severity = "error", recoverable: bool = True, streaming: bool = True
) -> GuardrailRule:
    """A stateless custom rule that always finds the same problem."""

    def check(state: GuardrailContext) -> list[GuardrailViolation]:
        return [GuardrailViolation(name, f"{name} problem", severity, recoverable)]

    return GuardrailRule(name=name, check=check, streaming=streaming, severity=severity)


def raising_rule(incremental: bool) -> GuardrailRule:
    def check(state: GuardrailContext) -> list[GuardrailViolation]:
        raise RuntimeError("rule bug")

    return GuardrailRule(
        name="buggy", check=check, incremental=(lambda: check) if incremental else None
    )


def test_each_distinct_violation_is_reported_once_per_attempt() -> None:
    tel, sink = telemetry()
    engine = GuardrailEngine([constant_rule("always")], tel)
    first = engine.check(ctx("a"))
    assert [v.message for v in first.violations] == ["always problem"]
    for _ in range(5):
        assert engine.check(ctx("b")).violations == []
    assert len(sink.of(T.GUARDRAIL_RULE_RESULT)) == 1
    assert len(engine.violations) == 1
    engine.reset()
    assert len(engine.check(ctx("c")).violations) == 1
    assert len(sink.of(T.GUARDRAIL_RULE_RESULT)) == 2


@pytest.mark.parametrize("incremental", [False, True])
def test_a_rule_that_raises_is_isolated_and_reported_not_retried(incremental: bool) -> None:
    tel, sink = telemetry()
    engine = GuardrailEngine([raising_rule(incremental), json_rule()], tel)
    result = engine.check(ctx("[}"))
    assert result.should_retry and [v.rule for v in result.violations] == ["json"]
    assert engine.check(ctx("more")).violations == []
    errors = [e for e in sink.of(T.GUARDRAIL_RULE_RESULT) if e.data.get("error")]
    assert len(errors) == 1
    assert errors[0].data["rule_id"] == "buggy"
    assert errors[0].data["error"] == "RuntimeError: rule bug"
    assert errors[0].data["passed"] is True and errors[0].data["violation"] is None


def test_only_a_raising_rule_yields_a_passing_result() -> None:
    engine = GuardrailEngine([raising_rule(True)])
    result = engine.check(ctx("x"))
    assert result == GuardrailResult(True, [], False, False)


def test_a_failing_incremental_checker_is_dropped_until_reset() -> None:
    calls = []

    def factory() -> Any:
        def checker(state: GuardrailContext) -> list[GuardrailViolation]:
            calls.append(state.delta)
            raise ValueError("bad state")

        return checker

    rule = GuardrailRule("flaky", check=lambda s: [], incremental=factory)
    engine = GuardrailEngine([rule])
    engine.check(ctx("a"))
    engine.check(ctx("b"))
    assert calls == ["a"]
    engine.reset()
    engine.check(ctx("c"))
    assert calls == ["a", "c"]


@pytest.mark.parametrize(
    ("severity", "recoverable", "passed", "halt", "retry"),
    [
        ("warning", True, True, False, False),
        ("error", True, False, False, True),
        ("error", False, False, True, False),
        ("fatal", True, False, True, False),
    ],
)
def test_severity_semantics(
    severity: Severity, recoverable: bool, passed: bool, halt: bool, retry: bool
) -> None:
    engine = GuardrailEngine([constant_rule("r", severity, recoverable)])
    result = engine.check(ctx("x"))
    assert (result.passed, result.should_halt, result.should_retry) == (passed, halt, retry)
    assert len(result.violations) == 1 and engine.violations == result.violations


def test_fatal_halts_even_with_a_recoverable_error_beside_it() -> None:
    engine = GuardrailEngine([constant_rule("e", "error"), constant_rule("f", "fatal")])
    result = engine.check(ctx("x"))
    assert result.should_halt and not result.should_retry


def test_completion_only_rules_run_once_at_completion() -> None:
    engine = GuardrailEngine([constant_rule("post", streaming=False)])
    assert engine.check(ctx("x")).violations == []
    result = engine.check_complete(ctx("", completed=False))  # completed is forced
    assert [v.rule for v in result.violations] == ["post"]


def test_check_complete_marks_the_context_completed() -> None:
    seen: list[bool] = []

    def spy(state: GuardrailContext) -> list[GuardrailViolation]:
        seen.append(state.completed)
        return []

    rule = GuardrailRule("spy", check=spy)
    GuardrailEngine([rule]).check_complete(GuardrailContext("abc", False, "abc"))
    assert seen == [True]


def test_custom_rule_reading_content_like_state() -> None:
    def max_length(state: GuardrailContext) -> list[GuardrailViolation]:
        if len(state.content) > 10:
            return [GuardrailViolation("max_length", "Output exceeds 10 chars")]
        return []

    engine = create_guardrail_engine([GuardrailRule("max_length", check=max_length)])
    assert engine.check(GuardrailContext("short", False, "short")).passed
    assert engine.check(GuardrailContext(lambda: "x" * 11, False, "x" * 6)).should_retry


def test_reset_with_prefix_continues_from_the_checkpoint() -> None:
    engine = GuardrailEngine([json_rule()])
    engine.reset('{"items": [1, ')
    assert engine.check(ctx("2]}")).violations == []
    assert engine.check_complete(ctx("", True)).violations == []

    engine.reset()
    assert [v.message for v in engine.check(ctx("[2]}")).violations] == [
        "Unexpected '}': nothing to close"
    ]


def test_violations_inside_the_prefix_are_not_reported_again() -> None:
    tel, sink = telemetry()
    engine = GuardrailEngine([pattern_rule()], tel)
    engine.reset("As an AI, I think ")
    assert engine.check(ctx("that is fine. As an AI again.")).violations == []
    assert sink.events == []


def test_violation_positions_continue_after_the_prefix() -> None:
    engine = GuardrailEngine([json_rule()])
    engine.reset("[1, 2")
    (violation,) = engine.check(ctx("}")).violations
    assert violation.position == 5


def test_validate_checks_a_checkpoint_without_touching_the_engine() -> None:
    tel, sink = telemetry()
    engine = GuardrailEngine([json_rule(), pattern_rule(), strict_json_rule()], tel)
    engine.check(ctx('{"a": ['))
    bad = engine.validate('{"a": [1}')
    assert bad.should_retry and [v.rule for v in bad.violations] == ["json"]
    assert engine.validate('{"a": [1, ').passed  # partial output: open structure is fine
    assert engine.validate("As an AI, [").violations[0].rule == "pattern"
    assert sink.events == []
    assert engine.check(ctx("1]}")).violations == []  # the engine's own state is intact


def test_validate_reports_halting_violations() -> None:
    engine = GuardrailEngine([json_rule(severity="fatal")])
    assert engine.validate("[}").should_halt


def test_rules_must_be_guardrail_rules() -> None:
    with pytest.raises(TypeError, match=r"rules\[1\]"):
        GuardrailEngine([json_rule(), "json"])  # type: ignore[list-item]


def test_quiet_telemetry_reports_violations_and_the_completion_phase() -> None:
    tel, sink = telemetry(detailed=False)
    engine = GuardrailEngine([json_rule(), zero_output_rule()], tel)
    engine.check(ctx("{"))
    assert sink.events == []
    engine.check(ctx("]"))
    (result,) = sink.events
    assert result.type is T.GUARDRAIL_RULE_RESULT
    assert result.data["rule_id"] == "json" and result.data["index"] == 0
    assert result.data["passed"] is False and result.data["phase"] == "stream"
    assert result.data["severity"] == "error" and result.data["recoverable"] is True
    assert isinstance(result.data["violation"], GuardrailViolation)
    engine.check_complete(ctx("", True))
    assert sink.types()[1:] == [T.GUARDRAIL_PHASE_START, T.GUARDRAIL_PHASE_END]
    end = sink.events[-1].data
    assert end["phase"] == "post" and end["passed"] is True and end["violations"] == 0
    assert end["duration_ms"] >= 0


def test_detailed_telemetry_reports_each_phase_and_rule() -> None:
    tel, sink = telemetry(detailed=True)
    engine = GuardrailEngine([json_rule(), zero_output_rule()], tel)
    engine.check(ctx("[}"))
    assert sink.types() == [
        T.GUARDRAIL_PHASE_START,
        T.GUARDRAIL_RULE_START,
        T.GUARDRAIL_RULE_RESULT,
        T.GUARDRAIL_RULE_END,
        T.GUARDRAIL_RULE_START,
        T.GUARDRAIL_RULE_RESULT,  # the passing rule's result too: detailed reads every one
        T.GUARDRAIL_RULE_END,
        T.GUARDRAIL_PHASE_END,
    ]
    start, end = sink.events[0].data, sink.events[-1].data
    assert start == {"phase": "stream", "rule_count": 2}
    assert end["passed"] is False and end["violations"] == 1
    rule_end = sink.events[3].data
    assert rule_end["rule_id"] == "json" and rule_end["passed"] is False
    assert rule_end["duration_ms"] >= 0
    passing = sink.events[5].data
    assert (passing["rule_id"], passing["passed"], passing["violation"]) == (
        "zero_output",
        True,
        None,
    )
    # One callback_id ties each rule run's START, RESULT and END; runs differ.
    runs = [{e.data["callback_id"] for e in sink.events[i : i + 3]} for i in (1, 4)]
    assert all(len(run) == 1 for run in runs) and runs[0] != runs[1]
    sink.events.clear()
    engine.check_complete(ctx("", True))
    assert sink.events[0].data == {"phase": "post", "rule_count": 2}
    assert len(sink.of(T.GUARDRAIL_RULE_END)) == 2


def test_streaming_checks_never_read_the_whole_content() -> None:
    """Linearity, behaviourally: 200k characters in small deltas, and no built-in rule
    ever builds `ctx.content` while streaming (so no check costs O(content))."""
    reads: list[int] = []
    pieces: list[str] = []

    def content() -> str:
        reads.append(1)
        return "".join(pieces)

    unit = (
        "## Section {n}\n\nSection {n} has prose with $x$ math, a [link](u) and {{braces}}.\n"
        '```json\n{{"k": [1, 2, {{"s": "}}"}}]}}\n```\n| a | b |\n|---|---|\n| {n} | 2 |\n\n'
    )
    text = "".join(unit.format(n=n) for n in range(2000))
    assert len(text) > 200_000
    rules = [r for r in Guardrails.strict() if r.name != "drift"] + [strict_json_rule()]
    engine = GuardrailEngine(rules)
    for i in range(0, len(text), 7):
        pieces.append(text[i : i + 7])
        engine.check(GuardrailContext(content, False, text[i : i + 7], len(pieces)))
    assert reads == []
    engine.check_complete(GuardrailContext(content, True, ""))
    assert reads == [1]  # strict_json, once, at completion
    assert [v.rule for v in engine.violations] == ["strict_json"]


def test_passing_checks_share_one_read_only_result() -> None:
    engine = GuardrailEngine(Guardrails.recommended())
    first, second = engine.check(ctx("Hello")), engine.check(ctx(" world"))
    assert first is second and first.passed and first.violations == []
    with pytest.raises(TypeError):
        first.violations.append(GuardrailViolation("x", "y"))
    assert engine.check(ctx(" As an AI")).passed  # waits for the next character
    found = engine.check(ctx(", I said.")).violations
    assert [v.rule for v in found] == ["pattern"] and not engine.check(ctx(" Fine.")).violations


def test_checkers_with_their_own_call_get_the_context() -> None:
    from l0.guardrails import StreamChecker, incremental_rule

    seen: list[tuple[str, int]] = []

    class Counting(StreamChecker):
        def __call__(self, state: GuardrailContext) -> list[GuardrailViolation]:
            seen.append((state.delta, state.token_count))
            return ["not a violation"] if state.delta else []  # type: ignore[list-item]

    rule = incremental_rule(
        "counting",
        lambda: Counting("counting", "error", True),
        severity="error",
        recoverable=True,
        description="",
    )
    engine = GuardrailEngine([rule])
    assert engine.check(GuardrailContext("", False, "ab", token_count=3)).passed
    assert engine.check(GuardrailContext("", False, "", token_count=4)).passed
    assert seen == [("ab", 3), ("", 4)]


def test_context_metadata_is_built_on_first_read_and_shared_by_the_completed_copy() -> None:
    context = GuardrailContext(lambda: "text", delta="t")
    context.metadata["key"] = 1
    assert context.completed_copy().metadata is context.metadata
    context.metadata = {"other": 2}
    assert context.metadata == {"other": 2}
    assert GuardrailContext(metadata={"a": 1}).metadata == {"a": 1}


def test_reset_of_an_engine_that_checked_nothing_keeps_its_fresh_checkers() -> None:
    engine = GuardrailEngine(Guardrails.recommended())
    built = [checker for _, _, checker, _ in engine._plan]
    engine.reset()
    # The runtime resets at the first attempt: no rebuild.
    assert [checker for _, _, checker, _ in engine._plan] == built
    engine.check(GuardrailContext("", False, "Hello"))
    engine.reset()
    assert all(new is not old for (_, _, new, _), old in zip(engine._plan, built, strict=True))


def test_the_shared_passing_result_cannot_be_changed() -> None:
    engine = GuardrailEngine([markdown_rule()])
    result = engine.check(GuardrailContext("fine prose", False, "fine prose"))
    assert result is PASSED
    with pytest.raises(TypeError, match="read-only; copy it first"):
        result.violations.append(GuardrailViolation("x", "y"))
    assert PASSED.violations == []
