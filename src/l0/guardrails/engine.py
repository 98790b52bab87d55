"""The guardrail engine: runs a session's rules, one attempt at a time.

Per attempt the engine holds a fresh stateful checker for every streaming rule that has
one (`rule.incremental`), so a streaming check costs O(delta) for built-in rules. It
reports each distinct violation (rule, message) once per attempt, isolates rules that
raise, and tells the telemetry facade what happened. It never rewrites output.

Streaming checks run every few tokens, so their fixed cost matters as much as the rules':
a checker that states a `wake` (every built-in one but the stall rule's) is fed the text
directly while streaming (no per-rule context or list when nothing is found) and called
with the context only at completion, and a check that finds nothing new returns one
shared, read-only passing result.
Most checks on prose reach no rule at all: the built-in checkers' wakes make one screen
(`l0.guardrails.screen`), and a delta it finds quiet is held until one is not (or until
`_MAX_HELD` characters wait, or the attempt completes), then released to them in one piece
through `feed_screened` (the screen found none of their anchors in it).

Call protocol (what the runtime does):
- `reset(prefix)` when an attempt starts; `prefix` is the checkpoint it resumes from.
- `hold(delta)` while streaming, `delta` = the text added since the previous check: True
  when it was held back (nothing to check now); otherwise `check(ctx)` with it as `ctx.delta`.
  (`check` alone does the same, at the cost of building the context every time.)
- `check_complete(ctx)` once at the end, `ctx.delta` = the text not yet checked.
- `validate(text)` to vet a checkpoint before resuming from it (no side effects).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..events import ObservabilityEventType as T
from .checker import StreamChecker
from .screen import Screen, screen_for
from .types import (
    PASSED,
    Checker,
    GuardrailContext,
    GuardrailResult,
    GuardrailRule,
    GuardrailViolation,
)

if TYPE_CHECKING:
    from ..telemetry.facade import Telemetry

__all__ = ["GuardrailEngine", "create_guardrail_engine"]

logger = logging.getLogger("l0.guardrails")

_Deliver = Callable[[GuardrailResult], None]
_Plan = list[tuple[int, GuardrailRule, Checker, StreamChecker | None]]
_MAX_HELD = 4096  # held characters that force a release: bounds the memory held
_rule_runs = itertools.count(1)  # callback ids: one per observed rule run, process-wide
_RAISED: list[GuardrailViolation] = []  # what `_call` returns for a rule that raised (shared)


class GuardrailEngine:
    """Runs guardrail rules over one session's output (see the module docstring)."""

    def __init__(self, rules: Sequence[GuardrailRule], telemetry: Telemetry | None = None):
        for i, rule in enumerate(rules):
            if not isinstance(rule, GuardrailRule):
                raise TypeError(f"rules[{i}] is not a GuardrailRule: {rule!r}")
        self.rules: tuple[GuardrailRule, ...] = tuple(rules)
        self.telemetry = telemetry
        # An open session keeps its engine: containers that most sessions never fill
        # (queued checks, held text) are made when first needed.
        self._plan: _Plan = []  # the streaming rules, each with its checker (see _set_plan)
        self._always = False  # a checker in the plan needs every delta at once
        self._reported: dict[tuple[str | int, str], GuardrailViolation | None] = {}
        """What this attempt reported, in order: each violation by (rule name, message),
        None for those of a resumed attempt's prefix (`reset`) and for a rule that raised,
        by (rule index, error). A dict as an ordered set: while empty, as in most
        attempts, the garbage collector does not even track it."""
        self._deferred: deque[tuple[GuardrailContext, _Deliver]] | None = None
        self._held: list[str] | None = None
        self._held_chars = 0
        self._screen: Screen | None = None
        self._unquiet: str | None = None  # what `hold` just screened and let through
        self.anchored = True
        """Whether the last delta the screen let through (`hold`, a check) may hold one of
        its anchors. False: only a character of a wake woke it (or too much held text), so
        the delta is released with the held text, marked screened."""
        self._new_attempt()

    # ------------------------------------------------------------ attempts

    def reset(self, prefix: str = "") -> None:
        """Start a new attempt: fresh checkers, no violations seen.

        A resumed attempt passes its checkpoint as `prefix`: it is fed to the incremental
        checkers as their first delta (without reporting: it was checked when it streamed),
        and later deltas continue it. Deferred checks of the old attempt are run first.
        """
        self.run_deferred()
        if self._fresh and not prefix and not self._held:
            return  # nothing checked since the engine was made or reset: already a new attempt
        self._new_attempt()
        if prefix:
            primer = GuardrailContext(prefix, False, prefix)
            for index, rule, checker, _ in list(self._plan):
                if rule.incremental is not None:  # a stateless check has no state to prime
                    for violation in self._call(index, checker, primer, "stream", report=False):
                        self._reported[violation.rule, violation.message] = None

    def _new_attempt(self) -> None:
        self._fresh = True
        self._held = None
        self._held_chars = 0
        self._screen = None
        self._reported = {}
        plan: _Plan = []
        for index, rule in enumerate(self.rules):
            if not rule.streaming:
                continue
            checker = rule.check
            if rule.incremental is not None:
                try:
                    checker = rule.incremental()
                except Exception:
                    logger.debug(
                        "guardrail %r failed to build its checker", rule.name, exc_info=True
                    )
                    continue
            plan.append((index, rule, checker, _fed_text(checker)))
        self._set_plan(plan)

    def _set_plan(self, plan: _Plan) -> None:
        """The streaming plan: each step's last item is its checker when that states a
        `wake`, to be fed text straight, held back or not (see `_fed_text`); None for a
        checker called with the context, delta by delta."""
        self._plan = plan
        self._always = any(stream is None for _, _, _, stream in plan)

    @property
    def violations(self) -> list[GuardrailViolation]:
        """Distinct violations reported in the current attempt, in order."""
        return [v for v in self._reported.values() if v is not None]

    # -------------------------------------------------------------- checks

    def hold(self, delta: str) -> bool:
        """Hold `delta` back if no checker needs it now (see the call protocol)."""
        if self._always or self._deferred:
            return False
        if self._waits(delta):
            return True
        self._unquiet = delta  # `check` must not screen it again: the screen saw it
        return False

    def check(self, ctx: GuardrailContext) -> GuardrailResult:
        """Streaming check of the rules with `streaming=True`; only new violations return."""
        if self._deferred:
            self.run_deferred()
        return self._stream(ctx)

    def check_complete(self, ctx: GuardrailContext) -> GuardrailResult:
        """The completion check: every rule, with `ctx.completed` forced to True.

        Streaming rules get their last delta through their incremental checker; rules with
        `streaming=False` run their stateless `check` (they may read `ctx.content`).
        """
        self.run_deferred()
        if not ctx.completed:
            ctx = ctx.completed_copy()
        self._fresh = False
        held = self._flush()
        plan = self._plan + [
            (i, r, r.check, None) for i, r in enumerate(self.rules) if not r.streaming
        ]
        plan.sort(key=lambda step: step[0])
        return _after(held, self._run(plan, ctx, "post"))

    def validate(self, text: str) -> GuardrailResult:
        """Check a checkpoint before resuming from it, with fresh checkers and no reporting.

        Only streaming rules run, as on partial output (a checkpoint is not a complete
        answer: its JSON may still be open). All distinct violations found are returned.
        """
        ctx = GuardrailContext(text, False, text)
        found: dict[tuple[str, str], GuardrailViolation] = {}
        for rule in self.rules:
            if not rule.streaming:
                continue
            try:
                checker = rule.incremental() if rule.incremental is not None else rule.check
                violations = checker(ctx) or []
            except Exception:
                logger.debug("guardrail %r raised while validating", rule.name, exc_info=True)
                continue
            for violation in violations:
                found.setdefault((violation.rule, violation.message), violation)
        return GuardrailResult.from_violations(list(found.values()))

    # ------------------------------------------------- deferred (async) checks

    def defer(self, ctx: GuardrailContext, deliver: _Deliver) -> None:
        """Queue a check to run later (`run_deferred`), keeping checks in stream order."""
        self._fresh = False
        if self._deferred is None:
            self._deferred = deque()  # made on first use: only a large delta is deferred
        self._deferred.append((ctx, deliver))

    def run_deferred(self) -> None:
        """Run queued checks in order and deliver each result; any later check waits for them."""
        while self._deferred:
            ctx, deliver = self._deferred.popleft()
            deliver(self._stream(ctx))

    # ------------------------------------------------------------ internals

    def _stream(self, ctx: GuardrailContext) -> GuardrailResult:
        """A streaming check: `_run` over the stream plan, with the fast path inlined."""
        self._fresh = False
        tel = self.telemetry
        if ctx.completed or (tel is not None and tel.detailed):
            return _after(self._flush(), self._run(self._plan, ctx, "stream"))
        delta = ctx.delta
        unquiet, self._unquiet = self._unquiet is delta, None
        if not unquiet and self._waits(delta):
            # Held back from every checker with a wake; the others get the context now.
            return self._feed_plan(self._plan, ctx, "") if self._always else PASSED
        if not self.anchored:  # only a character woke the screen: delta is screened too
            self._keep(delta)
            delta = ""
        held = self._flush()
        result = _after(held, self._feed_plan(self._plan, ctx, delta))
        self._rescreen()
        return result

    def _waits(self, delta: str) -> bool:
        """Screen `delta` and hold it back if no checker needs it now (True). Otherwise
        `anchored` says whether an anchor may end in it. The screen sees every delta it
        can (its carry must follow the text), even one that too much held text releases."""
        screen = self._screen
        if screen is None:
            self.anchored = True
            return False
        if not delta:
            return True
        if screen.sees(delta):
            self.anchored = screen.anchored
            return False
        self.anchored = False
        if self._held_chars > _MAX_HELD:
            return False
        self._keep(delta)
        return True

    def _keep(self, delta: str) -> None:
        if self._held is None:
            self._held = []  # made on first use, dropped at each release
        self._held.append(delta)
        self._held_chars += len(delta)

    def _feed_plan(
        self, plan: _Plan, ctx: GuardrailContext, text: str, screened: bool = False
    ) -> GuardrailResult:
        """Run `plan`: built-in checkers are fed `text` (none if it is empty), the others
        called with `ctx`. `screened`: `text` is held-back text, for the checkers it was
        held from only."""
        new: list[GuardrailViolation] | None = None
        for index, rule, checker, stream in plan:
            try:
                if stream is None:
                    if screened:
                        continue
                    found = checker(ctx)
                elif not text:
                    continue
                elif screened:
                    found = stream.feed_screened(text)
                else:
                    found = stream.feed(text)
            except Exception as exc:
                self._failed(index, exc, "stream", True)
                continue
            if found:
                admitted = self._admit(index, rule, _valid(found), "stream")
                if admitted:
                    new = admitted if new is None else new + admitted
        return PASSED if new is None else GuardrailResult.from_violations(new)

    def _flush(self) -> list[GuardrailViolation]:
        """Feed the held text, in one piece, to the checkers it was held from (before any
        other text), telling them the screen found nothing of their wakes in it."""
        if not self._held:
            return []
        text = "".join(self._held)
        self._held = None
        self._held_chars = 0
        result = self._feed_plan(self._plan, GuardrailContext(), text, screened=True)
        return list(result.violations)

    def _rescreen(self) -> None:
        """The screen for the checkers' wakes now (they change as a checker's state does)."""
        wakes = [stream.wake for _, _, _, stream in self._plan if stream is not None]
        if wakes:
            self._screen = screen_for(wakes, self._screen)

    def _run(self, plan: _Plan, ctx: GuardrailContext, phase: str) -> GuardrailResult:
        tel = self.telemetry
        if tel is not None and (tel.detailed or (phase == "post" and tel.enabled)):
            return self._run_observed(tel, plan, ctx, phase)
        new: list[GuardrailViolation] = []
        for index, rule, checker, _ in plan:
            found = self._call(index, checker, ctx, phase)
            if found:
                new.extend(self._admit(index, rule, found, phase))
        return GuardrailResult.from_violations(new) if new else PASSED

    def _run_observed(
        self, tel: Telemetry, plan: _Plan, ctx: GuardrailContext, phase: str
    ) -> GuardrailResult:
        """`_run` with phase events; with detailed telemetry also per-rule events, a
        GUARDRAIL_RULE_RESULT for a passing rule too, under one `callback_id` per rule run."""
        detailed = tel.detailed
        started = time.perf_counter()
        tel.emit(T.GUARDRAIL_PHASE_START, phase=phase, rule_count=len(plan))
        new: list[GuardrailViolation] = []
        for index, rule, checker, _ in plan:
            if not detailed:
                new.extend(self._admit(index, rule, self._call(index, checker, ctx, phase), phase))
                continue
            rule_started = time.perf_counter()
            run = f"guardrail-rule-{next(_rule_runs)}"
            tel.emit(
                T.GUARDRAIL_RULE_START, index=index, rule_id=rule.name, callback_id=run, phase=phase
            )
            found = self._call(index, checker, ctx, phase)
            admitted = self._admit(index, rule, found, phase, run)
            new.extend(admitted)
            if not admitted and found is not _RAISED:  # `_failed` reported a raising rule
                tel.emit(
                    T.GUARDRAIL_RULE_RESULT,
                    index=index,
                    rule_id=rule.name,
                    passed=not found,
                    violation=None,
                    callback_id=run,
                    phase=phase,
                )
            tel.emit(
                T.GUARDRAIL_RULE_END,
                index=index,
                rule_id=rule.name,
                passed=all(v.severity == "warning" for v in admitted),
                callback_id=run,
                duration_ms=_ms_since(rule_started),
                phase=phase,
            )
        result = GuardrailResult.from_violations(new)
        tel.emit(
            T.GUARDRAIL_PHASE_END,
            phase=phase,
            passed=result.passed,
            violations=len(new),
            duration_ms=_ms_since(started),
        )
        return result

    def _admit(
        self,
        index: int,
        rule: GuardrailRule,
        found: list[GuardrailViolation],
        phase: str,
        run: str | None = None,
    ) -> list[GuardrailViolation]:
        """Keep the violations not yet seen this attempt; record and report them."""
        new = []
        reported = self._reported
        for violation in found:
            key = (violation.rule, violation.message)
            if key in reported:
                continue
            reported[key] = violation
            new.append(violation)
            self._report(index, rule, violation, phase, run)
        return new

    def _call(
        self, index: int, checker: Checker, ctx: GuardrailContext, phase: str, report: bool = True
    ) -> list[GuardrailViolation]:
        """Run one checker; a checker that raises is the rule's own bug, never a violation."""
        try:
            found = checker(ctx)
        except Exception as exc:
            self._failed(index, exc, phase, report)
            return _RAISED
        return _valid(found) if found else []

    def _failed(self, index: int, exc: Exception, phase: str, report: bool) -> None:
        """Log and report a rule that raised; an incremental checker is dropped for the
        rest of the attempt (its state can no longer be trusted)."""
        rule = self.rules[index]
        logger.debug("guardrail rule %r raised", rule.name, exc_info=exc)
        if rule.incremental is not None:
            self._set_plan([step for step in self._plan if step[0] != index])
        error = f"{type(exc).__name__}: {exc}"
        if not report or (index, error) in self._reported:
            return
        self._reported[index, error] = None
        if self.telemetry is not None:
            self.telemetry.emit(
                T.GUARDRAIL_RULE_RESULT,
                index=index,
                rule_id=rule.name,
                passed=True,
                violation=None,
                error=error,
                phase=phase,
            )

    def _report(
        self,
        index: int,
        rule: GuardrailRule,
        violation: GuardrailViolation,
        phase: str,
        run: str | None,
    ) -> None:
        if self.telemetry is not None:
            self.telemetry.emit(
                T.GUARDRAIL_RULE_RESULT,
                index=index,
                rule_id=rule.name,
                passed=False,
                violation=violation,
                severity=violation.severity,
                recoverable=violation.recoverable,
                callback_id=run,
                phase=phase,
            )


def _fed_text(checker: Checker) -> StreamChecker | None:
    """The checker, if it may be fed text directly and handed held-back text: a
    `StreamChecker` that states a `wake`, its promise that while streaming only the text
    matters to it (see `StreamChecker.wake`)."""
    if isinstance(checker, StreamChecker) and type(checker).wake is not StreamChecker.wake:
        return checker
    return None


def _after(held: list[GuardrailViolation], result: GuardrailResult) -> GuardrailResult:
    """`result` after the violations the held text brought (found when it was flushed)."""
    return GuardrailResult.from_violations(held + result.violations) if held else result


def _valid(found: list[GuardrailViolation]) -> list[GuardrailViolation]:
    """What a checker returned, minus anything that is not a violation."""
    return [v for v in found if isinstance(v, GuardrailViolation)]


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def create_guardrail_engine(
    rules: Sequence[GuardrailRule], telemetry: Telemetry | None = None
) -> GuardrailEngine:
    """Build an engine for `rules` (the seeds' functional spelling of `GuardrailEngine`)."""
    return GuardrailEngine(rules, telemetry)
