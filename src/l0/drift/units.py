"""Sentences ("units") as the screen counts them, cut from a batch of text at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .measures import GRAM

MAX_UNIT = 500  # UnitSplitter's default: sentences are truncated there
# Units as the screen keys them: their letters and digits, lower-cased, after UnitSplitter's
# truncation. That is what a unit's words and numbers (`unit_key`) are made of, so units
# with one key have one screen key. ASCII text is cut and keyed by byte translations.
_UNIT_END = re.compile("[.!?\u3002\uff01\uff1f\n]")  # UnitSplitter's boundaries
_NOT_WORD = re.compile(r"[\W_]+")
_UPPER = bytes(range(65, 91))
_ASCII_UNITS = bytes.maketrans(b".!?" + _UPPER, b"\n\n\n" + _UPPER.lower())
_NOT_KEY = bytes(b for b in range(256) if not ((b < 128 and chr(b).isalnum()) or b == 10))


@dataclass(slots=True)
class Units:
    """The units ending in a batch of `blocks` blocks: ASCII ones cut (lower-cased, one
    per line) and keyed when first needed (`keyed`), others keyed at once."""

    blocks: int
    cut: bytes
    keys: list[bytes] | None

    def keyed(self) -> list[bytes]:
        """Screen keys of the units with 4+ letters or digits (fewer cannot make 4 words)."""
        if self.keys is None:
            units = self.cut.split(b"\n")
            if max(map(len, units)) > MAX_UNIT:
                units = [unit[:MAX_UNIT] for unit in units]
            keys = b"\n".join(units).translate(None, _NOT_KEY).split(b"\n")
            self.keys = [key for key in keys if len(key) >= GRAM]
        return self.keys


def cut_units(text: str, blocks: int, final: bool) -> tuple[Units, str]:
    """The units ending in `text` (the last one too if `final`), and the first characters
    of the unit left unfinished (what UnitSplitter keeps of it)."""
    if text.isascii():
        cut = text.encode().translate(_ASCII_UNITS)
        end = len(cut) if final else cut.rfind(b"\n") + 1
        return Units(blocks, cut[:end], None), cut[end : end + MAX_UNIT].decode()
    units = _UNIT_END.split(text)
    tail = "" if final else units.pop()[:MAX_UNIT]
    keys = (_NOT_WORD.sub("", unit[:MAX_UNIT].lower()) for unit in units)
    keyed = [key.encode("utf-8", "surrogatepass") for key in keys if len(key) >= GRAM]
    return Units(blocks, b"", keyed), tail


def warm_up(block_size: int) -> int:
    """Blocks before a window in which a unit (sentence) ending in it may begin."""
    return -(-MAX_UNIT // block_size) + 1
