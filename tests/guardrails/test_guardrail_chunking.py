"""Property-style: every built-in rule gives the same verdict however the text is chunked,
and the same verdict as its stateless `check` on the whole text."""

from __future__ import annotations

import random

import pytest

from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    json_rule,
    latex_rule,
    markdown_rule,
    pattern_rule,
    repetition_rule,
    zero_output_rule,
)

RULES = [json_rule, markdown_rule, latex_rule, pattern_rule, zero_output_rule, repetition_rule]

DOCUMENTS = [
    '{"a": "x\\"}", "b": ["\\\\", {"c": "😀}"}], "d": "漢字]"}',
    '{"a": [1, 2}, "b": 3',
    '[{"unterminated": "yes}]',
    'Text first.\n```json\n{"k": ["```", "e\\u0301"]\n```\nAfter. As an A' + "I, sure.",
    "```python\nprint('{')\n```\n~~~\ncode with ``` inside\n~~~\n```unclosed\n",
    "| a | b |\n|---|---|\n| 1 | 2 | 3 |\r\n1. x\r\n2. y\r\n5. z\r\n",
    "\\begin{a}$x$ \\(y\\) $$z$$ \\end{b}\n\\[ open\n\nPrice $5 and $HOME here",
    "I\u2019m sorry, but I can\u2019t. <|im_end|> [INST] e\u0301 👩‍👩‍👧 " * 3,
    "Loop again and again here. " * 4 + "这是一个重复的句子。" * 3,
    " \n\t\u200b",
    "",
]


def chunkings(text: str) -> list[list[str]]:
    ways = [[text], list(text)]
    ways += [[text[i : i + n] for i in range(0, len(text), n)] for n in (2, 3, 4, 11)]
    for seed in range(6):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(text)), k=max(0, min(len(text) - 1, 9))))
        ways.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    return [way for way in ways if way]


def streamed(rule: GuardrailRule, chunks: list[str]) -> frozenset[tuple[object, ...]]:
    engine = GuardrailEngine([rule])
    found = []
    for chunk in chunks:
        found += engine.check(GuardrailContext("", False, chunk)).violations
    found += engine.check_complete(GuardrailContext("".join(chunks), True, "")).violations
    return frozenset((v.rule, v.message, v.severity, v.position) for v in found)


@pytest.mark.parametrize("factory", RULES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("text", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_verdict_does_not_depend_on_chunking(factory: object, text: str) -> None:
    rule: GuardrailRule = factory()  # type: ignore[operator]
    verdicts = {streamed(rule, chunks) for chunks in chunkings(text) + [[]] * (not text)}
    assert len(verdicts) == 1, verdicts
    stateless = rule.check(GuardrailContext(text, True))
    assert frozenset((v.rule, v.message, v.severity, v.position) for v in stateless) in verdicts


def test_the_documents_do_exercise_the_rules() -> None:
    found = set()
    for text in DOCUMENTS:
        for factory in RULES:
            found |= {rule for rule, *_ in streamed(factory(), [text])}
    assert found == {"json", "markdown", "latex", "pattern", "zero_output", "repetition"}
