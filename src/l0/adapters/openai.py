"""OpenAI chat-completions chunks (also the shape LiteLLM streams)."""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any

import orjson

from .base import StreamInfo, ToolCall, Translator, made_by

__all__ = [
    "REQUEST_PARAMS",
    "OpenAIChunks",
    "describe_openai_stream",
    "describe_request",
    "is_openai_stream",
]


class OpenAIChunks(Translator):
    """Reads `ChatCompletionChunk`s, or the same chunks as dicts parsed from JSON: content,
    tool-call deltas, usage, finish reason."""

    name = "openai"

    def __init__(self) -> None:
        super().__init__()
        self._by_index: dict[int, ToolCall] | None = None  # made by the first tool delta
        # How this stream's chunks are read, picked by the first that tells (a function,
        # bound only when asked for: a bound method kept on the instance would make a
        # reference cycle, and every translator would wait for the garbage collector).
        self._read: Callable[[OpenAIChunks, Any], str | None] | None = None

    def reader(self) -> Callable[[Any], str | None]:
        read = self._read
        return self.feed if read is None else MethodType(read, self)

    def feed(self, item: Any) -> str | None:
        """The first chunk (a dict) or the first chunk with a choice picks how this
        stream's chunks are read (the session asks for the `reader` after the first token)."""
        read = self._read
        if read is None:
            if isinstance(item, dict):
                read = OpenAIChunks._feed_json
            elif item.choices:
                fast = _fields_in_dicts(item.choices[0])
                read = OpenAIChunks._feed_dicts if fast else OpenAIChunks._feed_attributes
            else:
                return self._feed_rest(item, item.choices)
            self._read = read
        return read(self, item)

    def _feed_attributes(self, item: Any) -> str | None:
        # Fast path: a content delta that finishes nothing and calls no tool.
        choices = item.choices
        if choices:
            choice = choices[0]
            delta = choice.delta
            if choice.finish_reason is None and delta is not None and not delta.tool_calls:
                content: str | None = delta.content
                if content:
                    return content
        # Everything else (role, usage, finish, tool deltas) takes the careful path.
        return self._feed_rest(item, choices)

    def _feed_dicts(self, item: Any) -> str | None:
        # `_feed_attributes`, reading the fields from the models' `__dict__`: a pydantic
        # attribute read costs as much as ten dict lookups, and this runs for every chunk.
        # No choice (IndexError) or no delta (AttributeError) takes the careful path.
        try:
            choice = item.choices[0].__dict__
            fields = choice["delta"].__dict__
            content: str | None = fields["content"]
            if content and choice["finish_reason"] is None and not fields["tool_calls"]:
                return content
        except (AttributeError, IndexError):
            pass
        return self._feed_rest(item, item.choices)

    def _feed_json(self, item: dict[str, Any]) -> str | None:
        # `_feed_attributes` for dicts, where an absent key means what None means.
        choices = item.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta")
            if delta and choice.get("finish_reason") is None and not delta.get("tool_calls"):
                content: str | None = delta.get("content")
                if content:
                    return content
        fields = _Fields(item)
        return self._feed_rest(fields, fields.choices)

    def _feed_rest(self, item: Any, choices: Any) -> str | None:
        # Every stream ends through here (finish reason or usage chunk): take ids here,
        # as strings (an open session keeps no chunk alive).
        self.response_id = getattr(item, "id", None)
        self.model = getattr(item, "model", None)
        usage = getattr(item, "usage", None)
        if usage is not None:
            self._take_usage(usage)
        if not choices:
            return None
        choice = choices[0]
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return None
        if delta.tool_calls:
            self._take_tool_deltas(delta.tool_calls)
        content: str | None = delta.content
        return content

    def _take_usage(self, usage: Any) -> None:
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        if prompt is None and completion is None:
            return
        self.usage = {
            "input_tokens": int(prompt or 0),
            "output_tokens": int(completion or 0),
            "total_tokens": int(getattr(usage, "total_tokens", None) or 0),
        }
        cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
        if isinstance(cached, int):
            self.usage["cache_read_input_tokens"] = cached
        details = getattr(usage, "completion_tokens_details", None)
        reasoning = getattr(details, "reasoning_tokens", None)
        if isinstance(reasoning, int):
            self.usage["reasoning_output_tokens"] = reasoning

    def _take_tool_deltas(self, deltas: Any) -> None:
        by_index = self._by_index
        if by_index is None:
            by_index = self._by_index = {}
        for delta in deltas:
            index = getattr(delta, "index", None) or 0
            call = by_index.get(index)
            if call is None:
                call = by_index[index] = ToolCall(index)
                self.add_tool_call(call)
            if delta.id:
                call.id = delta.id
            function = delta.function
            if function is not None:
                if function.name:
                    call.name += function.name
                if function.arguments:
                    call.arguments += function.arguments


def _fields_in_dicts(choice: Any) -> bool:
    """Whether the choice and its delta keep their fields in `__dict__` (openai's pydantic
    models do; litellm's keep them elsewhere)."""
    fields = getattr(choice, "__dict__", {})
    delta = getattr(fields.get("delta"), "__dict__", {})
    return "finish_reason" in fields and "content" in delta and "tool_calls" in delta


class _Fields(dict[str, Any]):
    """A chunk parsed from JSON, read like the SDK's models (absent keys read as None), so
    the careful path has one way to read every chunk."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return _as_fields(self.get(name))


def _as_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return _Fields(value)
    if isinstance(value, list):
        return [_as_fields(item) for item in value]
    return value


REQUEST_PARAMS = (
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "n",
    "reasoning_effort",
    "response_format",
    "service_tier",
)
"""Chat completions body fields telemetry reports (`gen_ai.request.*`); none carries
content."""


def is_openai_stream(stream: Any) -> bool:
    return made_by(stream, "openai")


def describe_openai_stream(stream: Any) -> StreamInfo:
    info = StreamInfo(adapter="openai", provider="openai")
    describe_request(stream, info)
    return info


def describe_request(stream: Any, info: StreamInfo) -> None:
    """Model and server from the HTTP request the SDK sent (no content is read).

    openai's `AsyncStream` keeps its `response`; wrappers that pass attribute reads
    through to the stream they wrap (OpenTelemetry's openai instrumentation, wrapt
    proxies) expose it too.
    """
    request = getattr(getattr(stream, "response", None), "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return
    info.take_server(str(url))
    try:
        body = orjson.loads(getattr(request, "content", b""))
    except (orjson.JSONDecodeError, TypeError, RuntimeError):
        return
    if not isinstance(body, dict):
        return
    model = body.get("model")
    info.request_model = model if isinstance(model, str) else None
    info.request = {key: body[key] for key in REQUEST_PARAMS if key in body}
