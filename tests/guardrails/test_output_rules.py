"""zero_output_rule, stall_rule (injected clock), repetition_rule."""

from __future__ import annotations

import pytest

from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    GuardrailViolation,
    repetition_rule,
    stall_rule,
    zero_output_rule,
)


def stream(rule: GuardrailRule, chunks: list[str]) -> list[GuardrailViolation]:
    engine = GuardrailEngine([rule])
    found: list[GuardrailViolation] = []
    for chunk in chunks:
        found += engine.check(GuardrailContext("", False, chunk)).violations
    found += engine.check_complete(GuardrailContext("".join(chunks), True, "")).violations
    return found


@pytest.mark.parametrize("chunks", [[], [""], [" ", "\n\t"], ["\u200b", "\ufeff \u00a0"]])
def test_zero_output_flags_empty_or_invisible_output(chunks: list[str]) -> None:
    (violation,) = stream(zero_output_rule(), chunks)
    assert violation.rule == "zero_output" and violation.severity == "error"


@pytest.mark.parametrize("chunks", [["x"], [" ", "\n", "."], ["😀"], ["漢"]])
def test_zero_output_accepts_any_visible_character(chunks: list[str]) -> None:
    assert stream(zero_output_rule(), chunks) == []


def test_zero_output_only_judges_at_completion() -> None:
    engine = GuardrailEngine([zero_output_rule()])
    assert engine.check(GuardrailContext("", False, "")).passed
    assert engine.check_complete(GuardrailContext("", True, "")).should_retry


@pytest.mark.parametrize("data", [(), ("image",)])
def test_zero_output_held_whitespace_is_output_only_with_data(data: tuple[str, ...]) -> None:
    # Its text is held back while streaming; the session's data outputs reach it at completion.
    engine = GuardrailEngine([zero_output_rule()])
    engine.check(GuardrailContext("", False, " "))
    assert engine.hold("\n") and engine.hold("\u200b")
    done = engine.check_complete(GuardrailContext(" \n\u200b", True, "", data_outputs=data))
    assert done.passed is bool(data)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stall_fires_after_max_gap_without_visible_content() -> None:
    clock = FakeClock()
    engine = GuardrailEngine([stall_rule(max_gap=5, clock=clock)])

    def check(delta: str, at: float) -> list[GuardrailViolation]:
        clock.now = at
        return engine.check(GuardrailContext("", False, delta)).violations

    assert check("Hello", 100) == []
    assert check("", 104) == []
    assert check("   ", 105) == []  # whitespace is not progress, but the gap is still 5s
    (violation,) = check("\n", 105.5)
    assert violation.severity == "warning" and violation.message.startswith("Stream stalled")
    assert violation.position == len("Hello   ")
    assert check("more", 106) == []
    assert check("", 120) == []  # same violation: reported once per attempt


def test_stall_stateless_check_never_fires() -> None:
    rule = stall_rule(max_gap=0.001)
    assert rule.check(GuardrailContext("text", False, "")) == []
    with pytest.raises(ValueError):
        stall_rule(max_gap=0)


def test_repetition_flags_a_looping_sentence() -> None:
    text = "Intro sentence here. " + "I will now repeat this sentence again. " * 3
    (violation,) = stream(repetition_rule(), list(text))
    assert violation.rule == "repetition" and violation.severity == "error"
    assert violation.position == text.rindex("I will")


def test_repetition_ignores_short_units_code_and_json_lines() -> None:
    text = (
        "Yes. Yes. Yes. Yes.\n"
        + '  "type": "string",\n' * 6
        + "    }\n" * 6
        + "| Yes | No |\n" * 4
        + "- [ ] todo\n" * 4
    )
    assert stream(repetition_rule(), [text]) == []


def test_repetition_window_forgets_old_units() -> None:
    filler = [f"Filler sentence number {n} is unique. " for n in range(30)]
    text = "The repeated sentence is this one. " + "".join(filler)
    text += "The repeated sentence is this one. " + "".join(filler)
    text += "The repeated sentence is this one. "
    assert stream(repetition_rule(window=20, threshold=3), [text]) == []
    assert stream(repetition_rule(window=80, threshold=3), [text]) != []


def test_repetition_counts_cjk_sentences() -> None:
    text = "这是一个重复的句子。" * 3
    assert len(stream(repetition_rule(), list(text))) == 1


def test_repetition_arguments_are_validated() -> None:
    with pytest.raises(ValueError):
        repetition_rule(threshold=1)
