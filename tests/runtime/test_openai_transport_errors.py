"""What the real openai client raises for each fault, and what l0 decides about it.

openai 3 sends requests through httpx2 and wraps a transport failure mid-stream in
`APIConnectionError`/`APITimeoutError`; openai 2 sends through httpx and lets httpx's
exception through once the stream is returned. openai 3 also accepts an httpx client.
Either way the decision and `error.type` must be the same (docs/errors.md).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

import l0
from l0 import ErrorCategory
from l0 import ObservabilityEventType as T
from l0.errors import RetryDecision, classify_error, error_type
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, Recorder, drain, fast_retry

OPENAI_MAJOR = int(openai.__version__.split(".")[0])
# The HTTP library a client sends through when none is given.
DEFAULT_HTTP = "httpx2" if OPENAI_MAJOR >= 3 else "httpx"
TEXT = "Hello there world"
CLIENT_TIMEOUT = 0.2
STALL = 30.0  # ends as soon as the client hangs up


@pytest.fixture(params=["default", "httpx"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient | None]:
    """The client's HTTP library: its own (httpx2 on openai 3), or an httpx client."""
    if request.param == "default":
        yield None
        return
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
        yield client


def http_library(http: httpx.AsyncClient | None) -> str:
    return DEFAULT_HTTP if http is None else "httpx"


def make_client(url: str, http: httpx.AsyncClient | None) -> openai.AsyncOpenAI:
    options: dict[str, Any] = {"http_client": http} if http is not None else {}
    return openai.AsyncOpenAI(
        base_url=url, api_key="k", max_retries=0, timeout=CLIENT_TIMEOUT, **options
    )


async def raised(client: openai.AsyncOpenAI) -> BaseException:
    """The exception one streaming request ends with, at `create()` or while iterating."""
    with pytest.raises(Exception) as caught:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        async for _ in stream:
            pass
    return caught.value


def decide(error: BaseException) -> tuple[ErrorCategory, str, float | None, int | None]:
    decision: RetryDecision = classify_error(error)
    return decision.category, decision.reason, decision.retry_after, decision.status_code


def transport_module(error: BaseException) -> str:
    """The top-level module of the HTTP client exception at or beneath `error`."""
    while not type(error).__module__.startswith("httpx"):
        assert error.__cause__ is not None, f"no HTTP client exception under {error!r}"
        error = error.__cause__
    return type(error).__module__.split(".")[0]


STATUS = [
    (Reply(status=429, retry_after=0.05), openai.RateLimitError, "http_429", 0.05, 429),
    (Reply(status=429, retry_after_ms=50), openai.RateLimitError, "http_429", 0.05, 429),
    (Reply(status=503), openai.InternalServerError, "http_503", None, 503),
    (Reply(status=503, retry_after=1), openai.InternalServerError, "http_503", 1.0, 503),
]


@pytest.mark.parametrize(("reply", "cls", "reason", "after", "status"), STATUS)
async def test_status_replies(
    fault_server: FaultServer,
    http: httpx.AsyncClient | None,
    reply: Reply,
    cls: type[Exception],
    reason: str,
    after: float | None,
    status: int,
) -> None:
    fault_server.enqueue(reply)
    async with make_client(fault_server.url, http) as client:
        error = await raised(client)
    assert type(error) is cls
    # The headers arrive on the response of the library that carried the request.
    response: Any = getattr(error, "response")  # noqa: B009
    assert type(response).__module__.split(".")[0] == http_library(http)
    assert decide(error) == (ErrorCategory.TRANSIENT, reason, after, status)
    assert error_type(error) == cls.__name__


TRANSPORT = [
    pytest.param(Reply(text=TEXT, reset_after=2), "RemoteProtocolError", id="reset-mid-stream"),
    pytest.param(Reply(text=TEXT, stall_before_first=STALL), "ReadTimeout", id="stall-first"),
    pytest.param(Reply(text=TEXT, stall_after=(1, STALL)), "ReadTimeout", id="stall-mid-stream"),
    pytest.param(Reply(stall_before_headers=STALL), "ReadTimeout", id="stall-headers"),
]


@pytest.mark.parametrize(("reply", "name"), TRANSPORT)
async def test_transport_faults(
    fault_server: FaultServer, http: httpx.AsyncClient | None, reply: Reply, name: str
) -> None:
    fault_server.enqueue(reply)
    async with make_client(fault_server.url, http) as client:
        error = await raised(client)
    assert transport_module(error) == http_library(http)
    if OPENAI_MAJOR >= 3:  # it wraps them all, whichever library carried the request
        assert isinstance(error, openai.APIConnectionError)
    assert decide(error) == (ErrorCategory.NETWORK, name, None, None)
    # Named the same on openai 2 and 3, whatever class the SDK raised around it.
    assert error_type(error) == name


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A bound port nobody listens on: connecting is refused while the socket is held."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_connection_refused(refusing_port: int, http: httpx.AsyncClient | None) -> None:
    async with make_client(f"http://127.0.0.1:{refusing_port}/v1", http) as client:
        error = await raised(client)
    assert isinstance(error, openai.APIConnectionError)  # before any response: both majors
    assert transport_module(error) == http_library(http)
    assert decide(error) == (ErrorCategory.NETWORK, "ConnectError", None, None)
    assert error_type(error) == "ConnectError"


async def test_a_session_retries_each_as_decided(
    fault_server: FaultServer, http: httpx.AsyncClient | None
) -> None:
    fault_server.enqueue(
        Reply(status=429, retry_after_ms=30),
        Reply(text=TEXT, reset_after=1),
        Reply(text=TEXT, stall_after=(1, STALL)),
        Reply(status=503),
        Reply(text=TEXT),
    )
    rec = Recorder()
    async with make_client(fault_server.url, http) as client:
        result = await l0.run(
            lambda: client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
            retry=fast_retry(max_retries=4),
            timeout=l0.Timeout(initial_token=None, inter_token=None),  # the client's fire first
            on_event=rec,
        )
        await drain(result)
    assert result.state.content == TEXT
    retries = [
        (e.reason, e.category, e.retry_after_ms, e.delay_ms) for e in rec.of(T.RETRY_ATTEMPT)
    ]
    assert retries == [  # backoff is 0 here: only the provider's Retry-After makes l0 wait
        ("http_429", "transient", 30, 30),
        ("RemoteProtocolError", "network", 0, 0),
        ("ReadTimeout", "network", 0, 0),
        ("http_503", "transient", 0, 0),
    ]
    assert [e.error_type for e in rec.of(T.ATTEMPT_END)] == [
        "RateLimitError",
        "RemoteProtocolError",
        "ReadTimeout",
        "InternalServerError",
        None,
    ]
    assert (result.state.network_retry_count, result.state.model_retry_count) == (4, 0)
