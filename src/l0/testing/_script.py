"""The script: per-model queues of replies, and the record of requests served.

A lock guards it because `FaultServer.in_thread` serves on another thread's event loop while
the test thread enqueues and reads the record.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._reply import Reply

__all__ = ["RecordedRequest", "Script"]


@dataclass(frozen=True)
class RecordedRequest:
    """A chat-completions request as the server received it, for assertions."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased header names."""
    body: Any
    """The parsed JSON body."""
    model: str | None
    reply: Reply
    """The reply the server played for it."""
    stream: bool = field(default=False)
    connection: int = 0
    """The number of the connection that carried it (1, 2, ... in the order they were
    accepted): `FaultServer.wait_closed(request)` waits until the client hangs it up."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the reply's `chunks` become their count, since a benchmark's default
        reply can hold tens of thousands."""
        reply = self.reply.to_dict()
        if "chunks" in reply:
            reply["chunks"] = len(reply["chunks"])
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "model": self.model,
            "stream": self.stream,
            "connection": self.connection,
            "reply": reply,
        }


class Script:
    """Replies waiting to be played, by model, and what was played."""

    def __init__(self, default: Reply) -> None:
        self._lock = threading.Lock()
        self._default = default
        # Key None is the queue for any model; a model's own queue is used first.
        self._queues: dict[str | None, deque[Reply]] = {}
        self._requests: list[RecordedRequest] = []

    @property
    def default(self) -> Reply:
        return self._default

    @default.setter
    def default(self, reply: Reply) -> None:
        with self._lock:
            self._default = reply

    def enqueue(self, replies: Iterable[Reply], model: str | None) -> None:
        with self._lock:
            self._queues.setdefault(model, deque()).extend(replies)

    def take(self, model: str | None) -> Reply:
        """The next reply for `model`: its own queue, then the any-model queue, then default."""
        with self._lock:
            for key in (model, None):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
            return self._default

    def pending(self, model: str | None = None) -> int:
        with self._lock:
            return len(self._queues.get(model, ()))

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._requests.clear()
