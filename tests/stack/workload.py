"""A workload that feeds l0's metrics to a real Prometheus.

Run as a separate process (tests/stack/test_prometheus_dashboards.py does):

    python tests/stack/workload.py --port 0 [--mode real|synthetic] [--service NAME]

It serves OpenTelemetry metrics through `PrometheusMetricReader` on 127.0.0.1:PORT
(`--port 0` picks a free port) and prints, one line each, flushed:

    listening <port>    the /metrics endpoint is up
    ready               the first round of sessions has run (every metric has data)

then keeps running sessions, so rates stay non-zero, until stdin closes, SIGTERM/SIGINT or
`--max-runtime` seconds.

`--rounds N` (real mode) runs a counted workload instead, for tests that compare ratios
exactly: one round before the endpoint opens (so every series exists, with one round's
counts, at the first scrape), then, after a `go` line on stdin (send it once Prometheus
has scraped), exactly N more rounds; it prints `done` and serves the final counts until
stopped. Every round gives the same outcomes, so every ratio is the same per round.

Modes:
- `real` (default): l0 sessions through the real `openai` client against l0's fault server
  with retries (429/503, connection resets), fallbacks, initial and inter-token timeouts,
  guardrail violations, drift, continuation from checkpoints and aborts, a race whose loser
  had delivered tokens, a hedged run whose first stream stalls and a consensus of three
  where one disagrees; l0's own OpenTelemetry
  sink records the metrics (`l0.instrument(metric_reader=...)`).
- `synthetic`: records the instruments of `l0.telemetry.metric_names` directly through the
  OTel SDK meter with realistic attribute values. Needs no l0 runtime; it exists to develop
  and verify the dashboards and the Prometheus test independently of the runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SRC = Path(__file__).resolve().parents[2] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.append(str(_SRC))  # a plain checkout; an installed l0 still wins

from l0.telemetry import metric_names as mn  # noqa: E402

PRIMARY = "gpt-4o-mini"
FALLBACK_1 = "gpt-4.1-mini"
FALLBACK_2 = "gpt-4o"
TEXT = "The quick brown fox jumps over the lazy dog while l0 keeps the stream alive."
LOOP = "I will repeat myself. " * 40


def _say(line: str) -> None:
    print(line, flush=True)


# --- Synthetic mode -----------------------------------------------------------------------------


@dataclass
class _Attempt:
    model: str
    provider: str = "openai"
    error_type: str | None = None
    ttft: float | None = 0.2
    duration: float = 0.8
    output_tokens: int = 0
    delivered: int = 0
    """Tokens a failed attempt delivered before it failed (then dropped: wasted)."""


@dataclass
class _Session:
    outcome: str = "success"
    attempts: list[_Attempt] = field(default_factory=list)
    retries: list[tuple[str, str, bool]] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)
    drifts: list[str] = field(default_factory=list)
    checkpoints: int = 0
    resumes: int = 0
    multi: str | None = None
    """The winner of a race or a hedged run (its last attempt's model won)."""
    hedges: int = 0
    losers: list[_Attempt] = field(default_factory=list)
    """Streams cancelled when this one won, with the tokens each had delivered."""
    agreement: float | None = None
    """A consensus's agreement (majority strategy)."""


class Synthetic:
    """Records the metric contract directly, as l0's OTel sink would for real sessions."""

    def __init__(self, meter: Any, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.inst: dict[str, Any] = {}
        for spec in mn.ALL_METRICS:
            if spec.kind == "histogram":
                self.inst[spec.name] = meter.create_histogram(
                    spec.name,
                    unit=spec.unit,
                    description=spec.description,
                    explicit_bucket_boundaries_advisory=spec.buckets,
                )
            elif spec.kind == "counter":
                self.inst[spec.name] = meter.create_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )
            else:
                self.inst[spec.name] = meter.create_up_down_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )
        self.scenarios: list[Callable[[], _Session]] = [
            self._clean,
            self._clean,
            self._rate_limited,
            self._server_error,
            self._reset_and_resume,
            self._initial_timeout,
            self._inter_timeout,
            self._guardrail,
            self._guardrail_warning,
            self._drift,
            self._fallback,
            self._deep_fallback,
            self._error,
            self._aborted,
            self._race,
            self._hedge,
            self._consensus,
        ]

    # scenario builders ------------------------------------------------------------------------

    def _ok(self, model: str = PRIMARY, provider: str = "openai") -> _Attempt:
        ttft = self.rng.uniform(0.05, 0.6)
        return _Attempt(
            model,
            provider,
            ttft=ttft,
            duration=ttft + self.rng.uniform(0.3, 4.0),
            output_tokens=self.rng.randint(20, 600),
        )

    def _failed(
        self, error_type: str, model: str = PRIMARY, ttft: float | None = None, delivered: int = 0
    ) -> _Attempt:
        return _Attempt(
            model,
            error_type=error_type,
            ttft=ttft,
            duration=self.rng.uniform(0.01, 1),
            delivered=delivered if ttft is not None else 0,
        )

    def _clean(self) -> _Session:
        provider = self.rng.choice(["openai", "openai", "anthropic"])
        return _Session(attempts=[self._ok(PRIMARY, provider)], checkpoints=2)

    def _rate_limited(self) -> _Session:
        return _Session(
            attempts=[self._failed("RateLimitError"), self._ok()],
            retries=[("http_429", "transient", False)],
            checkpoints=1,
        )

    def _server_error(self) -> _Session:
        return _Session(
            attempts=[self._failed("InternalServerError"), self._ok()],
            retries=[("http_503", "transient", False)],
            checkpoints=1,
        )

    def _reset_and_resume(self) -> _Session:
        return _Session(
            attempts=[self._failed("RemoteProtocolError", ttft=0.1, delivered=40), self._ok()],
            retries=[("RemoteProtocolError", "network", False)],
            checkpoints=3,
            resumes=1,
        )

    def _initial_timeout(self) -> _Session:
        return _Session(
            attempts=[self._failed("initial_token_timeout"), self._ok()],
            retries=[("initial_token_timeout", "transient", False)],
            timeouts=["initial"],
            checkpoints=1,
        )

    def _inter_timeout(self) -> _Session:
        return _Session(
            attempts=[self._failed("inter_token_timeout", ttft=0.1), self._ok()],
            retries=[("inter_token_timeout", "transient", False)],
            timeouts=["inter"],
            checkpoints=2,
            resumes=1,
        )

    def _guardrail(self) -> _Session:
        rule = self.rng.choice(["zero_output", "repetition", "json"])
        return _Session(
            attempts=[self._failed("guardrail_violation", ttft=0.1, delivered=12), self._ok()],
            retries=[("guardrail_violation", "content", True)],
            violations=[(rule, "error")],
            checkpoints=1,
        )

    def _guardrail_warning(self) -> _Session:
        return _Session(attempts=[self._ok()], violations=[("markdown", "warning")], checkpoints=1)

    def _drift(self) -> _Session:
        kind = self.rng.choice(["repetition", "tone_shift", "format_collapse"])
        return _Session(
            attempts=[self._failed("drift_detected", ttft=0.1, delivered=200), self._ok()],
            retries=[("drift_detected", "content", True)],
            drifts=[kind],
            checkpoints=2,
        )

    def _fallback(self) -> _Session:
        return _Session(
            attempts=[
                self._failed("APIConnectionError", ttft=0.1, delivered=25),
                self._ok(FALLBACK_1),
            ],
            fallbacks=[1],
            checkpoints=1,
        )

    def _deep_fallback(self) -> _Session:
        return _Session(
            attempts=[
                self._failed("InternalServerError"),
                self._failed("InternalServerError"),
                self._failed("AuthenticationError", FALLBACK_1),
                self._ok(FALLBACK_2, "azure.ai.openai"),
            ],
            retries=[("http_503", "transient", False)],
            fallbacks=[1, 2],
            checkpoints=1,
        )

    def _error(self) -> _Session:
        return _Session(outcome="error", attempts=[self._failed("BadRequestError")])

    def _aborted(self) -> _Session:
        return _Session(outcome="aborted", attempts=[self._failed("STREAM_ABORTED", ttft=0.2)])

    def _race(self) -> _Session:
        loser = _Attempt(PRIMARY, delivered=self.rng.randint(1, 40))
        return _Session(attempts=[self._ok(FALLBACK_1)], multi="race", losers=[loser])

    def _hedge(self) -> _Session:
        # A hedge's loser has delivered no token: hedging wastes requests, not tokens.
        return _Session(attempts=[self._ok()], multi="hedge", hedges=1, losers=[_Attempt(PRIMARY)])

    def _consensus(self) -> _Session:
        return _Session(attempts=[self._ok()], agreement=self.rng.choice((2 / 3, 1.0)))

    # recording --------------------------------------------------------------------------------

    def record(self, session: _Session) -> None:
        i = self.inst
        total = 0.0
        for index, a in enumerate(session.attempts):
            attrs: dict[str, Any] = {
                mn.ATTR_OPERATION_NAME: "chat",
                mn.ATTR_PROVIDER_NAME: a.provider,
                mn.ATTR_REQUEST_MODEL: a.model,
                mn.ATTR_SERVER_ADDRESS: "api.example.com",
                mn.ATTR_SERVER_PORT: 443,
            }
            if a.ttft is not None:
                i[mn.TIME_PER_OUTPUT_CHUNK.name].record(self.rng.uniform(0.005, 0.08), attrs)
            if a.output_tokens:  # a response came: its model is known at the end
                attrs[mn.ATTR_RESPONSE_MODEL] = f"{a.model}-2025-01-01"
            with_error = {**attrs, mn.ATTR_ERROR_TYPE: a.error_type} if a.error_type else attrs
            i[mn.INFERENCE_DURATION.name].record(a.duration, with_error)
            total += a.duration
            if a.ttft is not None:
                i[mn.TIME_TO_FIRST_CHUNK.name].record(a.ttft, attrs)
            # As l0 records usage: every attempt, 0 when the provider reported none.
            used = self.rng.randint(30, 3000) if a.output_tokens else 0
            counted = {**attrs, mn.ATTR_TOKEN_MODALITY: mn.UNKNOWN_MODALITY}
            i[mn.INPUT_TOKENS.name].add(used, counted)
            i[mn.OUTPUT_TOKENS.name].add(a.output_tokens, counted)
            i[mn.CACHE_READ_INPUT_TOKENS.name].add(used // 2, counted)
            i[mn.REASONING_OUTPUT_TOKENS.name].add(a.output_tokens // 4, counted)
            i[mn.OPERATION_INPUT_TOKENS.name].record(used, with_error)
            i[mn.OPERATION_OUTPUT_TOKENS.name].record(a.output_tokens, with_error)
            model = {mn.ATTR_PROVIDER_NAME: a.provider, mn.ATTR_REQUEST_MODEL: a.model}
            if a.output_tokens or a.delivered:
                i[mn.TOKENS.name].add(a.output_tokens or a.delivered, model)
            if a.delivered:  # dropped when the next attempt started over
                after = session.attempts[index + 1].model
                reason = "retry" if after == a.model else "fallback"
                i[mn.TOKENS_WASTED.name].add(a.delivered, {mn.ATTR_WASTE_REASON: reason, **model})
        for reason, category, counts in session.retries:
            i[mn.RETRIES.name].add(
                1,
                {
                    mn.ATTR_RETRY_REASON: reason,
                    mn.ATTR_ERROR_CATEGORY: category,
                    mn.ATTR_RETRY_COUNTS_TOWARD_LIMIT: counts,
                },
            )
        for index in session.fallbacks:
            i[mn.FALLBACKS.name].add(1, {mn.ATTR_FALLBACK_INDEX: index})
        for kind in session.timeouts:
            i[mn.TIMEOUTS.name].add(1, {mn.ATTR_TIMEOUT_TYPE: kind})
        for rule, severity in session.violations:
            i[mn.GUARDRAIL_VIOLATIONS.name].add(
                1, {mn.ATTR_GUARDRAIL_RULE: rule, mn.ATTR_GUARDRAIL_SEVERITY: severity}
            )
        for kind in session.drifts:
            i[mn.DRIFT_DETECTIONS.name].add(1, {mn.ATTR_DRIFT_TYPE: kind})
        if session.checkpoints:
            i[mn.CHECKPOINTS.name].add(session.checkpoints)
        if session.resumes:
            i[mn.RESUMES.name].add(session.resumes)
        i[mn.SESSIONS.name].add(1, {mn.ATTR_OUTCOME: session.outcome})
        i[mn.SESSION_DURATION.name].record(total, {mn.ATTR_OUTCOME: session.outcome})
        if session.multi is not None:
            self._record_multi(session, session.multi)
        if session.agreement is not None:
            i[mn.CONSENSUS_AGREEMENT.name].record(
                session.agreement, {mn.ATTR_CONSENSUS_STRATEGY: "majority"}
            )

    def _record_multi(self, session: _Session, kind: str) -> None:
        i = self.inst
        by_kind = {mn.ATTR_MULTI_KIND: kind}
        if session.hedges:
            i[mn.HEDGES.name].add(session.hedges, by_kind)
        won = session.attempts[-1]
        i[mn.MULTI_WINS.name].add(
            1, {**by_kind, mn.ATTR_PROVIDER_NAME: won.provider, mn.ATTR_REQUEST_MODEL: won.model}
        )
        for loser in session.losers:
            i[mn.STREAMS_CANCELLED.name].add(1, by_kind)
            if loser.delivered:
                model = {mn.ATTR_PROVIDER_NAME: loser.provider, mn.ATTR_REQUEST_MODEL: loser.model}
                i[mn.TOKENS.name].add(loser.delivered, model)
                reason = {mn.ATTR_WASTE_REASON: f"{kind}_loser"}
                i[mn.TOKENS_WASTED.name].add(loser.delivered, {**reason, **model})

    async def session(self, scenario: Callable[[], _Session]) -> None:
        active = self.inst[mn.ACTIVE_SESSIONS.name]
        active.add(1)
        try:
            await asyncio.sleep(self.rng.uniform(0.0, 0.05))
            self.record(scenario())
        finally:
            active.add(-1)

    async def round(self) -> None:
        await asyncio.gather(*(self.session(s) for s in self.scenarios))


async def run_synthetic(service: str, port: int, host: str, stop: asyncio.Event) -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from prometheus_client import start_http_server

    reader = PrometheusMetricReader()
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": service})
    )
    meter = provider.get_meter(mn.METER_NAME, "synthetic")
    server, _ = start_http_server(port, addr=host)
    _say(f"listening {server.server_port}")
    workload = Synthetic(meter)
    for _ in range(5):
        await workload.round()
    _say("ready")
    while not stop.is_set():
        await workload.round()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)
    server.shutdown()
    provider.shutdown()


