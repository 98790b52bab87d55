"""json_rule (incremental structure) and strict_json_rule (completion-only parse)."""

from __future__ import annotations

import random

import pytest

from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    GuardrailViolation,
    json_rule,
    strict_json_rule,
)


def chunkings(text: str) -> list[list[str]]:
    """The text in one piece, char by char, fixed sizes and random cuts."""
    ways = [[text], list(text)]
    ways += [[text[i : i + n] for i in range(0, len(text), n)] for n in (2, 3, 7, 64)]
    for seed in range(4):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(text)), k=max(0, min(len(text) - 1, 12))))
        ways.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    return ways


def stream(rule: GuardrailRule, chunks: list[str]) -> list[GuardrailViolation]:
    engine = GuardrailEngine([rule])
    found: list[GuardrailViolation] = []
    for chunk in chunks:
        found += engine.check(GuardrailContext("", False, chunk)).violations
    found += engine.check_complete(GuardrailContext("".join(chunks), True, "")).violations
    return found


def verdicts(text: str) -> list[tuple[str, int | None]]:
    """(message, position) found, asserting that every chunking agrees."""
    results = {
        tuple((v.message, v.position) for v in stream(json_rule(), c)) for c in chunkings(text)
    }
    assert len(results) == 1, results
    return list(results.pop())


VALID = [
    '{"a": 1, "b": [1, 2, {"c": null}], "d": "x"}',
    '{"text": "braces } ] { [ inside strings"}',
    '{"quote": "he said \\"}\\" and left", "n": 1}',
    '{"path": "C:\\\\", "next": [1]}',
    '{"escaped": "\\\\\\"}", "ok": true}',
    '[{"emoji": "😀}", "cjk": "漢字{", "combining": "é]"}]',
    '  \n\t{"leading": "whitespace"}',
    "[]",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_json_in_any_chunking_has_no_violation(text: str) -> None:
    assert verdicts(text) == []


def test_mismatched_closer_is_flagged_at_once_with_its_position() -> None:
    text = '{"a": [1, 2}'
    engine = GuardrailEngine([json_rule()])
    result = engine.check(GuardrailContext("", False, text))
    assert not result.passed and result.should_retry and not result.should_halt
    assert [(v.message, v.position) for v in result.violations] == [
        ("Mismatched '}': expected ']'", 11)
    ]


def test_closer_with_nothing_open_is_flagged() -> None:
    assert verdicts('{"a": 1}}') == [("Unexpected '}': nothing to close", 8)]


def test_only_the_first_structural_error_is_reported() -> None:
    assert verdicts('{"a": ]]]}}}') == [("Mismatched ']': expected '}'", 6)]


def test_unclosed_structure_is_flagged_only_at_completion() -> None:
    engine = GuardrailEngine([json_rule()])
    assert engine.check(GuardrailContext("", False, '{"a": [1, 2')).passed
    result = engine.check_complete(GuardrailContext('{"a": [1, 2', True, ""))
    assert [(v.message, v.position) for v in result.violations] == [
        ("Unclosed JSON structure: expected ']'", 6)
    ]


def test_unterminated_string_is_flagged_at_completion() -> None:
    assert verdicts('{"a": "abc') == [("Unterminated JSON string", 6)]
    assert verdicts('{"a": "abc\\"}') == [("Unterminated JSON string", 6)]


def test_position_counts_code_points_with_emoji_and_cjk() -> None:
    text = '{"k": "😀漢字"]'
    assert verdicts(text) == [("Mismatched ']': expected '}'", text.index("]"))]


@pytest.mark.parametrize(
    "text",
    [
        "Close it with } and then ] please.\n{ not json either",
        '[Verse 1]\nShe said "hello and } left\n[Chorus]',
        "{name} is a placeholder, and so is {{other}]",
        "[the note] ends here }",
    ],
)
def test_prose_that_starts_with_a_bracket_is_not_json(text: str) -> None:
    assert verdicts(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[\n\n  {"a": 1}}', [("Mismatched '}': expected ']'", 13)]),
        ("[-1, 2}", [("Mismatched '}': expected ']'", 6)]),
        ("{]", [("Mismatched ']': expected '}'", 1)]),
        ("{", [("Unclosed JSON structure: expected '}'", 0)]),
        ("  [ \n ", [("Unclosed JSON structure: expected ']'", 2)]),
    ],
)
def test_output_that_starts_like_json_is_json(text: str, expected: list[object]) -> None:
    assert verdicts(text) == expected


def test_fenced_json_block_is_checked_and_other_fences_are_not() -> None:
    text = (
        'Here is code:\n```python\nd = {1: [2}\n```\nAnd data:\n```json\n{"a": [1, 2}\n```\nDone.\n'
    )
    assert verdicts(text) == [("Mismatched '}': expected ']'", text.rindex("2}") + 1)]


def test_json_fence_closed_with_open_structure_is_flagged_when_it_closes() -> None:
    text = 'Data:\n~~~JSON\n{"a": {"b": 1}\n~~~\nMore prose {'
    engine = GuardrailEngine([json_rule()])
    result = engine.check(GuardrailContext("", False, text))
    assert [v.message for v in result.violations] == [
        "Unclosed JSON structure before the end of the ```json block: expected '}'"
    ]
    assert verdicts(text) == [(result.violations[0].message, text.index("{"))]


def test_each_json_fence_starts_fresh_and_unclosed_fence_counts_at_completion() -> None:
    text = 'A:\n```json\n{"a": 1}\n```\nB:\n  ```json title="x"\n["open"'
    assert verdicts(text) == [("Unclosed JSON structure: expected ']'", text.index('["'))]


def test_backticks_inside_a_json_string_do_not_close_the_fence() -> None:
    assert verdicts('```json\n{"md": "use ``` fences"}\n```\n') == []


def test_strict_json_accepts_objects_arrays_and_a_single_fence() -> None:
    rule = strict_json_rule()
    assert not rule.streaming
    for text in ('{"a": 1}', " [1, 2] ", '```json\n{"a": [1]}\n```', "```\n[]\n```"):
        assert rule.check(GuardrailContext(text, True)) == [], text


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("", "Output is empty"),
        ('{"a": 1} trailing words', "Output is not valid JSON"),
        ('{"a": 1,}', "Output is not valid JSON"),
        ("42", "JSON output must be an object or an array"),
        ('"just a string"', "JSON output must be an object or an array"),
    ],
)
def test_strict_json_rejects_invalid_output(text: str, start: str) -> None:
    (violation,) = strict_json_rule().check(GuardrailContext(text, True))
    assert violation.message.startswith(start)
    assert violation.rule == "strict_json" and violation.severity == "error"


def test_strict_json_runs_only_at_completion_in_the_engine() -> None:
    engine = GuardrailEngine([strict_json_rule()])
    reads = []

    def content() -> str:
        reads.append(1)
        return "not json"

    assert engine.check(GuardrailContext(content, False, "not json")).passed
    assert reads == []
    result = engine.check_complete(GuardrailContext(content, True, ""))
    assert result.should_retry and len(reads) == 1


def test_rule_options_are_carried_into_violations() -> None:
    rule = json_rule(severity="fatal", recoverable=False, name="my_json")
    (violation,) = stream(rule, ["[}"])
    assert (violation.rule, violation.severity, violation.recoverable) == (
        "my_json",
        "fatal",
        False,
    )
