"""Spans count an adapter's DATA and PROGRESS events: per attempt on `chat`, in all on
`l0.session` (real OTel SDK)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from telemetry_support import OTel

import l0
from l0 import DataPayload, Event, EventType, Progress

IMAGE = DataPayload("image", mime_type="image/png", base64="iVBORw0KGgo=")


async def test_attempt_and_session_spans_count_data_and_progress(otel: OTel) -> None:
    calls = 0

    async def generation() -> AsyncIterator[Event]:
        nonlocal calls
        calls += 1
        yield Event(EventType.PROGRESS, data=Progress(percent=10.0))
        yield Event(EventType.DATA, data=IMAGE)
        if calls == 1:
            raise ConnectionResetError("connection reset by peer")
        yield Event(EventType.PROGRESS, data=Progress(percent=100.0))
        yield Event(EventType.DATA, data=IMAGE)
        yield Event(EventType.TOKEN, text="two images")
        yield Event(EventType.COMPLETE)

    result = await l0.run(generation, retry=l0.Retry(base_delay=0.0, max_delay=0.0))
    assert await result.read() == "two images"

    failed, passed = sorted(otel.named("chat"), key=lambda s: s.start_time or 0)
    assert (failed.attributes or {})["l0.data.count"] == 1
    assert (failed.attributes or {})["l0.progress.count"] == 1
    assert (passed.attributes or {})["l0.data.count"] == 2
    assert (passed.attributes or {})["l0.progress.count"] == 2
    assert (otel.one("l0.session").attributes or {})["l0.data.count"] == 3


async def test_text_only_spans_carry_no_data_counts(otel: OTel) -> None:
    async def words() -> AsyncIterator[str]:
        yield "text"

    assert await (await l0.run(words)).read() == "text"
    for span in (otel.one("l0.session"), *otel.named("chat")):
        assert "l0.data.count" not in (span.attributes or {})
        assert "l0.progress.count" not in (span.attributes or {})
