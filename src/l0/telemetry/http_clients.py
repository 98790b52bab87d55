"""The HTTP client instrumentations `l0.instrument(httpx=True)` turns on.

Providers reach the network through different clients: openai 2 through httpx, openai 3
through httpx2, LiteLLM through its own aiohttp transport. Each has its own OpenTelemetry
instrumentation; l0 turns on every one whose client and instrumentation are installed, so
each attempt span gets the request underneath it whatever the client. They patch different
classes (httpx2 is a fork, not a layer over httpx, and LiteLLM's aiohttp transport is not
httpx's), so one request never gets two HTTP spans from them. An instrumentation the
application already turned on is left alone and is not turned off by l0.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

from opentelemetry.trace import TracerProvider

__all__ = ["instrument_http_clients", "uninstrument_http_clients"]

logger = logging.getLogger("l0.telemetry")

_INSTRUMENTATIONS = (
    ("httpx", "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    ("httpx2", "opentelemetry.instrumentation.httpx", "HTTPX2ClientInstrumentor"),
    ("aiohttp", "opentelemetry.instrumentation.aiohttp_client", "AioHttpClientInstrumentor"),
)
"""(client package, instrumentation module, instrumentor class)."""

_PACKAGES = {
    "opentelemetry.instrumentation.httpx": "opentelemetry-instrumentation-httpx",
    "opentelemetry.instrumentation.aiohttp_client": "opentelemetry-instrumentation-aiohttp-client",
}


def instrument_http_clients(tracer_provider: TracerProvider) -> list[Any]:
    """Turn on each installed HTTP client instrumentation nobody turned on yet.

    Returns the instrumentors l0 turned on (for `uninstrument_http_clients`).
    """
    turned_on = []
    for client, module_name, class_name in _INSTRUMENTATIONS:
        if importlib.util.find_spec(client) is None:
            continue
        instrumentor_type = _instrumentor_type(client, module_name, class_name)
        if instrumentor_type is None:
            continue
        instrumentor = instrumentor_type()
        if instrumentor.is_instrumented_by_opentelemetry:
            continue
        instrumentor.instrument(tracer_provider=tracer_provider)
        # instrument() declines, logging why, when the client's version is out of range.
        if instrumentor.is_instrumented_by_opentelemetry:
            turned_on.append(instrumentor)
    return turned_on


def uninstrument_http_clients(instrumentors: list[Any]) -> None:
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def _instrumentor_type(client: str, module_name: str, class_name: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        logger.info(
            "%s is installed but %s is not: its requests get no HTTP spans",
            client,
            _PACKAGES[module_name],
        )
        return None
    found = getattr(module, class_name, None)
    if found is None:  # an instrumentation older than this client (httpx2 came in 0.65b0)
        logger.info(
            "%s has no %s (too old for %s): its requests get no HTTP spans",
            _PACKAGES[module_name],
            class_name,
            client,
        )
    return found
