"""Continuation: how a factory is handed the prompt, and overlap removal.

A factory receives the continuation prompt only if it declares a parameter for it
(`prompt_parameter`). Models asked to continue often start by repeating the last words
they were shown: the trimmer holds back the first characters of the resumed attempt (at
most the size of the compared tail), finds the longest suffix of the checkpoint that the
new text starts with, and drops it. After that it is out of the way: the session goes
back to the plain feed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import FunctionType
from typing import Any

__all__ = ["PROMPT_KEYWORD", "OverlapTrimmer", "longest_overlap", "prompt_parameter"]

PROMPT_KEYWORD = "continuation"


def prompt_parameter(factory: Callable[..., Any]) -> str | int | None:
    """How `factory` takes the continuation prompt: by the keyword `continuation` (a
    parameter of that name), positionally (`0`: its only parameter without a default),
    or not at all (`None`: it is called with no arguments).

    A factory whose parameters all have defaults, like `lambda m=m: ...`, declares none:
    its defaults are bound values, not a place for the prompt.
    """
    if type(factory) is FunctionType:  # a def or lambda: its code says, without inspect
        code = factory.__code__
        named = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if PROMPT_KEYWORD in named[code.co_posonlyargcount :]:
            return PROMPT_KEYWORD
        positional = code.co_argcount - len(factory.__defaults__ or ())
        return 0 if positional == 1 else None
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(
        p.name == PROMPT_KEYWORD and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        for p in parameters
    ):
        return PROMPT_KEYWORD
    required = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return 0 if len(required) == 1 else None


TAIL = 200
MIN_OVERLAP = 2


def longest_overlap(previous: str, following: str, minimum: int = MIN_OVERLAP) -> int:
    """Length of the longest suffix of `previous` that is a prefix of `following`."""
    for size in range(min(len(previous), len(following)), minimum - 1, -1):
        if previous.endswith(following[:size]):
            return size
    return 0


class OverlapTrimmer:
    def __init__(self, checkpoint: str, feed: Callable[[Any], str | None]) -> None:
        self._tail = checkpoint[-TAIL:]
        self._inner = feed
        self._held: list[str] = []
        self._held_length = 0
        self.done = not self._tail
        self.removed = 0

    def feed(self, item: Any) -> str | None:
        text = self._inner(item)
        if self.done or not text:
            return text
        self._held.append(text)
        self._held_length += len(text)
        if self._held_length < len(self._tail):
            return None
        return self.flush()

    def flush(self) -> str:
        """Decide on what is held and release the rest."""
        held = "".join(self._held)
        self._held.clear()
        self.done = True
        self.removed = longest_overlap(self._tail, held)
        return held[self.removed :]
