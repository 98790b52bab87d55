"""Real SDK over loopback: the openai client against `l0 chaos` in another process.

The server runs in its own process so its CPU time is not charged to either side. The
bare stream and l0's are timed interleaved (`_timing.interleaved`): one after the other,
the bare SDK timed against itself gave per-round ratios from 0.6 to 1.2 on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from openai import AsyncOpenAI

import l0

from ._timing import Row, Stream, interleaved
from .stacks import Options, full_stack

SDK_BUDGET = 1.10  # DESIGN.md §9
LOOPBACK_ROUNDS = 10  # five each way (`_timing.balanced_ratio`)
BLOCK = 500  # tokens a stream runs before the other takes its turn
MESSAGES = [{"role": "user", "content": "benchmark"}]


@contextlib.asynccontextmanager
async def chaos_server(tokens: int) -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "l0.cli",
        "chaos",
        "--port",
        "0",
        "--tokens",
        str(tokens),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        await process.wait()


async def bare(client: AsyncOpenAI) -> AsyncIterator[int]:
    total = 0
    stream = await client.chat.completions.create(model="bench", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            total += 1
            if total % BLOCK == 0:
                yield total


async def with_l0(client: AsyncOpenAI, options: Options) -> AsyncIterator[int]:
    total = 0
    result = await l0.run(
        lambda: client.chat.completions.create(model="bench", messages=MESSAGES, stream=True),  # type: ignore[arg-type]
        **options,
    )
    async for event in result:
        if event.is_token:
            total += 1
            if total % BLOCK == 0:
                yield total


def scenario(client: AsyncOpenAI, full: bool | None) -> Stream:
    """One stream of a loopback row: l0 (core, or the full stack), or with `full=None` the
    bare SDK, which timed against itself shows the noise floor of these rows."""
    if full is None:
        return lambda: bare(client)
    return lambda: with_l0(client, full_stack() if full else {})


async def rows(
    name: str, budget: float | None, *, quick: bool, full: bool | None = False
) -> list[Row]:
    tokens = 20_000
    async with chaos_server(tokens) as url:
        client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
        b, m, ratio = await interleaved(
            scenario(client, None),
            scenario(client, full),
            rounds=3 if quick else LOOPBACK_ROUNDS,
        )
        await client.close()
    return [Row(name, tokens, b, m, ratio, budget)]