# --- Real mode ----------------------------------------------------------------------------------


PATIENT = 10.0
"""Initial and inter-token timeout of every session but the two that must time out: a
healthy stream on a loaded machine never trips it, so every round ends the same (the SLO
test's ratios depend on it), and in a race or hedge only the race or hedge decides."""
TIMING_OUT = 1.0
"""The timeout of the sessions whose first stream stalls (for STALL) so that it fires."""
STALL = 30.0


@dataclass(frozen=True)
class Scenario:
    """One session: the replies each model's endpoint gives, in order."""

    name: str
    replies: dict[str, list[Any]]
    fallbacks: tuple[str, ...] = ()
    abort_after: float | None = None
    continuation: bool = False
    timeout: float = PATIENT
    """Initial and inter-token timeout (seconds): PATIENT unless the session must time out."""
    multi: str | None = None
    """"race": PRIMARY against FALLBACK_1; "hedge": PRIMARY hedged by itself; "consensus":
    PRIMARY twice and FALLBACK_1."""


REFUSAL = "As an AI language model, I cannot help with that request today."


def real_scenarios(reply: Any) -> list[Scenario]:
    """Sessions that exercise every metric of the contract through the fault server."""
    ok = reply(text=TEXT)
    return [
        Scenario("clean", {PRIMARY: [ok]}),
        Scenario("rate-limited", {PRIMARY: [reply(status=429, retry_after=0.01), ok]}),
        Scenario("server-error", {PRIMARY: [reply(status=503), ok]}),
        Scenario(
            "reset-and-resume",
            {PRIMARY: [reply(text=TEXT, reset_after=6), ok]},
            continuation=True,
        ),
        Scenario(
            "initial-timeout",
            {PRIMARY: [reply(text=TEXT, stall_before_first=STALL), ok]},
            timeout=TIMING_OUT,
        ),
        Scenario(
            "inter-timeout",
            {PRIMARY: [reply(text=TEXT, stall_after=(3, STALL)), ok]},
            timeout=TIMING_OUT,
        ),
        Scenario("zero-output", {PRIMARY: [reply(empty=True), ok]}),
        Scenario("repetition-drift", {PRIMARY: [reply(text=LOOP), ok]}),
        Scenario("guardrail", {PRIMARY: [reply(text=REFUSAL), ok]}),
        Scenario("fallback", {PRIMARY: [reply(status=401)], FALLBACK_1: [ok]}, (FALLBACK_1,)),
        Scenario(
            "refusing-primary",  # every attempt refuses: its tokens are wasted on the fallback
            {PRIMARY: [reply(text=REFUSAL)] * 3, FALLBACK_1: [ok]},
            (FALLBACK_1,),
        ),
        Scenario(
            "deep-fallback",
            {PRIMARY: [reply(status=401)], FALLBACK_1: [reply(status=403)], FALLBACK_2: [ok]},
            (FALLBACK_1, FALLBACK_2),
        ),
        Scenario("error", {PRIMARY: [reply(status=400)]}),
        Scenario(
            "aborted", {PRIMARY: [reply(text=TEXT, stall_before_first=STALL)]}, abort_after=0.1
        ),
        Scenario(  # the loser delivers RACE_LOSER_TOKENS, then stalls until cancelled
            "race",
            {PRIMARY: [reply(text=TEXT, stall_after=(RACE_LOSER_TOKENS, STALL))], FALLBACK_1: [ok]},
            multi="race",
        ),
        Scenario(  # whichever request comes first stalls; the hedge gets the other reply
            "hedge", {PRIMARY: [reply(text=TEXT, stall_before_first=STALL), ok]}, multi="hedge"
        ),
        Scenario(  # two of three agree
            "consensus", {PRIMARY: [ok, ok], FALLBACK_1: [reply(text=REFUSAL)]}, multi="consensus"
        ),
    ]


