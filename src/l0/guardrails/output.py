"""Output-shape rules: empty output, stalled output, looping output.

- `zero_output_rule`: at completion, the output is empty or only whitespace (including
  zero-width characters) and the adapter produced no DATA (an image is output).
  O(delta): it only remembers whether it saw a visible character.
- `stall_rule`: no new visible content for more than `max_gap` seconds between checks.
  It only fires when the engine is asked to check (the runtime's inter-token timeout
  handles a stream that sends nothing at all); the clock is injectable for tests.
- `repetition_rule`: the same sentence or line `threshold` times among the last `window`
  units. Units are cut at . ! ? (and CJK forms) and newlines; units of fewer than
  `min_words` words or numbers are ignored, so repeated code lines, JSON keys, list
  numbers or short replies ("Yes.") do not count. O(delta): a bounded deque and counter
  of recent units.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, deque
from collections.abc import Callable

from .. import _validate
from .checker import StreamChecker, incremental_rule, shared_rule
from .screen import NEVER, Wake
from .streamtext import UNIT_ENDS, UnitSplitter, unit_key
from .types import GuardrailContext, GuardrailRule, GuardrailViolation, Severity

__all__ = [
    "RepetitionChecker",
    "StallChecker",
    "ZeroOutputChecker",
    "repetition_rule",
    "stall_rule",
    "zero_output_rule",
]

_UNIT_END = Wake(UNIT_ENDS)
_INVISIBLE = " \t\n\r\f\v\u00a0\u200b\u200c\u200d\u2060\ufeff"


class ZeroOutputChecker(StreamChecker):
    """Remembers whether any visible character arrived; judges at completion."""

    def __init__(self, rule: str, severity: Severity, recoverable: bool) -> None:
        super().__init__(rule, severity, recoverable)
        self._seen = False

    @property
    def wake(self) -> Wake | None:
        return NEVER  # it only judges at completion

    def __call__(self, ctx: GuardrailContext) -> list[GuardrailViolation]:
        if ctx.completed and ctx.data_outputs:
            self._seen = True  # an image (or other DATA) is output, though not text
        return super().__call__(ctx)

    def feed(self, delta: str) -> list[GuardrailViolation]:
        if not self._seen and delta.strip(_INVISIBLE):
            self._seen = True
        return []

    def finish(self) -> list[GuardrailViolation]:
        if self._seen:
            return []
        return [self.violation("No meaningful output: empty or whitespace only", 0)]


def zero_output_rule(
    *, severity: Severity = "error", recoverable: bool = True, name: str = "zero_output"
) -> GuardrailRule:
    """Flag an output that is empty or whitespace only, at completion."""
    return shared_rule(
        ZeroOutputChecker,
        name,
        severity=severity,
        recoverable=recoverable,
        description="Output is not empty or whitespace only",
    )


class StallChecker(StreamChecker):
    """Measures the time since the last check that brought visible content."""

    def __init__(
        self,
        rule: str,
        severity: Severity,
        recoverable: bool,
        max_gap: float,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(rule, severity, recoverable)
        self._max_gap = max_gap
        self._clock = clock
        self._last: float | None = None

    def __call__(self, ctx: GuardrailContext) -> list[GuardrailViolation]:
        now = self._clock()
        position = self._pos
        self._pos += len(ctx.delta)
        if self._last is None or ctx.delta.strip(_INVISIBLE):
            self._last = now
            return []
        if now - self._last <= self._max_gap:
            return []
        message = f"Stream stalled: no new content for more than {self._max_gap:g}s"
        return [self.violation(message, position)]


def stall_rule(
    max_gap: float = 5.0,
    *,
    severity: Severity = "warning",
    recoverable: bool = True,
    name: str = "stall",
    clock: Callable[[], float] = time.monotonic,
) -> GuardrailRule:
    """Flag a stream that keeps being checked without new visible content for `max_gap` s.

    Its stateless `check` cannot see time between calls and never fires; the engine uses
    the incremental form.
    """
    _validate.seconds("stall_rule: max_gap", max_gap, positive=True)
    if not callable(clock):
        raise TypeError(f"stall_rule: clock must be a callable, got {_validate.show(clock)}")

    # Not a `shared_rule`: the clock is the caller's, and may not be hashable.
    return incremental_rule(
        name,
        functools.partial(StallChecker, name, severity, recoverable, max_gap, clock),
        severity=severity,
        recoverable=recoverable,
        description=f"New content at least every {max_gap:g}s",
    )


class RepetitionChecker(StreamChecker):
    """Counts normalized sentence/line units over a sliding window of recent units."""

    def __init__(
        self,
        rule: str,
        severity: Severity,
        recoverable: bool,
        window: int,
        threshold: int,
        min_words: int,
    ) -> None:
        super().__init__(rule, severity, recoverable)
        self._splitter = UnitSplitter()
        self._recent: deque[str] = deque()
        self._counts: Counter[str] = Counter()
        self._window = window
        self._threshold = threshold
        self._min_words = min_words
        self._reported = False

    @property
    def wake(self) -> Wake | None:
        return NEVER if self._reported else _UNIT_END  # a unit is judged when it ends

    def feed(self, delta: str) -> list[GuardrailViolation]:
        units = self._splitter.feed(delta)
        return self._units(units) if units else []

    def finish(self) -> list[GuardrailViolation]:
        last = self._splitter.flush()
        return self._units([last] if last is not None else [])

    def _units(self, units: list[tuple[int, str]]) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        for start, unit in units:
            key = unit_key(unit, self._min_words)
            if key is None or self._reported:
                continue
            self._push(key)
            if self._counts[key] >= self._threshold:
                self._reported = True
                message = (
                    f"Repeated content: the same sentence {self._threshold} times "
                    f"within {self._window} sentences"
                )
                found.append(self.violation(message, start + len(unit) - len(unit.lstrip())))
        return found

    def _push(self, key: str) -> None:
        self._recent.append(key)
        self._counts[key] += 1
        if len(self._recent) > self._window:
            old = self._recent.popleft()
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]


def repetition_rule(
    window: int = 20,
    threshold: int = 3,
    *,
    min_words: int = 4,
    severity: Severity = "error",
    recoverable: bool = True,
    name: str = "repetition",
) -> GuardrailRule:
    """Flag a model looping: one sentence `threshold` times among the last `window` ones."""
    _validate.integer("repetition_rule: window", window, minimum=1)
    _validate.integer("repetition_rule: threshold", threshold, minimum=2)
    _validate.integer("repetition_rule: min_words", min_words, minimum=1)

    return shared_rule(
        RepetitionChecker,
        name,
        window,
        threshold,
        min_words,
        severity=severity,
        recoverable=recoverable,
        description=f"No sentence repeated {threshold} times within {window} sentences",
    )
