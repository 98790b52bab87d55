"""The session engine: attempts, retries, fallbacks, timeouts, checks, and the event stream.

One session is one async generator (`Session.events`). Its token loop is written inline
and kept to a handful of attribute operations per token; everything that happens every N
tokens (guardrails, drift, checkpoints) runs at a "mark" (`_at_mark`), which the loop
reaches through a single integer comparison.

Context rules: the session never attaches an OpenTelemetry context itself (it does not
know OpenTelemetry). The telemetry sinks attach the attempt's context only inside
`provider_scope`, around the calls into the provider, and never across a `yield`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..adapters import OpenedStream, StreamInfo, open_stream
from ..adapters.detect import AutoChunks
from ..adapters.text import EventChunks
from ..errors import ErrorCode, L0Error, RetryDecision, classify_error, error_type
from ..events import ObservabilityEventType as T
from ..telemetry.callbacks import CallbackSink, PendingCallbacks
from ..telemetry.facade import Sink, Telemetry
from ..types import ErrorCategory, Event, EventType, State, TokenEvent
from .checks import ContentChecks
from .continuation import PROMPT_KEYWORD, prompt_parameter
from .options import Options
from .retry import RetryBudget
from .timeouts import Interrupt, Watchdog

if TYPE_CHECKING:
    from ..adapters import ToolCall, Translator
    from .tap import Tap

__all__ = ["Session"]

logger = logging.getLogger("l0")


class _Attempt:
    """Bookkeeping for one attempt (first try, retry, or fallback)."""

    __slots__ = (
        "closed",
        "data_events",
        "ended",
        "first_token_at",
        "index",
        "is_fallback",
        "is_retry",
        "opened",
        "progress_events",
        "start_tokens",
        "started_at",
    )

    def __init__(self, index: int, is_retry: bool, is_fallback: bool, state: State) -> None:
        self.index = index
        self.is_retry = is_retry
        self.is_fallback = is_fallback
        self.started_at = time.monotonic()
        self.first_token_at: float | None = None
        self.opened: OpenedStream | None = None
        self.closed = False
        self.ended = False
        self.start_tokens = state.token_count
        self.data_events = self.progress_events = 0

    def tokens(self, state: State) -> int:
        """Tokens this attempt delivered (valid until the retry boundary rewinds)."""
        return state.token_count - self.start_tokens


class Session:
    """Runs one `l0.run()` call. Iterate `events()` once."""

    # Each failed attempt's exception, in order (a class default: most sessions never fail).
    _errors: tuple[BaseException, ...] = ()
    # What the current factory's last stream reported (for STREAM_INIT and FALLBACK_START).
    _known: StreamInfo | None = None
    _selected = 0  # the last fallback index FALLBACK_MODEL_SELECTED reported
    _started_ts = 0.0  # SESSION_START's wall-clock time (epoch seconds), with telemetry
    # Tokens the last retry boundary dropped, for the RETRY_ATTEMPT or FALLBACK_START after it.
    _discarded = 0
    tap: Tap | None = None
    """Sees the delivered stream beside the consumer (`l0.run(record=)`; set before the
    first iteration)."""

    def __init__(self, options: Options, *, raw: bool = False) -> None:
        self.options = options
        self.state = State()
        self.session_id = uuid.uuid4().hex
        self.raw = raw
        self.error: L0Error | None = None
        self.outcome = "pending"
        self.watch = Watchdog(options.timeout, self.state)
        callbacks = options.callbacks
        # Most sessions set no callback: they keep no callback sink and no task registry.
        self.pending: PendingCallbacks | None = None
        self._callback_sink: CallbackSink | None = None
        local: list[Sink] = []
        if callbacks.any_set():
            self.pending = PendingCallbacks()
            self._callback_sink = CallbackSink(callbacks, self.state, self.pending)
            local.append(self._callback_sink)
        self.tel = Telemetry.start(
            self.session_id,
            self.state,
            options.context,
            options.meta,
            local,
            detailed=callbacks.on_event is not None,
        )
        self.checks = ContentChecks(
            options,
            self.state,
            self.tel,
            announce_checkpoints=self.tel.detailed or callbacks.on_checkpoint is not None,
        )
        self._continuation_prompt: str | None = None
        self._attempt: _Attempt | None = None
        self._network_errors_since_success = 0
        self._retry_started_at: float | None = None
        self._fallback_started_at: float | None = None
        self._abort_source: str | None = None

    # ------------------------------------------------------------------ public

    def abort(self, source: str = "user") -> None:
        if self.outcome != "pending" or self._abort_source is not None:
            return
        self._abort_source = source
        self.tel.emit(T.ABORT_REQUESTED, source=source)
        self.watch.interrupt("abort")

    async def events(self) -> AsyncGenerator[Any, None]:
        """The session as a stream of `Event`s (or raw provider chunks when `raw`)."""
        options, state, watch = self.options, self.state, self.watch
        plain = not self.raw and options.callbacks.on_event is None
        raw = self.raw
        # A recorded token: its text and time offset, appended to the tap's open run
        # (a token that is not plain reaches the tap through `_stream_event`).
        tap = self.tap if plain else None
        texts, offsets, batch, origin = tap.token_run() if tap is not None else ([], [], 0, 0.0)
        keep_text, keep_time, now = texts.append, offsets.append, time.monotonic
        self._begin()
        try:
            # Indices, not enumerate((stream, *fallbacks)): an open session keeps no
            # iterator objects alive (gc-tracked, like everything a session holds).
            for fallback_index in range(len(options.fallbacks) + 1):
                factory = (
                    options.fallbacks[fallback_index - 1] if fallback_index else options.stream
                )
                budget = RetryBudget(options.retry)
                is_retry = False
                # Once per factory: only continuation has a prompt to hand over.
                takes = prompt_parameter(factory) if options.continue_from_last_good_token else None
                while True:
                    attempt = self._start_attempt(fallback_index, is_retry)
                    error: BaseException | None = None
                    try:
                        opened = attempt.opened = await self._open(factory, takes)
                        translator = opened.translator
                        direct = translator.resolved.reader()
                        feed = self.checks.feed_for(translator) or direct
                        passes = _may_pass_events(translator)
                        pieces = state._pieces
                        next_mark = 1
                        n = 0
                        # The hot loop. Keep it flat: every line here runs once per chunk.
                        async for chunk in opened.iterable:
                            text = feed(chunk)
                            if text:
                                pieces.append(text)
                                n += 1
                                if n >= next_mark:
                                    next_mark = self._at_mark(n, text)
                                    # After its first chunk an adapter may have a faster
                                    # reader; the overlap trimmer may be done.
                                    if n == 1 or feed is not direct:
                                        direct = translator.resolved.reader()
                                        feed = self.checks.feed_for(translator) or direct
                                        passes = _may_pass_events(translator)
                                if plain:
                                    if tap is not None:
                                        keep_text(text)
                                        keep_time(now() - origin)
                                        if len(texts) >= batch:
                                            tap.flush()
                                    yield TokenEvent(text)
                                    if watch.fired is not None:
                                        break
                                    continue
                            else:
                                # Token chunks show progress through the token count.
                                watch.seen += 1
                                if passes and not raw and _passed_through(chunk):
                                    yield self._pass_through(chunk, attempt)
                                    if watch.fired is not None:
                                        break
                                    continue
                                if plain:
                                    continue
                            if raw:
                                yield chunk
                            elif text:
                                yield self._stream_event(TokenEvent(text))
                            if watch.fired is not None:
                                break
                        if watch.fired is not None:
                            raise self._interrupt_error(watch.fired)
                        for flushed in self._flush_overlap(translator):
                            yield flushed
                        self._complete_attempt(translator)
                    except asyncio.CancelledError:
                        error = self._interrupt_or_raise()
                    except Exception as exc:
                        error = self._provider_error(exc)
                    watch.disarm()
                    if error is None:
                        for outcome in self._success_events():
                            yield outcome
                        return
                    await self._close_attempt(attempt)
                    decision = classify_error(error)
                    verdict = self._decide(error, decision, budget, fallback_index)
                    for boundary in self._boundary(attempt, verdict):
                        yield boundary
                    if verdict == "retry":
                        await self._backoff(budget, decision, error)
                        is_retry = True
                        continue
                    if verdict == "fallback":
                        self._enter_fallback(fallback_index + 1, decision.reason)
                        break
                    yield self._fail(error, decision)
                    return
        finally:
            await self._finish()

    # ------------------------------------------------------------ attempt steps

    def _begin(self) -> None:
        state, options = self.state, self.options
        state.started_at = time.monotonic()
        if not self.tel.enabled:
            return
        self._started_ts = time.time()
        self.tel.emit(
            T.SESSION_START,
            attempt=1,
            is_retry=False,
            is_fallback=False,
            attempts=options.retry.attempts,
            max_retries=options.retry.max_retries,
            fallbacks=len(options.fallbacks),
            continuation=options.continue_from_last_good_token,
            guardrails=len(options.guardrails),
            drift=options.drift is not None,
        )
        self.checks.begin()

    def _start_attempt(self, fallback_index: int, is_retry: bool) -> _Attempt:
        state = self.state
        state.attempt += 1
        state.fallback_index = fallback_index
        attempt = self._attempt = _Attempt(
            state.attempt, is_retry, fallback_index > 0 and not is_retry, state
        )
        if self.tel.enabled:
            self._announce_attempt(attempt, fallback_index)
        self.checks.reset()
        self.watch.arm()
        if self._abort_source is not None:
            self.watch.interrupt("abort")
        return attempt

    def _announce_attempt(self, attempt: _Attempt, fallback_index: int) -> None:
        tel = self.tel
        tel.stream_id = f"{self.session_id}:{attempt.index}"
        tel.emit(
            T.ATTEMPT_START,
            attempt=attempt.index,
            fallback_index=fallback_index,
            is_retry=attempt.is_retry,
            is_fallback=fallback_index > 0,
        )
        timeout = self.options.timeout
        if timeout.initial_token is not None:
            tel.emit(
                T.TIMEOUT_START,
                timeout_type="initial",
                configured_ms=int(timeout.initial_token * 1000),
            )

    async def _open(self, factory: Callable[..., Any], takes: str | int | None) -> OpenedStream:
        """Call the factory (with the continuation prompt if it `takes` one, see
        `prompt_parameter`) and pick the adapter, inside the initial-token timeout."""
        tel = self.tel
        if tel.enabled:
            self._announce_init(takes)
        if self.watch.fired is not None:
            raise self._interrupt_error(self.watch.fired)
        prompt = self._continuation_prompt
        with tel.provider_scope():
            if takes is None:
                stream = factory()
            elif takes == PROMPT_KEYWORD:
                stream = factory(continuation=prompt)
            else:
                stream = factory(prompt)
            if inspect.isawaitable(stream):
                stream = await stream
        opened = open_stream(stream, self.options.adapter)
        self._known = opened.info
        if tel.enabled:
            self._announce_stream(type(stream).__name__, opened.info)
        if self.watch.fired is not None:  # aborted by a callback of the events above
            raise self._interrupt_error(self.watch.fired)
        return opened

    def _announce_init(self, takes: str | int | None) -> None:
        """STREAM_INIT, before the factory is called: the model and provider are those its
        previous attempt reported (a factory is opaque until it returns: None at first)."""
        tel, state, known = self.tel, self.state, self._known
        if self.checks.continuing:
            tel.emit(
                T.CONTINUATION_START,
                checkpoint=state.resume_point,
                checkpoint_length=state.resume_from,
                token_count=state.checkpoint_token_count,
                prompt_passed=takes is not None and self._continuation_prompt is not None,
            )
        tel.emit(
            T.STREAM_INIT,
            attempt=state.attempt,
            model=known.request_model if known is not None else None,
            provider=known.provider if known is not None else None,
        )

    def _announce_stream(self, stream_type: str, info: StreamInfo) -> None:
        tel = self.tel
        tel.emit(T.ADAPTER_WRAP_START, stream_type=stream_type, adapter_id=info.adapter)
        tel.emit(T.ADAPTER_DETECTED, adapter_id=info.adapter)
        tel.emit(T.ADAPTER_WRAP_END, adapter_id=info.adapter, success=True)
        index = self.state.fallback_index
        if index > self._selected:  # a fallback's model is known once its stream is open
            self._selected = index
            tel.emit(T.FALLBACK_MODEL_SELECTED, index=index, model=info.request_model)
        tel.emit(
            T.STREAM_READY,
            attempt=self.state.attempt,
            adapter=info.adapter,
            provider=info.provider,
            request_model=info.request_model,
            server_address=info.server_address,
            server_port=info.server_port,
            request=info.request,
        )
        if self._network_errors_since_success:
            tel.emit(T.CONNECTION_RESTORED, duration_ms=self._ms_since_retry())

    def _at_mark(self, n: int, text: str) -> int:
        """Every-N-tokens work for token `text`, just appended and not yet delivered:
        first-token bookkeeping, per-token events when telemetry is detailed, and the
        content checks (`ContentChecks.run`, which is all a mark is otherwise).

        Returns the token count at which to come back.
        """
        attempt = self._attempt
        assert attempt is not None
        if n == 1:
            self._first_token(attempt)
        tel = self.tel
        if tel.detailed:
            tel.emit(
                T.TIMEOUT_RESET,
                timeout_type="inter",
                configured_ms=_ms(self.options.timeout.inter_token),
                token_index=self.state.token_count,
            )
        next_mark = self.checks.run(n, text)
        return n + 1 if tel.detailed else next_mark

    def _first_token(self, attempt: _Attempt) -> None:
        now = time.monotonic()
        attempt.first_token_at = now
        self.state.first_token_at = now
        timeout = self.options.timeout
        if timeout.inter_token is not None:
            self.tel.emit(
                T.TIMEOUT_START, timeout_type="inter", configured_ms=_ms(timeout.inter_token)
            )
        if self._network_errors_since_success:
            self.tel.emit(
                T.NETWORK_RECOVERY,
                attempt_count=self._network_errors_since_success,
                duration_ms=self._ms_since_retry(),
            )
            self._network_errors_since_success = 0

    def _stream_event(self, event: Event) -> Event:
        """An event for the consumer, which `on_event` and the tap see too."""
        if self._callback_sink is not None:
            self._callback_sink.token_event(event)
        if self.tap is not None and not self.raw:
            self.tap.event(event, self.state)
        return event

    def _pass_through(self, event: Event, attempt: _Attempt) -> Event:
        """An adapter's event without text: data and progress are kept in the state and
        counted for the attempt's span; each is an ordinary stream event after that."""
        if event.type is EventType.DATA:
            self.state.data_outputs.append(event.data)
            attempt.data_events += 1
        elif event.type is EventType.PROGRESS:
            self.state.last_progress = event.data
            attempt.progress_events += 1
        return self._stream_event(event)

    def _flush_overlap(self, translator: Any) -> list[Event]:
        """Text a resumed attempt held back for overlap removal, when the stream ended."""
        trimmer = self.checks.trimmer
        if trimmer is None or trimmer.done:
            return []
        text = trimmer.flush()
        if not text:
            return []
        state = self.state
        state._pieces.append(text)
        attempt = self._attempt
        assert attempt is not None
        self._at_mark(attempt.tokens(state), text)
        return [] if self.raw else [self._stream_event(TokenEvent(text))]

    def _complete_attempt(self, translator: Any) -> None:
        """The provider stream ended normally: final checks, or raise why it failed."""
        translator.finish()
        result = translator.resolved
        state = self.state
        state.usage = result.usage
        state.finish_reason = result.finish_reason
        state.model = result.model
        state.response_id = result.response_id
        attempt = self._attempt
        assert attempt is not None
        if (
            attempt.tokens(state) == 0
            and not result.tool_calls
            and not attempt.data_events
            and not state.resumed
        ):
            raise L0Error("the stream ended without any output", ErrorCode.ZERO_OUTPUT)
        self.checks.complete()
        self._emit_attempt_end(attempt, None, None)

    def _success_events(self) -> list[Event]:
        state = self.state
        attempt = self._attempt
        assert attempt is not None and attempt.opened is not None
        translator = attempt.opened.translator.resolved
        events = [self._tool_call_event(call) for call in translator.tool_calls]
        state.completed = True
        state.ended_at = time.monotonic()
        self.outcome = "success"
        if attempt.is_retry and self._retry_started_at is not None:
            self.tel.emit(
                T.RETRY_END, attempt=attempt.index, success=True, duration_ms=self._ms_since_retry()
            )
        if self._fallback_started_at is not None:
            self.tel.emit(
                T.FALLBACK_END,
                index=state.fallback_index,
                success=True,
                duration_ms=_ms(time.monotonic() - self._fallback_started_at),
            )
        complete = Event(EventType.COMPLETE, usage=state.usage)
        if self.tel.enabled:
            self.tel.emit(
                T.COMPLETE,
                token_count=state.token_count,
                content_length=state.content_length,
                usage=state.usage,
                finish_reason=state.finish_reason,
            )
        if not self.raw:
            events.append(complete)
            for event in events:
                self._stream_event(event)
            return events
        return []

    def _tool_call_event(self, call: ToolCall) -> Event:
        data = call.as_data()
        self.state.tool_calls.append(data)
        try:
            arguments = orjson.loads(call.arguments) if call.arguments else {}
            parse_error = None
        except orjson.JSONDecodeError as exc:
            arguments, parse_error = {}, str(exc)
        self.tel.emit(
            T.TOOL_REQUESTED,
            tool_name=call.name,
            tool_call_id=call.id,
            arguments=arguments,
            arguments_length=len(call.arguments),
            parse_error=parse_error,
        )
        return Event(EventType.TOOL_CALL, data=data)

    # -------------------------------------------------------- failure handling

    def _interrupt_or_raise(self) -> L0Error:
        """Turn the watchdog's cancellation into an error; re-raise a real cancellation."""
        fired = self.watch.take_back()
        if fired is None:
            raise asyncio.CancelledError
        return self._interrupt_error(fired)

    def _provider_error(self, error: Exception) -> BaseException:
        """`error`, or the watchdog's interrupt when the provider's code turned the
        cancellation it sent into an error of its own (the watchdog takes it back)."""
        watch = self.watch
        if watch.fired is None or not watch.cancelled:
            return error
        interrupt = self._interrupt_error(watch.fired)
        interrupt.__cause__ = error
        return interrupt

    def _interrupt_error(self, fired: Interrupt) -> L0Error:
        if fired.kind == "abort":
            return _aborted()
        elapsed_ms = _ms(fired.elapsed)
        self.tel.emit(
            T.TIMEOUT_TRIGGERED,
            timeout_type=fired.kind,
            elapsed_ms=elapsed_ms,
            configured_ms=_ms(fired.configured),
        )
        code = (
            ErrorCode.INITIAL_TOKEN_TIMEOUT
            if fired.kind == "initial"
            else (ErrorCode.INTER_TOKEN_TIMEOUT)
        )
        return L0Error(f"{fired.kind} token timeout after {elapsed_ms} ms", code)

    def _decide(
        self, error: BaseException, decision: RetryDecision, budget: RetryBudget, index: int
    ) -> str:
        """'retry', 'fallback' or 'fail'; reports the error and ends the attempt span."""
        has_fallback = index < len(self.options.fallbacks)
        if self._abort_source is not None:
            verdict = "fail"
        elif budget.allows(decision):
            verdict = "retry"
        elif decision.fallback and has_fallback:
            verdict = "fallback"
        else:
            verdict = "fail"
        attempt = self._attempt
        assert attempt is not None
        self._errors += (error,)
        network = decision.category in (ErrorCategory.NETWORK, ErrorCategory.TRANSIENT)
        if network:
            self._network_errors_since_success += 1
            self.tel.emit(
                T.NETWORK_ERROR,
                error=error_type(error),
                code=decision.reason,
                category=decision.category.value,
                will_retry=verdict == "retry",
            )
            if attempt.tokens(self.state):
                self.tel.emit(T.CONNECTION_DROPPED, reason=decision.reason)
        self.tel.emit(
            T.ERROR,
            error=error,
            category=decision.category.value,
            reason=decision.reason,
            will_retry=verdict == "retry",
            will_fallback=verdict == "fallback",
            attempt=attempt.index,
        )
        self._emit_attempt_end(attempt, error, decision)
        return verdict

    def _boundary(self, attempt: _Attempt, verdict: str) -> list[Event]:
        """The in-band retry boundary: tell the consumer what to keep."""
        if verdict == "fail":
            return []
        state = self.state
        self._discarded = 0
        keep, tokens = self.checks.resume_point(verdict)
        if keep:
            self._continuation_prompt = self.checks.continuation_prompt()
        else:
            self._continuation_prompt = None
        if state.content_length == keep:
            return []
        self._discarded = state.token_count - tokens
        state._rewind(keep, tokens)
        if self.raw:
            return []
        return [self._stream_event(Event(EventType.RESET, keep=keep))]

    async def _backoff(self, budget: RetryBudget, decision: RetryDecision, error: object) -> None:
        state = self.state
        first_retry = budget.total == 0
        delay = budget.spend(decision)
        if decision.counts_toward_attempts:
            state.model_retry_count += 1
        else:
            state.network_retry_count += 1
        if first_retry:
            self._retry_started_at = time.monotonic()
            self.tel.emit(
                T.RETRY_START, attempt=state.attempt + 1, max_attempts=self.options.retry.attempts
            )
        self.tel.emit(
            T.RETRY_ATTEMPT,
            index=budget.total,
            attempt=state.attempt + 1,
            reason=decision.reason,
            category=decision.category.value,
            counts_toward_limit=decision.counts_toward_attempts,
            is_network=decision.category in (ErrorCategory.NETWORK, ErrorCategory.TRANSIENT),
            is_model_issue=decision.counts_toward_attempts,
            delay_ms=_ms(delay),
            retry_after_ms=_ms(decision.retry_after),
            tokens_discarded=self._discarded,
        )
        if delay > 0:
            await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        """Backoff that `abort()` can cut short."""
        watch = self.watch
        watch.arm_idle()
        if watch.fired is not None:  # aborted from a callback on this very task
            return
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._interrupt_or_raise()  # raises unless it was our abort

    def _enter_fallback(self, to_index: int, reason: str) -> None:
        self._fallback_started_at = time.monotonic()
        self._retry_started_at = None
        known, self._known = self._known, None
        self.tel.emit(
            T.FALLBACK_START,
            from_index=to_index - 1,
            to_index=to_index,
            # The next factory's model is known once it returns (FALLBACK_MODEL_SELECTED).
            from_model=known.request_model if known is not None else None,
            to_model=None,
            reason=reason,
            tokens_discarded=self._discarded,
        )

    def _fail(self, error: BaseException, decision: RetryDecision) -> Event:
        state = self.state
        if self._abort_source is not None and not _is_abort(error):
            # Aborted while this attempt was failing: the abort is why no attempt follows.
            aborted = _aborted()
            aborted.__cause__ = error
            error, decision = aborted, classify_error(aborted)
        final = self._final_error(error, decision)
        self.error = final
        self.outcome = "aborted" if final.code is ErrorCode.STREAM_ABORTED else "error"
        state.ended_at = time.monotonic()
        if decision.retry:
            self.tel.emit(
                T.RETRY_GIVE_UP,
                attempts=state.attempt,
                last_error=error_type(error),
                reason=decision.reason,
            )
        return self._stream_event(Event(EventType.ERROR, error=final))

    def _final_error(self, error: BaseException, decision: RetryDecision) -> L0Error:
        """The error the session ends with: ALL_STREAMS_EXHAUSTED when it ran out of streams
        to try (of the last attempt's category), else the error that stopped it; with the
        session's state at the end (docs/errors.md)."""
        state = self.state
        if not _is_abort(error) and (decision.retry or decision.fallback):
            streams = 1 + len(self.options.fallbacks)
            name = error.code.value if isinstance(error, L0Error) else type(error).__name__
            final = L0Error.exhausted(
                f"all streams exhausted (attempts: {state.attempt}, streams: {streams}); "
                f"last error: {name}: {error}",
                self._errors,
                category=decision.category,
                status_code=decision.status_code,
            )
            final.__cause__ = error
        elif isinstance(error, L0Error):
            final = error
        else:
            code = {
                ErrorCategory.NETWORK: ErrorCode.NETWORK_ERROR,
                ErrorCategory.INTERNAL: ErrorCode.INTERNAL_ERROR,
            }.get(decision.category, ErrorCode.PROVIDER_ERROR)
            final = L0Error(
                f"{type(error).__name__}: {error}",
                code,
                category=decision.category,
                status_code=decision.status_code,
            )
            final.__cause__ = error
        meta = self.options.meta
        fields = {
            "checkpoint": state.checkpoint,
            "checkpoint_length": state.checkpoint_length,
            "token_count": state.token_count,
            "content_length": state.content_length,
            "attempts": state.attempt,
            "model_retry_count": state.model_retry_count,
            "network_retry_count": state.network_retry_count,
            "fallback_index": state.fallback_index,
            "context": self.options.context,
            "metadata": {
                "session_id": self.session_id,
                "reason": decision.reason,
                **({"meta": meta} if meta else {}),
            },
        }
        for name, value in fields.items():
            setattr(final, name, value)
        return final

    # ------------------------------------------------------------------ ending

    def _emit_attempt_end(
        self, attempt: _Attempt, error: BaseException | None, decision: RetryDecision | None
    ) -> None:
        if attempt.ended:
            return
        attempt.ended = True
        self.checks.attempt_ended(error is None, attempt.tokens(self.state))
        if not self.tel.enabled:
            return
        opened = attempt.opened
        translator = opened.translator.resolved if opened is not None else None
        ttfc = (
            attempt.first_token_at - attempt.started_at
            if attempt.first_token_at is not None
            else None
        )
        self.tel.emit(
            T.ATTEMPT_END,
            attempt=attempt.index,
            fallback_index=self.state.fallback_index,
            is_retry=attempt.is_retry,
            status="error" if error is not None else "ok",
            error=error,
            error_type=None if error is None else error_type(error),
            category=decision.category.value if decision is not None else None,
            token_count=attempt.tokens(self.state),
            time_to_first_chunk=ttfc,
            duration=time.monotonic() - attempt.started_at,
            finish_reason=translator.finish_reason if translator else None,
            usage=translator.usage if translator else None,
            response_model=translator.model if translator else None,
            response_id=translator.response_id if translator else None,
            request_model=opened.info.request_model if opened else None,
            provider=opened.info.provider if opened else None,
            checkpoints=self.checks.checkpoints,
            data_events=attempt.data_events or None,
            progress_events=attempt.progress_events or None,
        )

    async def _finish(self) -> None:
        """Runs on every path out of the session: success, failure, break, cancel."""
        state, tel = self.state, self.tel
        self.watch.disarm()
        attempt = self._attempt
        if self.outcome == "pending":
            # The consumer stopped early (break, aclose, cancellation).
            self.outcome = "aborted"
            state.aborted = True
            state.ended_at = time.monotonic()
            if attempt is not None:
                self._emit_attempt_end(attempt, asyncio.CancelledError(), None)
        finalization_started = time.monotonic()
        tel.emit(T.FINALIZATION_START)
        if attempt is not None:
            await self._close_attempt(attempt)
        if self.outcome == "aborted":
            state.aborted = True
            tel.emit(
                T.ABORT_COMPLETED,
                resources_freed=True,
                token_count=state.token_count,
                content_length=state.content_length,
            )
        if tel.enabled:
            self._announce_end(finalization_started)
        # Never wait for callbacks here: a slow one would hold abort(), cancel() and
        # wait_for() (docs/events.md, "Slow callbacks").
        if self.pending is not None:
            self.pending.release(self.options.callback_grace)
        if self.tap is not None:
            self.tap.end(state)
        # The failed attempts' errors were kept for a final error only. Each one's
        # traceback runs through this session's frames, which hold the session: a cycle
        # only the garbage collector would undo.
        self._errors = ()

    def _announce_end(self, finalization_started: float) -> None:
        state, tel = self.state, self.tel
        tel.emit(T.FINALIZATION_END, duration_ms=_ms(time.monotonic() - finalization_started))
        tel.emit(
            T.SESSION_SUMMARY,
            outcome=self.outcome,
            token_count=state.token_count,
            content_length=state.content_length,
            duration_ms=_ms(state.duration),
            time_to_first_token_ms=_ms(state.time_to_first_token),
            drift_detected=state.drift_detected,
            guardrail_violations=len(state.violations),
            fallback_depth=state.fallback_index,
            retry_count=state.retry_count,
            model_retry_count=state.model_retry_count,
            network_retry_count=state.network_retry_count,
            checkpoints_created=self.checks.checkpoints,
            data_outputs=len(state.data_outputs) or None,
            resumed=state.resumed,
            attempts=state.attempt,
            start_ts=self._started_ts,
            end_ts=self._started_ts + (state.duration or 0.0),
        )
        tel.emit(T.SESSION_END, outcome=self.outcome, error=self.error)

    async def _close_attempt(self, attempt: _Attempt) -> None:
        """Close the attempt's provider stream (once): a failed attempt's connection must
        not stay open while the next one runs."""
        if attempt.opened is None or attempt.closed:
            return
        attempt.closed = True
        await _close_quietly(attempt.opened)

    def _ms_since_retry(self) -> int:
        start = self._retry_started_at
        return _ms(time.monotonic() - start) if start is not None else 0


