"""Just enough HTTP/1.1 for the fault server, on asyncio streams.

A hand-written server (rather than a framework) is what makes the faults real: it controls
exactly which bytes reach the socket and when, so it can stop in the middle of a chunked
body, or hold a connection open while sending nothing. It supports what `httpx` sends:
`Content-Length` request bodies and keep-alive (httpx reuses connections between attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["BadRequest", "Connection", "Request"]

_REASONS = {status.value: status.phrase for status in HTTPStatus}
# Batch small writes: one `transport.write` per SSE event would dominate a 20k-chunk stream.
FLUSH_BYTES = 64 * 1024


class BadRequest(Exception):
    """The client sent something that is not an HTTP/1.1 request we understand."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    """Lower-cased names; a repeated header keeps its last value."""
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class Connection:
    """One client connection: reads requests and writes (possibly incomplete) responses."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int = 0
    ) -> None:
        self.number = number
        self._reader = reader
        self._writer = writer
        self._out: list[bytes] = []
        self._out_size = 0
        # Bytes the disconnect watcher of `pause` read that belong to the next request.
        self._pushback = b""

    async def read_request(self) -> Request | None:
        """The next request, or None when the client closed the connection between requests."""
        try:
            head = self._pushback + await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial or self._pushback:
                raise BadRequest("connection closed inside the request head") from exc
            return None
        except asyncio.LimitOverrunError as exc:
            raise BadRequest("request head too large") from exc
        self._pushback = b""
        method, target, headers = _parse_head(head)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise BadRequest("chunked request bodies are not supported")
        length = int(headers.get("content-length", "0") or "0")
        body = await self._reader.readexactly(length) if length else b""
        return Request(method, target, headers, body)

    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def write(self, data: bytes) -> None:
        """Buffer raw bytes; nothing reaches the socket before `flush`."""
        self._out.append(data)
        self._out_size += len(data)

    def write_chunk(self, data: bytes) -> None:
        """Buffer one `Transfer-Encoding: chunked` chunk."""
        self.write(b"%x\r\n%s\r\n" % (len(data), data))

    def write_last_chunk(self) -> None:
        """The zero-length chunk that ends a chunked body; without it the body is incomplete."""
        self.write(b"0\r\n\r\n")

    @property
    def buffered(self) -> int:
        return self._out_size

    async def flush(self) -> None:
        """Hand the buffer to the transport and wait while it is above its high-water mark."""
        if self._out:
            self._writer.write(b"".join(self._out))
            self._out.clear()
            self._out_size = 0
        await self._writer.drain()

    async def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.head(status, [*headers, ("content-length", str(len(body)))])
        self.write(body)
        await self.flush()

    async def pause(self, seconds: float) -> bool:
        """Wait `seconds`, ending early if the client disconnects; False if it did.

        A stall must not outlive its client: a test whose client timed out should not leave
        a task sleeping in the server. Watching the reader for EOF notices the disconnect.
        """
        await self.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        sleep = asyncio.ensure_future(asyncio.sleep(seconds))
        watch = asyncio.ensure_future(self._reader.read(1))
        try:
            await asyncio.wait({sleep, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleep, watch):
                task.cancel()
            await asyncio.gather(sleep, watch, return_exceptions=True)
        if watch.cancelled():
            return True
        if watch.exception() is not None or not watch.result():
            return False
        # The client sent the start of another request (pipelining): keep the bytes for
        # `read_request` and sit out the rest of the stall without watching.
        self._pushback += watch.result()
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        return True

    async def close(self, *, abort: bool = False) -> None:
        """Close the connection; `abort` drops unsent bytes instead of flushing them."""
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()
        try:
            await self._writer.wait_closed()
        except asyncio.CancelledError:
            # Stopped while a slow client still had unread bytes: do not wait for it.
            self._writer.transport.abort()
            raise
        except OSError:
            pass

    async def cut(self) -> None:
        """Flush what is buffered, then close in the middle of a response (a cut stream).

        A clean FIN rather than an RST: the client reliably receives every byte sent before
        the cut, so "K chunks, then the connection drops" is deterministic.
        """
        with contextlib.suppress(OSError):
            await self.flush()
        await self.close()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise BadRequest(f"bad request line {lines[0]!r}") from exc
    if not version.startswith("HTTP/1."):
        raise BadRequest(f"unsupported HTTP version {version!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers
