"""Checks for public arguments: bad input fails at the call, not deep inside iteration.

A wrong type raises `TypeError`, a wrong value (NaN, infinity, negative, empty) raises
`ValueError`; each message names the argument, says what it accepts and shows what it got
(docs/errors.md, "Bad input"). `name` is the argument as the caller knows it, e.g.
"Retry: base_delay" or "callback_grace". Every check is a few isinstance tests: they run
once per call or per constructor, never per token.
"""

from __future__ import annotations

import math
from collections.abc import Collection

__all__ = [
    "boolean",
    "callable_or_none",
    "choice",
    "integer",
    "number",
    "recording",
    "seconds",
    "show",
    "text",
]


def show(value: object) -> str:
    """What the caller passed, short enough for a message."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}" if not isinstance(value, type) else text


def seconds(name: str, value: object, *, positive: bool = False, or_none: bool = False) -> float:
    """A finite number of seconds, >= 0 (or > 0 with `positive`). `or_none` only says, in
    the message, that the caller also takes None (and checked it before)."""
    what = f"a finite number of seconds {'> 0' if positive else '>= 0'}"
    what = f"None or {what}" if or_none else what
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {what}, got {show(value)}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def number(name: str, value: object, *, positive: bool = False) -> float:
    """A finite number, >= 0 (or > 0 with `positive`)."""
    what = f"a finite number {'> 0' if positive else '>= 0'}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {what}, got {show(value)}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def integer(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {show(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {show(value)}")
    return value


def text(name: str, value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a non-empty str, got {show(value)}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty str, got {value!r}")
    return value


def choice(name: str, value: object, options: Collection[str]) -> str:
    """One of a few strings."""
    accepted = ", ".join(repr(o) for o in options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {accepted}, got {show(value)}")
    if value not in options:
        raise ValueError(f"{name} must be one of {accepted}, got {value!r}")
    return value


def callable_or_none(name: str, value: object, what: str = "a callable") -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be {what} or None, got {show(value)}")


def recording(name: str, value: object) -> None:
    """An event store (`append`, `read`, `stream_ids`) or an `l0.Recording` of one."""
    store = getattr(value, "store", value)
    if not all(callable(getattr(store, m, None)) for m in ("append", "read", "stream_ids")):
        raise TypeError(
            f"{name} must be an event store (l0.create_in_memory_event_store(), "
            f"create_jsonl_event_store(path), create_sqlite_event_store(path)) or an "
            f"l0.Recording, got {show(value)}"
        )
