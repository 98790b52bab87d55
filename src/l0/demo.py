"""`make demo`: l0 recovering from real faults, offline, and what that looks like in traces.

Starts the embedded fault server, then runs four sessions through the real openai
client — a clean one, one recovered by a retry after a mid-stream reset, one rescued by a
fallback after an auth failure, and one whose first attempt stalls and times out — then a
race of two models and a hedged run whose first stream stalls, printing tokens as they
arrive, each span tree (as any OpenTelemetry backend would receive it: `l0.session` ▸ one
`chat` span per attempt ▸ its HTTP request, traced by the httpx or httpx2 instrumentation
that `l0.instrument()` turns on; `l0.race` and `l0.hedge` above their child sessions), and
a summary of l0's metrics, and at the end a replay of the retried session from the event
log it was recorded to (`record=`). With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the same spans
and metrics are also exported there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import l0
from l0.testing import FaultServer, Reply

from .telemetry.inprocess import BOLD, DIM, RESET, InProcessTelemetry

TEXT = "Reliable streams survive resets, stalls and outages without losing a word."
MESSAGES = [{"role": "user", "content": "Say something about reliability."}]


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


async def run_scenario(
    server: FaultServer,
    client: Any,
    scenario: Scenario,
    telemetry: InProcessTelemetry,
    store: l0.EventStore,
) -> str:
    """Run one scenario, recorded to `store`; return its session id."""
    server.enqueue(*scenario.primary, model="demo-primary")
    server.enqueue(*scenario.fallback, model="demo-fallback")
    print(f"\n{BOLD}▶ {scenario.title}{RESET}")
    result = await l0.run(
        stream=_request(client, "demo-primary"),
        fallbacks=[_request(client, "demo-fallback")],
        retry=l0.Retry(attempts=3, max_retries=4, base_delay=0.05, max_delay=0.2),
        timeout=l0.Timeout(initial_token=0.5, inter_token=0.5),
        record=store,
    )
    await print_stream(result)
    print(telemetry.span_tree(result.session_id))
    return result.session_id


async def run_race(server: FaultServer, client: Any, telemetry: InProcessTelemetry) -> None:
    """Both models start; the one that completes first wins, the other is closed."""
    server.enqueue(Reply(text=TEXT, stall_before_first=STALL), model="demo-primary")
    server.enqueue(Reply(text="The faster model wins the race."), model="demo-fallback")
    print(f"\n{BOLD}▶ race: two models at once, the first to complete wins{RESET}")
    race = await l0.race(
        [_request(client, "demo-primary"), _request(client, "demo-fallback")], timeout=PATIENT
    )
    print(f"  task {race.winner_index} won: {race.content}")
    print(telemetry.span_tree(race.result.session_id))


async def run_hedge(server: FaultServer, client: Any, telemetry: InProcessTelemetry) -> None:
    """No first token within `after`: a second request starts, the first to speak wins."""
    server.enqueue(
        Reply(text=TEXT, stall_before_first=STALL), Reply(text=TEXT), model="demo-primary"
    )
    print(f"\n{BOLD}▶ hedge: no first token after 0.2 s, a second request races it{RESET}")
    result = await l0.run(
        _request(client, "demo-primary"), hedge=l0.Hedge(after=0.2), timeout=PATIENT
    )
    await print_stream(result)
    print(telemetry.span_tree(result.session_id))


STALL = 30.0
"""A stream that never speaks in time: the race or the hedge closes it long before."""
PATIENT = l0.Timeout(initial_token=STALL, inter_token=STALL)
"""Only the race or the hedge decides, never a timeout."""


async def print_stream(result: Any) -> None:
    """Tokens as they arrive, retry boundaries and the error, as the demo and `l0 replay` show a
    session."""
    print("  ", end="")
    async for event in result:
        if event.is_token:
            print(event.text, end="", flush=True)
        elif event.is_reset:
            print(f" {DIM}[retry: discard all but {event.keep} chars]{RESET}\n   ", end="")
        elif event.is_error:
            print(f"\n  failed: {event.error!r}")
    print()


def _request(client: Any, model: str) -> Callable[[], Any]:
    return lambda: client.chat.completions.create(
        model=model,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )


async def main() -> None:
    from openai import AsyncOpenAI

    telemetry = InProcessTelemetry.install("l0-demo")
    store = l0.create_in_memory_event_store()
    async with FaultServer() as server:
        client = AsyncOpenAI(base_url=server.url, api_key="demo-key", max_retries=0)
        print(f"l0 demo: fault server at {server.url}")
        for scenario in SCENARIOS:
            await run_scenario(server, client, scenario, telemetry, store)
        await run_race(server, client, telemetry)
        await run_hedge(server, client, telemetry)
        await client.close()
    print(f"\n{BOLD}▶ metrics{RESET}")
    print(telemetry.metrics_summary())
    telemetry.shutdown()
    await replay_retried(store)


async def replay_retried(store: l0.EventStore) -> None:
    """The reset-and-retry session again, token by token, from its recording alone."""
    retried = store.stream_ids()[1]  # SCENARIOS[1]
    print(f"\n{BOLD}▶ replay of the retried session from its event log (l0.replay){RESET}")
    replayed = await l0.replay(retried, event_store=store)
    await print_stream(replayed)
    state = replayed.state
    print(f"  {DIM}{state.token_count} tokens, {state.retry_count} retry, as recorded{RESET}")


if __name__ == "__main__":
    asyncio.run(main())
