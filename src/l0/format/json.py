"""Finding and repairing the JSON in a model's output.

Models wrap JSON in prose and Markdown fences, and a stream cut short leaves it unclosed.
These helpers are the one place l0 handles that: `l0.structured` and `l0.consensus` use
them, and so can applications.
"""

from __future__ import annotations

import re

__all__ = [
    "auto_correct_json",
    "correct_json",
    "extract_json_from_markdown",
    "extract_json_from_output",
]

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|jsonc|json5)?[ \t]*\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_CLOSER = {"{": "}", "[": "]"}


def extract_json_from_markdown(text: str) -> str:
    """The inside of the first ```` ```json ```` (or bare ```` ``` ````) fence; the whole
    text, stripped, when there is none."""
    fenced = _FENCE.search(text)
    return fenced.group(1).strip() if fenced else text.strip()


def extract_json_from_output(text: str) -> str:
    """The JSON document in a model's output.

    A fenced block wins. Otherwise the first `{` or `[` and everything up to the bracket
    that balances it, so prose after the document is left out; when nothing balances it
    (the stream stopped early) the rest of the text, for `auto_correct_json` to close.
    Text without a bracket is returned stripped, for the parser to reject.
    """
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text.strip()
    start = min(starts)
    end, _, _ = _scan(text, start, until_balanced=True)
    return text[start:end].strip()


def auto_correct_json(text: str) -> str:
    """Repair what streams commonly break: trailing commas, an unterminated string,
    unclosed brackets. Valid JSON comes back unchanged (but stripped)."""
    return correct_json(text)[0]


def correct_json(text: str) -> tuple[str, int]:
    """`auto_correct_json`, and how many repairs it made (for telemetry)."""
    text, made = _TRAILING_COMMA.subn(r"\1", text.strip())
    _, closers, in_string = _scan(text, 0, until_balanced=False)
    if in_string:
        text += '"'
        made += 1
    text, more = _TRAILING_COMMA.subn(r"\1", text + "".join(reversed(closers)))
    return text, made + len(closers) + more


def _scan(text: str, start: int, *, until_balanced: bool) -> tuple[int, list[str], bool]:
    """Walk `text` from `start`, skipping strings: where it stopped (with
    `until_balanced`, just after the bracket that closes the one open at `start`; else,
    or when nothing closes it, the end), the closers still owed there, and whether a
    string is still open."""
    closers: list[str] = []
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _CLOSER:
            closers.append(_CLOSER[char])
        elif closers and char == closers[-1]:
            closers.pop()
            if until_balanced and not closers:
                return index + 1, closers, False
    return len(text), closers, in_string
