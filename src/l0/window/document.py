"""`l0.create_window`: a long document as windows a model can take, and a session per
window on the multi-stream core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .. import _validate
from .split import character_spans, unit_spans
from .tokens import Counter, default_counter

if TYPE_CHECKING:
    from ..errors import L0Error
    from ..runtime.result import Result

__all__ = ["ChunkResult", "DocumentWindow", "Strategy", "WindowChunk", "create_window"]

Strategy = Literal["token", "character", "paragraph", "sentence"]
STRATEGIES = ("token", "character", "paragraph", "sentence")


@dataclass(frozen=True, slots=True)
class WindowChunk:
    """One window of the document: `text` is `document[start:end]`."""

    index: int
    total: int
    text: str
    start: int
    end: int
    token_count: int

    @property
    def is_first(self) -> bool:
        return self.index == 0

    @property
    def is_last(self) -> bool:
        return self.index == self.total - 1


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What one window's session came to."""

    chunk: WindowChunk
    result: Result | None
    """The window's session when it succeeded (`state`, `session_id`); None otherwise."""
    error: L0Error | None
    """Why it failed, or STREAM_ABORTED when `fail_fast` stopped it."""

    @property
    def status(self) -> Literal["success", "error"]:
        return "success" if self.error is None else "error"

    @property
    def content(self) -> str | None:
        return self.result.state.content if self.result is not None else None


class DocumentWindow:
    """A document cut into windows of at most `size` tokens (characters with the
    "character" strategy), each repeating up to `overlap` of the previous one's end."""

    def __init__(
        self,
        text: str,
        size: int = 2000,
        overlap: int = 200,
        strategy: Strategy = "token",
        tokenizer: Counter | None = None,
    ) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {_validate.show(text)}")
        self.size = _validate.integer("size", size, minimum=1)
        self.overlap = _validate.integer("overlap", overlap, minimum=0)
        if overlap >= size:
            raise ValueError(f"overlap must be < size, got overlap={overlap}, size={size}")
        self.strategy = _validate.choice("strategy", strategy, STRATEGIES)
        _validate.callable_or_none("tokenizer", tokenizer, "a function from str to int")
        self.tokenizer_name, count = ("custom", tokenizer) if tokenizer else default_counter()
        self.text = text
        self._chunks = self._cut(count)

    def _cut(self, count: Counter) -> tuple[WindowChunk, ...]:
        if self.strategy == "character":
            spans = character_spans(len(self.text), self.size, self.overlap)
        else:
            spans = unit_spans(self.text, self.size, self.overlap, self.strategy, count)
        spans = [s for s in spans if self.text[s[0] : s[1]].strip()]  # blank text: none
        total = len(spans)
        return tuple(
            WindowChunk(i, total, self.text[a:b], a, b, count(self.text[a:b]))
            for i, (a, b) in enumerate(spans)
        )

    @property
    def total_chunks(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> tuple[WindowChunk, ...]:
        return self._chunks

    def get(self, index: int) -> WindowChunk:
        """Window `index` (negative counts from the end)."""
        _validate.integer("index", index, minimum=-len(self._chunks))
        if index >= len(self._chunks):
            raise IndexError(f"index must be < total_chunks ({len(self._chunks)}), got {index}")
        return self._chunks[index]

    def __len__(self) -> int:
        return len(self._chunks)

    def __iter__(self) -> Iterator[WindowChunk]:
        return iter(self._chunks)

    def __repr__(self) -> str:
        return (
            f"DocumentWindow(chunks={self.total_chunks}, size={self.size}, "
            f"overlap={self.overlap}, strategy={self.strategy!r}, "
            f"tokenizer={self.tokenizer_name!r})"
        )

    async def process_all(
        self,
        fn: Callable[[WindowChunk], Any],
        concurrency: int | None = 5,
        fail_fast: bool = False,
        **options: Any,
    ) -> list[ChunkResult]:
        """One l0 session per window, `concurrency` at a time, on `l0.parallel`.

        `fn(chunk)` returns the window's task: a stream factory, a dict of `l0.run` options
        or an `l0.Task`; `options` (any `l0.run` option) apply to every window. Results
        are in window order, each with its status; a failed window does not stop the
        others unless `fail_fast`.
        """
        from ..multi import parallel

        if not callable(fn):
            raise TypeError(f"fn must be callable, got {_validate.show(fn)}")
        if not self._chunks:
            return []
        tasks = [fn(chunk) for chunk in self._chunks]
        outcome = await parallel(tasks, concurrency=concurrency, fail_fast=fail_fast, **options)
        return [
            ChunkResult(chunk, result, error)
            for chunk, result, error in zip(
                self._chunks, outcome.results, outcome.errors, strict=True
            )
        ]


def create_window(
    text: str,
    size: int = 2000,
    overlap: int = 200,
    strategy: Strategy = "token",
    tokenizer: Counter | None = None,
) -> DocumentWindow:
    """`text` as windows of at most `size` tokens with `overlap` tokens shared between
    neighbours, cut between words ("token"), sentences, paragraphs, or anywhere
    ("character": size and overlap in characters). Token counts come from `tokenizer`
    (a function from text to its count), else tiktoken when it works offline, else an
    estimate of 4 characters per token (docs/windows.md)."""
    return DocumentWindow(text, size, overlap, strategy, tokenizer)
