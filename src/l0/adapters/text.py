"""Plain async iterables: of `str`, or of l0 `Event`s."""

from __future__ import annotations

from typing import Any

from ..errors import ErrorCode, L0Error
from ..types import Event, EventType
from .base import ToolCall, Translator

__all__ = ["EventChunks", "TextChunks"]


class TextChunks(Translator):
    name = "text"

    def feed(self, item: Any) -> str | None:
        if type(item) is not str:
            raise L0Error(
                f"stream of str yielded a {type(item).__name__}", ErrorCode.INVALID_STREAM
            )
        return item


class EventChunks(Translator):
    """Events from a custom adapter (or a generator of Events) pass through."""

    name = "events"

    def feed(self, item: Any) -> str | None:
        if not isinstance(item, Event):
            raise L0Error(
                f"stream of Event yielded a {type(item).__name__}", ErrorCode.INVALID_STREAM
            )
        kind = item.type
        if kind is EventType.TOKEN:
            return item.text
        if kind is EventType.TOOL_CALL:
            self._take_tool_call(item.data)
        elif kind is EventType.COMPLETE and item.usage:
            self.usage = dict(item.usage)
        elif kind is EventType.ERROR:
            error = item.error or L0Error("adapter reported an error", ErrorCode.INVALID_STREAM)
            raise error
        return None

    def _take_tool_call(self, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        arguments = data.get("arguments", "")
        if not isinstance(arguments, str):
            import orjson

            arguments = orjson.dumps(arguments).decode()
        call = ToolCall(len(self.tool_calls), str(data.get("id", "")), str(data.get("name", "")))
        call.arguments = arguments
        self.add_tool_call(call)
