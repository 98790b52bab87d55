"""Playing one `Reply` on a connection: the bytes, the pauses and the faults.

The whole stream is encoded before the first byte is sent, so a long stream costs one
JSON encode per chunk and a handful of socket writes, and timing faults are not blurred by
encoding work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

from ._http import FLUSH_BYTES, Connection
from ._payloads import (
    DONE,
    MALFORMED,
    Completion,
    error_body,
    in_band_error,
    usage_block,
)
from ._reply import Reply

__all__ = ["play_completion", "play_error", "play_stream"]


class _Step(Enum):
    """What a fault did to the response."""

    CONTINUE = "continue"
    ENDED = "ended"  # the response is over, the connection can serve the next request
    CLOSED = "closed"  # the connection is gone


# A fault runs before a given frame of the stream.
_Fault = Callable[[Connection], Coroutine[Any, Any, _Step]]

_STREAM_HEADERS = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("transfer-encoding", "chunked"),
]


def _request_id() -> tuple[str, str]:
    return ("x-request-id", f"req_{uuid.uuid4().hex[:24]}")


async def play_error(conn: Connection, reply: Reply) -> None:
    """An error status with an OpenAI error body and the reply's retry headers."""
    headers = [("content-type", "application/json"), _request_id()]
    if reply.retry_after is not None:
        headers.append(("retry-after", format(reply.retry_after, "g")))
    if reply.retry_after_ms is not None:
        headers.append(("retry-after-ms", str(reply.retry_after_ms)))
    message = reply.error_message or f"l0 fault server: scripted HTTP {reply.status}"
    await conn.respond(reply.status, headers, error_body(reply.status, message, reply.error_code))


async def play_completion(conn: Connection, completion: Completion, prompt_tokens: int) -> bool:
    """A non-streaming `chat.completion`. Returns whether the connection stays usable.

    Of the stream faults, those that make sense for one body apply: `stall_before_first`
    holds the body back after the headers, `reset_after` cuts the body halfway and
    `malformed_after` sends a body that is not JSON.
    """
    reply = completion.reply
    usage = usage_block(prompt_tokens, len(completion.body_chunks()))
    body = completion.whole(usage)
    if reply.malformed_after is not None:
        body = b'{"choices": ['
    conn.head(200, [("content-type", "application/json"), _request_id(), _length(body)])
    if reply.stall_before_first and not await conn.pause(reply.stall_before_first):
        return False
    if reply.reset_after is not None:
        conn.write(body[: len(body) // 2])
        await conn.cut()
        return False
    conn.write(body)
    await conn.flush()
    return True


def _length(body: bytes) -> tuple[str, str]:
    return ("content-length", str(len(body)))


async def play_stream(
    conn: Connection, completion: Completion, include_usage: bool, prompt_tokens: int
) -> bool:
    """An SSE stream with the reply's faults. Returns whether the connection stays usable."""
    reply = completion.reply
    body = completion.body_chunks()
    frames = [completion.role_chunk(), *body, completion.finish_chunk()]
    if reply.usage if reply.usage is not None else include_usage:
        frames.append(completion.usage_chunk(usage_block(prompt_tokens, len(body))))
    frames.append(DONE)
    faults = _faults(reply, len(body))

    conn.head(200, [*_STREAM_HEADERS, _request_id()])
    if reply.stall_before_first and not await conn.pause(reply.stall_before_first):
        return False
    for index, frame in enumerate(frames):
        for fault in faults.get(index, ()):
            step = await fault(conn)
            if step is not _Step.CONTINUE:
                return step is _Step.ENDED
        if reply.chunk_delay and index and not await conn.pause(reply.chunk_delay):
            return False
        conn.write_chunk(frame)
        if conn.buffered >= FLUSH_BYTES:
            await conn.flush()
    conn.write_last_chunk()
    await conn.flush()
    return True


def _faults(reply: Reply, body_count: int) -> dict[int, list[_Fault]]:
    """Faults by the index of the frame they run before.

    Frame 0 is the role chunk, so "after K body chunks" is frame K + 1; a K past the body
    lands just before the finish chunk. A stall runs before a terminal fault at the same K.
    """
    faults: dict[int, list[_Fault]] = {}

    def at(count: int, fault: _Fault) -> None:
        faults.setdefault(1 + min(count, body_count), []).append(fault)

    if reply.stall_after is not None:
        count, seconds = reply.stall_after
        at(count, lambda conn: _stall(conn, seconds))
    if reply.reset_after is not None:
        at(reply.reset_after, _reset)
    if reply.malformed_after is not None:
        at(reply.malformed_after, lambda conn: _end_with(conn, MALFORMED))
    if reply.error_after is not None:
        at(reply.error_after, lambda conn: _end_with(conn, in_band_error(reply.error_message)))
    return faults


async def _stall(conn: Connection, seconds: float) -> _Step:
    return _Step.CONTINUE if await conn.pause(seconds) else _Step.CLOSED


async def _reset(conn: Connection) -> _Step:
    # No terminating zero-length chunk: the client sees the body end before it was complete.
    await conn.cut()
    return _Step.CLOSED


async def _end_with(conn: Connection, frame: bytes) -> _Step:
    """Send a last event and end the body properly: the fault is in the data, not the wire."""
    conn.write_chunk(frame)
    conn.write_last_chunk()
    await conn.flush()
    return _Step.ENDED
