"""LiteLLM's `CustomStreamWrapper`: OpenAI-shaped chunks from 100+ providers."""

from __future__ import annotations

from typing import Any

from .base import StreamInfo, made_by

__all__ = ["describe_litellm_chunk", "describe_litellm_stream", "is_litellm_stream"]


def is_litellm_stream(stream: Any) -> bool:
    return made_by(stream, "litellm")


def describe_litellm_stream(stream: Any) -> StreamInfo:
    info = StreamInfo(
        adapter="litellm",
        provider=_str_or_none(getattr(stream, "custom_llm_provider", None)),
        request_model=_str_or_none(getattr(stream, "model", None)),
    )
    details = getattr(getattr(stream, "logging_obj", None), "model_call_details", None)
    params = details.get("litellm_params") if isinstance(details, dict) else None
    api_base = params.get("api_base") if isinstance(params, dict) else None
    if isinstance(api_base, str) and api_base:
        info.take_server(api_base)
    return info


def describe_litellm_chunk(chunk: Any, info: StreamInfo) -> None:
    """The provider litellm notes on each chunk it makes (`_hidden_params`), for a
    litellm stream that reached l0 inside another wrapper."""
    hidden = getattr(chunk, "_hidden_params", None)
    if isinstance(hidden, dict):
        info.provider = info.provider or _str_or_none(hidden.get("custom_llm_provider"))


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
