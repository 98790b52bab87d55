"""latex_rule: environments nested, math delimiters balanced, code and prices ignored."""

from __future__ import annotations

import pytest

from l0.guardrails import GuardrailContext, GuardrailEngine, latex_rule


def verdicts(text: str) -> list[tuple[str, str]]:
    """(message, severity) found; every chunking must agree."""
    results = set()
    ways = [[text], list(text), [text[i : i + 5] for i in range(0, len(text), 5)]]
    for chunks in ways:
        engine = GuardrailEngine([latex_rule()])
        found = []
        for chunk in chunks:
            found += engine.check(GuardrailContext("", False, chunk)).violations
        found += engine.check_complete(GuardrailContext(text, True, "")).violations
        results.add(tuple((v.message, v.severity) for v in found))
    assert len(results) == 1, results
    return list(results.pop())


@pytest.mark.parametrize(
    "text",
    [
        r"\begin{align}\begin{cases} x \end{cases}\end{align}",
        "Inline $x^2$ and display $$\\int_0^1 f$$ and \\(a\\) and \\[b\\].",
        "Display over lines:\n$$\na + b\n$$\nand\n\\[\nc\n\\]\n",
        "It costs $5 and $10, or $ 20.",
        r"An escaped \$ sign and \$100.",
        "Line break with spacing: a \\\\[2pt] b",
        "```bash\necho $HOME and \\end{x}\n```\nUse `$PATH` or `\\(` in code.",
        "\\begin{verbatim}\n\\end{itemize} $ \\(\n\\end{verbatim}",
        "Unicode $\u03b1 + \u03b2$ 漢字 😀 $\\text{é}$",
    ],
)
def test_balanced_latex_passes(text: str) -> None:
    assert verdicts(text) == []


def test_end_out_of_order_is_flagged_while_streaming() -> None:
    engine = GuardrailEngine([latex_rule()])
    text = "\\begin{a}\\begin{b}\\end{a}\n"
    result = engine.check(GuardrailContext("", False, text))
    assert [(v.message, v.position) for v in result.violations] == [
        ("\\end{a} closes before \\end{b}", 18)
    ]


def test_end_without_begin_and_stray_closers() -> None:
    assert verdicts("\\end{proof}\n\\)\n\\]") == [
        ("\\end{proof} without a matching \\begin{proof}", "error"),
        ("Unmatched \\)", "error"),
        ("Unmatched \\]", "error"),
    ]


def test_unclosed_environment_and_math_at_completion() -> None:
    assert verdicts("\\begin{equation} x = \\[ y") == [
        ("Unclosed math delimiter \\[", "error"),
        ("Unclosed \\begin{equation}", "error"),
    ]
    assert verdicts("$$ x") == [("Unclosed math delimiter $$", "error")]


def test_mixed_delimiters_inside_math() -> None:
    assert verdicts("\\( a \\[ b \\)") == [("\\[ inside math opened with \\(", "error")]


def test_unclosed_inline_dollar_is_a_warning_per_paragraph() -> None:
    assert verdicts("Set $HOME to a path.\n\nThen $x$ works.") == [
        ("Unclosed inline math $ in paragraph", "warning")
    ]
    assert verdicts("Ends with $math") == [("Unclosed inline math $ in paragraph", "warning")]
