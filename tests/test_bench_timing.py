"""The loopback rows' interleaved timing: both streams are pulled in turn, to the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from benchmarks._timing import _pulled_in_turn, interleaved, interleaved_rounds


def _stream(name: str, blocks: int, pulls: list[str]) -> AsyncIterator[int]:
    async def stream() -> AsyncIterator[int]:
        for index in range(blocks):
            pulls.append(name)
            yield index
        pulls.append(f"{name} end")

    return stream()


def test_streams_take_turns_and_both_run_to_the_end() -> None:
    pulls: list[str] = []
    spent = asyncio.run(
        _pulled_in_turn(
            lambda: _stream("bare", 2, pulls),
            lambda: _stream("l0", 3, pulls),
            measured_first=False,
        )
    )
    assert pulls == ["bare", "l0", "bare", "l0", "bare end", "l0", "l0 end"]
    assert len(spent) == 2 and min(spent) > 0


def test_the_measured_stream_goes_first_when_asked() -> None:
    pulls: list[str] = []
    asyncio.run(
        _pulled_in_turn(
            lambda: _stream("bare", 1, pulls),
            lambda: _stream("l0", 1, pulls),
            measured_first=True,
        )
    )
    assert pulls == ["l0", "bare", "l0 end", "bare end"]


def test_interleaved_reports_one_ratio_per_round_median() -> None:
    opened: list[str] = []

    def counted(name: str) -> AsyncIterator[int]:
        opened.append(name)
        return _stream(name, 2, [])

    bare, measured, ratio = asyncio.run(
        interleaved(lambda: counted("bare"), lambda: counted("l0"), rounds=3)
    )
    assert opened.count("bare") == opened.count("l0") == 4  # a warm-up and three rounds
    assert bare > 0 and measured > 0 and ratio > 0


def test_interleaved_rounds_gives_each_side_a_time_per_round() -> None:
    bares, measures = asyncio.run(
        interleaved_rounds(lambda: _stream("bare", 2, []), lambda: _stream("l0", 2, []), rounds=5)
    )
    assert len(bares) == len(measures) == 5
    assert min(bares) > 0 and min(measures) > 0
