"""Formatting helpers: JSON in model output, clean text, prompt context, memory, tools."""

from __future__ import annotations

from .context import format_context, format_memory
from .json import (
    auto_correct_json,
    correct_json,
    extract_json_from_markdown,
    extract_json_from_output,
)
from .output import clean_output
from .tool import format_tool

__all__ = [
    "auto_correct_json",
    "clean_output",
    "correct_json",
    "extract_json_from_markdown",
    "extract_json_from_output",
    "format_context",
    "format_memory",
    "format_tool",
]
