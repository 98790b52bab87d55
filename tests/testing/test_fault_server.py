"""The fault server, seen through the real clients: each fault and what the client observes."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import l0.testing
from l0.testing import FaultServer, Reply, prose_chunks

# The `src` directory of this checkout, for the CLI subprocess (works without an install).
SRC = str(Path(l0.testing.__file__).resolve().parents[2])
MESSAGES: list[Any] = [{"role": "user", "content": "Say hello to the world"}]
OPENAI_MAJOR = int(openai.__version__.split(".")[0])
# The HTTP library openai sends through: openai 3 uses httpx2, a fork with its own classes.
HTTP = importlib.import_module("httpx2" if OPENAI_MAJOR >= 3 else "httpx")


@pytest.fixture
async def client(fault_server: FaultServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=fault_server.url, api_key="test", max_retries=0
    ) as client:
        yield client


async def stream(client: openai.AsyncOpenAI, model: str = "gpt-test", **kwargs: Any) -> Any:
    return await client.chat.completions.create(
        model=model, messages=MESSAGES, stream=True, **kwargs
    )


async def collect_text(client: openai.AsyncOpenAI, model: str = "gpt-test") -> str:
    chunks = [chunk async for chunk in await stream(client, model)]
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


async def read_until_error(response: Any, received: list[str]) -> BaseException:
    """Iterate a stream, recording content, and return the exception that ended it."""
    with pytest.raises(BaseException) as caught:
        async for chunk in response:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    return caught.value


def assert_mid_stream(error: BaseException, name: str) -> None:
    """What iterating a stream raises when the HTTP library raised `name` (docs/testing.md):
    openai 3 wraps it, openai 2 lets httpx's exception through."""
    if OPENAI_MAJOR >= 3:
        timeout = issubclass(getattr(HTTP, name), HTTP.TimeoutException)
        assert type(error) is (openai.APITimeoutError if timeout else openai.APIConnectionError)
        assert type(error.__cause__) is getattr(HTTP, name)
    else:
        assert type(error) is getattr(HTTP, name)


# -- the happy path ----------------------------------------------------------------------


async def test_stream_is_shaped_like_openai(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="Hello there world", system_fingerprint="fp_l0"))
    chunks = [chunk async for chunk in await stream(client)]

    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:-1]] == ["Hello", " there", " world"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-")
    assert {c.model for c in chunks} == {"gpt-test"}
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0].system_fingerprint == "fp_l0"


async def test_requests_are_recorded(fault_server: FaultServer, client: Any) -> None:
    await collect_text(client)
    (request,) = fault_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.model == "gpt-test" and request.stream
    assert request.body["messages"] == MESSAGES
    assert request.headers["authorization"] == "Bearer test"


async def test_non_streaming_completion(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="Hello there world"))
    completion = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert completion.choices[0].message.content == "Hello there world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 3
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 3


async def test_non_streaming_faults() -> None:
    async with FaultServer() as server:
        server.enqueue(Reply(reset_after=0), Reply(malformed_after=0), Reply(stall_before_first=60))
        async with openai.AsyncOpenAI(
            base_url=server.url, api_key="t", max_retries=0, timeout=0.2
        ) as client:
            with pytest.raises(openai.APIConnectionError) as caught:
                await client.chat.completions.create(model="m", messages=MESSAGES)
            assert type(caught.value.__cause__) is HTTP.RemoteProtocolError  # both majors wrap
            with pytest.raises(json.JSONDecodeError):
                await client.chat.completions.create(model="m", messages=MESSAGES)
            with pytest.raises(openai.APITimeoutError):
                await client.chat.completions.create(model="m", messages=MESSAGES)
        await asyncio.wait_for(server.wait_idle(), timeout=10)


async def test_usage_chunk_when_requested(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="one two"), Reply(text="one two", usage=False))
    with_usage = [c async for c in await stream(client, stream_options={"include_usage": True})]
    assert with_usage[-1].choices == []
    assert with_usage[-1].usage.completion_tokens == 2
    assert with_usage[-1].usage.total_tokens == with_usage[-1].usage.prompt_tokens + 2

    without = [c async for c in await stream(client, stream_options={"include_usage": True})]
    assert all(c.usage is None for c in without)


async def test_empty_stream(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(empty=True))
    chunks = [chunk async for chunk in await stream(client)]
    assert len(chunks) == 2
    assert chunks[0].choices[0].delta.role == "assistant"
    assert not chunks[0].choices[0].delta.content
    assert chunks[1].choices[0].finish_reason == "stop"


