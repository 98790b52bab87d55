"""Adapters turn a provider's stream into l0 events.

Two shapes, both supported:
- the seeds' *adapter* protocol (`name`, `detect(stream)`, `wrap(stream) -> AsyncIterator[Event]`),
  for custom providers registered with `Adapters.register`;
- built-in *translators* that turn one provider chunk into its text with a plain method
  call. The session iterates the provider's stream itself and calls `feed(chunk)`, so the
  built-in path adds no async-generator layer per token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ..types import Event

__all__ = ["Adapter", "StreamInfo", "ToolCall", "Translator", "made_by"]


@runtime_checkable
class Adapter(Protocol):
    """A custom adapter (seeds protocol): must keep text exact, end with one COMPLETE."""

    name: str

    def detect(self, stream: Any) -> bool: ...

    def wrap(self, stream: Any) -> AsyncIterator[Event]: ...


@dataclass(slots=True)
class ToolCall:
    """A tool call assembled from the provider's deltas."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""

    def as_data(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(slots=True)
class StreamInfo:
    """What telemetry learns about an attempt's provider call (never content)."""

    adapter: str
    provider: str | None = None
    request_model: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    request: dict[str, Any] | None = None
    """Request parameters (temperature, max_tokens...), never messages or other content."""

    def take_server(self, url: str) -> None:
        """Address and port of the server the provider call went to."""
        parts = urlsplit(url)
        self.server_address = parts.hostname
        self.server_port = parts.port or (443 if parts.scheme == "https" else 80)


class Translator:
    """Per-attempt state of a built-in adapter. `feed` is on the hot path: keep it tiny."""

    name = "base"

    def __init__(self) -> None:
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: dict[str, int] | None = None
        self.finish_reason: str | None = None
        # A list once the first call arrives: most attempts call no tool.
        self.tool_calls: Sequence[ToolCall] = ()

    @property
    def resolved(self) -> Translator:
        """The translator that actually holds the attempt's results."""
        return self

    def feed(self, item: Any) -> str | None:
        """Take one provider item; return its text, if any."""
        raise NotImplementedError

    def reader(self) -> Callable[[Any], str | None]:
        """What the session calls per item from now on: `feed`, or the faster reader
        `feed` picked for the kind of item this stream yields."""
        return self.feed

    def finish(self) -> None:
        """The stream ended: settle what `feed` left for later."""

    def add_tool_call(self, call: ToolCall) -> None:
        calls = self.tool_calls if isinstance(self.tool_calls, list) else []
        calls.append(call)
        self.tool_calls = calls


def made_by(obj: Any, package: str) -> bool:
    """Whether `obj`'s class comes from `package` (read without importing the package)."""
    module = type(obj).__module__
    return module == package or module.startswith(package + ".")
