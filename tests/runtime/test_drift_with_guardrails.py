"""Drift beside guardrails: the two read the same text at their own intervals, and drift
reports exactly what, and at exactly the token, it reports on its own."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

import l0
from l0.drift import DriftConfig
from l0.testing import prose_chunks

META = ["As an AI, ", "I apologize, but ", "my training data ", "I am sorry, but ", "I can't help "]


def rechunk(text: str, rng: random.Random) -> list[str]:
    chunks, cursor = [], 0
    while cursor < len(text):
        size = rng.choice([1, 2, 3, 4, 6, 9, 15])
        chunks.append(text[cursor : cursor + size])
        cursor += size
    return chunks


def with_meta(seed: int) -> list[str]:
    """Prose with a meta-commentary phrase at a random place, chunked at random."""
    rng = random.Random(seed)
    prose = "".join(prose_chunks(600, seed=seed))
    at = prose.index(" ", rng.randrange(len(prose) // 2, len(prose) - 50)) + 1
    spaces = rng.choice([" ", "  ", "\n", " \t"])
    phrase = rng.choice(META).replace(" ", spaces, 1)
    return rechunk(prose[:at] + phrase + prose[at:], rng)


async def _stream(chunks: list[str]) -> AsyncIterator[str]:
    for chunk in chunks:
        yield chunk


async def drift_reports(
    chunks: list[str], guardrails: list[Any], **options: Any
) -> list[tuple[list[str], int]]:
    """Drift types reported, each with the token count at which it was reported."""
    reports: list[tuple[list[str], int]] = []
    result = await l0.run(
        lambda: _stream(chunks),
        guardrails=guardrails,
        drift=DriftConfig(retry=False),
        on_drift=lambda types, _confidence: reports.append((types, result.state.token_count)),
        **options,
    )
    async for _ in result:
        pass
    assert result.outcome == "success"
    return reports


GUARDRAILS = [l0.markdown_rule(), l0.json_rule()]


@pytest.mark.parametrize("seed", range(16))
async def test_drift_reports_the_same_at_the_same_token_with_guardrails(seed: int) -> None:
    chunks = with_meta(seed)
    alone = await drift_reports(chunks, [])
    assert any("meta_commentary" in types for types, _ in alone)
    assert await drift_reports(chunks, GUARDRAILS) == alone
    intervals = {"guardrails": 3, "drift": 7}  # misaligned intervals
    assert await drift_reports(chunks, GUARDRAILS, check_intervals=intervals) == (
        await drift_reports(chunks, [], check_intervals=intervals)
    )


async def test_a_repetition_loop_is_reported_at_the_same_token() -> None:
    loop = "".join(prose_chunks(300)) + "The cache is warm and the cache is warm. " * 40
    chunks = rechunk(loop, random.Random(7))
    alone = await drift_reports(chunks, [])
    assert any("repetition" in types for types, _ in alone)
    assert await drift_reports(chunks, GUARDRAILS) == alone


async def test_detailed_telemetry_keeps_every_drift_check() -> None:
    events: list[Any] = []
    result = await l0.run(
        lambda: _stream(prose_chunks(400)),
        guardrails=GUARDRAILS,
        drift=True,
        on_event=events.append,
    )
    async for _ in result:
        pass
    starts = [e for e in events if e.type == l0.ObservabilityEventType.DRIFT_CHECK_START]
    assert len(starts) == 400 // 10 + 1  # every interval, and completion
