"""Tidying a model's text output before it is shown or stored."""

from __future__ import annotations

import re

__all__ = ["clean_output"]

_WHOLE_FENCE = re.compile(r"\A```[^\n`]*\n(.*?)\n?```\Z", re.DOTALL)
# A short opening line that only announces the answer ("Sure! Here is the summary:").
_PREAMBLE = re.compile(
    r"\A(?:sure|certainly|of course|okay|ok|absolutely)?[!,.]?\s*"
    r"(?:here(?:'s| is| are)\b[^\n]{0,80}:|(?:sure|certainly|of course)[!.])[ \t]*\n+",
    re.IGNORECASE,
)
_INVISIBLE = str.maketrans("", "", "\ufeff\u200b\u200c\u200d\u2060")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def clean_output(text: str) -> str:
    """`text` without the wrapping models add around an answer.

    In order: zero-width characters and byte-order marks are removed, line endings become
    `\\n`, a first line that only announces the answer ("Here is the JSON:", "Sure!") is
    dropped, a code fence around the whole answer is unwrapped, trailing spaces on each
    line and blank space at both ends are trimmed. Text in the middle is never changed.
    """
    text = text.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n").strip()
    text = _PREAMBLE.sub("", text, count=1)
    fenced = _WHOLE_FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    return _TRAILING_SPACE.sub("", text).strip()
