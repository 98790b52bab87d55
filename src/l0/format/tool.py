"""Describing a tool to a model that has no native tool calling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

from .. import _validate

__all__ = ["format_tool"]

ToolStyle = Literal["natural", "json"]


def format_tool(tool: Mapping[str, Any], style: ToolStyle = "natural") -> str:
    """A tool definition as prompt text.

    `tool` is an OpenAI tool (`{"type": "function", "function": {...}}`) or its function
    part (`name`, `description`, `parameters` as JSON Schema). `natural` lists the
    parameters one per line with type, whether required, and description; `json` is the
    function part as indented JSON, keys in a stable order.
    """
    function = _function(tool)
    _validate.choice("style", style, ("natural", "json"))
    if style == "json":
        return orjson.dumps(function, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    lines = [f"Tool: {function['name']}"]
    if function.get("description"):
        lines.append(f"Description: {function['description']}")
    schema = function.get("parameters") or {}
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    if properties:
        lines.append("Parameters:")
        lines.extend(_parameter(n, p, n in required) for n, p in properties.items())
    else:
        lines.append("Parameters: none")
    return "\n".join(lines)


def _function(tool: object) -> Mapping[str, Any]:
    if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
        tool = tool["function"]
    if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
        raise TypeError(
            "tool must be an OpenAI tool or a mapping with a str 'name' (and "
            f"'description', 'parameters'), got {_validate.show(tool)}"
        )
    return tool


def _parameter(name: str, schema: Mapping[str, Any], required: bool) -> str:
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(map(str, kind))
    if "enum" in schema:
        kind = f"{kind}, one of {', '.join(map(repr, schema['enum']))}"
    text = f"- {name} ({kind}, {'required' if required else 'optional'})"
    return f"{text}: {schema['description']}" if schema.get("description") else text