RACE_LOSER_TOKENS = 3


async def run_real_session(l0: Any, openai: Any, server: Any, scenario: Scenario) -> str:
    """Run one scenario against its own fault server, reset first; returns how it ended.

    Each scenario keeps one server (and so one port) for the whole run: `server.port` is a
    metric attribute, and a new port every session would make every series a one-off.
    Binding the same port again each round is no way to keep it: meanwhile a client socket
    may have been given it as its ephemeral port.
    """
    server.reset()
    for model, replies in scenario.replies.items():
        server.enqueue(*replies, model=model)
    client = openai.AsyncOpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": f"scenario {scenario.name}"}]

    def stream(model: str) -> Callable[[], Awaitable[Any]]:
        return lambda: client.chat.completions.create(
            model=model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )

    try:
        if scenario.multi is not None:
            await _run_multi(l0, scenario.multi, stream)
            return "success"
        result = await l0.run(
            stream=stream(PRIMARY),
            fallbacks=[stream(m) for m in scenario.fallbacks],
            retry=l0.Retry(attempts=3, max_retries=6, base_delay=0.01, max_delay=0.05),
            timeout=l0.Timeout(initial_token=scenario.timeout, inter_token=scenario.timeout),
            guardrails=l0.Guardrails.recommended(),
            drift=True,
            continue_from_last_good_token=scenario.continuation,
            check_intervals={"checkpoint": 2},
        )
        if scenario.abort_after is not None:
            asyncio.get_running_loop().call_later(scenario.abort_after, result.abort)
        await result.read()
        return "success"
    except Exception as error:  # the error/aborted scenarios end here on purpose
        return type(error).__name__
    finally:
        await client.close()


