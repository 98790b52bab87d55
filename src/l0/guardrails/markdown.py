"""Markdown rule: code fences closed, tables and ordered lists consistent.

Line based: each complete line is classified once (O(delta) per check; a line is judged
when its newline arrives, the last line at completion).

- Code fences (``` and ~~~, with info strings; CommonMark lengths and indentation, see
  `FenceTracker`) must be closed at completion. An unclosed fence usually means a
  truncated answer, so it has the rule's severity (default "error").
- Tables: the delimiter row must have as many cells as the header, and every body row
  too (GFM would silently pad or drop cells, which hides a broken table). Warning.
- Ordered lists: within one run of items at the same indentation, numbers either all
  repeat (`1.` `1.` `1.`) or go up by one; `1.` `2.` `4.` is a warning. A paragraph or
  heading between items starts a new run, so lists split by code blocks are fine.
Nothing inside fenced code is checked.
"""

from __future__ import annotations

import re

from .checker import LineChecker, shared_rule
from .screen import NEWLINE, Wake
from .streamtext import FenceTracker, indent_of
from .types import GuardrailRule, GuardrailViolation, Severity

__all__ = ["MarkdownChecker", "markdown_rule", "table_cells"]

_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_ORDERED_ITEM = re.compile(r"^([ \t]*)(\d{1,9})([.)])[ \t]")
_BULLET_ITEM = re.compile(r"^[ \t]*[-*+][ \t]")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
# Every line this rule reports on holds one of these (a table's pipe, a list number) and
# so does every fence: other lines only change state, and may be judged later, in order.
_MARKUP_CHARS = "|`~0123456789"
_MARKUP = Wake(_MARKUP_CHARS)


def _has_markup(text: str) -> bool:
    # One memchr-like scan per character: cheap however long the (held) text is.
    return any(char in text for char in _MARKUP_CHARS)


def table_cells(row: str) -> int:
    """Cells in a GFM table row: split on unescaped pipes, outer pipes optional."""
    body = row.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return len(_UNESCAPED_PIPE.split(body))


class MarkdownChecker(LineChecker):
    """Incremental markdown structure check (see the module docstring)."""

    def __init__(
        self, rule: str = "markdown", severity: Severity = "error", recoverable: bool = True
    ):
        super().__init__(rule, severity, recoverable)
        self._fences = FenceTracker()
        self._previous = ""  # the previous text line, a table header candidate
        self._table_cells = 0  # cells of the current table; 0 outside tables
        self._runs: dict[tuple[int, str], tuple[int, int, str]] = {}
        self._open_markup = False  # the unfinished line holds one of _MARKUP_CHARS

    @property
    def wake(self) -> Wake:
        """A newline only while a line it would complete can be reported on (or a fenced
        block or table is open); otherwise only a line with markup can be."""
        if self._open_markup or self._table_cells or self._fences.inside:
            return NEWLINE
        return _MARKUP

    def feed(self, delta: str) -> list[GuardrailViolation]:
        found = super().feed(delta)
        newline = delta.rfind("\n")
        if newline >= 0:
            self._open_markup = _has_markup(delta[newline + 1 :])
        elif not self._open_markup:
            self._open_markup = _has_markup(delta)
        return found

    def feed_screened(self, text: str) -> list[GuardrailViolation]:
        """Held-back text judged in one step when no line of it can matter: no markup in
        it, and no fenced block, table, list run or marked line open. Then a line only
        becomes the previous line (a table header candidate) and may set the list context
        of fences; nothing is reported."""
        fences = self._fences
        if (
            self._open_markup
            or self._table_cells
            or self._runs
            or fences.inside
            or _has_markup(text)
        ):
            return self.feed(text)
        block = self._lines.skip(text)
        if block is not None:
            fences.follow_text(block)
            self._previous = block[block.rfind("\n") + 1 :].removesuffix("\r")
        return []

    def finish(self) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        self._flush_lines(found)
        if self._fences.inside:
            fence = self._fences.open_char * 3
            found.append(self.violation(f"Unclosed code fence ({fence})", self._fences.open_pos))
        return found

    def _line(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        kind = self._fences.line(offset, line)
        if kind != "text":
            self._table_cells = 0
            self._previous = ""
            if kind == "open" and indent_of(line) == 0:
                self._runs.clear()
            return
        self._table(offset, line, found)
        self._ordered_list(offset, line, found)
        self._previous = line

    # ------------------------------------------------------------------ tables

    def _table(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        if self._table_cells:
            if "|" not in line or not line.strip():
                self._table_cells = 0
            elif table_cells(line) != self._table_cells:
                message = "Table row has a different number of cells than the header"
                found.append(self.violation(message, offset, "warning"))
            return
        if "|" not in line or "|" not in self._previous or not _DELIMITER_ROW.match(line):
            return
        header = table_cells(self._previous)
        if table_cells(line) == header:
            self._table_cells = header
        else:
            message = "Table delimiter row does not match the header's number of cells"
            found.append(self.violation(message, offset, "warning"))

    # ------------------------------------------------------------ ordered lists

    def _ordered_list(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        match = _ORDERED_ITEM.match(line)
        if match is None:
            self._end_runs(line)
            return
        indent = indent_of(match[1])
        self._runs = {key: run for key, run in self._runs.items() if key[0] <= indent}
        key, number = (indent, match[3]), int(match[2])
        first, last, mode = self._runs.get(key, (number, number, "new"))
        if mode == "new":
            self._runs[key] = (number, number, "first")
            return
        if mode == "first":
            mode = "same" if number == last else "step" if number == last + 1 else "bad"
        elif (mode == "same" and number != last) or (mode == "step" and number != last + 1):
            mode = "bad"
        if mode == "bad":
            found.append(
                self.violation("Ordered list numbering is inconsistent", offset, "warning")
            )
            mode = "step"
        self._runs[key] = (first, number, mode)

    def _end_runs(self, line: str) -> None:
        """A heading or an unindented paragraph line ends every list run."""
        if not line.strip():
            return
        if _HEADING.match(line) or (indent_of(line) == 0 and not _BULLET_ITEM.match(line)):
            self._runs.clear()
        elif _BULLET_ITEM.match(line):
            indent = indent_of(line)
            self._runs = {key: run for key, run in self._runs.items() if key[0] < indent}


def markdown_rule(
    *, severity: Severity = "error", recoverable: bool = True, name: str = "markdown"
) -> GuardrailRule:
    """Markdown structure: fences closed at completion (error), tables/lists (warnings)."""
    return shared_rule(
        MarkdownChecker,
        name,
        severity=severity,
        recoverable=recoverable,
        description="Markdown code fences closed; table and ordered-list structure consistent",
    )