async def test_tool_call_deltas_reassemble(fault_server: FaultServer, client: Any) -> None:
    calls = [("get_weather", '{"city": "Paris", "unit": "celsius"}'), ("get_time", "{}")]
    fault_server.enqueue(Reply(tool_calls=calls))
    chunks = [chunk async for chunk in await stream(client)]

    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    deltas = 0
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or ():
            deltas += 1
            if call.function.name:
                names[call.index] = call.function.name
                assert call.id.startswith("call_") and call.type == "function"
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")
    assert [(names[i], arguments[i]) for i in sorted(names)] == calls
    assert deltas > len(calls) + 2  # the arguments really came in several pieces
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_repetition_loop_helper(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply.loop("The same sentence again. ", times=5))
    assert await collect_text(client) == "The same sentence again. " * 5


# -- scripting -----------------------------------------------------------------------------


async def test_first_attempt_fails_retry_succeeds(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(status=503), Reply(text="second time lucky"))
    with pytest.raises(openai.InternalServerError):
        await stream(client)
    assert await collect_text(client) == "second time lucky"
    assert len(fault_server.requests) == 2
    assert [r.reply.status for r in fault_server.requests] == [503, 200]


async def test_openai_client_retries_on_its_own(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(status=429, retry_after=0.01), Reply(text="ok"))
    async with openai.AsyncOpenAI(base_url=fault_server.url, api_key="t", max_retries=2) as c:
        assert await collect_text(c) == "ok"
    assert len(fault_server.requests) == 2


async def test_per_model_queues(fault_server: FaultServer, client: Any) -> None:
    fault_server.default = Reply(text="default")
    fault_server.enqueue(Reply(status=500), model="gpt-primary")
    fault_server.enqueue(Reply(text="fallback ok"), model="gpt-fallback")
    fault_server.enqueue(Reply(text="any model"))

    with pytest.raises(openai.InternalServerError):
        await stream(client, "gpt-primary")
    assert await collect_text(client, "gpt-fallback") == "fallback ok"
    assert await collect_text(client, "gpt-primary") == "any model"
    assert await collect_text(client, "gpt-fallback") == "default"
    assert [r.model for r in fault_server.requests] == ["gpt-primary", "gpt-fallback"] * 2


# -- error statuses ------------------------------------------------------------------------


async def test_rate_limit_with_retry_after(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(status=429, retry_after=0.05, retry_after_ms=50))
    with pytest.raises(openai.RateLimitError) as caught:
        await stream(client)
    assert caught.value.response.headers["retry-after"] == "0.05"
    assert caught.value.response.headers["retry-after-ms"] == "50"
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "rate_limit_error"


async def test_context_length_error(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(status=400, error_code="context_length_exceeded", error_message="too long")
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await stream(client)
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.body == {
        "message": "too long",
        "type": "invalid_request_error",
        "param": None,
        "code": "context_length_exceeded",
    }


# -- mid-stream faults ---------------------------------------------------------------------


async def test_reset_is_remote_protocol_error(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="Hello there world", reset_after=2))
    received: list[str] = []
    error = await read_until_error(await stream(client), received)
    assert received == ["Hello", " there"]
    assert_mid_stream(error, "RemoteProtocolError")


async def test_malformed_line_is_json_decode_error(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="Hello there world", malformed_after=1))
    received: list[str] = []
    error = await read_until_error(await stream(client), received)
    assert received == ["Hello"]
    assert isinstance(error, json.JSONDecodeError)


async def test_in_band_error_is_api_error(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="Hello there world", error_after=2, error_message="boom"))
    received: list[str] = []
    error = await read_until_error(await stream(client), received)
    assert received == ["Hello", " there"]
    assert type(error) is openai.APIError
    assert error.message == "boom"
    assert error.code == "server_error"


async def test_connection_reused_after_in_band_error(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(error_after=0), Reply(text="next"))
    await read_until_error(await stream(client), [])
    assert await collect_text(client) == "next"


async def test_stall_before_first_chunk_times_out(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(text="never seen", stall_before_first=60))
    async with openai.AsyncOpenAI(
        base_url=fault_server.url, api_key="t", max_retries=0, timeout=0.2
    ) as client:
        response = await stream(client)  # the headers did arrive
        error = await read_until_error(response, [])
    assert_mid_stream(error, "ReadTimeout")  # create() has returned: iterating raises it
    # The client hung up; the server notices and ends the 60 s stall at once.
    await asyncio.wait_for(fault_server.wait_idle(), timeout=10)


