"""The detector: feeds a session's output to the screen and, when it may drift, the engine."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from ..events import ObservabilityEventType as T
from ..guardrails.streamtext import TailMatcher, tokens_with_carry
from .engine import START, Engine, Position
from .lexicon import META, META_WINDOW
from .measures import GRAM
from .screen import Screen
from .types import DRIFT_TYPES, QUIET, DriftConfig, DriftResult
from .units import cut_units

if TYPE_CHECKING:
    from ..telemetry.facade import Telemetry
    from ..types import State

__all__ = ["DriftDetector"]

_History = deque[tuple[Position, list[str]]]
_BATCH_BLOCKS = 3  # blocks pending before they are judged: detection lags up to 4 blocks
_QUIET_BATCHES = 2  # the engine stays on for this many batches the screen finds quiet


class DriftDetector:
    """Sliding-window drift detection for one session (see the module docstring)."""

    def __init__(
        self,
        config: DriftConfig | None = None,
        telemetry: Telemetry | None = None,
        *,
        state: State | None = None,
    ):
        self.config = config or DriftConfig.default()
        self.telemetry = telemetry
        self.state = state
        """The session's state, for the checkpoint and token count of DRIFT_CHECK_START."""
        self._block_size = self.config.window // self.config.blocks
        self._batch = self._block_size * _BATCH_BLOCKS
        self._begin()

    # ------------------------------------------------------------ attempts

    def reset(self, prefix: str = "") -> None:
        """Start a new attempt. A resumed attempt passes its checkpoint as `prefix`: its
        end is fed as history (nothing reported), so the window continues from it."""
        if not (prefix or self._judged or self._pending or self._ended):
            return  # nothing fed since the detector was made or reset: already a new attempt
        self._begin()
        if prefix:
            self._reported += tuple(self._prime(prefix))

    def _begin(self) -> None:
        """The state of a new attempt. What judging needs is made by the first batch
        (`_start`): a reply shorter than one batch never judges, and an open session
        keeps its detector."""
        self._ended = False  # a check was marked completed
        self._pending = ""  # text not judged yet (less than a batch)
        self._meta_from = 0  # where in `_pending` the text not fed to `_meta` begins
        self._judged = 0  # characters judged
        self._json_doc: bool | None = None
        self._metrics: dict[str, float] = {}
        self._screen: Screen | None = None
        self._engine: Engine | None = None
        self._quiet = 0
        # Enough to replay the window: batches, each with the position where it began.
        self._history: _History | None = None
        self._history_blocks = 0
        self._meta: TailMatcher | None = None  # while looking for meta commentary
        self._reported: tuple[str, ...] = ()  # drift types reported (a few at most)

    def _start(self) -> None:
        """What judging needs, made by the first batch (see `_begin`)."""
        self._screen = Screen(self.config)
        self._history = deque()
        if self.config.meta_commentary:
            self._meta = TailMatcher(META, META_WINDOW)

    def _prime(self, text: str) -> dict[str, float]:
        """Feed (the end of) `text` as history; return what it would have detected."""
        keep = 2 * self.config.window
        if len(text) > keep:
            self._json_doc = False  # mid-document: string state unknown, skip format drift
            text = text[-keep:]
        self._engine = Engine(self.config, self._metrics, self._json_doc)
        self._pending = text
        return self._drain(final=False) or {}

    # -------------------------------------------------------------- checks

    def check(self, delta: str, completed: bool = False) -> DriftResult:
        """Feed the text added since the previous check; report drift types first seen now.

        A check that finds nothing new returns a shared, read-only quiet result.
        """
        tel = self.telemetry
        if tel is not None and tel.detailed:
            return self._check_observed(tel, delta, completed)
        found = self._feed(delta, completed)
        if found is None:
            return QUIET
        result = self._new_result(found)
        if tel is not None and result.detected:
            self._report(tel, result)
        return result

    def _check_observed(self, tel: Telemetry, delta: str, completed: bool) -> DriftResult:
        """`check` with DRIFT_CHECK_START / _END around it, and a DRIFT_CHECK_RESULT for a
        quiet check too (detailed telemetry: someone reads every check)."""
        started = time.perf_counter()
        state = self.state
        tel.emit(
            T.DRIFT_CHECK_START,
            strategy="sliding_window",
            chars=self._judged + len(self._pending),
            completed=completed,
            token_count=state.token_count if state is not None else None,
            checkpoint=state._prefix(state.checkpoint_length) if state is not None else None,
        )
        found = self._feed(delta, completed)
        result = QUIET if found is None else self._new_result(found)
        if result.detected:
            self._report(tel, result)
        else:
            tel.emit(
                T.DRIFT_CHECK_RESULT,
                detected=False,
                types=[],
                score=0.0,
                metrics=self._details(),
                threshold=None,
            )
        tel.emit(
            T.DRIFT_CHECK_END,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            detected=result.detected,
        )
        return result

    def _report(self, tel: Telemetry, result: DriftResult) -> None:
        tel.emit(
            T.DRIFT_CHECK_RESULT,
            detected=True,
            types=result.types,
            score=result.confidence,
            metrics=result.details,
            threshold=self.config.threshold_of(result.types[0]),
        )

    def validate(self, text: str) -> DriftResult:
        """One-off check of a checkpoint (its last 2 windows), without reporting."""
        probe = DriftDetector(self.config)
        found = probe._prime(text)
        types = sorted(found, key=lambda t: (-found[t], DRIFT_TYPES.index(t)))
        confidence = max(found.values(), default=0.0)
        return DriftResult(bool(types), types, confidence, probe._details())

    def _new_result(self, found: dict[str, float]) -> DriftResult:
        new = {t: c for t, c in found.items() if t not in self._reported}
        if not new:
            return QUIET
        self._reported += tuple(new)
        types = sorted(new, key=lambda t: (-new[t], DRIFT_TYPES.index(t)))
        return DriftResult(True, types, max(new.values()), self._details())

    def _details(self) -> dict[str, float]:
        # Metrics are kept unrounded (rounding on every block would cost more than using them).
        return {name: round(value, 4) for name, value in self._metrics.items()}

    # ------------------------------------------------------------- feeding

    def _feed(self, delta: str, completed: bool) -> dict[str, float] | None:
        """Take a delta; judge the text pending once it makes a batch (or the output ended)."""
        self._pending += delta  # bounded by a batch: cheaper than a list to join
        if len(self._pending) < self._batch and not completed:
            return None
        return self._drain(completed)

    def _drain(self, final: bool) -> dict[str, float] | None:
        """Judge the text pending: meta commentary in all of it, and its complete blocks
        (with `final`, the partial last one too)."""
        self._ended = self._ended or final
        if self._screen is None:
            self._start()
        text = self._pending
        if self._json_doc is None and text.strip():
            self._json_doc = text.lstrip()[0] in "{["
            if self._engine is not None:
                self._engine.json_doc = self._json_doc
        found = None
        meta = self._meta
        if meta is not None and meta.feed(text[self._meta_from :], final):
            self._metrics["meta_commentary"] = 1.0
            self._meta = None  # reported once per attempt: no need to look any further
            found = {"meta_commentary": 0.9}
        size = self._block_size
        count = len(text) // size
        blocks = [text[i * size : (i + 1) * size] for i in range(count)]
        rest = text[count * size :]
        if final and rest:
            blocks.append(rest)
            rest = ""
        self._pending = rest
        self._meta_from = len(rest)
        self._judged += len(text) - len(rest)
        if not blocks:
            return found
        return _merge(found, self._judge(blocks, final and len(blocks[-1]) < size))

    def _judge(self, blocks: list[str], final: bool) -> dict[str, float] | None:
        """Screen the blocks; run the exact engine on them when drift is possible (and for a
        while after: entering costs a replay of the history)."""
        screen, history = self._screen, self._history
        assert screen is not None and history is not None  # made by `_drain` (`_start`)
        position = screen.position
        # A JSON document is always judged by the engine (format drift): no screen needed.
        possible = bool(self._json_doc) or screen.add(blocks, final)
        found = None
        if possible or self._engine is not None:
            engine = self._engine or self._replay(history)
            for index, text in enumerate(blocks):
                last = final and index == len(blocks) - 1
                found = _merge(found, engine.add(text, last, judge=True))
            self._quiet = 0 if possible else self._quiet + 1
            self._engine = None if self._quiet >= _QUIET_BATCHES else engine
        if not self._ended:  # a completed output is never replayed
            self._remember(history, position, blocks)
        return found

    def _remember(self, history: _History, position: Position, blocks: list[str]) -> None:
        """Keep the batch for replays: whole batches, each with its starting position,
        making at least a window (at most a batch more)."""
        keep = self.config.blocks
        if len(blocks) > keep:  # one large delta: only its end can be replayed
            position = _advance(position, blocks[:-keep])
            blocks = blocks[-keep:]
        history.append((position, blocks))
        self._history_blocks += len(blocks)
        while self._history_blocks - len(history[0][1]) >= keep:
            self._history_blocks -= len(history.popleft()[1])

    def _replay(self, history: _History) -> Engine:
        """An engine brought up to date from the kept history (the window before the new
        blocks), started where it began: the same as if it had run all along."""
        start = history[0][0] if history else START
        engine = Engine(self.config, self._metrics, self._json_doc, start)
        for _, blocks in history:
            for text in blocks:
                engine.add(text, final=False, judge=False)
        return engine


def _advance(position: Position, blocks: list[str]) -> Position:
    """The position after `blocks`, measured from `position`."""
    carry, last, previous, unit = position
    words = list(last)
    for text in blocks:
        found, carry = tokens_with_carry(carry + text, False)
        words = (words + found)[-(GRAM - 1) :]
        previous = text[-1:] or previous
    unit = cut_units(unit + "".join(blocks), 0, final=False)[1]
    return carry, tuple(words), previous, unit


def _merge(
    found: dict[str, float] | None, more: dict[str, float] | None
) -> dict[str, float] | None:
    """`found` updated with `more` (later verdicts replace earlier ones), either may be None."""
    if more is None:
        return found
    if found is None:
        return more
    found.update(more)
    return found
