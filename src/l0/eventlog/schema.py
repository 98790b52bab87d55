"""The event log's record format (schema version 1, docs/eventlog.md).

A record is one JSON object: `{"v", "stream_id", "seq", "t", "kind", "type", "data"}`.
`kind` is `"stream"` for what the consumer received (`type` is an `EventType` value:
token, reset, tool_call, data, progress, message, complete, error; a DATA or PROGRESS
payload's class is named in `data_class`; or `tokens`, a run of
consecutive tokens, `data` = `{"texts": [...], "t": [...]}` with each token's offset),
`"lifecycle"` for a
telemetry moment (`type` is an `ObservabilityEventType` name), `"state"` for the session's
final state. `t` is seconds since the recording started. Stores keep records as these plain
dicts, so what a `redact=` hook returns is exactly what is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

from ..errors import ErrorCode, L0Error
from ..events import Deferred
from ..types import DataPayload, Event, EventType, Progress, TokenEvent

__all__ = ["SCHEMA_VERSION", "Record", "decode_event", "encode_event", "plain"]

SCHEMA_VERSION = 1

_PAYLOADS = (DataPayload, Progress)
_PAYLOAD_NAMES: dict[str, Any] = {cls.__name__: cls for cls in _PAYLOADS}

Record = dict[str, Any]
"""One record as written: see the module docstring."""


def encode_event(event: Event) -> dict[str, Any]:
    """The `data` of a stream record: the event's fields that are set."""
    kind = event.type
    if kind is EventType.TOKEN:
        return {"text": event.text}
    if kind is EventType.RESET:
        return {"keep": event.keep}
    if kind is EventType.ERROR:
        error = event.error
        if isinstance(error, L0Error):
            return {"error": error.to_dict()}
        return {"error": L0Error(str(error), ErrorCode.INTERNAL_ERROR).to_dict()}
    data: dict[str, Any] = {}
    if event.text is not None:
        data["text"] = event.text
    if event.data is not None:
        data["data"] = plain(event.data)
        if type(event.data) in _PAYLOADS:  # rebuilt as the class it was
            data["data_class"] = type(event.data).__name__
    if event.usage is not None:
        data["usage"] = dict(event.usage)
    return data


def decode_event(type: str, data: Mapping[str, Any]) -> Event:
    """The stream `Event` a record describes (`encode_event` inverted)."""
    kind = EventType(type)
    if kind is EventType.TOKEN:
        return TokenEvent(data["text"])
    error = data.get("error")
    payload = data.get("data")
    rebuild = _PAYLOAD_NAMES.get(data.get("data_class", ""))
    if rebuild is not None and isinstance(payload, Mapping):
        payload = rebuild(**payload)
    return Event(
        kind,
        text=data.get("text"),
        data=payload,
        usage=data.get("usage"),
        error=L0Error.from_dict(error) if error is not None else None,
        keep=data.get("keep", 0),
    )


def plain(value: Any) -> Any:
    """`value` in JSON's types: exceptions by type and message, enums by value,
    dataclasses (guardrail violations) as dicts, deferred fields built."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if type(value) is Deferred:
        return plain(value.resolve())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if isinstance(value, L0Error):
        return {"type": "L0Error", "code": value.code.value, "message": str(value)}
    if isinstance(value, BaseException):
        return {"type": type(value).__qualname__, "message": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    return str(value)
