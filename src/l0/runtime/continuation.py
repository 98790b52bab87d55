"""Overlap removal when a resumed attempt repeats the end of the checkpoint.

Models asked to continue often start by repeating the last words they were shown. The
trimmer holds back the first characters of the resumed attempt (at most the size of the
compared tail), finds the longest suffix of the checkpoint that the new text starts with,
and drops it. After that it is out of the way: the session goes back to the plain feed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["OverlapTrimmer", "longest_overlap"]

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
