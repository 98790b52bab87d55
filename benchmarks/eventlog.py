"""The cost of recording: the full-stack synthetic session with `record=` an in-memory
store, against the same session unrecorded (DESIGN §11 budgets it at 10%)."""

from __future__ import annotations

from openai.types.chat import ChatCompletionChunk

import l0

from ._timing import Row, paired
from .stacks import full_stack
from .synthetic import _consume, _stream, full, make_chunks

BUDGET = 1.10
SIZES = (20_000,)


async def recorded(chunks: list[ChatCompletionChunk]) -> int:
    store = l0.create_in_memory_event_store()
    result = await l0.run(lambda: _stream(chunks), record=store, **full_stack())
    total = await _consume(result)
    assert result.outcome == "success", result.error
    return total


async def rows(*, quick: bool) -> list[Row]:
    out = []
    for count in SIZES:
        chunks = make_chunks(count // 10 if quick else count)
        b, m, ratio = await paired(
            lambda c=chunks: full(c),  # type: ignore[misc]
            lambda c=chunks: recorded(c),  # type: ignore[misc]
            rounds=4 if quick else None,
        )
        out.append(Row("synthetic: full+OTel+record / full+OTel", len(chunks), b, m, ratio, BUDGET))
    return out
