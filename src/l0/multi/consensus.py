"""`l0.consensus`: run several tasks, then elect the output they agree on.

Every task runs to the end as a full session (on the `Pool` core, so `concurrency=`
limits them). Their texts are then compared (`_agreement`: normalised text, a similarity
threshold) and voted on by the strategy. With a Pydantic `schema`, each output is parsed
and every field is voted on by itself, so the result says which fields disagreed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .. import _validate
from ..events import ObservabilityEventType as T
from ..format.json import extract_json_from_output
from ..runtime.result import Result
from ._agreement import Ballot, Vote, vote
from ._operation import Operation
from ._tasks import start_child, task_options
from .pool import ParallelResult, Pool

__all__ = ["ConsensusResult", "FieldVote", "consensus"]

Strategy = Literal["majority", "unanimous", "best", "weighted"]
_STRATEGIES = ("majority", "unanimous", "best", "weighted")


@dataclass(frozen=True, slots=True)
class FieldVote:
    """How the outputs voted on one field of the schema."""

    value: Any
    agreement: float
    agreed: bool


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """The agreed output, how far the tasks agreed, and what each one said."""

    consensus: Any
    """The elected output: text, or an instance of `schema`; None when no task gave a
    usable output."""
    agreement: float
    """0-1: the weight of the tasks behind `consensus` over every task's weight (with a
    schema, the mean over the fields)."""
    status: Literal["agreed", "disagreed", "failed"]
    """'agreed' when the strategy's rule held, 'disagreed' when it did not (`consensus`
    is still the best-supported output), 'failed' when no task gave a usable output."""
    strategy: str
    outputs: tuple[str | None, ...]
    """Each task's text, None where it failed."""
    agreeing: tuple[int, ...]
    """Indices of the tasks behind `consensus` (with a schema: in every field)."""
    results: tuple[Result | None, ...]
    errors: tuple[BaseException | None, ...]
    """Each task's error: its session's, or the schema's ValidationError."""
    fields: Mapping[str, FieldVote] = field(default_factory=lambda: MappingProxyType({}))
    """With a schema: the vote on every field."""

    @property
    def agreed(self) -> bool:
        return self.status == "agreed"

    @property
    def disagreed_fields(self) -> tuple[str, ...]:
        """With a schema: the fields on which not every task gave the same value."""
        return tuple(name for name, v in self.fields.items() if v.agreement < 1.0)


async def consensus(
    tasks: Sequence[Any],
    strategy: Strategy = "majority",
    *,
    threshold: float = 0.8,
    weights: Sequence[float] | None = None,
    schema: type[BaseModel] | None = None,
    score: Callable[[str], float] | None = None,
    concurrency: int | None = None,
    **options: Any,
) -> ConsensusResult:
    """Run every task and elect the output they agree on.

    `strategy`: 'majority' (more than half the tasks agree), 'unanimous' (every task
    succeeded and every pair of outputs agrees), 'weighted' (more than half the total
    `weights` agree), 'best' (the output with the highest `score(text)`; by default the
    one most similar to the others). Two texts agree when their similarity reaches
    `threshold` (see docs/multi.md: normalised text, difflib ratio). `options` (any
    `l0.run` option) apply to every task.
    """
    strategy = _validate.choice("strategy", strategy, _STRATEGIES)  # type: ignore[assignment]
    threshold = _threshold(threshold)
    count = len(task_options(tasks, options))
    task_weights = _weights(weights, count, strategy)
    if schema is not None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"schema must be a Pydantic model class, got {_validate.show(schema)}")
    _validate.callable_or_none("score", score)
    results = [start_child(i, spec) for i, spec in enumerate(task_options(tasks, options))]
    election = _Election(strategy, threshold, task_weights, schema, score)
    await Pool(concurrency, **options)._run(
        results, "consensus", election.finish, strategy=strategy, task_count=count
    )
    assert election.result is not None
    return election.result


def _threshold(value: object) -> float:
    number = _validate.number("threshold", value, positive=True)
    if number > 1:
        raise ValueError(f"threshold must be a number in (0, 1], got {number}")
    return number


def _weights(weights: Sequence[float] | None, count: int, strategy: str) -> tuple[float, ...]:
    if weights is None:
        return (1.0,) * count
    if isinstance(weights, str | bytes) or not isinstance(weights, Sequence):
        raise TypeError(f"weights must be a list of numbers, got {_validate.show(weights)}")
    if len(weights) != count:
        raise ValueError(f"weights must hold one number per task ({count}), got {len(weights)}")
    checked = tuple(_validate.number(f"weights[{i}]", w) for i, w in enumerate(weights))
    if not math.fsum(checked) > 0:
        raise ValueError("weights must not all be 0")
    if strategy in ("majority", "unanimous"):
        raise ValueError(f"weights are for strategy 'weighted' or 'best', not {strategy!r}")
    return checked


class _Election:
    """Turns the finished sessions into a ConsensusResult, reported on the operation."""

    def __init__(
        self,
        strategy: str,
        threshold: float,
        weights: tuple[float, ...],
        schema: type[BaseModel] | None,
        score: Callable[[str], float] | None,
    ) -> None:
        self.strategy = strategy
        self.threshold = threshold
        self.weights = weights
        self.schema = schema
        self.score = score
        self.result: ConsensusResult | None = None

    def finish(self, op: Operation, gathered: ParallelResult) -> dict[str, Any]:
        outputs = gathered.contents
        errors: list[BaseException | None] = list(gathered.errors)
        if self.schema is None:
            elected = self._texts(outputs)
            fields: Mapping[str, FieldVote] = MappingProxyType({})
        else:
            parsed = [self._parse(text, i, errors) for i, text in enumerate(outputs)]
            elected, fields = self._fields(parsed, outputs)
        status: Literal["agreed", "disagreed", "failed"] = (
            "failed" if elected is None else "agreed" if elected.agreed else "disagreed"
        )
        self.result = ConsensusResult(
            consensus=elected.value if elected is not None else None,
            agreement=elected.agreement if elected is not None else 0.0,
            status=status,
            strategy=self.strategy,
            outputs=outputs,
            agreeing=elected.agreeing if elected is not None else (),
            results=gathered.results,
            errors=tuple(errors),
            fields=fields,
        )
        op.emit(
            T.CONSENSUS_RESULT,
            strategy=self.strategy,
            status=status,
            agreement=self.result.agreement,
            agreeing=list(self.result.agreeing),
            disagreed_fields=list(self.result.disagreed_fields) or None,
        )
        if status == "failed":
            first = next((e for e in errors if e is not None), None)
            return {"outcome": "error", "error": first}
        return {"outcome": "success"}

    def _ballots(self, values: Sequence[Any]) -> list[Ballot]:
        return [Ballot(i, v, self.weights[i]) for i, v in enumerate(values) if v is not None]

    def _texts(self, outputs: Sequence[str | None]) -> Vote | None:
        return vote(self._ballots(outputs), self.weights, self.strategy, self.threshold, self.score)

    def _parse(self, text: str | None, index: int, errors: list[BaseException | None]) -> Any:
        if text is None or self.schema is None:
            return None
        try:
            return self.schema.model_validate_json(extract_json_from_output(text))
        except ValidationError as exc:
            errors[index] = exc
            return None

    def _fields(
        self, parsed: Sequence[BaseModel | None], outputs: Sequence[str | None]
    ) -> tuple[Vote | None, Mapping[str, FieldVote]]:
        """Vote on every field; the consensus is the schema built from the winners."""
        assert self.schema is not None
        usable = [p for p in parsed if p is not None]
        if not usable:
            return None, MappingProxyType({})
        # 'best' picks a whole output; the fields then report how far the others agree.
        rule = "majority" if self.strategy == "best" else self.strategy
        votes: dict[str, Vote] = {}
        for name in self.schema.model_fields:
            values = [_plain(getattr(p, name)) if p is not None else None for p in parsed]
            field_vote = vote(self._ballots(values), self.weights, rule, self.threshold)
            assert field_vote is not None
            votes[name] = field_vote
        fields = MappingProxyType(
            {n: FieldVote(v.value, v.agreement, v.agreed) for n, v in votes.items()}
        )
        agreement = sum(v.agreement for v in votes.values()) / max(len(votes), 1)
        agreeing = set.intersection(*(set(v.agreeing) for v in votes.values())) if votes else set()
        if self.strategy == "best":
            texts = [t if p is not None else None for t, p in zip(outputs, parsed, strict=True)]
            best = vote(self._ballots(texts), self.weights, "best", self.threshold, self.score)
            assert best is not None
            chosen = next(p for p, t in zip(parsed, outputs, strict=True) if t == best.value)
            return Vote(chosen, agreement, True, tuple(sorted(agreeing)), False), fields
        value = self.schema.model_validate({n: v.value for n, v in votes.items()})
        agreed = all(v.agreed for v in votes.values())
        return Vote(value, agreement, agreed, tuple(sorted(agreeing)), False), fields


def _plain(value: Any) -> Any:
    """A field's value in comparable form: nested models as dicts."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
