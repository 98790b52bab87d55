"""Retry policy: how many times, how long to wait, and which errors count toward what.

Two budgets, as in the seeds: `attempts` limits tries spent on MODEL and CONTENT failures
(the model produced something wrong, so trying again costs a generation); `max_retries`
caps every retry, including NETWORK and TRANSIENT ones that are not the model's fault.
Both apply per stream: a fallback starts with fresh budgets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from .. import _validate
from ..errors import RetryDecision

__all__ = ["BackoffStrategy", "Retry", "RetryBudget"]


class BackoffStrategy(str, Enum):
    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"
    FULL_JITTER = "full_jitter"
    FIXED_JITTER = "fixed_jitter"


@dataclass(frozen=True, slots=True, init=False)
class Retry:
    """Retry configuration; all durations in seconds.

    - `attempts`: tries per stream when failures are the model's (MODEL/CONTENT); 1 = no
      model retry. `max_attempts` is accepted as another name for it.
    - `max_retries`: retries of any kind per stream.
    - `max_retry_after`: the longest provider `Retry-After` we honour; longer asks are capped.
    """

    attempts: int
    max_retries: int
    base_delay: float
    max_delay: float
    strategy: BackoffStrategy
    max_retry_after: float

    def __init__(
        self,
        attempts: int | None = None,
        max_retries: int = 6,
        base_delay: float = 1.0,
        max_delay: float = 10.0,
        strategy: BackoffStrategy | str = BackoffStrategy.FIXED_JITTER,
        *,
        max_attempts: int | None = None,
        max_retry_after: float = 30.0,
    ) -> None:
        if attempts is not None and max_attempts is not None and attempts != max_attempts:
            raise ValueError("Retry: give `attempts` or `max_attempts`, not both")
        if attempts is not None:
            _validate.integer("Retry: attempts", attempts, minimum=1)
        if max_attempts is not None:
            _validate.integer("Retry: max_attempts", max_attempts, minimum=1)
        tries = attempts if attempts is not None else max_attempts
        base = _validate.seconds("Retry: base_delay", base_delay)
        cap = _validate.seconds("Retry: max_delay", max_delay)
        if cap < base:
            raise ValueError(
                f"Retry: max_delay must be >= base_delay ({base_delay}), got {max_delay}"
            )
        set_ = object.__setattr__
        set_(self, "attempts", 3 if tries is None else tries)
        set_(self, "max_retries", _validate.integer("Retry: max_retries", max_retries, minimum=0))
        set_(self, "base_delay", base)
        set_(self, "max_delay", cap)
        set_(self, "strategy", _strategy(strategy))
        set_(self, "max_retry_after", _validate.seconds("Retry: max_retry_after", max_retry_after))

    @classmethod
    def none(cls) -> Retry:
        """Never retry; fallbacks still apply."""
        return cls(attempts=1, max_retries=0)

    @classmethod
    def minimal(cls) -> Retry:
        return cls(attempts=2, max_retries=2, base_delay=0.5, max_delay=2.0)

    @classmethod
    def recommended(cls) -> Retry:
        return cls()

    @classmethod
    def strict(cls) -> Retry:
        """Patient: more retries, exponential backoff with full jitter."""
        return cls(
            attempts=3,
            max_retries=10,
            base_delay=1.0,
            max_delay=30.0,
            strategy=BackoffStrategy.FULL_JITTER,
        )

    @classmethod
    def exponential(cls) -> Retry:
        return cls(strategy=BackoffStrategy.EXPONENTIAL)

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry_index` (0 for the first retry)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base, cap = self.base_delay, self.max_delay
        grown = min(cap, base * (2.0**retry_index))
        strategy = self.strategy
        if strategy is BackoffStrategy.EXPONENTIAL:
            return grown
        if strategy is BackoffStrategy.LINEAR:
            return min(cap, base * (retry_index + 1))
        if strategy is BackoffStrategy.FIXED:
            return base
        if strategy is BackoffStrategy.FULL_JITTER:
            return random.uniform(0.0, grown)
        return grown / 2 + random.uniform(0.0, grown / 2)


class RetryBudget:
    """The retries one stream (the primary or one fallback) has used."""

    __slots__ = ("model_retries", "network_retries", "policy")

    def __init__(self, policy: Retry) -> None:
        self.policy = policy
        self.model_retries = 0
        self.network_retries = 0

    @property
    def total(self) -> int:
        return self.model_retries + self.network_retries

    def allows(self, decision: RetryDecision) -> bool:
        if not decision.retry or self.total >= self.policy.max_retries:
            return False
        if decision.counts_toward_attempts:
            return self.model_retries + 1 < self.policy.attempts
        return True

    def spend(self, decision: RetryDecision) -> float:
        """Record a retry and return the delay before it."""
        index = self.total
        if decision.counts_toward_attempts:
            self.model_retries += 1
        else:
            self.network_retries += 1
        return self.policy.delay(index, decision.retry_after)


def _strategy(value: object) -> BackoffStrategy:
    names = ", ".join(repr(s.value) for s in BackoffStrategy)
    if not isinstance(value, str):  # a BackoffStrategy is a str too
        raise TypeError(
            f"Retry: strategy must be a BackoffStrategy or one of {names}, "
            f"got {_validate.show(value)}"
        )
    try:
        return BackoffStrategy(value)
    except ValueError:
        raise ValueError(f"Retry: strategy must be one of {names}, got {value!r}") from None
