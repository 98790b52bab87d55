"""Putting documents and conversation history into a prompt, clearly delimited.

Content inside a delimiter must not be able to end it: a document that contains
`</context>` would otherwise let its own text pose as instructions. Each formatter
neutralises its own closing delimiter inside the content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .. import _validate

__all__ = ["format_context", "format_memory"]

Delimiter = Literal["xml", "markdown", "brackets"]
MemoryStyle = Literal["conversational", "structured", "compact"]

_LABEL = re.compile(r"\A[A-Za-z_][A-Za-z0-9_.-]*\Z")
_ROLES = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def format_context(content: str, label: str = "context", delimiter: Delimiter = "xml") -> str:
    """`content` between delimiters named `label`: `<label>…</label>` (xml), a
    `# Label` heading (markdown), or `[LABEL]…[/LABEL]` (brackets)."""
    if not isinstance(content, str):
        raise TypeError(f"content must be a str, got {_validate.show(content)}")
    label = _label(label)
    _validate.choice("delimiter", delimiter, ("xml", "markdown", "brackets"))
    body = content.strip()
    if delimiter == "xml":
        body = body.replace(f"</{label}>", f"&lt;/{label}>")
        return f"<{label}>\n{body}\n</{label}>"
    if delimiter == "brackets":
        closing = f"[/{label.upper()}]"
        body = body.replace(closing, f"[\\/{label.upper()}]")
        return f"[{label.upper()}]\n{body}\n{closing}"
    heading = label.replace("_", " ").capitalize()
    return f"# {heading}\n\n{body}"


def format_memory(
    messages: Iterable[Mapping[str, Any]],
    style: MemoryStyle = "conversational",
    max_entries: int | None = None,
) -> str:
    """Conversation history as prompt text: `User: …` turns separated by blank lines
    (conversational), `<message role="…">` elements in `<conversation_history>`
    (structured), or one `U: …` line per message (compact). `max_entries` keeps the last
    ones. Messages are `{"role", "content"}` mappings, as the chat APIs take them."""
    _validate.choice("style", style, ("conversational", "structured", "compact"))
    if max_entries is not None:
        _validate.integer("max_entries", max_entries, minimum=1)
    turns = [_turn(i, m) for i, m in enumerate(messages)]
    if max_entries is not None:
        turns = turns[-max_entries:]
    if style == "structured":
        lines = [
            f'<message role="{role}">{text.replace("</message>", "&lt;/message>")}</message>'
            for role, text in turns
        ]
        return "\n".join(["<conversation_history>", *lines, "</conversation_history>"])
    if style == "compact":
        return "\n".join(f"{_name(role)[0]}: {' '.join(text.split())}" for role, text in turns)
    return "\n\n".join(f"{_name(role)}: {text}" for role, text in turns)


def _label(label: object) -> str:
    if not isinstance(label, str):
        raise TypeError(f"label must be a str like 'context', got {_validate.show(label)}")
    if not _LABEL.match(label):
        raise ValueError(
            f"label must be a name of letters, digits, '_', '.', '-' like 'context', got {label!r}"
        )
    return label


def _turn(index: int, message: object) -> tuple[str, str]:
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise TypeError(
            f"messages[{index}] must be a mapping with a str 'role' and 'content', "
            f"got {_validate.show(message)}"
        )
    content = message.get("content")
    if isinstance(content, list):  # content parts: the text ones are the history
        content = " ".join(p["text"] for p in content if isinstance(p, Mapping) and "text" in p)
    return message["role"], "" if content is None else str(content).strip()


def _name(role: str) -> str:
    return _ROLES.get(role, role.capitalize() or "?")
