"""httpx and httpx2 exceptions, built the way the clients build them, classified by type.

openai 3 sends requests through httpx2, a fork of httpx whose classes are its own (an
`httpx2.ReadTimeout` is no `httpx.ReadTimeout`); openai 2 uses httpx. Every case runs once
per client that is installed: httpx2 is absent beside openai 2.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import ModuleType

import openai
import pytest

from l0 import ErrorCategory, ErrorCode, L0Error
from l0.errors import classify_error, error_type

URL = "http://127.0.0.1:9/v1/chat/completions"


@pytest.fixture(params=["httpx", "httpx2"])
def http(request: pytest.FixtureRequest) -> ModuleType:
    return pytest.importorskip(request.param)


def status_error(http: ModuleType, status: int, **headers: str) -> BaseException:
    """The `HTTPStatusError` that `raise_for_status()` raises for this response."""
    response = http.Response(status, headers=headers, request=http.Request("POST", URL))
    try:
        response.raise_for_status()
    except http.HTTPStatusError as error:
        return error
    raise AssertionError(f"{status} did not raise")


def transport_error(http: ModuleType, name: str) -> BaseException:
    """A transport exception the way the client raises it: mapped from the core's, with the
    request attached."""
    try:
        try:
            raise TimeoutError("the socket's own") if "Timeout" in name else OSError(104, "reset")
        except OSError as low:
            raise getattr(http, name)("failed", request=http.Request("POST", URL)) from low
    except http.TransportError as error:
        return error
    raise AssertionError("unreachable")


def wrapped(outer: type[openai.APIConnectionError], inner: BaseException) -> BaseException:
    """What openai does with a transport failure: `raise APIConnectionError(...) from err`."""
    try:
        raise outer(request=getattr(inner, "request", None)) from inner
    except openai.APIConnectionError as error:
        return error


TRANSPORT = [
    "RemoteProtocolError",
    "LocalProtocolError",
    "ReadTimeout",
    "WriteTimeout",
    "ConnectTimeout",
    "PoolTimeout",
    "ConnectError",
    "ReadError",
    "WriteError",
    "CloseError",
    "ProxyError",
]


@pytest.mark.parametrize("name", TRANSPORT)
def test_transport_errors_are_network_named_by_their_class(http: ModuleType, name: str) -> None:
    error = transport_error(http, name)
    decision = classify_error(error)
    assert (decision.category, decision.retry, decision.counts_toward_attempts) == (
        ErrorCategory.NETWORK,
        True,
        False,
    )
    assert decision.fallback
    assert (decision.reason, decision.retry_after, decision.status_code) == (name, None, None)
    assert error_type(error) == name


@pytest.mark.parametrize(
    ("outer", "name"),
    [
        (openai.APIConnectionError, "RemoteProtocolError"),
        (openai.APIConnectionError, "ConnectError"),
        (openai.APITimeoutError, "ReadTimeout"),
        (openai.APITimeoutError, "ConnectTimeout"),
    ],
)
def test_openai_wrapper_is_named_by_the_transport_error_beneath(
    http: ModuleType, outer: type[openai.APIConnectionError], name: str
) -> None:
    error = wrapped(outer, transport_error(http, name))
    decision = classify_error(error)
    assert decision.category is ErrorCategory.NETWORK and decision.retry
    # Not the wrapper, and not the socket's TimeoutError/OSError under the client's class.
    assert decision.reason == name
    assert error_type(error) == name


@pytest.mark.parametrize(
    ("status", "category", "retry"),
    [
        (503, ErrorCategory.TRANSIENT, True),
        (500, ErrorCategory.TRANSIENT, True),
        (429, ErrorCategory.TRANSIENT, True),
        (408, ErrorCategory.TRANSIENT, True),
        (401, ErrorCategory.FATAL, False),
        (403, ErrorCategory.FATAL, False),
        (400, ErrorCategory.PROVIDER, False),
        (404, ErrorCategory.PROVIDER, False),
    ],
)
def test_status_errors_are_classified_by_status(
    http: ModuleType, status: int, category: ErrorCategory, retry: bool
) -> None:
    error = status_error(http, status)
    decision = classify_error(error)
    assert (decision.category, decision.retry) == (category, retry)
    assert (decision.reason, decision.status_code) == (f"http_{status}", status)
    assert error_type(error) == "HTTPStatusError"


@pytest.mark.parametrize(
    ("headers", "after"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "150"}, 0.15),
        ({"Retry-After-Ms": "150"}, 0.15),
        ({"retry-after": "20", "retry-after-ms": "50"}, 0.05),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
    ids=["seconds", "lower-case", "ms", "ms-title-case", "ms-wins", "garbage", "none"],
)
def test_status_errors_honour_retry_after(
    http: ModuleType, headers: dict[str, str], after: float | None
) -> None:
    for status in (429, 503):
        decision = classify_error(status_error(http, status, **headers))
        assert decision.retry_after == after, (status, decision)


def test_retry_after_http_date(http: ModuleType) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    after = classify_error(status_error(http, 429, **{"Retry-After": when})).retry_after
    assert after is not None and 25 <= after <= 30


def test_openai_status_error_with_this_clients_response(http: ModuleType) -> None:
    """openai 3 gives its status errors an httpx2 response, openai 2 an httpx one."""
    response = http.Response(
        429, headers={"retry-after-ms": "250"}, request=http.Request("POST", URL)
    )
    error = openai.RateLimitError("slow down", response=response, body=None)
    decision = classify_error(error)
    assert (decision.category, decision.reason) == (ErrorCategory.TRANSIENT, "http_429")
    assert (decision.retry_after, decision.status_code) == (0.25, 429)
    assert error_type(error) == "RateLimitError"


def test_a_status_error_is_not_a_transport_error(http: ModuleType) -> None:
    # Both derive from HTTPError; only TransportError means the connection broke.
    error = wrapped(openai.APIConnectionError, status_error(http, 503))
    assert error_type(error) == "APIConnectionError"


def test_other_errors_keep_their_own_name() -> None:
    assert error_type(L0Error("x", ErrorCode.INTER_TOKEN_TIMEOUT)) == "INTER_TOKEN_TIMEOUT"
    assert error_type(asyncio.CancelledError()) == "cancelled"
    assert error_type(KeyError("x")) == "KeyError"
    try:
        raise RuntimeError("outer") from ValueError("inner")
    except RuntimeError as error:
        assert error_type(error) == "RuntimeError"


def test_a_looping_cause_chain_ends(http: ModuleType) -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert error_type(first) == "RuntimeError"
    assert classify_error(first).category is ErrorCategory.MODEL
    inner = transport_error(http, "ReadError")
    outer = RuntimeError("stream failed")
    outer.__cause__, inner.__cause__ = inner, outer
    assert error_type(outer) == "ReadError"
    assert classify_error(outer).reason == "ReadError"


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_classifying_imports_no_http_client() -> None:
    loaded = run_python(
        "import sys, l0\n"
        "from l0.errors import classify_error, error_type\n"
        "classify_error(ConnectionResetError()); error_type(ValueError())\n"
        "print(sorted(m for m in ('httpx', 'httpx2') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_each_client_is_known_without_the_other(http: ModuleType) -> None:
    """openai 3 imports httpx2 and never httpx; l0 must not need one to know the other."""
    other = "httpx2" if http.__name__ == "httpx" else "httpx"
    out = run_python(
        f"import sys, {http.__name__} as http\n"
        "from l0.errors import classify_error, error_type\n"
        "error = http.ReadTimeout('t')\n"
        "decision = classify_error(error)\n"
        "print(decision.category.value, decision.reason, error_type(error))\n"
        f"print({other!r} in sys.modules)"
    )
    assert out.split() == ["network", "ReadTimeout", "ReadTimeout", "False"]


def connect_error(http: ModuleType, low: OSError) -> BaseException:
    """`ConnectError` from the socket's exception, wrapped by openai, as the clients do."""
    try:
        try:
            raise low
        except OSError as exc:
            raise http.ConnectError(str(exc), request=http.Request("POST", URL)) from exc
    except http.ConnectError as error:
        return wrapped(openai.APIConnectionError, error)
    raise AssertionError("unreachable")


def test_a_dns_failure_is_network_and_retried(http: ModuleType) -> None:
    error = connect_error(http, socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    decision = classify_error(error)
    assert (decision.category, decision.retry, decision.reason) == (
        ErrorCategory.NETWORK,
        True,
        "ConnectError",
    )


def test_a_certificate_failure_is_network_but_only_falls_back(http: ModuleType) -> None:
    failure = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] expired")
    decision = classify_error(connect_error(http, failure))
    assert (decision.category, decision.retry, decision.fallback) == (
        ErrorCategory.NETWORK,
        False,
        True,
    )
    other = classify_error(connect_error(http, ssl.SSLError(1, "[SSL] bad record mac")))
    assert (other.category, other.retry) == (ErrorCategory.NETWORK, True)
