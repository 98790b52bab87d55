"""JSON rules: balanced structure while streaming, parseable JSON at completion.

`json_rule` applies when the output looks like JSON: it starts (after blanks) with `{"`,
`{}`, or `[` followed by a value (`{`, `[`, `"`, `]`, `-` or a digit) -- the whole output is
then one JSON text -- or inside a ```json / ~~~json fenced block of a markdown answer (each
block is checked on its own). Other output is left alone: prose with a stray brace, or
starting with "[Verse 1]" or "{name}", is not a JSON problem.

While streaming it tracks the stack of open `{`/`[` outside strings (with `\\"` and `\\\\`
escapes handled) and flags at once a closer that does not match or has nothing to close.
At completion, or when a JSON fence closes, it flags unclosed structure and unterminated
strings. Each character is looked at once: O(delta) per check.
"""

from __future__ import annotations

import re

import orjson

from .checker import StreamChecker, shared_rule
from .screen import NEVER, Wake
from .types import GuardrailContext, GuardrailRule, GuardrailViolation, Severity

__all__ = ["JsonChecker", "json_rule", "strict_json_rule", "strip_json_fence"]

_SPECIAL = re.compile(r'[{}\[\]"\\]')
_JSON_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*json\w*(?:[ \t].*)?$", re.IGNORECASE)
_CLOSER_OF = {"{": "}", "[": "]"}
_HEAD_KEEP = 64
# What may follow an opening bracket for the output to be taken as JSON (a wrong closer
# counts: "[}" is broken JSON, not prose).
_FOLLOWS = {"{": '"}]', "[": '{["]}-0123456789'}
_MAX_PENDING = 256

# Prose is never reported on: only a ```json fence starts something to check. It needs a
# fence character; a line start that may still be one needs its newline too.
_FENCE_CHARS = Wake("`~")
_LINE_START = Wake("\n`~")

# Modes of the checker.
_UNDECIDED, _RAW, _PROSE, _FENCED, _DONE = range(5)


