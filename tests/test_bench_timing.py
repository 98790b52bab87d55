"""`make bench`'s timing: paired and interleaved rounds, and the order-balanced ratio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from benchmarks._timing import (
    MIN_ROUNDS,
    _pulled_in_turn,
    balanced_ratio,
    interleaved,
    interleaved_rounds,
    paired,
    rounds_for,
)


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


def test_interleaved_runs_a_warm_up_then_each_round() -> None:
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


def test_balanced_ratio_weighs_both_orders_alike() -> None:
    # Rounds alternate: bare timed first (ratio 2) and second (ratio 8). A plain median
    # says 2 here, only because bare-first rounds are one more; the balanced ratio is 4.
    bares = [1.0] * 7
    measures = [2.0, 8.0, 2.0, 8.0, 2.0, 8.0, 2.0]
    assert balanced_ratio(bares, measures) == pytest.approx(4.0)
    assert balanced_ratio(bares[:5], measures[:5]) == pytest.approx(4.0)


def test_balanced_ratio_takes_each_orders_median() -> None:
    # One wild round in each order moves nothing.
    bares = [1.0] * 6
    measures = [3.0, 3.0, 3.0, 30.0, 0.1, 3.0]
    assert balanced_ratio(bares, measures) == pytest.approx(3.0)


def test_balanced_ratio_of_one_round_is_its_ratio() -> None:
    assert balanced_ratio([2.0], [3.0]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="at least one round"):
        balanced_ratio([], [])


def test_paired_times_as_many_rounds_each_way() -> None:
    order: list[str] = []

    async def side(name: str) -> None:
        order.append(name)

    asyncio.run(paired(lambda: side("bare"), lambda: side("l0")))
    rounds = order[2:]  # after the warm-up pair
    assert len(rounds) % 4 == 0 and len(rounds) // 2 >= MIN_ROUNDS
    firsts = rounds[0::2]
    assert firsts.count("bare") == firsts.count("l0")


@pytest.mark.parametrize(("seconds", "rounds"), [(1 / 9, 10), (1 / 12, 12), (1.0, 8), (1e-6, 100)])
def test_rounds_fill_a_second_evenly(seconds: float, rounds: int) -> None:
    assert rounds_for(seconds) == rounds
