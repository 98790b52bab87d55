"""markdown_rule: fences closed, table and ordered-list structure, any chunking."""

from __future__ import annotations

import random

import pytest

from l0.guardrails import GuardrailContext, GuardrailEngine, markdown_rule


def chunkings(text: str) -> list[list[str]]:
    ways = [[text], list(text)]
    ways += [[text[i : i + n] for i in range(0, len(text), n)] for n in (2, 5, 13)]
    for seed in range(3):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(text)), k=max(0, min(len(text) - 1, 10))))
        ways.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    return ways


def verdicts(text: str) -> list[tuple[str, str, int | None]]:
    """(message, severity, position) found, asserting that every chunking agrees."""
    results = set()
    for chunks in chunkings(text):
        engine = GuardrailEngine([markdown_rule()])
        found = []
        for chunk in chunks:
            found += engine.check(GuardrailContext("", False, chunk)).violations
        found += engine.check_complete(GuardrailContext(text, True, "")).violations
        results.add(tuple((v.message, v.severity, v.position) for v in found))
    assert len(results) == 1, results
    return list(results.pop())


UNCLOSED = ("Unclosed code fence (```)", "error")


@pytest.mark.parametrize(
    "text",
    [
        "# Title\n\n```python\nprint('hi')\n```\n\nText.",
        "~~~ruby linenos\nputs 1\n~~~\n",
        "````markdown\n```python\nx = 1\n```\n````\n",
        "```\nnot closed by a shorter run\n``\n```",
        "Text\n\n    ```\n    indented code, not a fence\n\nMore text.",
        "1. Step one\n\n    ```bash\n    ls -la\n    ```\n2. Step two\n",
        "Windows line endings\r\n```\r\ncode\r\n```\r\n",
        "Unicode 😀 漢字 e\u0301\n```\n🚀 code\n```",
        "",
    ],
)
def test_balanced_fences_pass(text: str) -> None:
    assert verdicts(text) == []


def test_unclosed_fence_is_an_error_at_completion_only() -> None:
    text = "Intro\n```js\nconsole.log(1)\n"
    engine = GuardrailEngine([markdown_rule()])
    assert engine.check(GuardrailContext("", False, text)).passed
    result = engine.check_complete(GuardrailContext(text, True, ""))
    assert result.should_retry
    assert verdicts(text) == [(*UNCLOSED, 6)]


@pytest.mark.parametrize(
    "text",
    [
        "```\ncode\n~~~\n",  # a tilde run does not close a backtick fence
        "```\ncode\n```python\n",  # a fence with an info string does not close
        "1. Item\n\n    ```bash\n    ls\n",  # list-nested fence left open
    ],
)
def test_fences_that_do_not_close(text: str) -> None:
    assert [v[0] for v in verdicts(text)] == [UNCLOSED[0]]


def test_consistent_tables_pass() -> None:
    text = (
        "| Name | Value |\n|:-----|------:|\n| a | 1 |\n| b \\| c | 2 |\n\n"
        "Left | Right\n--- | ---\nx | y\n\n"
        "| 名前 | 絵 |\n| --- | --- |\n| 漢字 | 😀 |\n"
    )
    assert verdicts(text) == []


def test_table_row_with_a_different_cell_count_is_a_warning() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 | 3 |\n| 4 |\n"
    found = verdicts(text)
    assert found == [("Table row has a different number of cells than the header", "warning", 20)]


def test_delimiter_row_that_does_not_match_the_header_is_a_warning() -> None:
    text = "| a | b | c |\n|---|---|\n"
    assert verdicts(text) == [
        ("Table delimiter row does not match the header's number of cells", "warning", 14)
    ]


def test_tables_inside_code_fences_are_ignored() -> None:
    assert verdicts("```\n| a | b |\n|---|\n| 1 | 2 | 3 |\n```\n") == []


def test_warnings_pass_but_are_recorded() -> None:
    engine = GuardrailEngine([markdown_rule()])
    result = engine.check(GuardrailContext("", False, "| a | b |\n|---|---|\n| 1 |\n"))
    assert result.passed and not result.should_retry and len(result.violations) == 1
    assert engine.violations == result.violations


@pytest.mark.parametrize(
    "text",
    [
        "1. a\n2. b\n3. c\n",
        "1. a\n1. b\n1. c\n",
        "3. a\n4. b\n",
        "1. a\n\n   more about a\n\n2. b\n",
        "1. a\n   1. nested\n   2. nested\n2. b\n",
        "1. Install:\n```bash\npip install x\n```\n2. Run it.\n",
        "1. a\n\nA paragraph.\n\n5. new list\n",
    ],
)
def test_consistent_ordered_lists_pass(text: str) -> None:
    assert verdicts(text) == []


def test_ordered_list_numbering_jump_is_a_warning() -> None:
    text = "1. a\n2. b\n4. c\n5. d\n"
    assert verdicts(text) == [("Ordered list numbering is inconsistent", "warning", 10)]
