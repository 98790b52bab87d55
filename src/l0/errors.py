"""Typed errors and the one place that decides how an exception is handled.

Classification looks at exception *types* and HTTP status first (openai, httpx, httpx2,
aiohttp, litellm and the standard library), and only then at message patterns, because
messages change between SDK versions while types and status codes do not. Provider modules
(and `ssl`, `socket`) are looked up in `sys.modules` instead of imported: if the application
never imported openai, no error can be an openai error, and `import l0` stays light.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import errno
import json
import os
import re
import sys
import sysconfig
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any

import orjson

from .types import ErrorCategory

__all__ = [
    "ErrorCategory",
    "ErrorCode",
    "L0Error",
    "RetryDecision",
    "SerializedError",
    "categorize_error",
    "classify_error",
    "error_type",
]


class ErrorCode(str, Enum):
    STREAM_ABORTED = "STREAM_ABORTED"
    INITIAL_TOKEN_TIMEOUT = "INITIAL_TOKEN_TIMEOUT"
    INTER_TOKEN_TIMEOUT = "INTER_TOKEN_TIMEOUT"
    ZERO_OUTPUT = "ZERO_OUTPUT"
    GUARDRAIL_VIOLATION = "GUARDRAIL_VIOLATION"
    FATAL_GUARDRAIL_VIOLATION = "FATAL_GUARDRAIL_VIOLATION"
    DRIFT_DETECTED = "DRIFT_DETECTED"
    INVALID_STREAM = "INVALID_STREAM"
    ADAPTER_NOT_FOUND = "ADAPTER_NOT_FOUND"
    NETWORK_ERROR = "NETWORK_ERROR"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    ALL_STREAMS_EXHAUSTED = "ALL_STREAMS_EXHAUSTED"
    FEATURE_NOT_ENABLED = "FEATURE_NOT_ENABLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


_CODE_CATEGORY = {
    ErrorCode.STREAM_ABORTED: ErrorCategory.FATAL,
    ErrorCode.INITIAL_TOKEN_TIMEOUT: ErrorCategory.NETWORK,
    ErrorCode.INTER_TOKEN_TIMEOUT: ErrorCategory.NETWORK,
    ErrorCode.ZERO_OUTPUT: ErrorCategory.TRANSIENT,
    ErrorCode.GUARDRAIL_VIOLATION: ErrorCategory.CONTENT,
    ErrorCode.FATAL_GUARDRAIL_VIOLATION: ErrorCategory.FATAL,
    ErrorCode.DRIFT_DETECTED: ErrorCategory.CONTENT,
    ErrorCode.INVALID_STREAM: ErrorCategory.INTERNAL,
    ErrorCode.ADAPTER_NOT_FOUND: ErrorCategory.INTERNAL,
    ErrorCode.NETWORK_ERROR: ErrorCategory.NETWORK,
    ErrorCode.PROVIDER_ERROR: ErrorCategory.PROVIDER,
    ErrorCode.ALL_STREAMS_EXHAUSTED: ErrorCategory.FATAL,
    ErrorCode.FEATURE_NOT_ENABLED: ErrorCategory.INTERNAL,
    ErrorCode.INTERNAL_ERROR: ErrorCategory.INTERNAL,
}


class L0Error(Exception):
    """An error raised by l0, with the session's state at the moment it happened.

    `__cause__` is the exception behind it when there was one (for `ALL_STREAMS_EXHAUSTED`,
    the last attempt's); `errors` holds every attempt's exception, in order, when the session
    ran out of streams. `to_dict()`/`to_json()` make one JSON-safe record of it, and
    `from_dict()`/`from_json()` read that record back.
    """

    def __init__(
        self,
        message: str,
        code: ErrorCode,
        *,
        category: ErrorCategory | None = None,
        status_code: int | None = None,
        checkpoint: str = "",
        checkpoint_length: int | None = None,
        token_count: int = 0,
        content_length: int = 0,
        attempts: int = 0,
        model_retry_count: int = 0,
        network_retry_count: int = 0,
        fallback_index: int = 0,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        errors: Iterable[BaseException] = (),
        timestamp: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.category = category or _CODE_CATEGORY[code]
        self.status_code = status_code
        self.timestamp = time.time() if timestamp is None else timestamp
        self.checkpoint = checkpoint
        # Its own field, so a record shipped without the checkpoint's text keeps its length.
        self.checkpoint_length = len(checkpoint) if checkpoint_length is None else checkpoint_length
        self.token_count = token_count
        self.content_length = content_length
        self.attempts = attempts
        self.model_retry_count = model_retry_count
        self.network_retry_count = network_retry_count
        self.fallback_index = fallback_index
        self.context: Mapping[str, Any] = context if context is not None else {}
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.errors: list[BaseException] = list(errors)

    @classmethod
    def exhausted(
        cls,
        message: str,
        errors: Iterable[BaseException],
        *,
        category: ErrorCategory | None = None,
        status_code: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> L0Error:
        """`ALL_STREAMS_EXHAUSTED`: every stream was tried; each one's error is in `errors`,
        the last one is the cause."""
        errors = list(errors)
        error = cls(
            message,
            ErrorCode.ALL_STREAMS_EXHAUSTED,
            category=category,
            status_code=status_code,
            metadata=metadata,
            errors=errors,
        )
        error.__cause__ = errors[-1] if errors else None
        return error

    @property
    def has_checkpoint(self) -> bool:
        return bool(self.checkpoint)

    @property
    def retry_count(self) -> int:
        return self.model_retry_count + self.network_retry_count

    def __repr__(self) -> str:
        return f"L0Error({self.code.value}, {str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        """The error as plain JSON types; its cause and attempt errors by type and message."""
        cause = self.__cause__
        return {
            "name": "L0Error",
            "code": self.code.value,
            "category": self.category.value,
            "message": str(self),
            "timestamp": self.timestamp,
            "status_code": self.status_code,
            "has_checkpoint": self.has_checkpoint,
            "checkpoint": self.checkpoint,
            "checkpoint_length": self.checkpoint_length,
            "token_count": self.token_count,
            "content_length": self.content_length,
            "attempts": self.attempts,
            "model_retry_count": self.model_retry_count,
            "network_retry_count": self.network_retry_count,
            "retry_count": self.retry_count,
            "fallback_index": self.fallback_index,
            "context": _jsonable(self.context),
            "metadata": _jsonable(self.metadata),
            "cause": None if cause is None else _describe(cause),
            "errors": [_describe(error) for error in self.errors],
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> L0Error:
        """The error `to_dict()` described. Exceptions other than l0's come back as
        `SerializedError`s: their classes may not exist where the record is read."""
        error = cls(
            str(data["message"]),
            ErrorCode(data["code"]),
            category=ErrorCategory(data["category"]),
            status_code=data.get("status_code"),
            checkpoint=data.get("checkpoint") or "",
            checkpoint_length=data.get("checkpoint_length"),
            token_count=data.get("token_count", 0),
            content_length=data.get("content_length", 0),
            attempts=data.get("attempts", 0),
            model_retry_count=data.get("model_retry_count", 0),
            network_retry_count=data.get("network_retry_count", 0),
            fallback_index=data.get("fallback_index", 0),
            context=data.get("context") or {},
            metadata=data.get("metadata") or {},
            errors=[_restore(entry) for entry in data.get("errors") or ()],
            timestamp=data.get("timestamp"),
        )
        if data.get("cause"):
            error.__cause__ = _restore(data["cause"])
        return error

    @classmethod
    def from_json(cls, text: str | bytes) -> L0Error:
        return cls.from_dict(orjson.loads(text))


class SerializedError(Exception):
    """An exception read back from an `L0Error` record: `type` names its original class."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type


def _describe(error: BaseException) -> dict[str, Any]:
    if isinstance(error, L0Error):
        return {"type": "L0Error", "code": error.code.value, "message": str(error)}
    name = error.type if isinstance(error, SerializedError) else type(error).__qualname__
    return {"type": name, "message": str(error)}


def _restore(entry: Mapping[str, Any]) -> BaseException:
    if "code" in entry:
        return L0Error(str(entry["message"]), ErrorCode(entry["code"]))
    return SerializedError(str(entry["type"]), str(entry["message"]))


def _jsonable(value: Any) -> Any:
    """`value` in JSON's types: mappings (the frozen `context`) to dicts, sequences to lists,
    anything else unknown to its `str`."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    return str(value)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What the session does with a failed attempt."""

    category: ErrorCategory
    reason: str
    retry: bool
    counts_toward_attempts: bool
    fallback: bool
    retry_after: float | None = None
    status_code: int | None = None


def categorize_error(error: BaseException) -> ErrorCategory:
    """The `ErrorCategory` l0 assigns to `error`."""
    return classify_error(error).category


# Messages that name a network failure, for exceptions no type says anything about: the
# README's table, then the canonical lifecycle's (Node-style error codes, fetch, DNS and TLS
# wording), then truncated streams.
_NETWORK_PATTERNS = re.compile(
    "|".join(
        (
            r"connection.*reset",
            r"connection.*refused",
            r"connection.*timeout",
            r"timed?\s*out",
            r"dns.*failed",
            r"name.*resolution",
            r"socket.*error",
            r"ssl.*error",
            r"eof.*occurred",
            r"broken.*pipe",
            r"network.*unreachable",
            r"host.*unreachable",
            r"\be(connreset|connrefused|connaborted|timedout|notfound|ai_again|pipe)\b",
            r"\be(netunreach|hostunreach)\b",
            r"connection (dropped|closed|lost)",
            r"socket hang up",
            r"getaddrinfo",
            r"host not found",
            r"\bdns\b",
            r"deadline exceeded",
            r"failed to fetch",
            r"network request failed",
            r"\b(ssl|tls)\b",
            r"handshake",
            r"certificate",
            r"self[- ]signed",
            r"incomplete.*(read|chunk)",
            r"peer closed",
        )
    ),
    re.IGNORECASE,
)
# A certificate that does not verify will not verify on a retry either (canonical spec).
_CERTIFICATE = re.compile(r"certificate|self[- ]signed", re.IGNORECASE)
# Raised as a plain OSError, not as one of ConnectionError's subclasses.
_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
)
_CONTEXT_LENGTH = re.compile(
    r"context.?length|context.?window|maximum context|too many tokens|prompt is too long",
    re.IGNORECASE,
)
_TRANSIENT_BODY_CODES = frozenset(
    {"rate_limit_exceeded", "server_error", "overloaded", "overloaded_error", "service_unavailable"}
)


