"""Counting tokens: a real tokenizer when one works offline, else a documented estimate.

`tiktoken` is the real one. It is not enough that it is installed: its encodings are
files it downloads on first use (or finds in `TIKTOKEN_CACHE_DIR`), so on a machine
without network it fails at first use. l0 tries it once per process and falls back to the
estimate when it cannot load, so a window never needs the network.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

__all__ = ["ENCODING", "Counter", "default_counter", "estimate_tokens"]

logger = logging.getLogger("l0")

Counter = Callable[[str], int]

ENCODING = "o200k_base"
"""The tiktoken encoding of the GPT-4o and later OpenAI models."""

_CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About one token per 4 characters, rounded up: OpenAI's rule of thumb for English
    prose. It overcounts code and undercounts CJK text; windows sized by it stay a safe
    distance below a model's limit for English."""
    return -(-len(text) // _CHARS_PER_TOKEN)


@functools.cache
def default_counter() -> tuple[str, Counter]:
    """The counter windows use when given none, and its name (`tiktoken:o200k_base` or
    `estimate`); chosen once per process."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
        encoding.encode_ordinary("probe")
    except Exception as exc:  # not installed, or its encoding cannot be fetched offline
        logger.debug("token counts are estimated: tiktoken is not usable (%r)", exc)
        return "estimate", estimate_tokens

    def count(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    return f"tiktoken:{ENCODING}", count
