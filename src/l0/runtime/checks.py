"""Content checks of a session: guardrails, drift, checkpoints and resumption.

The session calls `run(n)` only when a check is due (it compares one integer per token);
each check looks at the text added since that check last ran (`State._since`), so its cost
is O(delta) however long the output is.

Checkpoints are taken with or without continuation (`state.checkpoint` is the last good
one either way), but get marks of their own only when something needs each one: a resume,
or a listener for CHECKPOINT_SAVED. Otherwise they ride on the checks' marks (taken where
the checks due passed), or, with no check at all, are found on read (`State._every`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ErrorCode, L0Error
from ..events import Deferred
from ..events import ObservabilityEventType as T
from ..guardrails.types import PASSED, GuardrailContext
from ..telemetry.facade import Telemetry
from ..types import Cursor, State
from .continuation import OverlapTrimmer

if TYPE_CHECKING:
    from ..adapters import Translator
    from ..drift import DriftDetector, DriftResult
    from ..guardrails.engine import GuardrailEngine
    from ..guardrails.types import GuardrailResult
    from .options import Options

__all__ = ["ContentChecks"]

_NEVER = 1 << 62


class ContentChecks:
    # Only for the checks the session runs (an open session keeps no others): the cursors
    # are set by `reset`, the guardrails' context when the engine is made.
    _guard_from: Cursor
    _drift_from: Cursor
    _context: GuardrailContext

    def __init__(
        self, options: Options, state: State, tel: Telemetry, *, announce_checkpoints: bool
    ) -> None:
        self.options = options
        self.state = state
        self.tel = tel
        intervals = options.intervals
        self.guard_every = intervals.guardrails
        self.drift_every = intervals.drift
        self.checkpoint_every = intervals.checkpoint
        self._checkpoint_marks = options.continue_from_last_good_token or announce_checkpoints
        self.engine: GuardrailEngine | None = None
        self.drift: DriftDetector | None = None
        if options.guardrails:
            from ..guardrails.engine import GuardrailEngine

            self.engine = GuardrailEngine(options.guardrails, tel)
        if options.drift is not None:
            from ..drift import DriftDetector

            self.drift = DriftDetector(options.drift, tel, state=state)
        if not self._checkpoint_marks and self.engine is None and self.drift is None:
            state._every = self.checkpoint_every  # no mark at all: found on read
        self.trimmer: OverlapTrimmer | None = None
        self._trim_prefix = ""
        self._resuming = False
        self._resume_started: float | None = None
        if self.engine is not None:
            # One context for every check: rules see it only during their call.
            self._context = GuardrailContext(
                content=lambda: state.content, data_outputs=state.data_outputs
            )
        self.checkpoints = 0
        self._announce_checkpoints = announce_checkpoints
        self._next_guard = self._next_drift = self._next_checkpoint = _NEVER

    # ---------------------------------------------------------------- attempts

    def begin(self) -> None:
        """The session started: report the checks that will not run (after SESSION_START,
        which is always the first event)."""
        if self.drift is None and self.engine is not None:
            self.tel.emit(T.DRIFT_CHECK_SKIPPED, reason="drift detection is off")

    @property
    def continuing(self) -> bool:
        """Whether the attempt about to start continues from a checkpoint."""
        return self._resuming

    def reset(self) -> None:
        """A new attempt starts from the checkpoint (when resuming) or from nothing."""
        state = self.state
        prefix = state.checkpoint if self._resuming else ""
        # Where each check's next delta starts (only for the checks a session runs).
        if self.engine is not None:
            self.engine.reset(prefix)  # a no-op on an engine that has checked nothing yet
            self._guard_from = state._cursor()
        if self.drift is not None:
            self.drift.reset(prefix)
            # At equal intervals (the default) both checks are due at the same marks and
            # read the same delta: one cursor, one join (`_drift_delta`).
            same = self.engine is not None and self.drift_every == self.guard_every
            self._drift_from = self._guard_from if same else state._cursor()
        self._next_guard = self.guard_every if self.engine is not None else _NEVER
        self._next_drift = self.drift_every if self.drift is not None else _NEVER
        self._next_checkpoint = _NEVER if self.state._every else self.checkpoint_every
        self.trimmer = None
        dedupe = self._resuming and self.options.deduplicate_continuation
        self._trim_prefix = prefix if dedupe else ""

    def feed_for(self, translator: Translator) -> Callable[[Any], str | None] | None:
        """The overlap trimmer's feed until it has decided, else None (feed directly)."""
        trimmer = self.trimmer
        if trimmer is None and self._trim_prefix:
            trimmer = self.trimmer = OverlapTrimmer(self._trim_prefix, translator.feed)
            self._trim_prefix = ""
        if trimmer is not None and not trimmer.done:
            return trimmer.feed
        return None

    def resume_point(self, verdict: str) -> tuple[int, int]:
        """Where the next attempt starts: (characters kept, tokens kept)."""
        state = self.state
        self._resuming = False
        if not self.options.continue_from_last_good_token or not state.checkpoint_length:
            return 0, 0
        checkpoint = state.checkpoint
        if not self._checkpoint_is_valid(checkpoint):
            state.checkpoint_length = state.checkpoint_token_count = 0
            return 0, 0
        self._resuming = True
        self._resume_started = time.monotonic()
        state.resumed = True
        state.resume_point = checkpoint
        state.resume_from = len(checkpoint)
        if self.tel.enabled:
            self.tel.emit(
                T.RESUME_START,
                checkpoint=checkpoint,
                checkpoint_length=len(checkpoint),
                state_hash=_hash(checkpoint),
                token_count=state.checkpoint_token_count,
                reason=verdict,
            )
        return len(checkpoint), state.checkpoint_token_count

    def continuation_prompt(self) -> str | None:
        build = self.options.build_continuation_prompt
        return build(self.state.checkpoint) if build is not None else None

    def attempt_ended(self, success: bool, tokens: int) -> None:
        """The attempt that delivered `tokens` ended."""
        every = self.state._every
        if every:
            self.checkpoints += tokens // every  # the checkpoints found on read
        if self._resume_started is None:
            return
        checkpoint = self.state.resume_point
        self.tel.emit(
            T.RESUME_END,
            checkpoint=checkpoint,
            checkpoint_length=self.state.resume_from,
            state_hash=_hash(checkpoint),
            duration_ms=int((time.monotonic() - self._resume_started) * 1000),
            success=success,
            overlap_removed=self.trimmer.removed if self.trimmer is not None else 0,
        )
        self._resume_started = None

    def _checkpoint_is_valid(self, checkpoint: str) -> bool:
        # Any failing rule disqualifies it: resuming would re-deliver the faulty text.
        if self.engine is not None and not self.engine.validate(checkpoint).passed:
            return False
        return self.drift is None or not self.drift.validate(checkpoint).detected

    # --------------------------------------------------------------- streaming

    def run(self, n: int, text: str) -> int:
        """Run what is due at attempt token `n` (`text`, just appended to the state and not
        yet delivered); return the token count of the next due check.

        Raises `L0Error` for a violation or drift that stops the attempt, after taking the
        token back out of the state: the consumer never receives it, so the state must not
        hold it either. A checkpoint is only taken after the checks due at the same token
        passed.
        """
        try:
            delta = None
            if n >= self._next_guard:
                self._next_guard = n + self.guard_every
                # Usually the engine holds the delta back and no rule runs (see `hold`).
                engine = self.engine
                assert engine is not None
                delta = self.state._since(self._guard_from)
                if not engine.hold(delta):
                    self._check_guard(delta, completed=False)
            if n >= self._next_drift:
                self._next_drift = n + self.drift_every
                self._check_drift(self._drift_delta(delta), completed=False)
        except L0Error:
            state = self.state
            state._rewind(state.content_length - len(text), state.token_count - 1)
            raise
        if n >= self._next_checkpoint:
            self._next_checkpoint = n + self.checkpoint_every
            self._save_checkpoint()
        if self._checkpoint_marks:
            return min(self._next_guard, self._next_drift, self._next_checkpoint)
        return min(self._next_guard, self._next_drift)

    def _drift_delta(self, guard_delta: str | None) -> str:
        """Drift's delta: the guardrails' when they just read it through the same cursor."""
        if guard_delta is not None and self._drift_from is self._guard_from:
            return guard_delta
        return self.state._since(self._drift_from)

    def _check_drift(self, delta: str, completed: bool) -> None:
        drift = self.drift
        assert drift is not None
        found = drift.check(delta, completed)
        if found.detected:
            self._take_drift(found)

    def _save_checkpoint(self) -> None:
        state = self.state
        # The fields, not the properties: this runs at every checkpoint mark.
        length = state._checkpoint_length = state.content_length
        tokens = state._checkpoint_tokens = state.token_count
        self.checkpoints += 1
        if self._announce_checkpoints:
            self.tel.emit(
                T.CHECKPOINT_SAVED,
                checkpoint=state._prefix(length),
                checkpoint_length=length,
                token_count=tokens,
            )

    def complete(self) -> None:
        """Checks that run once, when the provider stream ended."""
        delta = None
        if self.engine is not None:
            delta = self.state._since(self._guard_from)
            self._check_guard(delta, completed=True)
        if self.drift is not None:
            self._check_drift(self._drift_delta(delta), completed=True)

    def _check_guard(self, delta: str, completed: bool) -> None:
        engine = self.engine
        assert engine is not None
        context = self._context
        context.renew(delta, self.state.token_count, completed)
        result = (engine.check_complete if completed else engine.check)(context)
        if result is not PASSED:
            self._take_guardrail_result(result)

    def _take_guardrail_result(self, result: GuardrailResult) -> None:
        self.state.violations.extend(result.violations)
        if result.should_halt:
            raise L0Error(_describe(result), ErrorCode.FATAL_GUARDRAIL_VIOLATION)
        if result.should_retry:
            raise L0Error(_describe(result), ErrorCode.GUARDRAIL_VIOLATION)

    def _take_drift(self, result: DriftResult) -> None:
        state = self.state
        state.drift_detected = True
        state.drift_types.extend(t for t in result.types if t not in state.drift_types)
        if getattr(self.options.drift, "retry", True):
            raise L0Error(f"drift detected: {', '.join(result.types)}", ErrorCode.DRIFT_DETECTED)


def _hash(checkpoint: str) -> Deferred:
    """The `state_hash` of a resume: SHA-256 of the checkpoint text, hex (built on read)."""
    return Deferred(lambda: hashlib.sha256(checkpoint.encode()).hexdigest())


def _describe(result: GuardrailResult) -> str:
    worst = result.violations[0] if result.violations else None
    if worst is None:
        return "guardrail violation"
    return f"guardrail {worst.rule}: {worst.message}"