_PASSED_THROUGH = frozenset({EventType.DATA, EventType.PROGRESS, EventType.MESSAGE})


_EVENT_TRANSLATORS = (EventChunks, AutoChunks)


def _may_pass_events(translator: Translator) -> bool:
    """Whether the stream may carry l0 `Event`s that have no text (data, progress,
    message): a custom adapter's, a stream of events, or one not recognised yet."""
    return type(translator.resolved) in _EVENT_TRANSLATORS


def _passed_through(chunk: Any) -> bool:
    """Whether `chunk` is an adapter's event that goes to the consumer as it is."""
    return isinstance(chunk, Event) and chunk.type in _PASSED_THROUGH


def _ms(seconds: float | None) -> int:
    return int(seconds * 1000) if seconds is not None else 0


def _aborted() -> L0Error:
    return L0Error("the stream was aborted", ErrorCode.STREAM_ABORTED)


def _is_abort(error: BaseException) -> bool:
    return isinstance(error, L0Error) and error.code is ErrorCode.STREAM_ABORTED


async def _close_quietly(opened: OpenedStream) -> None:
    """Close the adapter's iterator and the provider stream; errors here are not news."""
    for target in (opened.iterable, opened.provider_stream):
        closer = getattr(target, "aclose", None) or getattr(target, "close", None)
        if closer is None:
            continue
        try:
            outcome = closer()
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            logger.debug("closing the provider stream failed", exc_info=True)
        if opened.iterable is opened.provider_stream:
            break
