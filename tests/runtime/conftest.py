"""Shared helpers for the runtime tests: real clients against the fault server.

The stream-contract checks live here so every scenario of every module runs them:
- exactly one terminal event (COMPLETE or ERROR), and it is the last one;
- replaying the events (append TOKEN text, truncate to `keep` on RESET) rebuilds
  `result.state.content` exactly;
- a failed session's ERROR event carries the same `L0Error` as `result.error`.
"""

from __future__ import annotations

import os

# litellm fetches its model cost map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import l0
from l0 import Event, EventType, L0Error, ObservabilityEvent
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello to the world"}]
TERMINAL = (EventType.COMPLETE, EventType.ERROR)
L0_SRC = str(Path(l0.__file__).resolve().parent)
L0_TESTING = str(Path(l0.__file__).resolve().parent / "testing")


def fast_retry(**overrides: Any) -> l0.Retry:
    """Retries without backoff, so tests spend no time sleeping."""
    settings: dict[str, Any] = {"attempts": 3, "max_retries": 6, "base_delay": 0.0}
    settings.update(max_delay=0.0)
    settings.update(overrides)
    return l0.Retry(**settings)


def short_timeout(initial: float | None = 0.2, inter: float | None = 0.2) -> l0.Timeout:
    return l0.Timeout(initial_token=initial, inter_token=inter)


def make_client(server: FaultServer, **kwargs: Any) -> openai.AsyncOpenAI:
    """An AsyncOpenAI client that keeps no idle connection: every connection it leaves open
    is a stream someone did not close, and `server.wait_idle()` would notice."""
    http = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.url, api_key="k", http_client=http, **kwargs)


@pytest.fixture
async def client(fault_server: FaultServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with make_client(fault_server) as c:
        yield c


def opener(client: Any, model: str = "m", **kwargs: Any) -> Callable[[], Any]:
    """A stream factory: one streaming chat-completions request per call."""

    def factory() -> Any:
        return client.chat.completions.create(model=model, messages=MESSAGES, stream=True, **kwargs)

    return factory


def rebuild(events: list[Any]) -> str:
    """What a UI shows after these events: tokens appended, RESET truncating to `keep`."""
    text = ""
    for event in events:
        if not isinstance(event, Event):
            continue
        if event.type is EventType.TOKEN:
            text += event.text
        elif event.type is EventType.RESET:
            assert 0 <= event.keep <= len(text), (event.keep, text)
            text = text[: event.keep]
    return text


def check_contract(result: l0.Result, events: list[Event]) -> None:
    """The stream contract (DESIGN §2) for one finished session."""
    assert events, "a session always yields at least its terminal event"
    terminal = [e for e in events if e.type in TERMINAL]
    assert len(terminal) == 1, f"expected exactly one terminal event, got {terminal}"
    assert events[-1] is terminal[0], "the terminal event must be the last one"
    assert rebuild(events) == result.state.content
    if terminal[0].type is EventType.ERROR:
        assert isinstance(terminal[0].error, L0Error)
        assert result.error is terminal[0].error
        assert result.outcome in ("error", "aborted")
    else:
        assert result.error is None
        assert result.outcome == "success"
        assert result.state.completed


async def drain(result: l0.Result) -> list[Event]:
    """Iterate a result to the end and check the stream contract on what it yielded."""
    events = [event async for event in result]
    check_contract(result, events)
    return events


def tokens(events: list[Event]) -> list[str]:
    return [e.text for e in events if e.type is EventType.TOKEN]


class Recorder:
    """An `on_event` handler that keeps everything it is given."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    @property
    def lifecycle(self) -> list[ObservabilityEvent]:
        return [e for e in self.events if isinstance(e, ObservabilityEvent)]

    @property
    def stream(self) -> list[Event]:
        return [e for e in self.events if isinstance(e, Event)]

    def of(self, kind: T) -> list[ObservabilityEvent]:
        return [e for e in self.lifecycle if e.type is kind]

    def types(self) -> list[T]:
        return [e.type for e in self.lifecycle]


async def wait_closed(server: FaultServer, timeout: float = 2.0) -> None:
    """Every client connection to `server` is closed (fails, not hangs, if one is left)."""
    try:
        await asyncio.wait_for(server.wait_idle(), timeout)
    except TimeoutError:
        pytest.fail(f"a connection to the fault server was left open after {timeout} s")


def our_tasks() -> list[asyncio.Task[Any]]:
    """Running tasks whose coroutine is l0's own code (not the fault server, not the test)."""
    found = []
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = getattr(code, "co_filename", "")
        if filename.startswith(L0_SRC) and not filename.startswith(L0_TESTING):
            found.append(task)
    return found


def assert_no_leaked_tasks() -> None:
    leaked = our_tasks()
    assert not leaked, f"l0 left tasks running: {leaked}"


async def callbacks_done(timeout: float = 5.0) -> None:
    """Wait for the async callbacks a finished session left running (they never hold the
    session's caller) to end; fails, not hangs, if one is still running after `timeout`."""
    running = our_tasks()
    if running:
        _, pending = await asyncio.wait(running, timeout=timeout)
        assert not pending, f"async callbacks still running after {timeout} s: {pending}"


async def _warm_up() -> None:
    async with FaultServer() as server, make_client(server) as warm:
        stream = await warm.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        async for _ in stream:
            pass


@pytest.fixture(scope="session", autouse=True)
def _warm_openai() -> None:
    """The first openai request of a process spends ~0.3 s on lazy imports and model
    building; pay it once here so it never counts against a test's 0.2 s timeouts."""
    asyncio.run(_warm_up())
