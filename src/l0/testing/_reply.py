"""`Reply`: what the fault server does for one request.

A script is a queue of `Reply` values, one per request, so consecutive attempts can differ
(the first attempt fails, the retry succeeds). A `Reply` is frozen because the same value
may sit in several queues and be replayed as the default for many requests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Reply", "split_words"]

# A word with the whitespace in front of it, or trailing whitespace on its own: joining the
# pieces gives the text back exactly, and they look like real tokens ("Hello", " there").
_WORDS = re.compile(r"\s*\S+|\s+")


def split_words(text: str) -> tuple[str, ...]:
    """Split `text` into word chunks that keep their leading spaces."""
    return tuple(_WORDS.findall(text))


@dataclass(frozen=True)
class Reply:
    """One scripted response. Every option really happens on the wire.

    Counts (`reset_after`, `malformed_after`, `error_after`, the K of `stall_after`) are
    numbers of body chunks (content or tool-call deltas) sent after the role chunk; a count
    larger than the body fires just before the finish chunk.
    """

    text: str | None = None
    """Streamed as word chunks ("Hello", " there", " world")."""
    chunks: Sequence[str] | None = None
    """Explicit content chunks, instead of `text`."""
    chunk_delay: float = 0.0
    """Seconds to wait before every chunk after the first."""

    status: int = 200
    """An HTTP status >= 400 sends an OpenAI-shaped error body instead of a completion."""
    retry_after: float | None = None
    """Seconds, sent as the `Retry-After` header."""
    retry_after_ms: int | None = None
    """Milliseconds, sent as the `retry-after-ms` header."""
    error_code: str | None = None
    """`error.code`, e.g. "context_length_exceeded"; defaults follow the status."""
    error_message: str | None = None
    """`error.message` for an error status or an in-band error."""

    reset_after: int | None = None
    """Send K body chunks, then close the connection without finishing the chunked body."""
    stall_before_headers: float | None = None
    """Read the request, then send nothing for this many seconds."""
    stall_before_first: float | None = None
    """Send the response headers, then wait this many seconds before the first chunk."""
    stall_after: tuple[int, float] | None = None
    """(K, seconds): wait after K body chunks."""
    malformed_after: int | None = None
    """After K body chunks send `data: {"choices": [` (not JSON) and end the stream."""
    error_after: int | None = None
    """After K body chunks send an in-band `data: {"error": {...}}` event and end the stream."""

    empty: bool = False
    """Only a role chunk and a finish chunk: a stream with no content."""
    tool_calls: Sequence[tuple[str, str]] = ()
    """(name, arguments JSON text) pairs, streamed as tool-call deltas. The text is sent as
    given, so invalid JSON makes a malformed tool call."""
    usage: bool | None = None
    """Send a final usage chunk; None follows the request's `stream_options.include_usage`."""
    finish_reason: str | None = None
    """Defaults to "tool_calls" when there are tool calls, otherwise "stop"."""
    system_fingerprint: str | None = None

    def __post_init__(self) -> None:
        # Tuples keep the value immutable and hashable even when lists were passed in.
        if self.chunks is not None:
            object.__setattr__(self, "chunks", tuple(self.chunks))
        object.__setattr__(self, "tool_calls", tuple(tuple(c) for c in self.tool_calls))
        if self.stall_after is not None:
            object.__setattr__(self, "stall_after", tuple(self.stall_after))
        self._validate()

    def _validate(self) -> None:
        if self.text is not None and self.chunks is not None:
            raise ValueError("Reply takes `text` or `chunks`, not both")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status, got {self.status}")
        for name in ("reset_after", "malformed_after", "error_after"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if self.stall_after is not None and len(self.stall_after) != 2:
            raise ValueError("stall_after must be (chunks, seconds)")
        if any(len(call) != 2 for call in self.tool_calls):
            raise ValueError("tool_calls must be (name, arguments) pairs")

    @property
    def content_chunks(self) -> tuple[str, ...]:
        """The content deltas this reply streams."""
        if self.empty:
            return ()
        if self.chunks is not None:
            return tuple(self.chunks)
        if self.text is not None:
            return split_words(self.text)
        return () if self.tool_calls else split_words("Hello from the l0 fault server.")

    @property
    def is_error(self) -> bool:
        return self.status >= 400

    @classmethod
    def loop(cls, sentence: str, times: int = 50, **options: Any) -> Reply:
        """A repetition loop (a model stuck saying the same thing), for drift detection."""
        return cls(text=sentence * times, **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        """Build a Reply from JSON (the CLI's control endpoint); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Reply fields: {sorted(unknown)}")
        values = dict(data)
        if "tool_calls" in values:
            values["tool_calls"] = [_tool_call_pair(c) for c in values["tool_calls"]]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The non-default fields, as JSON-ready values."""
        defaults = Reply()
        return {
            key: value for key, value in asdict(self).items() if value != getattr(defaults, key)
        }


def _tool_call_pair(call: Any) -> tuple[str, str]:
    # JSON has no tuples: accept ["name", "args"] or {"name": ..., "arguments": ...}.
    if isinstance(call, Mapping):
        return (str(call["name"]), str(call["arguments"]))
    name, arguments = call
    return (str(name), str(arguments))