async def _run_multi(l0: Any, kind: str, stream: Callable[[str], Callable[[], Any]]) -> None:
    """A race the FALLBACK_1 task wins once the PRIMARY task has delivered its tokens (so
    exactly those are wasted), a hedged run of PRIMARY that always hedges, or a majority
    consensus of PRIMARY, PRIMARY and FALLBACK_1."""
    timeout = l0.Timeout(initial_token=PATIENT, inter_token=PATIENT)
    if kind == "consensus":
        tasks = [stream(PRIMARY), stream(PRIMARY), stream(FALLBACK_1)]
        await l0.consensus(tasks, strategy="majority", timeout=timeout)
        return
    if kind == "hedge":
        result = await l0.run(stream(PRIMARY), hedge=l0.Hedge(after=0.05), timeout=timeout)
        await result.read()
        return
    delivered = asyncio.Event()
    tokens = 0

    def count(event: Any) -> None:
        nonlocal tokens
        tokens += bool(getattr(event, "is_token", False))
        if tokens == RACE_LOSER_TOKENS:
            delivered.set()

    async def after_the_loser() -> Any:
        await delivered.wait()
        return await stream(FALLBACK_1)()

    race = await l0.race(
        [{"stream": stream(PRIMARY), "on_event": count}, after_the_loser], timeout=timeout
    )
    assert race.winner_index == 1, race.winner_index


