"""`FaultServer`: an in-process OpenAI-compatible chat-completions server that fails on cue.

Retries, fallbacks and timeouts can only be tested honestly against a server that really
drops connections, stalls and sends broken data, seen through the real client libraries.
This one serves `POST /v1/chat/completions` in OpenAI's exact wire format and plays one
scripted `Reply` per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import orjson

from ._http import BadRequest, Connection, Request
from ._payloads import Completion, count_prompt_tokens, error_body
from ._play import play_completion, play_error, play_stream
from ._reply import Reply
from ._script import RecordedRequest, Script

__all__ = ["FaultServer", "RecordedRequest", "Reply"]

_COMPLETION_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_JSON = [("content-type", "application/json")]


class FaultServer:
    """Serves scripted replies on `http://HOST:PORT/v1` until stopped.

    >>> async with FaultServer() as server:
    ...     server.enqueue(Reply(status=429, retry_after=0.05), Reply(text="Hello"))
    ...     client = openai.AsyncOpenAI(base_url=server.url, api_key="test")

    Each request takes the next reply from its model's queue, then from the any-model
    queue, then `default`. Control endpoints let another process script it:
    `POST /_l0/script`, `POST /_l0/reset`, `GET /_l0/requests`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, default: Reply | None = None):
        self.host = host
        self.port = port
        """The bound port once started (the requested one may be 0)."""
        self._script = Script(default or Reply(text="Hello from the l0 fault server."))
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._numbers = itertools.count(1)
        self._open: dict[int, asyncio.Event] = {}
        self._in_flight = 0
        self._peak_in_flight = 0

    # -- scripting -------------------------------------------------------------------------

    def enqueue(self, *replies: Reply, model: str | None = None) -> None:
        """Queue replies for the next requests, for one `model` or (None) any model.

        Thread-safe, so a test thread can script a server started with `in_thread`.
        """
        self._script.enqueue(replies, model)

    @property
    def default(self) -> Reply:
        """The reply played when the queues are empty."""
        return self._script.default

    @default.setter
    def default(self, reply: Reply) -> None:
        self._script.default = reply

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the chat-completions requests served so far, oldest first."""
        return self._script.requests

    def pending(self, model: str | None = None) -> int:
        """How many replies are still queued for `model` (None: the any-model queue)."""
        return self._script.pending(model)

    @property
    def peak_in_flight(self) -> int:
        """The most chat-completions requests served at once since start or `reset`: shows
        that a client kept to its concurrency limit."""
        return self._peak_in_flight

    def reset(self) -> None:
        """Forget queued replies and recorded requests (the default reply stays); the
        in-flight peak starts again from the requests in flight now."""
        self._script.reset()
        self._peak_in_flight = self._in_flight

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL for OpenAI clients: `http://HOST:PORT/v1`."""
        if self._server is None:
            raise RuntimeError("FaultServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    async def wait_idle(self) -> None:
        """Wait until no client connection is open (call it from the server's loop).

        Shows that a client really hung up, e.g. after its timeout fired during a stall,
        and that the server noticed instead of sleeping on.
        """
        await self._idle.wait()

    def is_closed(self, request: RecordedRequest) -> bool:
        """Whether the connection that carried `request` is closed."""
        return request.connection not in self._open

    async def wait_closed(self, request: RecordedRequest) -> None:
        """Wait until the connection that carried `request` is closed (call it from the
        server's loop): proves that the client closed that stream, e.g. the loser of a
        race, while its reply still had seconds to go."""
        closed = self._open.get(request.connection)
        if closed is not None:
            await closed.wait()

    async def start(self) -> FaultServer:
        self._stopping = False
        self._idle = asyncio.Event()  # per start: an Event belongs to the loop that waits on it
        self._idle.set()
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and end every connection, including stalled ones, right away."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        # Cancel until none are left: a connection accepted just now may start a handler late.
        while self._handlers:
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> FaultServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(
        cls, host: str = "127.0.0.1", port: int = 0, *, default: Reply | None = None
    ) -> Iterator[FaultServer]:
        """Run a server on its own event loop in a background thread, for sync code.

        `enqueue`, `default` and `requests` are safe to use from the calling thread.
        """
        from ._thread import ServerThread

        server = cls(host, port, default=default)
        with ServerThread(server):
            yield server

    # -- serving ---------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._idle.clear()
        number = next(self._numbers)
        self._open[number] = asyncio.Event()
        try:
            await self._serve_until_closed(Connection(reader, writer, number))
        except asyncio.CancelledError:
            # Only `stop` cancels handlers, and it awaits them. Ending normally matters:
            # Python 3.11's stream callback logs an error for a handler task that ends
            # cancelled (it calls `task.exception()` on it).
            pass
        finally:
            self._open.pop(number).set()
            self._handlers.discard(task)
            if not self._handlers:
                self._idle.set()

    async def _serve_until_closed(self, conn: Connection) -> None:
        clean = False
        try:
            clean = not self._stopping and await self._serve_requests(conn)
        except (BadRequest, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            # A cancelled or failed connection is aborted: its client may not be reading.
            await conn.close(abort=not clean)

    async def _serve_requests(self, conn: Connection) -> bool:
        """Serve requests until the client leaves; True if the connection ended cleanly."""
        while True:
            try:
                request = await conn.read_request()
            except BadRequest as exc:
                await conn.respond(400, _JSON, error_body(400, str(exc)))
                return True
            if request is None:
                return True
            if not await self._dispatch(conn, request):
                return False
            if not request.keep_alive:
                return True

    async def _dispatch(self, conn: Connection, request: Request) -> bool:
        """Answer one request; False if the connection can't serve another."""
        path = request.path.removeprefix("/v1")
        if path.startswith("/_l0/"):
            status, body = self._control(request.method, path, request.body)
            await conn.respond(status, _JSON, body)
            return True
        if request.path in _COMPLETION_PATHS and request.method == "POST":
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            try:
                return await self._complete(conn, request)
            finally:
                self._in_flight -= 1
        message = f"l0 fault server: no route for {request.method} {request.path}"
        await conn.respond(404, _JSON, error_body(404, message))
        return True

    async def _complete(self, conn: Connection, request: Request) -> bool:
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            await conn.respond(400, _JSON, error_body(400, "request body is not valid JSON"))
            return True
        if not isinstance(body, dict):
            await conn.respond(400, _JSON, error_body(400, "request body must be an object"))
            return True
        model = body.get("model") if isinstance(body.get("model"), str) else None
        reply = self._script.take(model)
        stream = bool(body.get("stream"))
        self._script.record(
            RecordedRequest(
                request.method,
                request.path,
                request.headers,
                body,
                model,
                reply,
                stream,
                conn.number,
            )
        )
        if reply.stall_before_headers and not await conn.pause(reply.stall_before_headers):
            return False
        if reply.is_error:
            await play_error(conn, reply)
            return True
        completion = Completion(model or "unknown", reply)
        prompt_tokens = count_prompt_tokens(body)
        if not stream:
            return await play_completion(conn, completion, prompt_tokens)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return await play_stream(conn, completion, include_usage, prompt_tokens)

    # -- control endpoints -----------------------------------------------------------------

    def _control(self, method: str, path: str, raw: bytes) -> tuple[int, bytes]:
        """Scripting over HTTP, for a server running in another process (`l0 chaos`)."""
        try:
            if (method, path) == ("POST", "/_l0/script"):
                return 200, orjson.dumps(self._apply_script(orjson.loads(raw or b"{}")))
            if (method, path) == ("POST", "/_l0/reset"):
                self.reset()
                return 200, orjson.dumps({"reset": True})
            if (method, path) == ("GET", "/_l0/requests"):
                return 200, orjson.dumps([r.to_dict() for r in self.requests])
        except (ValueError, TypeError, KeyError) as exc:
            return 400, error_body(400, f"bad script: {exc}")
        return 404, error_body(404, f"no control endpoint {method} {path}")

    def _apply_script(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        replies = [Reply.from_dict(item) for item in data.get("replies", ())]
        if "default" in data:
            self.default = Reply.from_dict(data["default"])
        model = data.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError("model must be a string")
        self.enqueue(*replies, model=model)
        return {"queued": len(replies), "pending": self.pending(model)}
