"""Fast and slow paths for guardrail checks, so a large delta never blocks the stream loop.

Fast path (synchronous, result returned at once): the delta is under 1 KB, or the content
is already built and under 5 KB. Built-in checks cost O(delta), so small deltas are cheap.
Slow path: the check is queued on the engine and run from `loop.call_soon`, its result
delivered to the callback. The engine runs queued checks before any later check, so
incremental checkers always see deltas in stream order.

Each deferred delivery is reported as GUARDRAIL_CALLBACK_START / GUARDRAIL_CALLBACK_END
(callback_id, duration_ms from scheduling to delivery, success, error).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable

from ..events import ObservabilityEventType as T
from .engine import GuardrailEngine
from .types import GuardrailContext, GuardrailResult

__all__ = [
    "FAST_PATH_CONTENT_CHARS",
    "FAST_PATH_DELTA_CHARS",
    "run_async_guardrail_check",
    "run_guardrail_check_async",
]

logger = logging.getLogger("l0.guardrails")

FAST_PATH_DELTA_CHARS = 1024
FAST_PATH_CONTENT_CHARS = 5 * 1024

_ids = itertools.count(1)


def _is_fast(ctx: GuardrailContext) -> bool:
    if len(ctx.delta) < FAST_PATH_DELTA_CHARS:
        return True
    length = ctx.content_length_hint()
    return length is not None and length < FAST_PATH_CONTENT_CHARS


def run_async_guardrail_check(
    engine: GuardrailEngine,
    ctx: GuardrailContext,
    callback: Callable[[GuardrailResult], object],
) -> GuardrailResult | None:
    """Check now and return the result (fast path), or schedule it and return None.

    Without a running event loop the check always runs synchronously.
    """
    if _is_fast(ctx):
        return engine.check(ctx)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return engine.check(ctx)
    _schedule(engine, ctx, callback, loop)
    return None


async def run_guardrail_check_async(
    engine: GuardrailEngine, ctx: GuardrailContext
) -> GuardrailResult:
    """Always deferred: the check runs from the loop's next iteration; await its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[GuardrailResult] = loop.create_future()

    def deliver(result: GuardrailResult) -> None:
        if not future.done():
            future.set_result(result)

    _schedule(engine, ctx, deliver, loop)
    return await future


def _schedule(
    engine: GuardrailEngine,
    ctx: GuardrailContext,
    callback: Callable[[GuardrailResult], object],
    loop: asyncio.AbstractEventLoop,
) -> None:
    callback_id = f"guardrail-callback-{next(_ids)}"
    tel = engine.telemetry
    started = time.perf_counter()
    if tel is not None:
        tel.emit(T.GUARDRAIL_CALLBACK_START, callback_id=callback_id, phase="stream")

    def deliver(result: GuardrailResult) -> None:
        error: str | None = None
        try:
            callback(result)
        except Exception as exc:  # a callback must never break the stream
            error = f"{type(exc).__name__}: {exc}"
            logger.debug("guardrail callback %s raised", callback_id, exc_info=True)
        if tel is not None:
            tel.emit(
                T.GUARDRAIL_CALLBACK_END,
                callback_id=callback_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                success=error is None,
                error=error,
            )

    engine.defer(ctx, deliver)
    loop.call_soon(engine.run_deferred)
