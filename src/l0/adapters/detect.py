"""Which built-in adapter reads a stream: decided by what the stream yields, not its class.

Streams reach l0 wrapped: OpenTelemetry's openai instrumentation returns its own object
around openai's `AsyncStream`, tracing proxies wrap it with wrapt, users re-yield chunks
from their own async generators. Each still yields the provider's chunks, so the first
item picks the translator. That costs no separate read and no per-token work: the session
hands every item to `feed`, the first call decides, and from the first token on the
session calls the chosen translator directly (`Translator.resolved`).
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ErrorCode, L0Error
from ..types import Event
from .base import StreamInfo, Translator, made_by
from .litellm import describe_litellm_chunk, describe_litellm_stream, is_litellm_stream
from .openai import OpenAIChunks, describe_openai_stream, describe_request, is_openai_stream
from .text import EventChunks, TextChunks

__all__ = ["AutoChunks", "describe_stream"]


def describe_stream(stream: Any) -> StreamInfo:
    """What the stream object tells before its first item.

    Through `__wrapped__` (set by wrapt proxies) to the innermost object: openai's or
    litellm's stream is described as when it comes bare. Any other stream gets the server
    and model of the HTTP request it exposes, if any, and the adapter "auto" until its
    first item.
    """
    inner = _unwrap(stream)
    if is_litellm_stream(inner):
        return describe_litellm_stream(inner)
    if is_openai_stream(inner):
        return describe_openai_stream(inner)
    info = StreamInfo("auto")
    describe_request(stream, info)
    return info


def _unwrap(stream: Any) -> Any:
    try:
        return inspect.unwrap(stream)
    except ValueError:  # `__wrapped__` runs in a circle
        return stream


class AutoChunks(Translator):
    """Picks the translator from the first item, and completes the attempt's `info` from
    what that item says (provider, model)."""

    name = "auto"

    def __init__(self, info: StreamInfo) -> None:
        super().__init__()
        self.info = info
        self.inner: Translator | None = None

    @property
    def resolved(self) -> Translator:
        return self.inner or self

    def finish(self) -> None:
        if self.inner is not None:
            self.inner.finish()

    def feed(self, item: Any) -> str | None:
        inner = self.inner
        if inner is None:
            inner = self.inner = _translator_for(item, self.info)
        return inner.feed(item)


def _translator_for(item: Any, info: StreamInfo) -> Translator:
    if isinstance(item, str):
        return TextChunks()
    if isinstance(item, Event):
        return EventChunks()
    if hasattr(item, "choices") or (isinstance(item, dict) and "choices" in item):
        _describe_chunk(item, info)
        return OpenAIChunks()
    raise L0Error(
        f"no adapter understands stream items of type {type(item).__module__}."
        f"{type(item).__qualname__}; register one with l0.Adapters.register()",
        ErrorCode.ADAPTER_NOT_FOUND,
    )


def _describe_chunk(chunk: Any, info: StreamInfo) -> None:
    """Fill in what the stream object did not tell from an OpenAI-shaped chunk: the
    provider from the package that made it, and the model it names when the request
    was not visible (that is the response's spelling, e.g. a dated snapshot)."""
    if made_by(chunk, "litellm"):
        describe_litellm_chunk(chunk, info)
    elif made_by(chunk, "openai"):
        info.provider = info.provider or "openai"
    if info.request_model is None:
        model = chunk.get("model") if isinstance(chunk, dict) else getattr(chunk, "model", None)
        info.request_model = model if isinstance(model, str) and model else None