async def run_real(
    service: str,
    port: int,
    host: str,
    stop: asyncio.Event,
    rounds: int | None = None,
    go: asyncio.Event | None = None,
) -> None:
    import openai
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    import l0
    from l0.testing import FaultServer, Reply

    # events="all": per-chunk events, so time per output chunk is recorded too.
    instrumentation = l0.instrument(
        service, exporter="none", metric_reader=PrometheusMetricReader(), events="all"
    )
    scenarios = real_scenarios(Reply)

    servers = {s.name: await FaultServer().start() for s in scenarios}

    async def one_round(report: bool = False) -> None:
        outcomes = await asyncio.gather(
            *(run_real_session(l0, openai, servers[s.name], s) for s in scenarios)
        )
        if report:
            for scenario, outcome in zip(scenarios, outcomes, strict=True):
                print(f"scenario {scenario.name}: {outcome}", file=sys.stderr, flush=True)

    if rounds is not None:
        await one_round(report=True)
    server, _ = start_http_server(port, addr=host)
    _say(f"listening {server.server_port}")
    if rounds is None:
        await one_round(report=True)
        _say("ready")
        while not stop.is_set():
            await one_round()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
    else:
        assert go is not None
        _say("ready")
        await _first(go, stop)
        for _ in range(rounds if go.is_set() else 0):
            await one_round()
        _say("done")
        await stop.wait()
    server.shutdown()
    for fault_server in servers.values():
        await fault_server.stop()
    instrumentation.shutdown()


