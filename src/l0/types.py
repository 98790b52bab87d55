"""The values a consumer of `l0.run()` sees: stream events and the session state.

A `TokenEvent` is made once per token, so events are plain slotted classes: cheap
Python objects that still read well (`event.is_token`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from .events import Deferred

if TYPE_CHECKING:
    from .guardrails.types import GuardrailViolation


class EventType(str, Enum):
    """What a stream `Event` carries."""

    TOKEN = "token"
    MESSAGE = "message"
    DATA = "data"
    PROGRESS = "progress"
    TOOL_CALL = "tool_call"
    RESET = "reset"
    ERROR = "error"
    COMPLETE = "complete"


class ErrorCategory(str, Enum):
    """How an error is handled (see docs/errors.md for the full retry table)."""

    NETWORK = "network"
    TRANSIENT = "transient"
    MODEL = "model"
    CONTENT = "content"
    PROVIDER = "provider"
    FATAL = "fatal"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class DataPayload:
    """A non-text output (the `data` of a DATA event): an image, audio or video clip, a
    file, or a JSON value. The bytes travel as `base64` or behind a `url`."""

    content_type: str
    """"image", "audio", "video", "file" or "json"."""
    mime_type: str | None = None
    base64: str | None = field(default=None, repr=False)  # large: kept out of logs
    url: str | None = None
    json: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """What the generator reports about it: width, height, seed, duration, model..."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a long generation is (the `data` of a PROGRESS event); any field may be
    unknown."""

    percent: float | None = None
    step: int | None = None
    total_steps: int | None = None
    message: str | None = None
    eta: float | None = None
    """Seconds left, as the generator estimates them."""


_TOKEN = EventType.TOKEN
_TOOL_CALL = EventType.TOOL_CALL
_COMPLETE = EventType.COMPLETE
_ERROR = EventType.ERROR
_RESET = EventType.RESET
_DATA = EventType.DATA
_PROGRESS = EventType.PROGRESS


class Event:
    """One item of an l0 stream.

    - TOKEN: `text` is the new text.
    - TOOL_CALL: `data` is `{"id", "name", "arguments"}` with arguments as the raw JSON text,
      assembled from all of the provider's deltas.
    - DATA: `data` is a `DataPayload` (an image, audio, video...) an adapter produced.
    - PROGRESS: `data` is a `Progress` of a long generation.
    - RESET: the retry boundary. Keep the first `keep` characters of what you built from
      earlier TOKEN events and drop the rest; `state.content` was rewound the same way.
    - COMPLETE: `usage` holds the provider's token usage when it reported one.
    - ERROR: `error` is the final `L0Error`; it is always the last event.
    """

    __slots__ = ("data", "error", "keep", "text", "type", "usage")

    def __init__(
        self,
        type: EventType,
        text: str | None = None,
        data: Any = None,
        usage: dict[str, int] | None = None,
        error: BaseException | None = None,
        keep: int = 0,
    ) -> None:
        self.type = type
        self.text = text
        self.data = data
        self.usage = usage
        self.error = error
        self.keep = keep

    @property
    def is_token(self) -> bool:
        return self.type is _TOKEN

    @property
    def is_tool_call(self) -> bool:
        return self.type is _TOOL_CALL

    @property
    def is_complete(self) -> bool:
        return self.type is _COMPLETE

    @property
    def is_error(self) -> bool:
        return self.type is _ERROR

    @property
    def is_reset(self) -> bool:
        return self.type is _RESET

    @property
    def is_data(self) -> bool:
        return self.type is _DATA

    @property
    def is_progress(self) -> bool:
        return self.type is _PROGRESS

    def __repr__(self) -> str:
        fields = [f"type={self.type.value}"]
        for name in ("text", "data", "usage", "error"):
            value = getattr(self, name)
            if value is not None:
                fields.append(f"{name}={value!r}")
        if self.type is _RESET:
            fields.append(f"keep={self.keep}")
        return f"Event({', '.join(fields)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in Event.__slots__)

    __hash__ = None  # type: ignore[assignment]


class Cursor:
    """Where a reader of the growing content stopped (see `State._since`)."""

    __slots__ = ("chars", "generation", "index")

    def __init__(self, generation: int, index: int, chars: int) -> None:
        self.generation = generation
        self.index = index
        self.chars = chars


class TokenEvent(Event):
    """The TOKEN event, the one object the session makes per token: `text` is its only
    instance field; type, predicate and the other fields are class-level constants."""

    __slots__ = ()
    type = EventType.TOKEN
    is_token = True
    data = usage = error = None
    keep = 0

    def __init__(self, text: str) -> None:
        self.text = text


class State:
    """The session's running state, readable at any time through `result.state`.

    Text is accumulated as a list of pieces and joined only when `content` is read, so the
    per-token cost stays O(1) however long the output grows.
    """

    def __init__(self) -> None:
        # Tokens are appended to `_pieces` by the session and nothing else happens per
        # token: counts and lengths are derived here, on read, from what was appended.
        self._pieces: list[str] = []
        self._token_base = 0  # tokens no longer one-per-piece (joined or rewound)
        self._length = 0  # characters in _pieces[:_counted]
        self._counted = 0
        self._generation = 0  # bumped whenever _pieces is rewritten (joined or rewound)
        self._checkpoint_length = 0
        self._checkpoint_tokens = 0
        self.fallback_index = 0
        self.model_retry_count = 0
        self.network_retry_count = 0
        self.attempt = 0
        self.completed = False
        self.aborted = False
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.violations: list[GuardrailViolation] = []
        self.drift_detected = False
        self.drift_types: list[str] = []
        self.resumed = False
        self.resume_point = ""
        self.resume_from = 0
        self.tool_calls: list[dict[str, Any]] = []
        # An adapter's DATA payloads, in order, from every attempt (each reached the
        # consumer: a retry boundary does not take them back), and its last PROGRESS.
        self.data_outputs: list[Any] = []
        self.last_progress: Any = None
        self.usage: dict[str, int] | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.response_id: str | None = None

    @property
    def token_count(self) -> int:
        return self._token_base + len(self._pieces)

    @property
    def content(self) -> str:
        pieces = self._pieces
        if len(pieces) > 1:
            if self._every:
                self._settle_checkpoint()  # joining loses the token boundaries
            joined = "".join(pieces)
            # In place: the session loop holds a reference to this list.
            self._token_base += len(pieces) - 1
            self._generation += 1
            pieces.clear()
            pieces.append(joined)
            self._length = len(joined)
            self._counted = 1
            return joined
        return pieces[0] if pieces else ""

    # Checkpoints. The session's checks set them at the marks they visit; a session that
    # visits none (no checks, no continuation, nobody listening for checkpoints) sets
    # `_every` instead, and its checkpoint (the content at the last multiple of `_every`
    # tokens) is found on read from the per-token pieces: no work per token.
    _every = 0
    _epoch: _Epoch | None = None

    @property
    def checkpoint(self) -> str:
        """The last validated prefix of `content` (built on read: checkpoints store lengths)."""
        length = self.checkpoint_length
        return self.content[:length] if length else ""

    @property
    def checkpoint_length(self) -> int:
        if self._every:
            self._settle_checkpoint()
        return self._checkpoint_length

    @checkpoint_length.setter
    def checkpoint_length(self, value: int) -> None:
        self._checkpoint_length = value

    @property
    def checkpoint_token_count(self) -> int:
        if self._every:
            self._settle_checkpoint()
        return self._checkpoint_tokens

    @checkpoint_token_count.setter
    def checkpoint_token_count(self, value: int) -> None:
        self._checkpoint_tokens = value

    def _settle_checkpoint(self) -> None:
        """Move a computed-on-read checkpoint to the last `_every`-token boundary, if the
        pieces still show it (a join settles first, so they do)."""
        boundary = self.token_count // self._every * self._every
        covering = boundary - self._token_base  # pieces holding the first `boundary` tokens
        if boundary > self._checkpoint_tokens and covering >= 1:
            self._checkpoint_length = sum(map(len, self._pieces[:covering]))
            self._checkpoint_tokens = boundary

    def _prefix(self, length: int) -> Deferred:
        """`content[:length]`, built when read, even after a retry boundary dropped it."""
        epoch = self._epoch
        if epoch is None:
            epoch = self._epoch = _Epoch(self)
        return Deferred(lambda: epoch.text()[:length])

    @property
    def content_length(self) -> int:
        """Length of `content` in characters, without joining it."""
        pieces = self._pieces
        if self._counted < len(pieces):
            self._length += sum(map(len, pieces[self._counted :]))
            self._counted = len(pieces)
        return self._length

    @property
    def retry_count(self) -> int:
        return self.model_retry_count + self.network_retry_count

    @property
    def duration(self) -> float | None:
        """Seconds from the session's start to its end (or to now while it runs)."""
        if self.started_at is None:
            return None
        from time import monotonic

        end = self.ended_at if self.ended_at is not None else monotonic()
        return end - self.started_at

    @property
    def time_to_first_token(self) -> float | None:
        """Seconds from the session's start to the first token of the attempt that won."""
        if self.started_at is None or self.first_token_at is None:
            return None
        return self.first_token_at - self.started_at

    def _rewind(self, keep: int, tokens: int) -> None:
        """Keep the first `keep` characters, worth `tokens` tokens (the retry boundary)."""
        content = self.content
        kept = content[:keep]
        if self._epoch is not None:  # deferred prefixes of the dropped text keep it
            self._epoch.frozen = content
            self._epoch = None
        if self._checkpoint_length > keep:
            self._checkpoint_length = self._checkpoint_tokens = 0
        pieces = self._pieces
        self._generation += 1
        pieces.clear()
        if kept:
            pieces.append(kept)
        self._length = len(kept)
        self._counted = len(pieces)
        self._token_base = tokens - len(pieces)

    def _cursor(self) -> Cursor:
        """A position at the current end of the content, for `_since`."""
        return Cursor(self._generation, len(self._pieces), self.content_length)

    def _since(self, cursor: Cursor) -> str:
        """The text appended after `cursor`, which then moves to the end: O(that text)."""
        pieces = self._pieces
        if cursor.generation == self._generation:
            text = "".join(pieces[cursor.index :])
        else:  # the pieces were joined or rewound since: fall back to characters
            text = self._tail(cursor.chars)
        cursor.generation = self._generation
        cursor.index = len(pieces)
        cursor.chars += len(text)
        return text

    def _tail(self, start: int) -> str:
        """`content[start:]` in O(len of the tail), without joining the whole content."""
        want = need = self.content_length - start
        if want <= 0:
            return ""
        pieces = self._pieces
        taken: list[str] = []
        index = len(pieces)
        while need > 0:
            index -= 1
            piece = pieces[index]
            taken.append(piece)
            need -= len(piece)
        tail = "".join(reversed(taken))
        return tail[len(tail) - want :]

    def __repr__(self) -> str:
        return (
            f"State(tokens={self.token_count}, chars={self.content_length}, "
            f"attempt={self.attempt}, "
            f"fallback_index={self.fallback_index}, completed={self.completed})"
        )


class _Epoch:
    """The content between two retry boundaries: append-only, so any prefix of it read
    later is the prefix it was; at the boundary it keeps the text it ends with."""

    __slots__ = ("frozen", "state")

    def __init__(self, state: State) -> None:
        self.state = state
        self.frozen: str | None = None

    def text(self) -> str:
        return self.frozen if self.frozen is not None else self.state.content
