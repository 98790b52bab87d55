"""`l0.clean_output`: the wrapping models add around an answer, removed."""

from __future__ import annotations

import pytest

import l0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Sure! Here is the summary:\n\nThe cat sat.", "The cat sat."),
        ('Here\'s the JSON:\n```json\n{"a": 1}\n```', '{"a": 1}'),
        ("```python\nprint(1)\n```", "print(1)"),
        ("\ufeffHello\u200b world\r\nsecond line   \r\n", "Hello world\nsecond line"),
        ("Certainly.\nOK then", "OK then"),
    ],
)
def test_clean_output_removes_the_wrapping(raw: str, clean: str) -> None:
    assert l0.clean_output(raw) == clean


def test_clean_output_keeps_the_middle_of_the_text() -> None:
    text = "Step one:\n```sh\nls\n```\nStep two: here is more: see above."
    assert l0.clean_output(text) == text


def test_a_sentence_starting_with_here_is_kept() -> None:
    assert l0.clean_output("Here is why it fails: the cache is cold.") == (
        "Here is why it fails: the cache is cold."
    )
