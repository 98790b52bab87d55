"""Property-style: every built-in rule gives the same verdict however the text is chunked,
and the same verdict as its stateless `check` on the whole text."""

from __future__ import annotations

import random

import pytest

from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    Guardrails,
    GuardrailViolation,
    StreamChecker,
    json_rule,
    latex_rule,
    markdown_rule,
    pattern_rule,
    repetition_rule,
    zero_output_rule,
)
from l0.guardrails.screen import Wake
from l0.testing import prose_chunks

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
    'Intro.\n```json\n{"a": [1, 2}\n```\nAfter.',
    "Plain intro.\n- item one\n- item two\nStill prose\n  - nested\n    ```\n| a | b |\n|---|\n",
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


# ------------------------------------------------------------- held-back text

SCREENED = [json_rule, markdown_rule, latex_rule, pattern_rule, zero_output_rule, repetition_rule]


def reported_per_check(
    engine: GuardrailEngine, chunks: list[str], *, offer: bool = False
) -> list[list[object]]:
    """What each check reported, check by check (the completion check last); `offer`: as
    the runtime does, offer each delta to `hold` first."""
    per_check = []
    for chunk in chunks:
        held = offer and engine.hold(chunk)
        found = [] if held else engine.check(GuardrailContext("", False, chunk)).violations
        per_check.append([(v.rule, v.message, v.severity, v.position) for v in found])
    done = engine.check_complete(GuardrailContext("".join(chunks), True, "")).violations
    per_check.append([(v.rule, v.message, v.severity, v.position) for v in done])
    return per_check


def unscreened(rules: list[GuardrailRule]) -> GuardrailEngine:
    engine = GuardrailEngine(rules)
    engine._rescreen = lambda: None  # type: ignore[method-assign]  # never hold a delta
    return engine


