"""Synthetic: pre-built `ChatCompletionChunk`s from an async generator, no I/O.

This isolates l0's own per-token cost. The bare consumer reads each chunk's text, which
is the least any consumer does. The text is realistic prose (`checks.prose_chunks`): a
repeating word cycle would rightly trip drift detection.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncIterator

from openai.types.chat import ChatCompletionChunk

import l0

from ._timing import Row, paired
from .checks import prose_chunks
from .stacks import full_stack

CORE_BUDGET = 3.0
FULL_BUDGET = 6.0
SIZES = (2_000, 20_000, 200_000)


def make_chunks(count: int) -> list[ChatCompletionChunk]:
    return [
        ChatCompletionChunk.model_validate(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "bench",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
        )
        for text in prose_chunks(count)
    ]


async def _stream(chunks: list[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
    for chunk in chunks:
        yield chunk


async def bare(chunks: list[ChatCompletionChunk]) -> int:
    total = 0
    async for chunk in _stream(chunks):
        text = chunk.choices[0].delta.content
        if text:
            total += 1
    return total


async def core(chunks: list[ChatCompletionChunk]) -> int:
    return await _consume(await l0.run(lambda: _stream(chunks)))


async def full(chunks: list[ChatCompletionChunk]) -> int:
    """Recommended guardrails, drift and continuation (and OTel, once installed)."""
    result = await l0.run(lambda: _stream(chunks), **full_stack())
    total = await _consume(result)
    assert result.outcome == "success", (result.error, result.state.violations)
    return total


async def _consume(result: l0.Result) -> int:
    total = 0
    async for event in result:
        if event.is_token:
            total += 1
    return total


async def rows(name: str, scenario: object, budget: float | None, *, quick: bool) -> list[Row]:
    out = []
    for count in SIZES[:2] if quick else SIZES:
        chunks = make_chunks(count)
        b, m, ratio = await paired(
            lambda c=chunks: bare(c),
            lambda c=chunks, f=scenario: f(c),  # type: ignore[operator]
            rounds=3 if quick else None,
        )
        out.append(Row(name, count, b, m, ratio, budget))
    return out


async def peak_memory_per_token(*, quick: bool) -> list[tuple[int, float]]:
    """Peak traced memory of a full-stack session divided by its tokens: flat = linear."""
    out = []
    for count in SIZES[:2] if quick else SIZES:
        chunks = make_chunks(count)
        gc.collect()
        tracemalloc.start()
        await full(chunks)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append((count, peak / count))
    return out
