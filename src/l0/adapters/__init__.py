"""Adapter registry and stream detection."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from ..errors import ErrorCode, L0Error
from .base import Adapter, StreamInfo, ToolCall, Translator
from .detect import AutoChunks, describe_stream
from .litellm import describe_litellm_stream
from .openai import OpenAIChunks, describe_openai_stream
from .text import EventChunks, TextChunks

__all__ = [
    "Adapter",
    "Adapters",
    "OpenedStream",
    "StreamInfo",
    "ToolCall",
    "Translator",
    "open_stream",
]

BUILTIN_ADAPTERS = ("openai", "litellm", "text", "events")


class Adapters:
    """Custom adapters, tried (in registration order) before the built-in ones."""

    _registered: list[Adapter] = []

    @classmethod
    def register(cls, adapter: Adapter) -> None:
        if not isinstance(adapter, Adapter):
            raise TypeError("Adapters.register: adapter needs `name`, `detect()` and `wrap()`")
        cls.unregister(adapter.name)
        cls._registered.append(adapter)

    @classmethod
    def unregister(cls, name: str) -> None:
        cls._registered[:] = [a for a in cls._registered if a.name != name]

    @classmethod
    def clear(cls) -> None:
        cls._registered.clear()

    @classmethod
    def get(cls, name: str) -> Adapter | None:
        return next((a for a in cls._registered if a.name == name), None)

    @classmethod
    def names(cls) -> list[str]:
        return [*BUILTIN_ADAPTERS, *(a.name for a in cls._registered)]

    @classmethod
    def detect(cls, stream: Any) -> Adapter | None:
        return next((a for a in cls._registered if a.detect(stream)), None)


def check_adapter_choice(adapter: str | Adapter | None) -> None:
    """Fail at the call, not mid-stream, for an adapter that cannot exist."""
    if adapter is None or isinstance(adapter, Adapter):
        return
    if not isinstance(adapter, str):
        raise TypeError(f"adapter must be a name or an Adapter, got {type(adapter).__name__}")
    if adapter not in BUILTIN_ADAPTERS and Adapters.get(adapter) is None:
        raise ValueError(f"adapter: unknown adapter {adapter!r}; known: {Adapters.names()}")


class OpenedStream:
    """A provider stream ready for the session loop."""

    __slots__ = ("info", "iterable", "provider_stream", "translator")

    def __init__(
        self,
        provider_stream: Any,
        iterable: AsyncIterable[Any],
        translator: Translator,
        info: StreamInfo,
    ) -> None:
        self.provider_stream = provider_stream
        self.iterable = iterable
        self.translator = translator
        self.info = info


def open_stream(stream: Any, adapter: str | Adapter | None) -> OpenedStream:
    """Pick the adapter for `stream`: the explicit choice, a registered adapter that
    detects it, else the built-in one its first item calls for (see `detect`)."""
    chosen = Adapters.get(adapter) if isinstance(adapter, str) else adapter
    if chosen is None and adapter is None:
        chosen = Adapters.detect(stream)
    if chosen is not None:
        return OpenedStream(stream, chosen.wrap(stream), EventChunks(), StreamInfo(chosen.name))
    # `type(...)`: a wrapt proxy passes `isinstance(..., AsyncIterable)` for the object it
    # wraps, yet `async for` looks on its own class.
    if getattr(type(stream), "__aiter__", None) is None:
        raise L0Error(
            f"the stream factory returned a {type(stream).__name__}, which is not an async "
            "iterable (did you forget stream=True?)",
            ErrorCode.INVALID_STREAM,
        )
    translator, info = _builtin(adapter if isinstance(adapter, str) else None, stream)
    return OpenedStream(stream, stream, translator, info)


def _builtin(name: str | None, stream: Any) -> tuple[Translator, StreamInfo]:
    if name == "openai":
        return OpenAIChunks(), describe_openai_stream(stream)
    if name == "litellm":
        return OpenAIChunks(), describe_litellm_stream(stream)
    if name == "text":
        return TextChunks(), StreamInfo("text")
    if name == "events":
        return EventChunks(), StreamInfo("events")
    info = describe_stream(stream)
    return AutoChunks(info), info