def classify_error(error: BaseException) -> RetryDecision:
    """Decide category, retry and fallback for one failed attempt (docs/errors.md)."""
    error = _unwrap(error)
    if isinstance(error, L0Error):
        if error.code is ErrorCode.ALL_STREAMS_EXHAUSTED:  # nothing is left to try
            return RetryDecision(error.category, "all_streams_exhausted", False, False, False)
        return _decide(error.category, error.code.value.lower(), error.status_code, None)
    if isinstance(error, asyncio.CancelledError):
        return _decide(ErrorCategory.FATAL, "cancelled", None, None)

    status = _status_code(error)
    if status is not None:
        return _classify_status(error, status)
    if _is_network(error):
        return _network_decision(error, _network_reason(error))
    if _is_in_band_error(error):
        code = _body_code(error)
        if code in _TRANSIENT_BODY_CODES:
            return _decide(ErrorCategory.TRANSIENT, code or "server_error", None, None)
        return _decide(ErrorCategory.MODEL, code or "stream_error", None, None)
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError) or _is_validation(error):
        return _decide(ErrorCategory.MODEL, "malformed_chunk", None, None)
    if _NETWORK_PATTERNS.search(str(error)):
        return _network_decision(error, "network_error")
    if _raised_by_l0(error):
        return _decide(ErrorCategory.INTERNAL, type(error).__name__, None, None)
    # Anything else came from the caller's stream or factory (or a provider SDK under it):
    # the canonical lifecycle retries it as a model error, then falls back.
    return _decide(ErrorCategory.MODEL, "stream_error", None, None)


