"""pattern_rule / custom_pattern_rule: bounded-window matching, split phrases, once each."""

from __future__ import annotations

import re

import pytest

from l0.guardrails import (
    DEFAULT_PATTERNS,
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    GuardrailViolation,
    custom_pattern_rule,
    pattern_rule,
)


def stream(rule: GuardrailRule, chunks: list[str]) -> list[GuardrailViolation]:
    engine = GuardrailEngine([rule])
    found: list[GuardrailViolation] = []
    for chunk in chunks:
        found += engine.check(GuardrailContext("", False, chunk)).violations
    found += engine.check_complete(GuardrailContext("".join(chunks), True, "")).violations
    return found


def verdicts(text: str, rule: GuardrailRule | None = None) -> list[tuple[str, int | None]]:
    results = set()
    for chunks in ([text], list(text), [text[i : i + 3] for i in range(0, len(text), 3)]):
        found = stream(rule or pattern_rule(), chunks)
        results.add(tuple(sorted((v.message, v.position) for v in found)))
    assert len(results) == 1, results
    return list(results.pop())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sure. As an AI, I have no opinions.", "Meta commentary: 'As an AI'"),
        ("as a large\nlanguage model I think", "Meta commentary: 'as a language model'"),
        ("Well, I\u2019m just an AI.", "Meta commentary: 'I am an AI'"),
        ("I\u2019m sorry, but I can\u2019t do that.", "Refusal: 'I'm sorry, but I cannot'"),
        ("Unfortunately I cannot assist here.", "Refusal: 'I cannot assist'"),
        ("I can't help with that request.", "Refusal: 'I cannot help with that'"),
        ("I am unable to comply.", "Refusal: 'I am unable to assist'"),
        ("text<|im_end|>more", "Leaked special token (e.g. <|im_start|>)"),
        ("[INST] do things [/INST]", "Leaked instruction marker [INST]"),
    ],
)
def test_default_patterns_are_found_in_any_chunking(text: str, message: str) -> None:
    assert message in [m for m, _ in verdicts(text)]


def test_phrase_split_across_deltas_is_found_with_its_position() -> None:
    found = stream(pattern_rule(), ["Well, as an", " A", "I model would"])
    assert [(v.message, v.position) for v in found] == [("Meta commentary: 'As an AI'", 6)]


def test_word_boundary_waits_for_the_next_character() -> None:
    engine = GuardrailEngine([pattern_rule()])
    assert engine.check(GuardrailContext("", False, "This is as an ai")).passed
    assert engine.check(GuardrailContext("", False, "d to memory.")).passed
    assert engine.check_complete(GuardrailContext("", True, "")).passed


def test_phrase_at_the_very_end_is_found_at_completion() -> None:
    engine = GuardrailEngine([pattern_rule()])
    assert engine.check(GuardrailContext("", False, "Answer: as an AI")).passed
    result = engine.check_complete(GuardrailContext("", True, ""))
    assert [v.position for v in result.violations] == [8]


def test_each_pattern_is_reported_once() -> None:
    text = "As an AI, I say. " * 50 + "I cannot assist. I cannot assist."
    assert verdicts(text) == [
        ("Meta commentary: 'As an AI'", 0),
        ("Refusal: 'I cannot assist'", text.index("I cannot")),
    ]


def test_ordinary_prose_does_not_match() -> None:
    text = (
        "The assistant explained that an aide can help, and that a language model "
        "is a statistical model of text. I can help with that: it's possible to assist."
    )
    assert verdicts(text) == []


def test_custom_pattern_rule_message_severity_and_regex_objects() -> None:
    rule = custom_pattern_rule(
        [r"\bTODO\b", re.compile(r"lorem ipsum")], message="Placeholder", severity="warning"
    )
    found = stream(rule, list("x todo y Lorem ipsum z"))
    assert [(v.rule, v.message, v.severity) for v in found] == [
        ("custom_pattern", r"Placeholder: \bTODO\b", "warning")
    ]
    with pytest.raises(ValueError):
        custom_pattern_rule([])


def test_patterns_argument_replaces_the_defaults() -> None:
    rule = pattern_rule([r"forbidden"], severity="fatal")
    found = stream(rule, ["As an AI this is FORBIDDEN."])
    assert [(v.message, v.severity) for v in found] == [("Matched pattern: forbidden", "fatal")]
    assert len(DEFAULT_PATTERNS) >= 5


def test_work_per_check_is_bounded_by_the_window() -> None:
    # A phrase split at a delta boundary is found even after a megabyte of other text:
    # the matcher only keeps `window` characters of history.
    rule = pattern_rule()
    assert rule.incremental is not None
    checker = rule.incremental()
    checker(GuardrailContext("", False, "x" * 1_000_000 + " as an"))
    found = checker(GuardrailContext("", False, " AI!"))
    assert [v.position for v in found] == [1_000_001]
    held = checker._matcher._held  # type: ignore[attr-defined]
    assert held <= 4 * 64 + 256
