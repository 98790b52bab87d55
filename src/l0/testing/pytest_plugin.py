"""pytest plugin (entry point `l0`): the `fault_server` and `l0_replay` fixtures.

Loaded by every pytest run in an environment where l0 is installed, so it imports nothing
heavy (no openai, no litellm) and must not fail when pytest-asyncio is absent: then the
fixture runs the server in a background thread instead of the test's event loop.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from .server import FaultServer

if TYPE_CHECKING:
    from ..eventlog import EventStore
    from ..runtime.result import Result

__all__ = ["fault_server", "l0_replay"]

ReplayLoader = Callable[..., Awaitable["Result"]]


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


@pytest.fixture
def l0_replay() -> ReplayLoader:
    """Load a recorded session as a deterministic stream: `await l0_replay(path_or_store,
    stream_id=None, speed=0)` returns a `Result` that yields the recording's events and
    ends with its state, every run the same (docs/eventlog.md)."""

    async def load(
        source: str | os.PathLike[str] | EventStore,
        stream_id: str | None = None,
        speed: float = 0.0,
    ) -> Result:
        import l0
        from l0.eventlog import open_event_store

        store = open_event_store(source) if isinstance(source, str | os.PathLike) else source
        return await l0.replay(stream_id, event_store=store, speed=speed)

    return load