class JsonChecker(StreamChecker):
    """Incremental structure check of JSON output (see the module docstring)."""

    # Open brackets with their offsets, made by `_begin_json`: most outputs are prose, and
    # an open session keeps its checker.
    _stack: list[tuple[str, int]]

    def __init__(self, rule: str = "json", severity: Severity = "error", recoverable: bool = True):
        super().__init__(rule, severity, recoverable)
        self._mode = _UNDECIDED
        self._in_string = False
        self._string_pos = 0
        self._escape_at = -1
        self._broken = False
        self._head = ""  # the start of the current line (prose mode: fence detection)
        self._head_done = False  # prose: the line cannot open a fence; fenced: nor close it
        self._fence_char = ""
        self._pending = ""  # an opening bracket waiting for the character after it
        self._base = 0  # absolute offset of the text being fed

    # ------------------------------------------------------------------ feeding

    @property
    def wake(self) -> Wake | None:
        if self._mode == _PROSE:
            # Held prose is fed later in one piece, lines in order: only a line begun
            # with fence characters needs its end seen now; the rest wait for one.
            return _LINE_START if self._opening_line else _FENCE_CHARS
        return NEVER if self._mode == _DONE else None

    def feed(self, delta: str) -> list[GuardrailViolation]:
        if self._mode == _PROSE and self._head_done and "\n" not in delta:
            self._pos += len(delta)  # prose, mid-line, and this line cannot open a fence
            return []
        text = self._pending + delta
        self._base = self._pos - len(self._pending)
        self._pending = ""
        found: list[GuardrailViolation] = []
        cursor = 0
        while cursor < len(text):
            if self._mode == _UNDECIDED:
                cursor = self._decide(text, cursor)
            elif self._mode == _RAW:
                self._scan(text[cursor:], self._base + cursor, found)
                cursor = len(text)
            elif self._mode == _PROSE:
                cursor = self._prose(text, cursor)
            elif self._mode == _FENCED:
                cursor = self._fenced(text, cursor, found)
            else:
                cursor = len(text)
        self._pos += len(delta)
        return found

    def feed_screened(self, text: str) -> list[GuardrailViolation]:
        """Prose lines without a fence character open no fence: only the start of the last
        one is kept. (The screen found no anchor in held text, but a char may be there; and
        the line it continues may have begun with one.)"""
        if self._mode != _PROSE or self._opening_line or "`" in text or "~" in text:
            return self.feed(text)
        newline = text.rfind("\n")
        if newline >= 0:
            self._head, self._head_done = "", False
        self._prose_head(text[newline + 1 :])
        self._pos += len(text)
        return []

    @property
    def _opening_line(self) -> bool:
        """Prose: the current line has begun with fence characters (it may open one)."""
        return not self._head_done and bool(self._head.strip(" "))

    def _decide(self, text: str, cursor: int) -> int:
        """Judge the output's start: an opening bracket followed by a JSON value makes the
        whole output one JSON text; anything else is prose (which may hold JSON fences)."""
        rest = text[cursor:]
        stripped = rest.lstrip()
        if not stripped:
            newline = rest.rfind("\n")
            if newline >= 0:
                self._head, rest = "", rest[newline + 1 :]
                self._head_done = False
            self._prose_head(rest)
            return len(text)
        start = cursor + len(rest) - len(stripped)
        if stripped[0] in _FOLLOWS:
            after = stripped[1:].lstrip()
            if not after and len(stripped) < _MAX_PENDING:
                self._pending = text[start:]  # decide when the next character arrives
                return len(text)
            if not after or after[0] in _FOLLOWS[stripped[0]]:
                self._begin_json(_RAW)
                return start
        self._mode = _PROSE
        return cursor

    def _prose(self, delta: str, cursor: int) -> int:
        """Outside JSON: look at each line's start for an opening ```json fence."""
        newline = delta.find("\n", cursor)
        if newline < 0:
            self._prose_head(delta[cursor:])
            return len(delta)
        self._prose_head(delta[cursor:newline])
        line, self._head = self._head, ""
        opens = not self._head_done and _JSON_FENCE.match(line.removesuffix("\r"))
        self._head_done = False
        if opens:
            self._open_fence(line.lstrip(" ")[0])
        return newline + 1

    def _prose_head(self, piece: str) -> None:
        """Keep the start of the line until it shows that it cannot be a ```json fence (a
        character other than a backtick or tilde first, or more than 3 spaces before it)."""
        if self._head_done or len(self._head) >= _HEAD_KEEP:
            return
        head = self._head = self._head + piece[: _HEAD_KEEP - len(self._head)]
        body = head.lstrip(" ")
        if body and (body[0] not in "`~" or len(head) - len(body) > 3):
            self._head_done = True

    def _open_fence(self, char: str) -> None:
        self._begin_json(_FENCED)
        self._fence_char = char
        self._head, self._head_done = "", False

    def _begin_json(self, mode: int) -> None:
        """Start following a JSON text: the whole output (`_RAW`) or a fenced block."""
        self._mode = mode
        self._stack = []
        self._in_string = False
        self._escape_at = -1
        self._broken = False

    def _fenced(self, text: str, cursor: int, found: list[GuardrailViolation]) -> int:
        """Inside a JSON fence: scan the JSON, and watch line starts for the closing fence."""
        newline = text.find("\n", cursor)
        end = len(text) if newline < 0 else newline
        piece = text[cursor:end]
        if not self._head_done and self._fence_closes(piece):
            found.extend(self._close_block())
            self._mode = _PROSE
            self._head, self._head_done = "", True  # the rest of the line cannot open a fence
            return end
        if not self._broken:
            self._scan(piece, self._base + cursor, found)
        if newline < 0:
            return len(text)
        self._head, self._head_done = "", False
        return newline + 1

    def _fence_closes(self, piece: str) -> bool:
        """Whether this line (so far) is the closing fence; decides within a few chars."""
        self._head += piece[:8]
        body = self._head.lstrip(" ")
        if len(self._head) - len(body) > 3:
            self._head_done = True
            return False
        run = len(body) - len(body.lstrip(self._fence_char))
        if run >= 3:
            return True
        if len(body) > run:  # a character other than the fence char: not a fence
            self._head_done = True
        return False

    # ---------------------------------------------------------------- scanning

    def _scan(self, text: str, base: int, found: list[GuardrailViolation]) -> None:
        """Follow strings, escapes and the bracket stack over `text` (starting at `base`)."""
        for match in _SPECIAL.finditer(text):
            position = base + match.start()
            if self._escape_at >= 0:
                escaped = position == self._escape_at
                self._escape_at = -1
                if escaped:
                    continue
            char = match.group()
            if self._in_string:
                if char == "\\":
                    self._escape_at = position + 1
                elif char == '"':
                    self._in_string = False
                continue
            if char == '"':
                self._in_string, self._string_pos = True, position
            elif char in "{[":
                self._stack.append((char, position))
            elif char in "}]" and not self._close(char, position, found):
                return

    def _close(self, char: str, position: int, found: list[GuardrailViolation]) -> bool:
        if not self._stack:
            found.append(self.violation(f"Unexpected '{char}': nothing to close", position))
        elif _CLOSER_OF[self._stack[-1][0]] != char:
            expected = _CLOSER_OF[self._stack[-1][0]]
            found.append(self.violation(f"Mismatched '{char}': expected '{expected}'", position))
        else:
            self._stack.pop()
            return True
        self._broken = True
        if self._mode == _RAW:
            self._mode = _DONE
        return False

    # -------------------------------------------------------------- completion

    def finish(self) -> list[GuardrailViolation]:
        if self._pending:  # the output is just an opening bracket: truncated JSON
            self._begin_json(_RAW)
            self._scan(self._pending, self._pos - len(self._pending), [])
        if self._mode in (_RAW, _FENCED) and not self._broken:
            return self._unclosed("")
        return []

    def _close_block(self) -> list[GuardrailViolation]:
        if self._broken:
            return []
        return self._unclosed(" before the end of the ```json block")

    def _unclosed(self, where: str) -> list[GuardrailViolation]:
        if self._in_string:
            return [self.violation(f"Unterminated JSON string{where}", self._string_pos)]
        if self._stack:
            char, position = self._stack[-1]
            expected = _CLOSER_OF[char]
            return [
                self.violation(f"Unclosed JSON structure{where}: expected '{expected}'", position)
            ]
        return []


