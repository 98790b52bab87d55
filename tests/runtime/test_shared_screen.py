"""One screen for guardrails and drift: with both on, the guardrail engine's screen also
watches for drift's meta-commentary anchors, and drift skips the checks whose text it held.
Drift must report exactly what, and at exactly the token, it reports on its own."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

import l0
from l0.drift import DriftConfig, DriftDetector
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


SCREENED = [l0.markdown_rule(), l0.json_rule()]  # their wakes are characters: drift's anchors add


@pytest.mark.parametrize("seed", range(16))
async def test_drift_reports_the_same_at_the_same_token_with_guardrails(seed: int) -> None:
    chunks = with_meta(seed)
    alone = await drift_reports(chunks, [])
    assert any("meta_commentary" in types for types, _ in alone)
    assert await drift_reports(chunks, SCREENED) == alone
    intervals = {"guardrails": 3, "drift": 7}  # misaligned: some drift text is unscreened
    assert await drift_reports(chunks, SCREENED, check_intervals=intervals) == (
        await drift_reports(chunks, [], check_intervals=intervals)
    )


async def test_a_repetition_loop_is_reported_at_the_same_token() -> None:
    loop = "".join(prose_chunks(300)) + "The cache is warm and the cache is warm. " * 40
    chunks = rechunk(loop, random.Random(7))
    alone = await drift_reports(chunks, [])
    assert any("repetition" in types for types, _ in alone)
    assert await drift_reports(chunks, SCREENED) == alone


async def test_drift_skips_the_checks_whose_text_the_screen_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = 0
    check = DriftDetector.check

    def counted(self: DriftDetector, *args: Any, **kwargs: Any) -> Any:
        nonlocal checks
        checks += 1
        return check(self, *args, **kwargs)

    monkeypatch.setattr(DriftDetector, "check", counted)
    chunks = prose_chunks(4000)
    assert await drift_reports(chunks, SCREENED) == []
    assert checks < len(chunks) // 10 // 2  # drift is due every 10 tokens
    checks = 0
    assert await drift_reports(chunks, []) == []
    assert checks >= len(chunks) // 10  # without a screen it reads at every check


async def test_detailed_telemetry_keeps_every_drift_check() -> None:
    events: list[Any] = []
    result = await l0.run(
        lambda: _stream(prose_chunks(400)),
        guardrails=SCREENED,
        drift=True,
        on_event=events.append,
    )
    async for _ in result:
        pass
    starts = [e for e in events if e.type == l0.ObservabilityEventType.DRIFT_CHECK_START]
    assert len(starts) == 400 // 10 + 1  # every interval, and completion
