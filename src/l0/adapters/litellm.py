"""LiteLLM's `CustomStreamWrapper`: OpenAI-shaped chunks from 100+ providers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .base import StreamInfo

__all__ = ["describe_litellm_stream", "is_litellm_stream"]


def is_litellm_stream(stream: Any) -> bool:
    module = type(stream).__module__
    return module == "litellm" or module.startswith("litellm.")


def describe_litellm_stream(stream: Any) -> StreamInfo:
    provider = getattr(stream, "custom_llm_provider", None)
    info = StreamInfo(
        adapter="litellm",
        provider=provider if isinstance(provider, str) else None,
        request_model=_str_or_none(getattr(stream, "model", None)),
    )
    details = getattr(getattr(stream, "logging_obj", None), "model_call_details", None)
    params = details.get("litellm_params") if isinstance(details, dict) else None
    api_base = params.get("api_base") if isinstance(params, dict) else None
    if isinstance(api_base, str) and api_base:
        url = urlsplit(api_base)
        info.server_address = url.hostname
        info.server_port = url.port or (443 if url.scheme == "https" else 80)
    return info


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