def _classify_status(error: BaseException, status: int) -> RetryDecision:
    after = _retry_after(error)
    if status in (401, 403):
        return _decide(ErrorCategory.FATAL, f"http_{status}", status, None)
    if status == 429 or status == 408 or status == 409 or status >= 500:
        return _decide(ErrorCategory.TRANSIENT, f"http_{status}", status, after)
    if status == 400 and (_is_context_length(error)):
        return RetryDecision(
            ErrorCategory.PROVIDER, "context_length", False, False, True, None, status
        )
    return _decide(ErrorCategory.PROVIDER, f"http_{status}", status, None)


def _decide(
    category: ErrorCategory, reason: str, status: int | None, after: float | None
) -> RetryDecision:
    if category in (ErrorCategory.NETWORK, ErrorCategory.TRANSIENT):
        return RetryDecision(category, reason, True, False, True, after, status)
    if category in (ErrorCategory.MODEL, ErrorCategory.CONTENT):
        return RetryDecision(category, reason, True, True, True, after, status)
    if category in (ErrorCategory.FATAL, ErrorCategory.PROVIDER):
        fallback = reason not in ("cancelled", "stream_aborted", "fatal_guardrail_violation")
        return RetryDecision(category, reason, False, False, fallback, None, status)
    return RetryDecision(category, reason, False, False, False, None, status)