@pytest.mark.parametrize("offer", [False, True], ids=["check", "hold-then-check"])
@pytest.mark.parametrize("seed", range(8))
def test_held_text_changes_neither_what_nor_when_rules_report(seed: int, offer: bool) -> None:
    rng = random.Random(seed)
    prose = "".join(prose_chunks(400, seed=seed))
    text = prose[:900] + rng.choice(DOCUMENTS) + prose[900:1800] + rng.choice(DOCUMENTS)
    text += "x" * 5000 + " As an AI model, I" + prose[1800:]  # a long line: forced releases
    cuts = sorted(rng.sample(range(1, len(text)), k=len(text) // 25))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    rules = [factory() for factory in SCREENED]
    expected = reported_per_check(unscreened(rules), chunks)
    assert reported_per_check(GuardrailEngine(rules), chunks, offer=offer) == expected
    assert any(expected)


@pytest.mark.parametrize("alone", [None, *SCREENED], ids=lambda f: getattr(f, "__name__", "all"))
@pytest.mark.parametrize("text", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_held_text_matches_every_chunking_of_the_documents(text: str, alone: object) -> None:
    # Each rule alone too: its wake must not rely on another rule's to be woken in time.
    factories = SCREENED if alone is None else [alone]
    rules = [factory() for factory in factories]  # type: ignore[operator]
    for chunks in chunkings(text):
        expected = reported_per_check(unscreened(rules), chunks)
        assert reported_per_check(GuardrailEngine(rules), chunks) == expected
        assert reported_per_check(GuardrailEngine(rules), chunks, offer=True) == expected


class _Lines(StreamChecker):
    """A custom checker that opts in to holding: it only needs text when a line ends."""

    def __init__(self) -> None:
        super().__init__("lines", "error", True)
        self.fed: list[str] = []

    @property
    def wake(self) -> Wake | None:
        return Wake("\n")

    def feed(self, delta: str) -> list[GuardrailViolation]:
        self.fed.append(delta)
        return [self.violation("line")] if "\n" in delta else []


def test_a_quiet_delta_is_held_and_released_in_one_piece_with_the_next() -> None:
    checker = _Lines()
    rule = GuardrailRule("lines", lambda ctx: [], incremental=lambda: checker)
    engine = GuardrailEngine([rule])
    results = [engine.check(GuardrailContext("", False, d)) for d in ["a", "b", "c", "d\ne"]]
    assert checker.fed == ["a", "bcd\ne"]  # the first check learns the wake
    assert [r.passed for r in results] == [True, True, True, False]
    engine.check(GuardrailContext("", False, "f"))
    engine.check_complete(GuardrailContext("", True, "g"))
    assert checker.fed[-2:] == ["f", "g"]  # held text first, then the completion's delta


@pytest.mark.parametrize(
    "preset", ["minimal", "recommended", "json_only", "markdown_only", "latex_only"]
)
def test_presets_of_rules_with_wakes_hold_quiet_prose(preset: str) -> None:
    # zero_output judges only at completion: it must not make every check reach the rules.
    engine = GuardrailEngine(getattr(Guardrails, preset)())
    engine.check(GuardrailContext("", False, "Some prose first."))  # learns the wakes
    # ... and a new screen sees all until it has seen an anchor's length of text.
    engine.check(GuardrailContext("", False, " Then some more of it."))
    assert engine.hold(" More plain prose, with no markup")
    assert engine.hold(" and nothing to flag in it.")
    assert engine.check_complete(GuardrailContext("", True, "")).passed


class _Completing(StreamChecker):
    """A custom checker with a wake and its own `__call__`, which reads the context."""

    def __init__(self) -> None:
        super().__init__("completing", "error", True)
        self.fed: list[str] = []
        self.called: list[tuple[str, bool]] = []

    @property
    def wake(self) -> Wake | None:
        return Wake("\n")

    def __call__(self, ctx: GuardrailContext) -> list[GuardrailViolation]:
        self.called.append((ctx.delta, ctx.completed))
        return super().__call__(ctx)

    def feed(self, delta: str) -> list[GuardrailViolation]:
        self.fed.append(delta)
        return []


def test_a_checker_with_a_wake_is_fed_text_and_called_with_the_context_at_completion() -> None:
    checker = _Completing()
    engine = GuardrailEngine([GuardrailRule("c", lambda ctx: [], incremental=lambda: checker)])
    for delta in ["a", "b", "c\n", "d"]:
        if not engine.hold(delta):
            engine.check(GuardrailContext("", False, delta))
    engine.check_complete(GuardrailContext("", True, "e"))
    assert checker.fed == ["a", "bc\n", "d", "e"]
    assert checker.called == [("e", True)]


def test_held_text_is_bounded() -> None:
    checker = _Lines()
    engine = GuardrailEngine([GuardrailRule("lines", lambda ctx: [], incremental=lambda: checker)])
    for _ in range(200):
        engine.check(GuardrailContext("", False, "y" * 50))
    assert max(map(len, checker.fed)) <= 4096 + 100
    assert sum(map(len, checker.fed)) > 200 * 50 - 4096 - 100


def test_hold_keeps_quiet_text_and_lets_the_rest_through_to_check() -> None:
    checker = _Lines()
    engine = GuardrailEngine([GuardrailRule("lines", lambda ctx: [], incremental=lambda: checker)])
    assert not engine.hold("a")  # no wake known before the first check
    engine.check(GuardrailContext("", False, "a"))
    assert engine.hold("b") and engine.hold("c")
    assert not engine.hold("d\n")
    assert not engine.check(GuardrailContext("", False, "d\n")).passed
    assert checker.fed == ["a", "bcd\n"]


def test_a_rule_without_a_wake_still_sees_every_delta_while_others_are_held() -> None:
    checker = _Lines()
    seen: list[str] = []

    def every(ctx: GuardrailContext) -> list[GuardrailViolation]:
        seen.append(ctx.delta)
        return []

    rules = [
        GuardrailRule("lines", lambda ctx: [], incremental=lambda: checker),
        GuardrailRule("every", every),
    ]
    engine = GuardrailEngine(rules)
    deltas = ["a", "b", "c\n", "d", "e"]
    for delta in deltas:
        assert not engine.hold(delta)  # a rule needs every delta: check() must run
        engine.check(GuardrailContext("", False, delta))
    assert seen == deltas
    assert checker.fed == ["a", "bc\n"]


class _Waiting(StreamChecker):
    """A custom checker that waits for `char` and raises on its `raise_on`-th feed."""

    def __init__(self, char: str, raise_on: int = 0) -> None:
        super().__init__(f"waits-for-{char!r}", "error", True)
        self.char, self.raise_on = char, raise_on
        self.fed: list[str] = []

    @property
    def wake(self) -> Wake | None:
        return Wake(self.char)

    def feed(self, delta: str) -> list[GuardrailViolation]:
        self.fed.append(delta)
        if len(self.fed) == self.raise_on:
            raise RuntimeError("broken rule")
        return []


def test_a_checker_that_raises_leaves_the_others_their_held_text() -> None:
    lines, broken = _Waiting("\n"), _Waiting(">", raise_on=2)
    checkers = (lines, broken)
    engine = GuardrailEngine(
        [GuardrailRule(c.rule, lambda ctx: [], incremental=lambda c=c: c) for c in checkers]
    )
    for delta in ["a", "b", ">", "c", "d", "e>", "f\n"]:
        if not engine.hold(delta):
            engine.check(GuardrailContext("", False, delta))
    assert broken.fed == ["a", "b>"]  # raised on its second feed: dropped
    assert lines.fed == ["a", "b>", "cde>f\n"]  # ">" no longer wakes anyone


@pytest.mark.parametrize("lead", range(78, 90))
def test_the_delta_that_releases_too_much_held_text_is_still_screened(lead: int) -> None:
    # An anchor split across the delta that releases 4096 held characters and the next.
    chunks = ["Hello there", *["y" * 50] * lead, "y as an", " AI model, sure.", " More."]
    rules = [pattern_rule()]
    expected = reported_per_check(unscreened(rules), chunks)
    assert any(expected)
    assert reported_per_check(GuardrailEngine(rules), chunks, offer=True) == expected


class _Anchored(StreamChecker):
    """A custom checker that waits for an anchor and records how it is fed."""

    def __init__(self) -> None:
        super().__init__("anchored", "error", True)
        self.fed: list[tuple[str, str]] = []

    @property
    def wake(self) -> Wake | None:
        return Wake("\n", anchors=("as an ai",))

    def feed(self, delta: str) -> list[GuardrailViolation]:
        self.fed.append(("feed", delta))
        return []

    def feed_screened(self, text: str) -> list[GuardrailViolation]:
        self.fed.append(("screened", text))
        return []


def test_held_text_is_released_marked_screened_and_the_anchor_delta_is_fed_apart() -> None:
    checker = _Anchored()
    engine = GuardrailEngine([GuardrailRule("a", lambda ctx: [], incremental=lambda: checker)])
    for delta in ["Well, ", "you see", " it", ", as an", " AI I", " think", "\n", "ok"]:
        if not engine.hold(delta):
            engine.check(GuardrailContext("", False, delta))
    assert checker.fed == [
        ("feed", "Well, "),  # the first check learns the wake
        ("feed", "you see"),  # a new screen sees all until it has an anchor's length
        ("screened", " it, as an"),
        ("feed", " AI I"),  # the anchor ends here: the checker must look itself
        ("screened", " think\n"),  # only a character woke the screen: all of it screened
    ]
    assert engine.anchored is False


# ------------------------------------------- held text judged without its lines

# Plain prose lines: no markup, no fence character (what a screen holds on prose).
_PLAIN_LINES = ["Plain words here.", "- a bullet", "  - nested bullet", "", "   ", "Done: ok", "x"]
# What may follow, whose verdict (and positions) depend on the state the prose left.
_TAILS = [
    "    ```\n| a | b |\n|---|\n",  # an indented fence: a fence only inside a list
    '```json\n{"a": ]\n```\n',
    "| a | b |\n|---|---|\n| 1 |\n",
    "1. one\n3. three\n",
    "~~~\nopen",
    "3. three\n",
]


@pytest.mark.parametrize("factory", [json_rule, markdown_rule], ids=lambda f: f.__name__)
@pytest.mark.parametrize("lead", ["", "Intro\n", "- listed\n", "1. first\n", "```"])
@pytest.mark.parametrize("tail", _TAILS)
@pytest.mark.parametrize("seed", range(3))
def test_held_prose_fed_screened_leaves_the_state_that_feeding_it_does(
    factory: object, lead: str, tail: str, seed: int
) -> None:
    rng = random.Random(seed)
    lines = [rng.choice(_PLAIN_LINES) for _ in range(rng.randrange(1, 9))]
    newline = rng.choice(["\n", "\r\n"])
    prose = newline.join(lines) + rng.choice(["", newline, "more"])
    rule: GuardrailRule = factory()  # type: ignore[operator]
    fed, screened = rule.incremental(), rule.incremental()  # type: ignore[misc]
    assert isinstance(fed, StreamChecker) and isinstance(screened, StreamChecker)
    for checker in (fed, screened):
        checker.feed(lead)
    assert fed.feed(prose) == screened.feed_screened(prose) == []
    assert screened.wake == fed.wake
    assert screened.feed(tail) + screened.finish() == fed.feed(tail) + fed.finish()


def test_prose_lines_without_markup_do_not_wake_the_json_or_markdown_rules() -> None:
    engine = GuardrailEngine([json_rule(), markdown_rule()])
    engine.check(GuardrailContext("", False, "Some prose first."))
    assert engine.hold(" More prose.\nA new line of prose,")
    assert engine.hold(" and another.\n- a bullet\n")
    assert not engine.hold("Step 2")  # a number may be a list item: markdown needs the line
    engine.check(GuardrailContext("", False, "Step 2"))
    assert not engine.hold(" done.\n")  # ... when it ends
    engine.check(GuardrailContext("", False, " done.\n"))
    assert engine.hold("Plain again.\n")
    assert not engine.hold("A | B")  # a table row
