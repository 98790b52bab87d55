"""Synthetic: pre-built `ChatCompletionChunk`s from an async generator, no I/O.

This isolates l0's own per-token cost. The bare consumer reads each chunk's text, which
is the least any consumer does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from openai.types.chat import ChatCompletionChunk

import l0

from ._timing import Row, best_of

CORE_BUDGET = 3.0


def make_chunks(count: int) -> list[ChatCompletionChunk]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    return [
        ChatCompletionChunk.model_validate(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "bench",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": f" {words[i % len(words)]}{i % 7}"},
                        "finish_reason": None,
                    }
                ],
            }
        )
        for i in range(count)
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
    total = 0
    result = await l0.run(lambda: _stream(chunks))
    async for event in result:
        if event.is_token:
            total += 1
    return total


async def run_all(*, quick: bool) -> list[Row]:
    rows = []
    sizes = (2_000, 20_000) if quick else (2_000, 20_000, 200_000)
    for count in sizes:
        chunks = make_chunks(count)
        repeats = 3 if quick or count >= 200_000 else 7
        b, m = await best_of(repeats, lambda c=chunks: bare(c), lambda c=chunks: core(c))
        rows.append(Row("synthetic: core l0.run / bare", count, b, m, CORE_BUDGET))
    return rows
