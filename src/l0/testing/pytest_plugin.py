"""pytest plugin (entry point `l0`): the `fault_server` fixture.

Loaded by every pytest run in an environment where l0 is installed, so it imports nothing
heavy (no openai, no litellm) and must not fail when pytest-asyncio is absent: then the
fixture runs the server in a background thread instead of the test's event loop.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator

import pytest

from .server import FaultServer

__all__ = ["fault_server"]


async def _serve_in_test_loop() -> AsyncIterator[FaultServer]:
    """A started FaultServer on a free port in the test's event loop, stopped afterwards."""
    async with FaultServer() as server:
        yield server


def _serve_in_thread() -> Iterator[FaultServer]:
    """A started FaultServer on a free port (own thread and loop), stopped afterwards."""
    with FaultServer.in_thread() as server:
        yield server


if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    fault_server = pytest_asyncio.fixture(_serve_in_test_loop, name="fault_server")
else:  # pragma: no cover - only without pytest-asyncio
    fault_server = pytest.fixture(_serve_in_thread, name="fault_server")