async def _first(*events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


# --- Entry point --------------------------------------------------------------------------------


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, go: asyncio.Event) -> None:
    """Stop when the parent closes our stdin (or dies), so no workload outlives its test;
    a `go` line starts the counted rounds."""

    def watch() -> None:
        with contextlib.suppress(Exception):
            while line := sys.stdin.readline():
                if line.strip() == "go":
                    loop.call_soon_threadsafe(go.set)
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, daemon=True).start()


async def main_async(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop, go = asyncio.Event(), asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.watch_stdin:
        _watch_stdin(loop, stop, go)
    loop.call_later(args.max_runtime, stop.set)
    if args.mode == "synthetic":
        await run_synthetic(args.service, args.port, args.host, stop)
    else:
        await run_real(args.service, args.port, args.host, stop, args.rounds, go)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9464, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--service", default="l0-workload", help="OTel service.name")
    parser.add_argument("--mode", choices=("real", "synthetic"), default="real")
    parser.add_argument(
        "--synthetic", dest="mode", action="store_const", const="synthetic", help="--mode synthetic"
    )
    parser.add_argument("--max-runtime", type=float, default=600.0, help="seconds, then exit")
    parser.add_argument(
        "--rounds", type=int, default=None, help="real mode: a counted run (see above)"
    )
    parser.add_argument(
        "--watch-stdin", action="store_true", help="exit when stdin reaches end of file"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    asyncio.run(main_async(args))
    print(f"stopped after {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
