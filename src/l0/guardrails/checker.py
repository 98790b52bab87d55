"""The shape shared by the built-in rules: an incremental checker and a rule built from it.

Every built-in rule is a small state machine fed the output delta by delta. `feed` sees each
character once (O(delta) per check); `finish` runs once, at completion, for the checks that
need the end of the output (unclosed structure, empty output). The same machine also gives
the rule's stateless `check`: a fresh checker fed the whole content in one delta, so the
two forms can never disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable

from .screen import NEWLINE, Wake
from .streamtext import LineBuffer
from .types import (
    Checker,
    CheckerFactory,
    GuardrailContext,
    GuardrailRule,
    GuardrailViolation,
    Severity,
)

__all__ = ["LineChecker", "StreamChecker", "incremental_rule", "shared_rule", "stateless_check"]


class StreamChecker:
    """Base of the built-in incremental checkers.

    Subclasses implement `feed(delta)` and, when they judge the end of the output,
    `finish()`. `_pos` is the absolute offset of the next character to be fed, so
    violations carry positions in the whole output whatever the chunking.
    """

    def __init__(self, rule: str, severity: Severity, recoverable: bool) -> None:
        self.rule = rule
        self.severity: Severity = severity
        self.recoverable = recoverable
        self._pos = 0
        self._finished = False

    def __call__(self, ctx: GuardrailContext) -> list[GuardrailViolation]:
        found = self.feed(ctx.delta) if ctx.delta else []
        if ctx.completed and not self._finished:
            self._finished = True
            found.extend(self.finish())
        return found

    @property
    def wake(self) -> Wake | None:
        """What new text must contain for this checker to need it now; text without it
        may be held back and fed later (`l0.guardrails.screen`). None: every delta, now.

        A checker that states one is fed text (`feed`, `feed_screened`) while streaming:
        an override of `__call__` may rely on the context at completion only (as the
        zero-output checker does, for the session's data outputs)."""
        return None

    def feed(self, delta: str) -> list[GuardrailViolation]:
        raise NotImplementedError

    def feed_screened(self, text: str) -> list[GuardrailViolation]:
        """`feed` text that was held back: the engine's screen, which follows the text with
        a carry of its own, found none of this checker's `wake` anchors in it (one of its
        chars may be there: a delta that only a char woke is released with the held text).
        A checker that looks for its anchors itself may skip that (the pattern checker
        does); one that waits for chars must still look (the JSON checker does)."""
        return self.feed(text)

    def finish(self) -> list[GuardrailViolation]:
        return []

    def violation(
        self,
        message: str,
        position: int | None = None,
        severity: Severity | None = None,
        suggestion: str | None = None,
    ) -> GuardrailViolation:
        """A violation of this rule at its configured severity unless told otherwise."""
        return GuardrailViolation(
            rule=self.rule,
            message=message,
            severity=severity or self.severity,
            recoverable=self.recoverable,
            position=position,
            suggestion=suggestion,
        )


class LineChecker(StreamChecker):
    """A checker that judges whole lines (markdown, LaTeX): `_line` sees each one once."""

    def __init__(self, rule: str, severity: Severity, recoverable: bool) -> None:
        super().__init__(rule, severity, recoverable)
        self._lines = LineBuffer()

    @property
    def wake(self) -> Wake | None:
        return NEWLINE  # lines are judged when complete: a partial line can wait

    def feed(self, delta: str) -> list[GuardrailViolation]:
        if "\n" not in delta:  # the usual case: no line completes
            self._lines.add(delta)
            return []
        found: list[GuardrailViolation] = []
        for offset, line in self._lines.feed(delta):
            self._line(offset, line, found)
        return found

    def _flush_lines(self, found: list[GuardrailViolation]) -> None:
        """Judge the unfinished last line, at the end of the output."""
        last = self._lines.flush()
        if last is not None:
            self._line(*last, found)

    def _line(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        raise NotImplementedError


def stateless_check(factory: Callable[[], Checker]) -> Checker:
    """The stateless form of an incremental rule: a fresh checker fed the whole content."""
    return _WholeCheck(factory)


class _WholeCheck:
    """`stateless_check`'s check: one small object rather than a closure (a function, its
    cell and their tuple)."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Checker]) -> None:
        self.factory = factory

    def __call__(self, ctx: GuardrailContext) -> list[GuardrailViolation]:
        whole = ctx.content
        return self.factory()(GuardrailContext(whole, ctx.completed, whole, ctx.token_count))


def incremental_rule(
    name: str,
    factory: Callable[[], Checker],
    *,
    severity: Severity,
    recoverable: bool,
    description: str,
    streaming: bool = True,
) -> GuardrailRule:
    """A `GuardrailRule` whose `check` and `incremental` come from the same checker."""
    return GuardrailRule(
        name=name,
        check=stateless_check(factory),
        streaming=streaming,
        severity=severity,
        recoverable=recoverable,
        description=description,
        incremental=factory,
    )


def shared_rule(
    checker: Callable[..., Checker],
    name: str,
    *args: Hashable,
    severity: Severity,
    recoverable: bool,
    description: str,
) -> GuardrailRule:
    """`incremental_rule` for checkers made by `checker(name, severity, recoverable, *args)`,
    all plain values (hashable, compared by value).

    Applications build their rules per session, and an open session keeps them: rules
    built with the same arguments share their factory and stateless check (neither has
    any state), so each of them is a single object.
    """
    factory, check = _shared(checker, name, severity, recoverable, *args)
    return GuardrailRule(
        name=name,
        check=check,
        severity=severity,
        recoverable=recoverable,
        description=description,
        incremental=factory,
    )


@functools.lru_cache(maxsize=256, typed=True)  # a few configurations in practice
def _shared(checker: Callable[..., Checker], *args: Hashable) -> tuple[CheckerFactory, Checker]:
    factory = functools.partial(checker, *args)
    return factory, stateless_check(factory)