def json_rule(
    *, severity: Severity = "error", recoverable: bool = True, name: str = "json"
) -> GuardrailRule:
    """Balanced JSON structure while streaming, closed structure at completion."""
    return shared_rule(
        JsonChecker,
        name,
        severity=severity,
        recoverable=recoverable,
        description="JSON brackets balanced and properly nested (raw JSON or ```json blocks)",
    )


def strip_json_fence(text: str) -> str:
    """The text inside a single surrounding ```json (or bare ```) fence, else the text."""
    body = text.strip()
    if not body.startswith(("```", "~~~")):
        return body
    first_newline = body.find("\n")
    if first_newline < 0:
        return body
    fence = body[:3]
    inner = body[first_newline + 1 :].rstrip()
    if inner.endswith(fence):
        inner = inner[: -len(fence)].rstrip("`~")
    return inner.strip()


def strict_json_rule(
    *, severity: Severity = "error", recoverable: bool = True, name: str = "strict_json"
) -> GuardrailRule:
    """At completion only: the output (after stripping one ```json fence) is a JSON object or
    array. It reads the whole content once, which is why it never runs while streaming."""

    def check(ctx: GuardrailContext) -> list[GuardrailViolation]:
        if not ctx.completed:
            return []
        message = _strict_json_problem(strip_json_fence(ctx.content))
        if message is None:
            return []
        return [GuardrailViolation(name, message, severity, recoverable)]

    return GuardrailRule(
        name=name,
        check=check,
        streaming=False,
        severity=severity,
        recoverable=recoverable,
        description="Output is complete, parseable JSON (object or array)",
    )


def _strict_json_problem(body: str) -> str | None:
    if not body:
        return "Output is empty: expected JSON"
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return f"Output is not valid JSON: {exc}"
    if not isinstance(value, dict | list):
        return "JSON output must be an object or an array"
    return None
