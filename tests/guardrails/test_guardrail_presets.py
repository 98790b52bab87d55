"""Guardrails presets and accessors, drift_rule, GuardrailContext and GuardrailResult."""

from __future__ import annotations

import pytest

from l0.drift import DriftConfig
from l0.guardrails import (
    DriftRule,
    GuardrailContext,
    GuardrailEngine,
    GuardrailResult,
    GuardrailRule,
    Guardrails,
    GuardrailViolation,
    drift_rule,
)


def names(rules: list[GuardrailRule]) -> list[str]:
    return [rule.name for rule in rules]


def test_preset_contents() -> None:
    assert names(Guardrails.minimal()) == ["json", "zero_output"]
    assert names(Guardrails.recommended()) == ["json", "markdown", "pattern", "zero_output"]
    assert names(Guardrails.strict()) == [
        "json",
        "markdown",
        "latex",
        "pattern",
        "zero_output",
        "repetition",
        "stall",
        "drift",
    ]
    assert names(Guardrails.json_only()) == ["json", "zero_output"]
    assert names(Guardrails.markdown_only()) == ["markdown", "zero_output"]
    assert names(Guardrails.latex_only()) == ["latex", "zero_output"]
    assert Guardrails.none() == []


def test_presets_build_fresh_rules_each_call() -> None:
    first, second = Guardrails.recommended(), Guardrails.recommended()
    assert all(a is not b for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize(
    ("accessor", "name", "streaming"),
    [
        (Guardrails.json, "json", True),
        (Guardrails.strict_json, "strict_json", False),
        (Guardrails.markdown, "markdown", True),
        (Guardrails.latex, "latex", True),
        (Guardrails.pattern, "pattern", True),
        (Guardrails.zero_output, "zero_output", True),
        (Guardrails.stall, "stall", True),
        (Guardrails.repetition, "repetition", True),
    ],
)
def test_accessors(accessor: object, name: str, streaming: bool) -> None:
    rule = accessor()  # type: ignore[operator]
    assert isinstance(rule, GuardrailRule)
    assert (rule.name, rule.streaming) == (name, streaming)
    assert rule.description
    assert streaming == (rule.incremental is not None)


def test_accessors_pass_options_through() -> None:
    assert Guardrails.json(severity="fatal").severity == "fatal"
    assert Guardrails.repetition(window=5, threshold=2).name == "repetition"


def test_strict_carries_drift_as_a_marker_rule() -> None:
    (marker,) = [r for r in Guardrails.strict() if isinstance(r, DriftRule)]
    assert marker.drift_config == DriftConfig()
    assert marker.check(GuardrailContext("As an AI. " * 100, True)) == []


def test_drift_rule_config_and_noop_in_an_engine() -> None:
    config = DriftConfig(window=4000, hedging=False)
    rule = drift_rule(config)
    assert isinstance(rule, GuardrailRule) and rule.drift_config is config
    engine = GuardrailEngine([rule])
    assert engine.check_complete(GuardrailContext("anything", True, "anything")).passed
    assert Guardrails.drift().drift_config == DriftConfig()  # type: ignore[attr-defined]


def test_context_builds_lazy_content_once_and_quacks_like_state() -> None:
    calls: list[int] = []

    def build() -> str:
        calls.append(1)
        return "hello"

    ctx = GuardrailContext(build, False, "lo", token_count=3, metadata={"k": 1})
    assert ctx.content_length_hint() is None and calls == []
    assert ctx.content == "hello" and ctx.content == "hello" and calls == [1]
    assert ctx.content_length_hint() == 5
    assert (ctx.completed, ctx.delta, ctx.token_count, ctx.metadata) == (False, "lo", 3, {"k": 1})
    done = GuardrailContext(build, False, "x").completed_copy()
    assert done.completed and done.content == "hello"


def test_result_flags_from_violations() -> None:
    def v(severity: str, recoverable: bool = True) -> GuardrailViolation:
        return GuardrailViolation("r", severity, severity, recoverable)  # type: ignore[arg-type]

    assert GuardrailResult.from_violations([]) == GuardrailResult(True, [], False, False)
    assert GuardrailResult.from_violations([v("warning")]).passed
    assert GuardrailResult.from_violations([v("error")]).should_retry
    assert GuardrailResult.from_violations([v("error", False)]).should_halt
    both = GuardrailResult.from_violations([v("error"), v("fatal")])
    assert both.should_halt and not both.should_retry and not both.passed
