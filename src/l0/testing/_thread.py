"""Running a `FaultServer` on its own event loop in a background thread.

Sync tests, and code with its own loop (another thread, trio, a framework's loop), cannot
share the caller's loop, so the server gets one of its own.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import FaultServer

__all__ = ["ServerThread"]


class ServerThread:
    """Context manager: the server is listening on entry and fully stopped on exit."""

    def __init__(self, server: FaultServer) -> None:
        self._server = server
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="l0-fault-server", daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self._server

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        if self._error is not None and exc is None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the thread that is waiting in __enter__
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with self._server:
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self._stop.wait()
