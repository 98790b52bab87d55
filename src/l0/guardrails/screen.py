"""Holding back quiet text: one cheap test decides whether any checker needs a delta now.

Streaming checks run every few tokens, and on ordinary prose almost none of them has
anything to do: the markdown rule waits for a newline, the pattern rule for one of its
anchors, the JSON rule (on prose) for the next line start. Calling each of them to find
that out costs more than the little text they are handed. So each built-in checker says,
through `StreamChecker.wake`, what new text must contain for it to need that text *now*:

- `Wake(chars, anchors)`: text that contains none of `chars` and ends none of `anchors`
  (folded, see `l0.guardrails.anchors`) may be held back and fed later, joined to the text
  that follows it, without changing anything the checker reports or when;
- `None`: the checker needs every delta as it comes (the default, and any custom checker).

The engine combines the wakes of its checkers into one `Screen`. A delta the screen finds
quiet is held; the first delta it does not (or enough held text, or the end of the
attempt) releases everything held, in order, to every checker. Because a checker's wake
is a promise about its own state, the engine asks again after each release.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .anchors import fold

__all__ = ["NEVER", "NEWLINE", "AnchorWatch", "Screen", "Wake", "screen_for"]

_MAX_ANCHOR = 64  # a prefix of an anchor is an anchor too: longer ones are cut (see Wake)


@dataclass(frozen=True, slots=True)
class Wake:
    """What new text must contain for a checker to need it now (see the module docstring).

    `chars` are looked for in the raw delta, `anchors` in the folded text. `Wake()` wakes
    for nothing: the checker only needs the text by the end of the attempt.
    """

    chars: str = ""
    anchors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Every match contains its anchor, so it contains the anchor's prefix as well.
        cut = tuple(dict.fromkeys(anchor[:_MAX_ANCHOR] for anchor in self.anchors if anchor))
        object.__setattr__(self, "anchors", cut)


NEVER = Wake()
NEWLINE = Wake("\n")


class AnchorWatch:
    """Whether an anchor ends in the new text (or one of `chars` is in it): deltas are
    folded and tested after a carry of the previous text's last characters, so an anchor
    split across deltas is seen.

    `carry` is the folded end of the text before the first delta, and `whole` says whether
    it is all of that text. When it is not, and is shorter than the longest anchor, an
    anchor may have begun before it: until the carry is long enough, every delta counts as
    seeing one.
    """

    __slots__ = ("_carry", "anchored", "anchors", "blind", "carry_len", "chars")

    def __init__(
        self, anchors: Sequence[str], carry: str = "", *, whole: bool = True, chars: str = ""
    ) -> None:
        self.anchors = tuple(anchors)
        self.chars = tuple(chars)
        self.carry_len = _carry_len(self.anchors)
        count = self.carry_len
        self._carry = carry[len(carry) - count :] if count < len(carry) else carry
        self.blind = not whole and len(self._carry) < count
        self.anchored = False
        """Whether the last delta `sees` saw may hold an anchor (False: only a char)."""

    @property
    def carry(self) -> str:
        """The folded end of the text seen so far (what a successor watch continues from)."""
        return self._carry

    def sees(self, delta: str) -> bool:
        # One flat function: the guardrail engine calls it every few tokens.
        if self.anchors:
            low = delta.lower()
            carry = self._carry
            text = carry + low
            # Lower-casing folds plain ASCII; "  " also finds a space run across the carry.
            if not (low.isascii() and low.isprintable()) or "  " in text:
                text = carry + _after_carry(carry, fold(delta))
            count = self.carry_len
            self._carry = text[len(text) - count :] if count < len(text) else text
            if self.blind:
                self.blind = len(self._carry) < count
                self.anchored = True
                return True
            for anchor in self.anchors:  # a plain loop beats any() here
                if anchor in text:
                    self.anchored = True
                    return True
        for char in self.chars:
            if char in delta:
                self.anchored = False
                return True
        return False

    def skip(self, text: str) -> None:
        """Follow `text` without looking at it: the caller screened it for these anchors
        (with a carry of its own) and none ends in it. Only its end is folded, for the
        carry."""
        count = self.carry_len
        if not self.anchors or not text:
            return
        size = 2 * count + 2
        while True:  # enough of the end to fold into `count` characters (runs shrink)
            folded = fold(text[-size:])
            if len(folded) > count or size >= len(text):
                break
            size *= 4
        if size >= len(text):  # all of it: it continues the carry
            folded = self._carry + _after_carry(self._carry, folded)
        self._carry = folded[len(folded) - count :] if count < len(folded) else folded
        self.blind = self.blind and len(self._carry) < count


def _after_carry(carry: str, folded: str) -> str:
    """Folded text as it continues `carry`: a space run across them is one space."""
    return folded[1:] if folded[:1] == " " and carry[-1:] == " " else folded


def _carry_len(anchors: tuple[str, ...]) -> int:
    """Characters of carry an anchor test needs: an anchor may end one past them."""
    return max(map(len, anchors), default=1) - 1


class Screen(AnchorWatch):
    """The combined wake of several checkers: a delta it does not `see` is quiet.

    It continues from the screen it replaces (`previous`): it takes over its carry, and is
    blind (sees every delta) until it has seen enough text of its own.
    """

    __slots__ = ("wake",)

    def __init__(self, wake: Wake, previous: Screen | None = None) -> None:
        carry = previous.carry if previous is not None else ""
        super().__init__(wake.anchors, carry, whole=False, chars=wake.chars)
        self.wake = wake

    def retarget(self, wake: Wake) -> None:
        """Take `wake`, which has the same anchors: the carry runs on."""
        self.wake = wake
        self.chars = tuple(wake.chars)


def screen_for(wakes: Iterable[Wake | None], previous: Screen | None) -> Screen | None:
    """The screen for checkers with these wakes (None: some checker needs every delta).

    With the same anchors as `previous` it is `previous` itself, retargeted, so its watch
    runs on undisturbed.
    """
    combined = _combined(tuple(wakes))
    if combined is None:
        return None
    if previous is not None and previous.wake.anchors == combined.anchors:
        previous.retarget(combined)
        return previous
    return Screen(combined, previous)


@functools.lru_cache(maxsize=256)
def _combined(wakes: tuple[Wake | None, ...]) -> Wake | None:
    """The union of `wakes` (a checker's wake alternates among a few: this is cached)."""
    chars: dict[str, None] = {}
    anchors: dict[str, None] = {}
    for wake in wakes:
        if wake is None:
            return None
        chars.update(dict.fromkeys(wake.chars))
        anchors.update(dict.fromkeys(wake.anchors))
    return Wake("".join(chars), tuple(anchors))