async def test_stall_before_headers_times_out(fault_server: FaultServer) -> None:
    fault_server.enqueue(Reply(stall_before_headers=60))
    async with openai.AsyncOpenAI(
        base_url=fault_server.url, api_key="t", max_retries=0, timeout=0.2
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await stream(client)
    await asyncio.wait_for(fault_server.wait_idle(), timeout=10)


async def test_stall_after_k_chunks_delays_the_rest(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="one two three", stall_after=(2, 0.2)))
    arrivals: list[tuple[str, float]] = []
    started = time.monotonic()
    async for chunk in await stream(client):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((chunk.choices[0].delta.content, time.monotonic()))
    assert [text for text, _ in arrivals] == ["one", " two", " three"]
    # A lower bound: the server's sleep never ends early. Measured from the request, not
    # from " two": a busy client may read " two" late, after part of the stall.
    assert arrivals[2][1] - started >= 0.2


async def test_chunk_delay_spaces_chunks(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text="a b c", chunk_delay=0.05))
    started = time.monotonic()
    assert await collect_text(client) == "a b c"
    assert time.monotonic() - started >= 0.05 * 4  # 5 chunks after the role chunk


# -- other clients and ways to run it ------------------------------------------------------


async def test_litellm_streams_and_sees_faults(fault_server: FaultServer) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    fault_server.enqueue(Reply(status=429, retry_after=0.01), Reply(text="Hello there world"))
    options: dict[str, Any] = {
        "model": "openai/gpt-test",
        "api_base": fault_server.url,
        "api_key": "test",
        "messages": MESSAGES,
        "stream": True,
        "max_retries": 0,
    }
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(**options)
    response = await litellm.acompletion(**options)
    text = "".join([c.choices[0].delta.content or "" async for c in response])
    assert text == "Hello there world"
    assert [r.model for r in fault_server.requests] == ["gpt-test", "gpt-test"]


def test_in_thread_for_sync_code() -> None:
    with FaultServer.in_thread() as server:
        server.enqueue(Reply(status=500), Reply(text="from a thread"))
        with openai.OpenAI(base_url=server.url, api_key="t", max_retries=0) as client:
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="m", messages=MESSAGES)
            completion = client.chat.completions.create(model="m", messages=MESSAGES)
        assert completion.choices[0].message.content == "from a thread"
        assert len(server.requests) == 2


async def test_clean_shutdown_during_a_stall() -> None:
    server = await FaultServer().start()
    server.enqueue(Reply(stall_before_first=60))
    async with openai.AsyncOpenAI(base_url=server.url, api_key="t", max_retries=0) as client:
        response = await stream(client)  # headers received: the server is in the stall
        await server.stop()
        error = await read_until_error(response, [])
    assert_mid_stream(error, "RemoteProtocolError")
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_unknown_route_is_openai_404(fault_server: FaultServer) -> None:
    async with httpx.AsyncClient(base_url=fault_server.url) as http:
        response = await http.get("/models/nope")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_reply_validation() -> None:
    with pytest.raises(ValueError):
        Reply(text="a", chunks=["a"])
    with pytest.raises(ValueError):
        Reply.from_dict({"txet": "typo"})
    reply = Reply.from_dict(
        {"tool_calls": [{"name": "f", "arguments": "{}"}], "stall_after": [1, 2]}
    )
    assert reply.tool_calls == (("f", "{}"),) and reply.stall_after == (1, 2)


async def test_cli_scripted_over_control_endpoint() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "l0.cli", "chaos", "--port", "0", "--tokens", "5",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode()
        assert line.startswith("l0 chaos: serving http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        await _script_and_use_remote_server(url)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0


async def _script_and_use_remote_server(url: str) -> None:
    control = url.removesuffix("/v1")
    async with httpx.AsyncClient(base_url=control) as http:
        script = {"model": "gpt-test", "replies": [{"status": 503}, {"text": "scripted"}]}
        assert (await http.post("/_l0/script", json=script)).json()["queued"] == 2
        assert (await http.post("/_l0/script", json={"replies": [{"bogus": 1}]})).status_code == 400

        async with openai.AsyncOpenAI(base_url=url, api_key="t", max_retries=0) as client:
            with pytest.raises(openai.InternalServerError):
                await stream(client)
            assert await collect_text(client) == "scripted"
            assert await collect_text(client) == "".join(prose_chunks(5))  # --tokens 5

        requests = (await http.get("/_l0/requests")).json()
        assert [r["reply"].get("status", 200) for r in requests] == [503, 200, 200]
        await http.post("/_l0/reset")
        assert (await http.get("/_l0/requests")).json() == []
