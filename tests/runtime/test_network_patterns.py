"""NETWORK, by message and by type: the README's "Detected Network Error Patterns", the
canonical lifecycle's wording, DNS and TLS failures (raw, wrapped by openai/httpx/httpx2, and
aiohttp's), through the real clients where a connection is involved (docs/errors.md)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import aiohttp
import openai
import pytest

import l0
from l0 import ErrorCategory
from l0 import ObservabilityEventType as T
from l0.errors import classify_error
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, Recorder, drain, fast_retry, opener

TEXT = "Hello there world"

NETWORK_MESSAGES = [
    # The README's table, one message per pattern.
    "Connection reset by peer",
    "connection refused",
    "connection timeout",
    "Request timed out",
    "DNS lookup failed",
    "Temporary failure in name resolution",
    "socket error",
    "SSL error: bad record mac",
    "EOF occurred in violation of protocol",
    "[Errno 32] Broken pipe",
    "Network is unreachable",
    "No route to host: host unreachable",
    # The canonical lifecycle's wording (Node error codes, fetch, DNS, deadlines).
    "read ECONNRESET",
    "connect ECONNREFUSED 127.0.0.1:443",
    "connect ETIMEDOUT 10.0.0.1:443",
    "getaddrinfo ENOTFOUND api.openai.com",
    "getaddrinfo EAI_AGAIN api.openai.com",
    "write EPIPE",
    "connect ENETUNREACH",
    "connect EHOSTUNREACH",
    "ECONNABORTED",
    "connection dropped",
    "Connection closed",
    "connection lost mid-stream",
    "socket hang up",
    "host not found",
    "dns error",
    "Deadline Exceeded",
    "TypeError: Failed to fetch",
    "Network request failed",
    "TLS handshake failure",
    "incomplete chunked read",
    "peer closed connection without sending complete message body",
]
CERTIFICATE_MESSAGES = [
    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
    "self signed certificate in certificate chain",
    "self-signed certificate",
]
OTHER_MESSAGES = ["Stream error", "the model refused", "list index out of range", "KeyError"]


@pytest.mark.parametrize("message", NETWORK_MESSAGES)
def test_network_messages_are_retried(message: str) -> None:
    decision = classify_error(RuntimeError(message))
    assert (decision.category, decision.retry, decision.counts_toward_attempts) == (
        ErrorCategory.NETWORK,
        True,
        False,
    )


@pytest.mark.parametrize("message", CERTIFICATE_MESSAGES)
def test_certificate_messages_are_network_but_not_retried(message: str) -> None:
    decision = classify_error(RuntimeError(message))
    assert (decision.category, decision.retry, decision.fallback) == (
        ErrorCategory.NETWORK,
        False,
        True,
    )


@pytest.mark.parametrize("message", OTHER_MESSAGES)
def test_other_messages_are_not_network(message: str) -> None:
    assert classify_error(RuntimeError(message)).category is ErrorCategory.MODEL


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), True),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), True),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), True),
        (ssl.SSLEOFError(8, "unexpected eof"), True),
        (ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] ..."), False),
        (OSError(101, "Network is unreachable"), True),
        (aiohttp.ServerDisconnectedError(), True),
        (aiohttp.ClientPayloadError("Response payload is not completed"), True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_network_types(error: BaseException, retry: bool) -> None:
    decision = classify_error(error)
    assert (decision.category, decision.retry, decision.fallback) == (
        ErrorCategory.NETWORK,
        retry,
        True,
    )


# -- through the real clients ------------------------------------------------------------


async def test_aiohttp_connector_and_payload_errors_are_network(fault_server: FaultServer) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await session.get(f"http://127.0.0.1:{_closed_port()}/")
        fault_server.enqueue(Reply(text=TEXT, reset_after=2))
        body = {"model": "m", "messages": MESSAGES, "stream": True}
        async with session.post(f"{fault_server.url}/chat/completions", json=body) as response:
            with pytest.raises(aiohttp.ClientPayloadError) as cut:
                await response.read()
    for error in (refused.value, cut.value):
        decision = classify_error(error)
        assert (decision.category, decision.retry) == (ErrorCategory.NETWORK, True), error


async def test_an_ssl_error_is_retried_then_falls_back(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    # TLS to a server that answers in plain HTTP: the handshake fails with an ssl.SSLError.
    server = await asyncio.start_server(_plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    https = openai.AsyncOpenAI(base_url=f"https://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
    fault_server.enqueue(Reply(text=TEXT), model="m-fallback")
    rec = Recorder()
    async with server, https:
        result = await l0.run(
            opener(https),
            fallbacks=[opener(client, "m-fallback")],
            retry=fast_retry(max_retries=1),
            on_event=rec,
        )
        await drain(result)
    assert result.state.content == TEXT
    errors = rec.of(T.ERROR)
    assert [(e.category, e.will_retry) for e in errors] == [("network", True), ("network", False)]
    assert all(_in_chain(e.error, ssl.SSLError) for e in errors)
    assert not any(_in_chain(e.error, ssl.SSLCertVerificationError) for e in errors)


async def test_a_certificate_that_fails_to_verify_is_not_retried_but_falls_back(
    fault_server: FaultServer, client: openai.AsyncOpenAI, self_signed: ssl.SSLContext
) -> None:
    fault_server.enqueue(Reply(text=TEXT), model="m-fallback")
    rec = Recorder()
    server = await asyncio.start_server(_hang_up, "127.0.0.1", 0, ssl=self_signed)
    port = server.sockets[0].getsockname()[1]
    untrusted = openai.AsyncOpenAI(
        base_url=f"https://127.0.0.1:{port}/v1", api_key="k", max_retries=0
    )
    async with server, untrusted:
        result = await l0.run(
            opener(untrusted),
            fallbacks=[opener(client, "m-fallback")],
            retry=fast_retry(),
            on_event=rec,
        )
        await drain(result)
    assert result.state.content == TEXT
    (error,) = rec.of(T.ERROR)
    assert isinstance(error.error, openai.APIConnectionError)
    assert _in_chain(error.error, ssl.SSLCertVerificationError)
    assert (error.category, error.will_retry, error.will_fallback) == ("network", False, True)
    assert not rec.of(T.RETRY_ATTEMPT)


def _in_chain(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server-side TLS context whose certificate no client trusts (made with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def _plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
    await writer.drain()
    writer.close()
