"""Pattern rules: known bad phrases (meta commentary, refusals, leaked special tokens).

Matching runs on a bounded window, the last `window` characters of earlier output plus the
new delta, so a phrase split across deltas ("As an" + " AI") is found and a check costs
O(window + delta), never O(content). A regex whose matches can be longer than `window` may
be missed when split; the defaults are far shorter. Each pattern is reported once (its first
match), then no longer searched for.

Most checks cost only O(delta): when every pattern has a literal anchor (the default ones
do: "an ai", "m sorry", "<|"...), the window is only scanned while an anchor was seen in
the last `window` characters (see `TailMatcher` and `l0.guardrails.anchors`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import _validate
from .checker import StreamChecker, incremental_rule, shared_rule
from .screen import Wake
from .streamtext import TailMatcher
from .streamtext import phrase_regex as _phrase
from .types import Checker, GuardrailRule, GuardrailViolation, Severity

__all__ = [
    "DEFAULT_PATTERNS",
    "BadPattern",
    "PatternChecker",
    "custom_pattern_rule",
    "pattern_rule",
]


@dataclass(frozen=True, slots=True)
class BadPattern:
    """A phrase to flag: `regex` (searched case-insensitively) and the violation message."""

    category: str
    regex: str
    message: str

    def compile(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.IGNORECASE)


DEFAULT_PATTERNS: tuple[BadPattern, ...] = (
    BadPattern("meta_commentary", _phrase("as an ai"), "Meta commentary: 'As an AI'"),
    BadPattern(
        "meta_commentary",
        _phrase("as a (?:large )?language model"),
        "Meta commentary: 'as a language model'",
    ),
    BadPattern(
        "meta_commentary", _phrase("i(?:'m| am) (?:just )?an ai"), "Meta commentary: 'I am an AI'"
    ),
    BadPattern(
        "refusal",
        _phrase("i(?:'m| am) sorry,? but i (?:cannot|can't|can not|am unable|won't|am not able)"),
        "Refusal: 'I'm sorry, but I cannot'",
    ),
    BadPattern(
        "refusal", _phrase("i (?:cannot|can't|can not) assist"), "Refusal: 'I cannot assist'"
    ),
    BadPattern(
        "refusal",
        _phrase("i (?:cannot|can't|can not) help with (?:that|this|your request)"),
        "Refusal: 'I cannot help with that'",
    ),
    BadPattern(
        "refusal",
        _phrase("i(?:'m| am) (?:unable|not able) to (?:assist|help|comply|fulfill)"),
        "Refusal: 'I am unable to assist'",
    ),
    BadPattern(
        "instruction_leak",
        r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id)\|>",
        "Leaked special token (e.g. <|im_start|>)",
    ),
    BadPattern("instruction_leak", r"\[/?inst\]", "Leaked instruction marker [INST]"),
)

_DEFAULT_WINDOW = 64
_CUSTOM_WINDOW = 256


class PatternChecker(StreamChecker):
    """Reports the first match of each pattern, looking at a bounded window of the stream."""

    def __init__(
        self,
        rule: str,
        severity: Severity,
        recoverable: bool,
        patterns: Sequence[tuple[re.Pattern[str], str]],
        window: int,
    ) -> None:
        super().__init__(rule, severity, recoverable)
        self._matcher = TailMatcher([pattern for pattern, _ in patterns], window)
        self._patterns = patterns  # the rule's: violations read their messages from it

    @property
    def wake(self) -> Wake | None:
        return self._matcher.wake

    def feed(self, delta: str) -> list[GuardrailViolation]:
        matches = self._matcher.feed(delta)
        return self._report(matches) if matches else []

    def feed_screened(self, text: str) -> list[GuardrailViolation]:
        matches = self._matcher.feed(text, screened=True)
        return self._report(matches) if matches else []

    def finish(self) -> list[GuardrailViolation]:
        return self._report(self._matcher.feed("", final=True))

    def _report(self, matches: list[tuple[int, int, int]]) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        for index, start, _end in matches:
            if self._matcher.disable(index):
                found.append(self.violation(self._patterns[index][1], start))
        return found


def _compile(
    patterns: Sequence[str | re.Pattern[str] | BadPattern],
    flags: int,
    message: str | None,
    owner: str = "pattern_rule",
) -> list[tuple[re.Pattern[str], str]]:
    accepts = f"{owner}: patterns must be a non-empty list of regexes (str or re.Pattern)"
    if isinstance(patterns, str | bytes | re.Pattern) or not isinstance(patterns, Iterable):
        raise TypeError(f"{accepts}, got {_validate.show(patterns)}")
    compiled: list[tuple[re.Pattern[str], str]] = []
    for i, pattern in enumerate(patterns):
        if isinstance(pattern, BadPattern):
            compiled.append((pattern.compile(), pattern.message))
            continue
        regex = pattern if isinstance(pattern, re.Pattern) else _regex(owner, i, pattern, flags)
        label = f"{message}: {regex.pattern}" if message else f"Matched pattern: {regex.pattern}"
        compiled.append((regex, label))
    if not compiled:
        raise ValueError(f"{accepts}, got an empty one")
    return compiled


def _regex(owner: str, i: int, pattern: object, flags: int) -> re.Pattern[str]:
    name = f"{owner}: patterns[{i}]"
    if not isinstance(pattern, str):
        raise TypeError(
            f"{name} must be a regex (str or re.Pattern), got {_validate.show(pattern)}"
        )
    if not pattern:
        raise ValueError(f"{name} must be a non-empty regex (an empty one matches everywhere)")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"{name} must be a valid regex, got {pattern!r} ({exc})") from exc


@functools.cache
def _default_patterns() -> list[tuple[re.Pattern[str], str]]:
    return _compile(DEFAULT_PATTERNS, re.IGNORECASE, None)  # compiled once, read-only, shared


def _pattern_rule(
    name: str,
    compiled: list[tuple[re.Pattern[str], str]],
    severity: Severity,
    recoverable: bool,
    window: int,
    description: str,
) -> GuardrailRule:
    factory = functools.partial(PatternChecker, name, severity, recoverable, compiled, window)
    return incremental_rule(
        name, factory, severity=severity, recoverable=recoverable, description=description
    )


def _default_checker(name: str, severity: Severity, recoverable: bool, window: int) -> Checker:
    """A checker of the default patterns (a `shared_rule` factory: its arguments are
    cheap to hash, unlike compiled patterns)."""
    return PatternChecker(name, severity, recoverable, _default_patterns(), window)


def pattern_rule(
    patterns: Sequence[str | re.Pattern[str] | BadPattern] | None = None,
    *,
    severity: Severity = "error",
    recoverable: bool = True,
    name: str = "pattern",
    window: int | None = None,
) -> GuardrailRule:
    """Flag meta commentary ("As an AI"), refusals and leaked special tokens.

    `patterns` replaces the defaults (`DEFAULT_PATTERNS`); strings are regexes searched
    case-insensitively. `window` bounds the length of a match (default 64 characters
    for the defaults, 256 for your own patterns).
    """
    if window is None:
        window = _DEFAULT_WINDOW if patterns is None else _CUSTOM_WINDOW
    _validate.integer("pattern_rule: window", window, minimum=1)
    description = "Known bad patterns: meta commentary, refusals, leaked special tokens"
    if patterns is None:
        return shared_rule(
            _default_checker,
            name,
            window,
            severity=severity,
            recoverable=recoverable,
            description=description,
        )
    compiled = _compile(patterns, re.IGNORECASE, None)
    return _pattern_rule(name, compiled, severity, recoverable, window, description)


def custom_pattern_rule(
    patterns: Sequence[str | re.Pattern[str]],
    message: str = "Custom pattern violation",
    severity: Severity = "error",
    *,
    recoverable: bool = True,
    name: str = "custom_pattern",
    window: int = _CUSTOM_WINDOW,
    flags: int = re.IGNORECASE,
) -> GuardrailRule:
    """Flag your own regexes; each violation reads "<message>: <pattern>"."""
    owner = "custom_pattern_rule"
    _validate.text(f"{owner}: message", message)
    _validate.integer(f"{owner}: window", window, minimum=1)
    _validate.integer(f"{owner}: flags", flags, minimum=0)
    compiled = _compile(patterns, flags, message, owner)
    return _pattern_rule(name, compiled, severity, recoverable, window, message)
