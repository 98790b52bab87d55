"""The vocabulary of guardrails: a rule, what its check sees, what it finds, what it means.

A rule is a pure check over the output. Built-in rules also provide an *incremental*
checker (a small state machine fed only the text added since its previous check), so a
streaming check costs O(delta) however long the output grows. Custom rules can stay simple:
a function `check(state)` that reads `state.content`, like the examples in the README.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .. import _validate
from .._readonly import ReadOnlyList

__all__ = [
    "Checker",
    "CheckerFactory",
    "GuardrailContext",
    "GuardrailResult",
    "GuardrailRule",
    "GuardrailViolation",
    "Severity",
]

Severity = Literal["warning", "error", "fatal"]
_SEVERITIES: tuple[str, ...] = get_args(Severity)


@dataclass(frozen=True, slots=True)
class GuardrailViolation:
    """One problem a rule found.

    `warning` is recorded only; a recoverable `error` asks for a retry; `fatal` (or an
    error that is not recoverable) halts the session. `position` is a character offset in
    the output when the rule knows where the problem starts.
    """

    rule: str
    message: str
    severity: Severity = "error"
    recoverable: bool = True
    position: int | None = None
    suggestion: str | None = None


class GuardrailContext:
    """What a rule's check sees; quacks like `l0.State` for custom rules written as check(state).

    `content` may be given as a callable: it is then built lazily, once, on first read. The
    runtime passes `lambda: state.content` so that joining the output (O(n)) only happens
    when a rule really needs the whole text. Built-in rules never read it while streaming;
    they read `delta`, the text added since their previous streaming check.
    """

    __slots__ = (
        "_content",
        "_metadata",
        "_source",
        "completed",
        "data_outputs",
        "delta",
        "token_count",
    )

    def __init__(
        self,
        content: str | Callable[[], str] = "",
        completed: bool = False,
        delta: str = "",
        token_count: int = 0,
        metadata: dict[str, Any] | None = None,
        data_outputs: Sequence[Any] = (),
    ) -> None:
        self._content: str | None
        self._source: Callable[[], str] | None
        if isinstance(content, str):
            self._content, self._source = content, None
        else:
            self._content, self._source = None, content
        self.completed = completed
        self.delta = delta
        self.token_count = token_count
        self._metadata = metadata  # built on first read: most checks never look
        # The session's non-text outputs (`State.data_outputs`): rules check text, but
        # output made only of data is still output.
        self.data_outputs = data_outputs

    def renew(self, delta: str, token_count: int, completed: bool = False) -> None:
        """Point this context at the next check (the runtime reuses one per attempt).

        A lazily built `content` is forgotten, so the next read builds it afresh.
        """
        if self._source is not None:
            self._content = None  # built again from the source on the next read
        self.delta = delta
        self.token_count = token_count
        self.completed = completed

    @property
    def metadata(self) -> dict[str, Any]:
        """Free-form data for custom rules (an empty dict unless given)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = value

    @property
    def content(self) -> str:
        """The whole output so far (built on first read when given as a callable)."""
        if self._content is None:
            assert self._source is not None
            self._content = self._source()
        return self._content

    def content_length_hint(self) -> int | None:
        """Length of `content` if it is already built, else None (never builds it)."""
        return len(self._content) if self._content is not None else None

    def completed_copy(self) -> GuardrailContext:
        """The same context marked completed, sharing the lazy content."""
        source: str | Callable[[], str]
        source = self._content if self._content is not None else self._lazy_content
        return GuardrailContext(source, True, self.delta, self.token_count, self.metadata)

    def _lazy_content(self) -> str:
        return self.content

    def __repr__(self) -> str:
        return (
            f"GuardrailContext(delta={len(self.delta)} chars, completed={self.completed}, "
            f"token_count={self.token_count})"
        )


Checker = Callable[[GuardrailContext], list[GuardrailViolation]]
"""A check: context in, violations out. Stateless (`rule.check`) or stateful (incremental)."""

CheckerFactory = Callable[[], Checker]
"""Builds a fresh stateful checker; the engine calls it once per attempt."""


@dataclass
class GuardrailRule:
    """A named check with its default severity.

    `check` is the stateless form (custom rules provide it; it may read `ctx.content`).
    `incremental`, when set, builds a fresh stateful checker per engine and attempt that
    only reads `ctx.delta` and `ctx.completed`; the engine prefers it while streaming.
    `streaming=False` rules run once, at completion, through `check`.
    """

    name: str
    check: Checker
    streaming: bool = True
    severity: Severity = "error"
    recoverable: bool = True
    description: str = ""
    incremental: CheckerFactory | None = None

    def __post_init__(self) -> None:
        # Here rather than in each rule factory: every rule, built-in or custom, is built
        # here. Presets build a few rules per call, so a good rule costs one expression.
        if (
            type(self.name) is str
            and self.name.strip()
            and callable(self.check)
            and type(self.streaming) is bool
            and self.severity in _SEVERITIES
            and type(self.recoverable) is bool
            and type(self.description) is str
            and (self.incremental is None or callable(self.incremental))
        ):
            return
        _validate.text("GuardrailRule: name", self.name)
        if not callable(self.check):
            raise TypeError(
                f"GuardrailRule: check must be a callable(ctx), got {_validate.show(self.check)}"
            )
        _validate.boolean("GuardrailRule: streaming", self.streaming)
        _validate.choice("GuardrailRule: severity", self.severity, _SEVERITIES)
        _validate.boolean("GuardrailRule: recoverable", self.recoverable)
        if not isinstance(self.description, str):
            raise TypeError(
                f"GuardrailRule: description must be a str, got {_validate.show(self.description)}"
            )
        _validate.callable_or_none("GuardrailRule: incremental", self.incremental, "a callable")


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    """The verdict of one engine check.

    `violations` holds only the distinct violations first found by this check (an engine
    reports each (rule, message) once per attempt). `passed` is False when one of them is an
    error or fatal; warnings are recorded but pass.
    """

    passed: bool
    violations: list[GuardrailViolation]
    should_halt: bool
    should_retry: bool

    @classmethod
    def from_violations(cls, violations: list[GuardrailViolation]) -> GuardrailResult:
        """Derive the flags: fatal or non-recoverable error halts, recoverable error retries."""
        halt = any(
            v.severity == "fatal" or (v.severity == "error" and not v.recoverable)
            for v in violations
        )
        retry = not halt and any(v.severity == "error" for v in violations)
        passed = all(v.severity == "warning" for v in violations)
        return cls(passed, violations, halt, retry)


PASSED = GuardrailResult(True, ReadOnlyList(), False, False)
"""What a check that found nothing new returns (shared: building a result per check costs
more than the built-in rules' checks themselves)."""
