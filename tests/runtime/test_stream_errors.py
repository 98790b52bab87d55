"""Exceptions from the caller's stream: an exception l0 has no class for, raised by a factory
or by the stream it returned, is retried as a MODEL error and then falls back (the canonical
lifecycle); INTERNAL is kept for exceptions raised by l0's own code (docs/errors.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import l0
from l0 import ErrorCategory, ErrorCode, L0Error
from l0 import ObservabilityEventType as T

from .conftest import Recorder, drain, fast_retry


class StreamError(Exception):
    pass


async def words(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def failing(after: int) -> AsyncIterator[str]:
    for i in range(after):
        yield f"w{i} "
    raise Exception("Stream error")


async def test_a_stream_error_is_retried_as_a_model_error_then_falls_back() -> None:
    calls: list[str] = []

    def primary() -> AsyncIterator[str]:
        calls.append("primary")
        return failing(after=2)

    def fallback() -> AsyncIterator[str]:
        calls.append("fallback")
        return words("fine", " now")

    rec = Recorder()
    result = await l0.run(primary, fallbacks=[fallback], retry=fast_retry(attempts=2), on_event=rec)
    events = await drain(result)

    assert result.state.content == "fine now"
    assert calls == ["primary", "primary", "fallback"]
    errors = rec.of(T.ERROR)
    assert [(e.category, e.reason) for e in errors] == [("model", "stream_error")] * 2
    assert [e.will_retry for e in errors] == [True, False]
    assert [e.will_fallback for e in errors] == [False, True]
    (retry,) = rec.of(T.RETRY_ATTEMPT)
    assert retry.counts_toward_limit is True
    assert result.state.model_retry_count == 1
    assert rec.of(T.FALLBACK_START)[0].reason == "stream_error"
    assert events[-1].type is l0.EventType.COMPLETE


async def test_a_factory_that_raises_is_retried_then_exhausts() -> None:
    calls = 0

    def factory() -> AsyncIterator[str]:
        nonlocal calls
        calls += 1
        raise StreamError("no stream today")

    result = await l0.run(factory, retry=fast_retry(attempts=3))
    events = await drain(result)

    assert calls == 3
    error = events[-1].error
    assert (error.code, error.category) == (ErrorCode.ALL_STREAMS_EXHAUSTED, ErrorCategory.MODEL)
    assert [type(e) for e in error.errors] == [StreamError] * 3
    assert error.model_retry_count == 2


async def test_an_async_factory_that_raises_falls_back() -> None:
    async def factory() -> AsyncIterator[str]:
        raise StreamError("could not open")

    result = await l0.run(factory, fallbacks=[lambda: words("ok")], retry=l0.Retry.none())
    await drain(result)
    assert result.state.content == "ok"
    assert result.state.fallback_index == 1


async def test_a_factory_l0_cannot_call_is_internal() -> None:
    # The call itself fails, in l0's frame: nothing of the caller's stream ran. Retrying
    # the same call cannot help, and a fallback would be called the same way.
    def factory(required: str) -> AsyncIterator[str]:
        return words(required)

    fallback_calls = 0

    def fallback() -> AsyncIterator[str]:
        nonlocal fallback_calls
        fallback_calls += 1
        return words("x")

    result = await l0.run(factory, fallbacks=[fallback], retry=fast_retry())  # type: ignore[arg-type]
    events = await drain(result)

    error = events[-1].error
    assert isinstance(error, L0Error)
    assert (error.code, error.category) == (ErrorCode.INTERNAL_ERROR, ErrorCategory.INTERNAL)
    assert isinstance(error.__cause__, TypeError)
    assert (error.attempts, fallback_calls) == (1, 0)
