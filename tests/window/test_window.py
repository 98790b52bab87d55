"""`l0.create_window`: windows of whole units within the size, sharing the overlap."""

from __future__ import annotations

import pytest

import l0
from l0.window import estimate_tokens

WORDS = " ".join(f"w{i}" for i in range(1, 26))  # w1 .. w25


def words(text: str) -> int:
    """A tokenizer whose counts a test can check by eye: one token per word."""
    return len(text.split())


def test_token_windows_are_whole_words_within_the_size_with_the_overlap() -> None:
    window = l0.create_window(WORDS, size=10, overlap=3, tokenizer=words)
    texts = [chunk.text for chunk in window]
    assert texts[0] == " ".join(f"w{i}" for i in range(1, 11))
    assert texts[1] == " ".join(f"w{i}" for i in range(8, 18))  # w8..w10 repeated
    assert texts[-1].endswith("w25")
    assert all(chunk.token_count <= 10 for chunk in window)
    assert window.total_chunks == len(window) == 4
    assert window.tokenizer_name == "custom"


def test_every_chunk_is_its_slice_of_the_document() -> None:
    text = "Alpha beta.\n\nGamma delta epsilon. Zeta!\n\n  Eta theta?  Iota.\n"
    for strategy in ("token", "sentence", "paragraph", "character"):
        window = l0.create_window(text, size=4, overlap=1, strategy=strategy, tokenizer=words)
        for i, chunk in enumerate(window):
            assert text[chunk.start : chunk.end] == chunk.text
            assert (chunk.index, chunk.total) == (i, window.total_chunks)
        # Nothing of the document is left out.
        covered = {p for chunk in window for p in range(chunk.start, chunk.end)}
        assert {p for p, c in enumerate(text) if not c.isspace()} <= covered


def test_sentence_windows_end_at_sentence_ends() -> None:
    text = "One two three. Four five six! Seven eight nine? Ten."
    window = l0.create_window(text, size=6, overlap=0, strategy="sentence", tokenizer=words)
    assert [c.text for c in window] == [
        "One two three. Four five six!",
        "Seven eight nine? Ten.",
    ]


def test_sentence_overlap_repeats_whole_sentences() -> None:
    text = "A b. C d. E f. G h."
    window = l0.create_window(text, size=4, overlap=2, strategy="sentence", tokenizer=words)
    assert [c.text for c in window] == ["A b. C d.", "C d. E f.", "E f. G h."]


def test_paragraph_windows_keep_paragraphs_and_split_a_long_one_by_sentence() -> None:
    text = "Short one.\n\nAlso short.\n\nA long paragraph here. It has sentences. Many."
    window = l0.create_window(text, size=5, overlap=0, strategy="paragraph", tokenizer=words)
    assert [c.text for c in window] == [
        "Short one.\n\nAlso short.",
        "A long paragraph here.",
        "It has sentences. Many.",
    ]


def test_a_word_longer_than_the_window_is_cut_at_characters() -> None:
    blob = "x" * 100
    window = l0.create_window(f"see {blob} end", size=10, overlap=0, tokenizer=estimate_tokens)
    assert "".join(c.text for c in window).replace(" ", "") == f"see{blob}end"
    assert all(c.token_count <= 10 for c in window)


def test_character_windows() -> None:
    window = l0.create_window("abcdefghij", size=4, overlap=1, strategy="character")
    assert [c.text for c in window] == ["abcd", "defg", "ghij"]
    assert [(c.start, c.end) for c in window] == [(0, 4), (3, 7), (6, 10)]


def test_get_and_iteration() -> None:
    window = l0.create_window(WORDS, size=10, overlap=3, tokenizer=words)
    assert list(window) == list(window.chunks) == [window.get(i) for i in range(len(window))]
    assert window.get(-1) is window.chunks[-1] and window.get(-1).is_last
    assert window.get(0).is_first
    with pytest.raises(IndexError, match="total_chunks"):
        window.get(window.total_chunks)
    with pytest.raises(ValueError, match="index"):
        window.get(-window.total_chunks - 1)


def test_blank_text_has_no_windows() -> None:
    assert l0.create_window("  \n\n ").total_chunks == 0
    assert l0.create_window("").chunks == ()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"text": None}, TypeError, "text must be a str"),
        ({"size": 0}, ValueError, "size must be an int >= 1"),
        ({"size": 1.5}, TypeError, "size must be an int"),
        ({"overlap": -1}, ValueError, "overlap must be an int >= 0"),
        ({"size": 100, "overlap": 100}, ValueError, "overlap must be < size"),
        ({"strategy": "words"}, ValueError, "strategy must be one of"),
        ({"tokenizer": "cl100k"}, TypeError, "tokenizer must be a function"),
    ],
)
def test_bad_arguments_are_named(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    arguments: dict[str, object] = {"text": "some text", **kwargs}
    with pytest.raises(error, match=message):
        l0.create_window(**arguments)  # type: ignore[arg-type]
