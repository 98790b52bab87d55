"""The screen only skips work: with it, drift reports what the exact engine reports, at
the same checks; replays start the engine where it would have been."""

from __future__ import annotations

import random
from typing import Any

import pytest

from l0.drift import DriftConfig, DriftDetector
from l0.testing import prose_chunks

from .texts import (
    CODE,
    GIBBERISH,
    JSON_DOC,
    MARKDOWN,
    NEGATIVES,
    POSITIVES,
    PROSE,
    long_sentences,
    run,
)

SCREENED = [
    *((text, None) for text in POSITIVES.values()),
    (NEGATIVES["mixed"] + POSITIVES["hedging"], None),
    (POSITIVES["tone_shift"] + PROSE + MARKDOWN + GIBBERISH + CODE, None),
    # Sentences over 500 characters: the first one began long before the window, or
    # before the history an engine is replayed from, or the last one ends long after
    # its first words.
    (long_sentences(1, 900, 5), DriftConfig(sentence_repeat_threshold=2)),
    (long_sentences(2, 300, 5, 5), None),
    (long_sentences(3, 5, 5, 300), DriftConfig(window=4000, blocks=20)),
    ("Fine.\n" + " \n" * 600 + PROSE + "I will keep going with this. " * 5, None),
    # A loop without sentences; gibberish starting in each block of a batch.
    (PROSE[:1200] + "and then, " * 250, None),
    *((PROSE[:n] + GIBBERISH[:200] + PROSE[n:], None) for n in (1200, 1400, 1600)),
]


def _screened_and_engine_results(
    text: str, config: DriftConfig | None, sizes: tuple[int, int] = (1, 90)
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Per-check drift types as screened, and with the engine always on (the screen forced
    to "maybe")."""
    from l0.drift.screen import Screen

    def results() -> list[tuple[str, ...]]:
        detector, rng, found, i = DriftDetector(config), random.Random(2), [], 0
        while i < len(text):
            n = rng.randint(*sizes)
            found.append(tuple(detector.check(text[i : i + n]).types))
            i += n
        return [*found, tuple(detector.check("", completed=True).types)]

    screened = results()
    add = Screen.add
    try:
        Screen.add = lambda self, blocks, final: add(self, blocks, final) or True  # type: ignore[method-assign]
        return screened, results()
    finally:
        Screen.add = add  # type: ignore[method-assign]


@pytest.mark.parametrize(("text", "config"), SCREENED)
def test_screen_never_hides_what_the_engine_detects(text: str, config: DriftConfig | None) -> None:
    # The screen only skips work, and a replayed engine starts where the always-on one
    # would be (words, line, sentence in progress): the results are the same.
    screened, engine = _screened_and_engine_results(text, config)
    assert screened == engine


def test_screen_never_hides_what_the_engine_detects_on_random_mixes() -> None:
    pieces = [PROSE, MARKDOWN, CODE, GIBBERISH, JSON_DOC[:300], *POSITIVES.values()]
    pieces += [long_sentences(4, 200, 5, 5), " \n" * 500, "and then, " * 100]
    # A text seen again a window or more later: its 4-grams are in the older generation.
    pieces += [PROSE + MARKDOWN + PROSE, "".join(prose_chunks(900, seed=5)) * 2]
    configs = [None, DriftConfig(window=800, blocks=5), DriftConfig(sentence_repeat_threshold=2)]
    configs += [DriftConfig(entropy_threshold=0.3), DriftConfig(tone_shift_threshold=0.03)]
    configs += [DriftConfig(hedging_threshold=0.01), DriftConfig(repetition_threshold=0.1)]
    rng = random.Random(7)
    for _ in range(150):
        text = "".join(rng.choice(pieces)[rng.randrange(200) :] for _ in range(rng.randint(2, 5)))
        sizes = rng.choice([(1, 20), (20, 90), (100, 2500)])
        screened, engine = _screened_and_engine_results(text, rng.choice(configs), sizes)
        assert screened == engine


def test_repeated_4grams_are_counted_exactly_against_both_generations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each batch's count is what a set of its 4-grams gives against the history (older
    # and newer generation) as it stood: the fast path (grams straight into the newer
    # generation) and the exact one (some gram in the older) both agree with it.
    from l0.drift.screen import Screen

    counted: list[tuple[int, int, bool]] = []
    repeats = Screen._repeats

    def recount(self: Screen, stream: list[str]) -> int:
        old, new = (set(generation) for generation in self._grams)
        count = repeats(self, stream)
        grams = set(zip(stream, stream[1:], stream[2:], stream[3:], strict=False))
        counted.append((count, max(0, len(stream) - 3) - len(grams - new - old), bool(grams & old)))
        return count

    monkeypatch.setattr(Screen, "_repeats", recount)
    text = PROSE + "".join(prose_chunks(2_000, seed=9)) + PROSE + "and then, " * 60 + PROSE
    for config in (None, DriftConfig(window=800, blocks=5)):
        run(text, step=23, config=config)
    assert all(count == expected for count, expected, _ in counted)
    assert {in_old for _, _, in_old in counted} == {False, True}  # both paths taken


def test_ordinary_text_does_not_wake_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lists and tables repeat phrases, and a last partial block has fewer words: the
    # screen judges those itself (sentence keys, the entropy test) instead of replaying.
    from l0 import drift

    replays: list[int] = []
    replay = drift.DriftDetector._replay
    monkeypatch.setattr(
        drift.DriftDetector, "_replay", lambda self: replays.append(1) or replay(self)
    )
    steps = "".join(f"{n}. Step {n}: run the command and check the output.\n" for n in range(8))
    table = "".join(f"| opt{n} | {n} | sets the value of field {n} |\n" for n in range(8))
    chunks = prose_chunks(3_000)
    for size in (300, 700, 1_100, 1_900, 3_000):
        text = "".join(chunks[:size])
        for extra in ("", f"\n\n{steps}\n", f"\n\n{table}\n"):
            assert run(text[: len(text) // 2] + extra + text[len(text) // 2 :], step=56) == []
    assert replays == []


def test_running_window_statistics_match_a_recount() -> None:
    from collections import Counter
    from itertools import chain

    from l0.drift.engine import Engine

    config = DriftConfig(window=800, blocks=5)
    engine = Engine(config, {}, json_doc=False)
    text = (NEGATIVES["mixed"] + POSITIVES["repetition"]) * 3
    size = engine.block_size
    for i in range(0, len(text) - size, size):
        engine.add(text[i : i + size], final=False, judge=True)
        window = engine.window
        blocks = list(window.blocks)
        grams = list(chain.from_iterable(b.grams for b in blocks))
        assert window.gram_stats() == (len(grams), len(set(grams)))
        units = Counter(chain.from_iterable(b.units for b in blocks))
        assert window.most_repeated_unit() == max(units.values(), default=0)
        half = len(blocks) // 2
        assert window.sums() == (
            _column_sums(blocks[:half]),
            _column_sums(blocks[len(blocks) - half :]),
            _column_sums(blocks),
        )
        assert list(window.entropies) == [b.entropy for b in blocks]


def _column_sums(blocks: list[Any]) -> list[int]:
    return [sum(column) for column in zip(*(b.counts for b in blocks), strict=True)] or [0] * 5
