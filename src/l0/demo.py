"""`make demo`: l0 recovering from real faults, offline.

Starts the embedded fault server, then runs four sessions through the real openai
client — a clean one, one recovered by a retry after a mid-stream reset, one rescued by a
fallback after an auth failure, and one whose first attempt stalls and times out — printing
tokens as they arrive and each session's lifecycle events.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import l0
from l0.events import ObservabilityEvent
from l0.testing import FaultServer, Reply

TEXT = "Reliable streams survive resets, stalls and outages without losing a word."
MESSAGES = [{"role": "user", "content": "Say something about reliability."}]
DIM, BOLD, RESET = ("\033[2m", "\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


@dataclass(frozen=True)
class Scenario:
    title: str
    primary: list[Reply]
    fallback: list[Reply]


SCENARIOS = [
    Scenario("clean stream", [Reply(text=TEXT)], []),
    Scenario(
        "connection reset mid-stream, recovered by a retry",
        [Reply(text=TEXT, reset_after=4), Reply(text=TEXT)],
        [],
    ),
    Scenario(
        "401 on the primary model, rescued by a fallback",
        [Reply(status=401)],
        [Reply(text="The fallback model answers instead.")],
    ),
    Scenario(
        "first token never comes: initial-token timeout, then a retry",
        [Reply(text=TEXT, stall_before_first=5.0), Reply(text=TEXT)],
        [],
    ),
]

# Lifecycle moments worth a line in a terminal; the rest are in `on_event` too.
SHOWN = {
    "ATTEMPT_START",
    "STREAM_READY",
    "TIMEOUT_TRIGGERED",
    "NETWORK_ERROR",
    "ERROR",
    "RETRY_ATTEMPT",
    "FALLBACK_START",
    "ATTEMPT_END",
    "SESSION_SUMMARY",
}


def describe(event: ObservabilityEvent) -> str:
    d = event.data
    fields = {
        "ATTEMPT_START": ("attempt", "fallback_index", "is_retry"),
        "STREAM_READY": ("request_model", "server_address", "server_port"),
        "TIMEOUT_TRIGGERED": ("timeout_type", "elapsed_ms", "configured_ms"),
        "NETWORK_ERROR": ("error", "code", "will_retry"),
        "ERROR": ("category", "reason", "will_retry", "will_fallback"),
        "RETRY_ATTEMPT": ("attempt", "reason", "counts_toward_limit", "delay_ms"),
        "FALLBACK_START": ("to_index", "reason"),
        "ATTEMPT_END": ("attempt", "status", "error_type", "token_count"),
        "SESSION_SUMMARY": ("outcome", "token_count", "retry_count", "fallback_depth"),
    }[event.type.value]
    shown = " ".join(f"{name}={d.get(name)!r}" for name in fields)
    return f"{DIM}  · {event.type.value:<18} {shown}{RESET}"


async def run_scenario(server: FaultServer, client: Any, scenario: Scenario) -> None:
    server.enqueue(*scenario.primary, model="demo-primary")
    server.enqueue(*scenario.fallback, model="demo-fallback")
    print(f"\n{BOLD}▶ {scenario.title}{RESET}")
    lines: list[str] = []

    def on_event(event: Any) -> None:
        if isinstance(event, ObservabilityEvent) and event.type.value in SHOWN:
            lines.append(describe(event))

    result = await l0.run(
        stream=_request(client, "demo-primary"),
        fallbacks=[_request(client, "demo-fallback")],
        retry=l0.Retry(attempts=3, max_retries=4, base_delay=0.05, max_delay=0.2),
        timeout=l0.Timeout(initial_token=0.5, inter_token=0.5),
        on_event=on_event,
    )
    print("  ", end="")
    async for event in result:
        if event.is_token:
            print(event.text, end="", flush=True)
        elif event.is_reset:
            print(f" {DIM}[retry: discard all but {event.keep} chars]{RESET}\n   ", end="")
        elif event.is_error:
            print(f"\n  failed: {event.error!r}")
    print()
    print("\n".join(lines))


def _request(client: Any, model: str) -> Callable[[], Any]:
    return lambda: client.chat.completions.create(model=model, messages=MESSAGES, stream=True)


async def main() -> None:
    from openai import AsyncOpenAI

    async with FaultServer() as server:
        client = AsyncOpenAI(base_url=server.url, api_key="demo-key", max_retries=0)
        print(f"l0 demo: fault server at {server.url}")
        for scenario in SCENARIOS:
            await run_scenario(server, client, scenario)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
