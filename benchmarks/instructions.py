"""Instructions per token, counted by valgrind's callgrind: a deterministic A/B measure.

Usage: `python -m benchmarks.instructions [SCENARIO ...] [--tokens N]`, scenarios from
`SCENARIOS` (default: all). Needs `valgrind` (Debian package `valgrind`).

Wall-clock ratios on a shared 2-core machine move by 5-30% between runs; instruction
counts move by well under 1%, so a change that saves 2% shows up. They track time only
roughly (cache misses are not counted): confirm a change with `make bench`.

Each scenario runs in its own process under `valgrind --tool=callgrind`, with
instrumentation off until two warm-up sessions have run; only the third is counted.
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
from typing import Any

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


def _toggle(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True)


async def _counted(name: str, tokens: int) -> None:
    """Run inside valgrind: warm up, then count one session."""
    chunks = make_chunks(tokens)
    run = (lambda: bare(chunks)) if name == "bare" else _session(chunks, SCENARIOS[name])
    await run()
    await run()
    gc.collect()
    gc.disable()  # as `make bench` times
    _toggle("on")
    await run()
    _toggle("off")


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
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        asyncio.run(_counted(args.inside, args.tokens))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("needs valgrind: apt-get install -y valgrind", file=sys.stderr)
        return 2
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    names = args.scenarios or list(SCENARIOS)
    base = _measure("bare", args.tokens)
    print(f"{'instructions per token':<24}{'count':>10}{'/ bare':>9}")
    for name in names:
        count = base if name == "bare" else _measure(name, args.tokens)
        print(f"{name:<24}{count:>10.0f}{count / base:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
