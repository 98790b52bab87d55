"""LaTeX rule: environments nested properly, math delimiters balanced.

Line based and outside code (fenced blocks and inline `code` spans are skipped, so shell
`$HOME` in a code block is not math). Each complete line is tokenized once: O(delta).

- `\\begin{x}` / `\\end{x}` must nest: an `\\end` that does not match the innermost open
  environment is flagged when its line arrives; unclosed environments at completion.
  Inside `verbatim`-like environments nothing but the matching `\\end` counts.
- `\\( \\)`, `\\[ \\]` and `$$ $$` must be balanced: a stray closer is flagged at once,
  an unclosed opener at completion.
- Inline `$...$` follows pandoc's rule so that prices are not math: `$` opens only when
  followed by a non-space, non-digit character and closes only after a non-space one.
  Inline math must close within its paragraph; if it does not, that is a warning (often a
  literal dollar sign), raised at the blank line or at completion.
- `\\$` and `\\\\` (a line break, as in `\\\\[2pt]`) are never delimiters.
"""

from __future__ import annotations

import re

from .checker import LineChecker, shared_rule
from .streamtext import FenceTracker
from .types import GuardrailRule, GuardrailViolation, Severity

__all__ = ["LatexChecker", "latex_rule"]

_TOKEN = re.compile(r"\\\\|\\\$|\\begin\{([^{}]*)\}|\\end\{([^{}]*)\}|\\\(|\\\)|\\\[|\\\]|\$\$|\$")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_VERBATIM = frozenset({"verbatim", "verbatim*", "lstlisting", "minted", "comment"})
_CLOSER = {"\\(": "\\)", "\\[": "\\]", "$$": "$$", "$": "$"}


def _blank_code_spans(line: str) -> str:
    """Replace inline code spans by spaces, keeping offsets."""
    if "`" not in line:
        return line
    return _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


class LatexChecker(LineChecker):
    """Incremental LaTeX balance check (see the module docstring)."""

    def __init__(self, rule: str = "latex", severity: Severity = "error", recoverable: bool = True):
        super().__init__(rule, severity, recoverable)
        self._fences = FenceTracker()
        self._envs: list[tuple[str, int]] = []
        self._math = ""  # the open math delimiter, "" outside math
        self._math_pos = 0

    def finish(self) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        self._flush_lines(found)
        self._end_paragraph(found)
        if self._math:
            message = f"Unclosed math delimiter {self._math}"
            found.append(self.violation(message, self._math_pos))
        for name, position in reversed(self._envs):
            found.append(self.violation(f"Unclosed \\begin{{{name}}}", position))
        return found

    def _line(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        if self._fences.line(offset, line) != "text":
            return
        if not line.strip():
            self._end_paragraph(found)
            return
        text = _blank_code_spans(line)
        for match in _TOKEN.finditer(text):
            self._token(match, text, offset, found)

    def _end_paragraph(self, found: list[GuardrailViolation]) -> None:
        if self._math == "$":
            message = "Unclosed inline math $ in paragraph"
            found.append(self.violation(message, self._math_pos, "warning"))
            self._math = ""

    def _token(
        self, match: re.Match[str], text: str, offset: int, found: list[GuardrailViolation]
    ) -> None:
        token, position = match.group(), offset + match.start()
        if self._envs and self._envs[-1][0] in _VERBATIM:
            if match[2] == self._envs[-1][0]:
                self._envs.pop()
            return
        if match[1] is not None:
            self._envs.append((match[1], position))
        elif match[2] is not None:
            self._end_env(match[2], position, found)
        elif token in ("\\(", "\\[", "$$"):
            self._delimiter(token, position, found)
        elif token in ("\\)", "\\]"):
            self._closer(token, position, found)
        elif token == "$":
            self._dollar(text, match.start(), position)

    def _end_env(self, name: str, position: int, found: list[GuardrailViolation]) -> None:
        names = [env for env, _ in self._envs]
        if names and names[-1] == name:
            self._envs.pop()
        elif name in names:
            inner = names[-1]
            message = f"\\end{{{name}}} closes before \\end{{{inner}}}"
            found.append(self.violation(message, position))
            del self._envs[len(names) - 1 - names[::-1].index(name) :]
        else:
            message = f"\\end{{{name}}} without a matching \\begin{{{name}}}"
            found.append(self.violation(message, position))

    def _delimiter(self, token: str, position: int, found: list[GuardrailViolation]) -> None:
        if not self._math:
            self._math, self._math_pos = token, position
        elif _CLOSER[self._math] == token or (self._math == "$" and token == "$$"):
            self._math = ""  # `$$` also ends inline `$` math
        else:
            message = f"{token} inside math opened with {self._math}"
            found.append(self.violation(message, position))

    def _closer(self, token: str, position: int, found: list[GuardrailViolation]) -> None:
        if self._math and _CLOSER[self._math] == token:
            self._math = ""
        else:
            found.append(self.violation(f"Unmatched {token}", position))

    def _dollar(self, text: str, index: int, position: int) -> None:
        after = text[index + 1 : index + 2]
        before = text[index - 1 : index] if index else " "
        if self._math == "$":
            if not before.isspace():
                self._math = ""
        elif not self._math and after and not after.isspace() and not after.isdigit():
            self._math, self._math_pos = "$", position


def latex_rule(
    *, severity: Severity = "error", recoverable: bool = True, name: str = "latex"
) -> GuardrailRule:
    """LaTeX environments nested and math delimiters balanced (see the module docstring)."""
    return shared_rule(
        LatexChecker,
        name,
        severity=severity,
        recoverable=recoverable,
        description="LaTeX \\begin/\\end nesting and math delimiters ($, $$, \\(, \\[) balanced",
    )
