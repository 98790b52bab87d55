"""Running a tool the model asked for, with the run recorded in the session's telemetry."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ..events import ObservabilityEventType as T
from ..telemetry.facade import Telemetry

__all__ = ["run_tool"]


async def run_tool(tel: Telemetry, call: Mapping[str, Any], tool: Callable[..., Any]) -> Any:
    """Call `tool(**arguments)` for a TOOL_CALL event's `data` and report how it went.

    Emits TOOL_START, then TOOL_RESULT or TOOL_ERROR, then TOOL_COMPLETED; the exception
    of a failing tool is re-raised after it is recorded.
    """
    call_id, name = str(call.get("id", "")), str(call.get("name", ""))
    arguments = _arguments(call.get("arguments"))
    tel.emit(T.TOOL_START, tool_call_id=call_id, tool_name=name)
    started = time.monotonic()
    try:
        outcome = tool(**arguments)
        if inspect.isawaitable(outcome):
            outcome = await outcome
    except Exception as exc:
        tel.emit(
            T.TOOL_ERROR,
            tool_call_id=call_id,
            tool_name=name,
            error=exc,
            duration_ms=_ms_since(started),
        )
        tel.emit(T.TOOL_COMPLETED, tool_call_id=call_id, tool_name=name, status="error")
        raise
    tel.emit(
        T.TOOL_RESULT,
        tool_call_id=call_id,
        tool_name=name,
        result=outcome,
        duration_ms=_ms_since(started),
    )
    tel.emit(T.TOOL_COMPLETED, tool_call_id=call_id, tool_name=name, status="success")
    return outcome


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if not raw:
        return {}
    parsed = orjson.loads(raw)
    if not isinstance(parsed, dict):
        raise TypeError(f"tool arguments must be a JSON object, got {type(parsed).__name__}")
    return parsed


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
