"""The streaming text primitives behind the rules and the drift detector."""

from __future__ import annotations

import re

from l0.guardrails.streamtext import (
    FenceTracker,
    LineBuffer,
    TailMatcher,
    UnitSplitter,
    tokens,
    tokens_with_carry,
    unit_key,
    words,
)


def test_line_buffer_yields_complete_lines_with_offsets() -> None:
    buffer = LineBuffer()
    assert buffer.feed("ab") == []
    assert buffer.feed("c\nde\r\n\nf") == [(0, "abc"), (4, "de"), (8, "")]
    assert buffer.flush() == (9, "f")
    assert buffer.flush() is None


def test_fence_tracker_follows_commonmark_fences() -> None:
    fences = FenceTracker()
    kinds = [
        fences.line(0, line)
        for line in ["text", "```py", "```python", "``", "````", "    ```", "- item", "    ~~~"]
    ]
    assert kinds == ["text", "open", "code", "code", "close", "text", "text", "open"]
    assert fences.inside and fences.open_char == "~"


def test_tail_matcher_finds_split_matches_once_and_waits_for_boundaries() -> None:
    matcher = TailMatcher([re.compile(r"\bas an ai\b", re.I)], window=16)
    assert matcher.feed("so As an") == []
    assert matcher.feed(" AI") == []  # the next character decides the word boundary
    assert matcher.feed("!") == [(0, 3, 11)]
    assert matcher.feed(" as an ai.") == [(0, 13, 21)]
    assert matcher.feed(" as an aid", final=True) == []


def test_tail_matcher_final_flush_and_disable() -> None:
    matcher = TailMatcher([re.compile("ab"), re.compile("cd")], window=4)
    assert matcher.feed("ab") == []
    assert matcher.feed("", final=True) == [(0, 0, 2)]
    assert matcher.disable(0) and not matcher.disable(0)
    assert matcher.feed("ab cd ") == [(1, 5, 7)]


def test_unit_splitter_cuts_on_sentence_ends_and_newlines() -> None:
    splitter = UnitSplitter(max_unit=8)
    assert splitter.feed("Hi. Wh") == [(0, "Hi.")]
    assert splitter.feed("at?\nA very long unit indeed") == [(3, " What?"), (9, "\n")]
    assert splitter.flush() == (10, "A very l")


def test_words_and_unit_keys() -> None:
    assert words("It\u2019s 2 CJK 漢字 and café!") == ["it's", "cjk", "漢", "字", "and", "café"]
    assert tokens("Item 42, x2") == ["item", "42", "x2"]
    assert tokens_with_carry("hello wor", False) == (["hello"], "wor")
    assert tokens_with_carry("hello 12", False) == (["hello"], "12")
    assert tokens_with_carry("hello wor", True) == (["hello", "wor"], "")
    assert unit_key("The  Same sentence here!", 4) == "the same sentence here"
    assert unit_key('{"type": "string", "minLength": 1}', 4) is None
    assert unit_key("Row 1 has the value", 4) == "row 1 has the value"
    assert unit_key("这是一个句子", 4) == "这 是 一 个 句 子"


def test_token_fast_paths_agree_with_the_regex() -> None:
    import random

    from l0.guardrails.streamtext import _TOKEN

    rng = random.Random(3)
    alphabet = "abcXYZ019 _-'.,!\n\t\u2019é漢"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        if rng.random() < 0.5:
            text = text.encode("ascii", "ignore").decode()
        assert tokens(text) == _TOKEN.findall(text.lower().replace("\u2019", "'")), text


def test_unit_splitter_does_not_depend_on_chunking() -> None:
    import random

    rng = random.Random(5)
    text = "One two. Three four five six!\nA long unit " + "x" * 30 + ". 漢字。Last one"
    whole = UnitSplitter(max_unit=20)
    expected = [*whole.feed(text), whole.flush()]
    for _ in range(200):
        splitter, units, cursor = UnitSplitter(max_unit=20), [], 0
        while cursor < len(text):
            size = rng.randint(1, 12)
            units += splitter.feed(text[cursor : cursor + size])
            cursor += size
        assert [*units, splitter.flush()] == expected
