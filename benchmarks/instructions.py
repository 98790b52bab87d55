"""Instructions per token, counted by valgrind's callgrind: a deterministic A/B measure.

Usage: `python -m benchmarks.instructions [SCENARIO ...] [--tokens N]`, scenarios from
`SCENARIOS` (default: all of them) and `LOOPBACK` (only when named: each takes minutes).
Needs `valgrind` (Debian package `valgrind`).

Wall-clock ratios on a shared 2-core machine move by 5-30% between runs; instruction
counts move by well under 1%, so a change that saves 2% shows up. They track time only
roughly (cache misses are not counted): confirm a change with `make bench`.

Each scenario runs in its own process under `valgrind --tool=callgrind`, with
instrumentation off until two warm-up sessions have run; only the third is counted.

The loopback scenarios count the client process of `make bench`'s loopback rows (the
real openai SDK against `l0 chaos`, which runs outside valgrind), with the OpenTelemetry
SDK installed as there. Their instruction ratio leaves out what cache misses cost, which
is most of the difference there (docs/performance.md): the clock, interleaved, settles them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from openai import AsyncOpenAI

from . import loopback, otel
from .checks import _session
from .synthetic import bare, make_chunks

SCENARIOS: dict[str, dict[str, Any]] = {
    "bare": {},
    "core": {},
    "guardrails": {"guardrails": "recommended"},
    "drift": {"drift": True},
    "continuation": {"continue_from_last_good_token": True},
    "full": {"guardrails": "recommended", "drift": True, "continue_from_last_good_token": True},
}


LOOPBACK = {"loopback-bare": None, "loopback-core": False, "loopback-full": True}


def _toggle(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True)


async def _counted(name: str, tokens: int) -> None:
    """Run inside valgrind: warm up, then count one session."""
    if name in LOOPBACK:
        await _counted_loopback(LOOPBACK[name], tokens)
        return
    chunks = make_chunks(tokens)
    run = (lambda: bare(chunks)) if name == "bare" else _session(chunks, SCENARIOS[name])
    await _count_third(run)


async def _counted_loopback(full: bool | None, tokens: int) -> None:
    handle = otel.install()
    async with loopback.chaos_server(tokens) as url:
        client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
        stream = loopback.scenario(client, full)
        await _count_third(lambda: _drain(stream()))
        await client.close()
    handle.shutdown()


async def _drain(stream: AsyncIterator[object]) -> None:
    async for _ in stream:
        pass


async def _count_third(run: Callable[[], Awaitable[object]]) -> None:
    await run()
    await run()
    gc.collect()
    gc.disable()  # as `make bench` times
    _toggle("on")
    await run()
    _toggle("off")
    gc.enable()


def _measure(name: str, tokens: int) -> float:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--inside",
        name,
        "--tokens",
        str(tokens),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total for {name}:\n{done.stderr[-2000:]}")
    return int(found.group(1)) / tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=", ".join([*SCENARIOS, *LOOPBACK])
    )
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        asyncio.run(_counted(args.inside, args.tokens))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("needs valgrind: apt-get install -y valgrind", file=sys.stderr)
        return 2
    known = [*SCENARIOS, *LOOPBACK]
    unknown = sorted(set(args.scenarios) - set(known))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(known)}")
    names = args.scenarios or list(SCENARIOS)
    counts: dict[str, float] = {}
    print(f"{'instructions per token':<24}{'count':>10}{'/ bare':>9}")
    for name in names:
        base = "loopback-bare" if name in LOOPBACK else "bare"
        for each in (base, name):
            if each not in counts:
                counts[each] = _measure(each, args.tokens)
        print(f"{name:<24}{counts[name]:>10.0f}{counts[name] / counts[base]:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
