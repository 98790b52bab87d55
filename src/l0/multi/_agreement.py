"""How `l0.consensus` decides: when two outputs agree, and which output the votes elect.

Text is compared after `normalise` (casefold, whitespace runs collapsed to one space,
punctuation and whitespace stripped at both ends), so "Paris." and " paris" are the same
answer. Two texts agree when their similarity reaches the threshold; similarity is
`difflib.SequenceMatcher.ratio()` of the normalised texts (twice the matching characters
over all characters: 1.0 for equal texts, 0.0 for nothing in common). Values that are not
text (a schema's numbers, booleans, lists...) agree only when equal.

Votes are grouped greedily, in task order: an output joins the first group whose first
member it agrees with, else starts its own. The group with the most weight wins (the
earliest on a tie), and it is represented by its medoid: the member most similar to the
others (the earliest on a tie). `agreement` is the winning group's share of the weight of
*every* task, failed ones included: a task that gave no usable output agreed to nothing.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Ballot", "Vote", "normalise", "similarity", "vote"]

_ENDS = string.punctuation + string.whitespace


def normalise(text: str) -> str:
    """The form texts are compared in: casefolded, whitespace collapsed, ends stripped."""
    return " ".join(text.casefold().split()).strip(_ENDS)


def similarity(a: Any, b: Any) -> float:
    """How alike two values are, 0-1: `difflib` ratio of normalised texts, else equality."""
    if isinstance(a, str) and isinstance(b, str):
        na, nb = normalise(a), normalise(b)
        if na == nb:
            return 1.0
        return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()
    return 1.0 if a == b else 0.0


@dataclass(frozen=True, slots=True)
class Ballot:
    """One task's output (or one field of it) and the weight of its vote."""

    index: int
    value: Any
    weight: float


@dataclass(frozen=True, slots=True)
class Vote:
    """What the ballots elected."""

    value: Any
    agreement: float
    """The winning group's weight over the weight of every task (0-1)."""
    agreed: bool
    """Whether the strategy's rule held (majority: agreement > 0.5; unanimous: every task
    in one group, each pair agreeing; best, weighted: see `vote`)."""
    agreeing: tuple[int, ...]
    """Task indices in the winning group."""
    unanimous: bool
    """Every task gave a value and all of them agree."""


def vote(
    ballots: Sequence[Ballot],
    weights: Sequence[float],
    strategy: str,
    threshold: float,
    score: Callable[[Any], float] | None = None,
) -> Vote | None:
    """Elect a value from `ballots` by `strategy`; None when there is no ballot.

    `weights` are every task's, failed ones included. majority, weighted: the heaviest
    group wins; agreed when it holds more than half the total weight (every weight 1 for
    majority). unanimous: the same group, agreed only when every task gave a value and
    every pair of values agrees. best: the value with the highest `score` (by default its
    weighted similarity to the other values), always agreed.
    """
    if not ballots:
        return None
    groups = _groups(ballots, threshold)
    winner = max(groups, key=lambda g: sum(b.weight for b in g))  # first max: earliest
    total = sum(weights)
    agreement = sum(b.weight for b in winner) / total if total > 0 else 0.0
    agreeing = tuple(b.index for b in winner)
    unanimous = len(ballots) == len(weights) and all(
        similarity(a.value, b.value) >= threshold
        for i, a in enumerate(ballots)
        for b in ballots[i + 1 :]
    )
    if strategy == "best":
        return Vote(_best(ballots, score).value, agreement, True, agreeing, unanimous)
    agreed = unanimous if strategy == "unanimous" else agreement > 0.5
    return Vote(_medoid(winner).value, agreement, agreed, agreeing, unanimous)


def _groups(ballots: Sequence[Ballot], threshold: float) -> list[list[Ballot]]:
    groups: list[list[Ballot]] = []
    for ballot in ballots:
        for group in groups:
            if similarity(group[0].value, ballot.value) >= threshold:
                group.append(ballot)
                break
        else:
            groups.append([ballot])
    return groups


def _closeness(ballot: Ballot, others: Sequence[Ballot]) -> float:
    return sum(o.weight * similarity(ballot.value, o.value) for o in others if o is not ballot)


def _medoid(group: Sequence[Ballot]) -> Ballot:
    return max(group, key=lambda b: _closeness(b, group))


def _best(ballots: Sequence[Ballot], score: Callable[[Any], float] | None) -> Ballot:
    if score is not None:
        return max(ballots, key=lambda b: score(b.value))
    return max(ballots, key=lambda b: _closeness(b, ballots))