def _unwrap(error: BaseException) -> BaseException:
    """litellm re-raises mid-stream failures as MidStreamFallbackError: judge the original."""
    exceptions = _module("litellm.exceptions")
    wrapper = getattr(exceptions, "MidStreamFallbackError", None)
    if wrapper is not None and isinstance(error, wrapper):
        original = getattr(error, "original_exception", None)
        if isinstance(original, BaseException):
            return original
    return error


def _module(name: str) -> Any:
    return sys.modules.get(name)


# openai 3 sends requests through httpx2, a fork of httpx with classes of its own; it also
# accepts an httpx client, so either (or both) may be loaded.
_HTTP_CLIENTS = ("httpx", "httpx2")


def _http_classes(name: str) -> tuple[type[BaseException], ...]:
    """The class called `name` in each loaded HTTP client (the two share their class names)."""
    modules = (_module(client) for client in _HTTP_CLIENTS)
    return tuple(getattr(module, name) for module in modules if module is not None)


def _status_code(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and 100 <= status < 600:
        # litellm gives connection failures status 500 and timeouts 408: network errors.
        litellm = _module("litellm")
        if litellm is not None and isinstance(error, litellm.APIConnectionError | litellm.Timeout):
            return None
        return status
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and 100 <= status < 600 and _is_http_status_error(error):
        return status
    return None


def _is_http_status_error(error: BaseException) -> bool:
    return isinstance(error, _http_classes("HTTPStatusError"))


def _is_network(error: BaseException) -> bool:
    classes: list[Any] = [
        ConnectionError,
        TimeoutError,
        asyncio.IncompleteReadError,
        EOFError,
        *_http_classes("TransportError"),
    ]
    if (socket := _module("socket")) is not None:
        classes.append(socket.gaierror)  # DNS: an OSError, not a ConnectionError
    if (ssl := _module("ssl")) is not None:
        classes.append(ssl.SSLError)
    if (aiohttp := _module("aiohttp")) is not None:
        classes += (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
    if (openai := _module("openai")) is not None:
        classes.append(openai.APIConnectionError)
    if (litellm := _module("litellm")) is not None:
        classes += (litellm.APIConnectionError, litellm.Timeout)
    network = tuple(classes)
    return any(
        isinstance(e, network) or (isinstance(e, OSError) and e.errno in _NETWORK_ERRNOS)
        for e in _chain(error, implicit=True)
    )


def _network_decision(error: BaseException, reason: str) -> RetryDecision:
    """NETWORK is retried, except a certificate that failed to verify: it falls back."""
    if _is_certificate_failure(error):
        return RetryDecision(ErrorCategory.NETWORK, reason, False, False, True)
    return _decide(ErrorCategory.NETWORK, reason, None, None)


def _is_certificate_failure(error: BaseException) -> bool:
    ssl = _module("ssl")
    for e in _chain(error, implicit=True):
        if ssl is not None and isinstance(e, ssl.SSLCertVerificationError):
            return True
        if _CERTIFICATE.search(str(e)):
            return True
    return False


def _network_reason(error: BaseException) -> str:
    """The transport failure's name (as `error_type`), else the root cause's class."""
    *_, root = _chain(error)
    return type(_transport_error(error) or root).__qualname__


def error_type(error: BaseException) -> str:
    """OTel `error.type` of a failure: the l0 code, else the class to search for.

    A transport failure is named by the HTTP client's exception even when an SDK wrapped it
    (openai 3 raises `APIConnectionError` from httpx2's `RemoteProtocolError` where openai 2
    let httpx's through): one name on every SDK version, and the name HTTP client
    instrumentation gives the same failure. The wrapper stays the recorded exception.
    """
    if isinstance(error, L0Error):
        return error.code.value
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return type(_transport_error(error) or error).__qualname__


def _transport_error(error: BaseException) -> BaseException | None:
    """The outermost httpx/httpx2 transport exception in `error`'s `__cause__` chain.

    Outermost, because below it lie the HTTP core's and the socket's (`TimeoutError` under a
    `ReadTimeout`), which say less.
    """
    transport = _http_classes("TransportError")
    return next((e for e in _chain(error) if isinstance(e, transport)), None)


def _chain(error: BaseException, *, implicit: bool = False) -> list[BaseException]:
    """`error` and its `__cause__` chain (with `implicit`, `__context__` where there is no
    cause), stopping where the chain loops."""
    chain = [error]
    while True:
        last = chain[-1]
        below = last.__cause__ or (last.__context__ if implicit else None)
        if below is None or any(below is seen for seen in chain):
            return chain
        chain.append(below)


# Where l0's own code lives; its fault server and test helpers stand in for providers.
_L0_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_L0_TESTING_DIR = _L0_DIR + "testing" + os.sep
_STDLIB_DIRS = tuple({sysconfig.get_paths()[key] + os.sep for key in ("stdlib", "platstdlib")})


def _raised_by_l0(error: BaseException) -> bool:
    """Whether `error` was raised by l0's own code: INTERNAL means a bug in l0.

    Decided by the frame that raised it: the innermost frame of its traceback, looking through
    the standard library's (an l0 bug may surface inside `re` or `json`). An exception
    raised by a factory or stream, or by the provider SDK beneath them, was raised in theirs;
    one that was never raised (no traceback) is not known to be l0's.
    """
    origin = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not _is_stdlib(filename):
            origin = filename
        tb = tb.tb_next
    return (
        origin is not None and origin.startswith(_L0_DIR) and not origin.startswith(_L0_TESTING_DIR)
    )


def _is_stdlib(filename: str) -> bool:
    if filename.startswith("<"):  # frozen modules, and code made by exec (dataclasses)
        return True
    if "site-packages" in filename or "dist-packages" in filename:
        return False  # installed packages, which a venv keeps beside its stdlib
    return filename.startswith(_STDLIB_DIRS)


def _is_in_band_error(error: BaseException) -> bool:
    openai = _module("openai")
    return openai is not None and type(error) is openai.APIError


def _body_code(error: BaseException) -> str | None:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for key in ("code", "type"):
                value = inner.get(key)
                if isinstance(value, str):
                    return value
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else None


def _is_validation(error: BaseException) -> bool:
    pydantic = _module("pydantic")
    return pydantic is not None and isinstance(error, pydantic.ValidationError)


def _is_context_length(error: BaseException) -> bool:
    litellm = _module("litellm")
    if litellm is not None and isinstance(error, litellm.ContextWindowExceededError):
        return True
    if _body_code(error) == "context_length_exceeded":
        return True
    return bool(_CONTEXT_LENGTH.search(str(error)))


def _retry_after(error: BaseException) -> float | None:
    """Seconds the provider asked us to wait (`retry-after-ms` wins over `Retry-After`)."""
    for headers in _header_sources(error):
        millis = _header(headers, "retry-after-ms")
        if millis is not None:
            try:
                return max(0.0, float(millis) / 1000.0)
            except ValueError:
                pass
        value = _header(headers, "retry-after")
        if value is not None:
            return _retry_after_value(value)
    return None


def _header_sources(error: BaseException) -> list[Any]:
    """openai/httpx keep headers on the response; litellm keeps the provider's separately."""
    sources = [
        getattr(error, "litellm_response_headers", None),
        getattr(getattr(error, "response", None), "headers", None),
        getattr(error, "headers", None),
    ]
    return [h for h in sources if h is not None and callable(getattr(h, "get", None))]


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return str(value) if value is not None else None


def _retry_after_value(value: str) -> float | None:
    """`Retry-After` is delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
