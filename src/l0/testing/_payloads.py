"""OpenAI-shaped JSON bodies: stream chunks, a whole completion, and error bodies.

The shapes follow what api.openai.com sends, field for field, because the point of the fault
server is that the real `openai` and `litellm` clients parse it without special cases.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson

from ._reply import Reply

__all__ = [
    "DONE",
    "MALFORMED",
    "Completion",
    "count_prompt_tokens",
    "error_body",
    "in_band_error",
    "sse",
    "usage_block",
]

DONE = b"data: [DONE]\n\n"
# A JSON array that never closes: what a proxy truncating a line looks like to the client.
MALFORMED = b'data: {"choices": [\n\n'

# OpenAI's error `type` for each status a client treats differently.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_ERROR_CODES = {429: "rate_limit_exceeded"}

# Split tool-call arguments into small pieces, as the API does, so a client has to reassemble.
_ARG_PIECES = re.compile(r".{1,8}", re.DOTALL)


def sse(payload: bytes) -> bytes:
    """One server-sent event carrying a JSON payload."""
    return b"data: " + payload + b"\n\n"


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    """`{"error": {"message", "type", "code", "param"}}` as the API sends with a 4xx/5xx."""
    error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "api_error")
    error = {
        "message": message,
        "type": error_type,
        "param": None,
        "code": code if code is not None else _ERROR_CODES.get(status),
    }
    return orjson.dumps({"error": error})


def in_band_error(message: str | None) -> bytes:
    """The SSE error event the API sends when it fails after the stream started."""
    error = {
        "message": message or "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": "server_error",
    }
    return sse(orjson.dumps({"error": error}))


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """A rough token count (words) of the request's messages, for the usage block."""
    words = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):
            words += sum(
                len(str(p.get("text", "")).split()) for p in content if isinstance(p, dict)
            )
    return max(words, 1)


class Completion:
    """The constant parts of one response (id, created, model), and its chunks.

    One instance per request keeps the `id` stable across all chunks of the response.
    """

    def __init__(self, model: str, reply: Reply) -> None:
        self.reply = reply
        self._base: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        if reply.system_fingerprint is not None:
            self._base["system_fingerprint"] = reply.system_fingerprint

    @property
    def finish_reason(self) -> str:
        if self.reply.finish_reason is not None:
            return self.reply.finish_reason
        return "tool_calls" if self.reply.tool_calls else "stop"

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse(orjson.dumps({**self._base, "choices": [choice]}))

    def role_chunk(self) -> bytes:
        content = "" if self.reply.content_chunks or not self.reply.tool_calls else None
        return self.chunk({"role": "assistant", "content": content})

    def body_chunks(self) -> list[bytes]:
        """Content deltas, then tool-call deltas: the chunks faults are counted in."""
        frames = [self.chunk({"content": text}) for text in self.reply.content_chunks]
        for index, (name, arguments) in enumerate(self.reply.tool_calls):
            frames.extend(self._tool_call_chunks(index, name, arguments))
        return frames

    def _tool_call_chunks(self, index: int, name: str, arguments: str) -> list[bytes]:
        # The first delta names the call; the arguments follow in pieces carrying only index.
        head = {
            "index": index,
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        frames = [self.chunk({"tool_calls": [head]})]
        for piece in _ARG_PIECES.findall(arguments):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            frames.append(self.chunk(delta))
        return frames

    def finish_chunk(self) -> bytes:
        return self.chunk({}, self.finish_reason)

    def usage_chunk(self, usage: dict[str, Any]) -> bytes:
        return sse(orjson.dumps({**self._base, "choices": [], "usage": usage}))

    def whole(self, usage: dict[str, Any]) -> bytes:
        """The non-streaming `chat.completion` body."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.reply.content_chunks) or None,
            "refusal": None,
        }
        if self.reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for name, arguments in self.reply.tool_calls
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
        }
        body = {**self._base, "object": "chat.completion", "choices": [choice], "usage": usage}
        return orjson.dumps(body)


def usage_block(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The `usage` object, with the details blocks the API sends.

    `cached_tokens` is what OpenAI's prompt cache reports for a prompt it has seen before
    (caching starts at 1,024 tokens and grows in blocks of 128): the server answers as if
    it had seen every prompt, so a long enough prompt shows cached input. No model here
    reasons, so `reasoning_tokens` is 0.
    """
    cached = 0 if prompt_tokens < 1024 else 1024 + (prompt_tokens - 1024) // 128 * 128
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
