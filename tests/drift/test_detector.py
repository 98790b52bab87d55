"""Drift detection: clear positives, no false positives on ordinary text, chunk-invariance,
bounded memory, reporting once per attempt, telemetry."""

from __future__ import annotations

import random

import pytest

from l0.drift import DRIFT_TYPES, DriftConfig, DriftDetector, DriftResult
from l0.testing import prose_chunks

from .texts import NEGATIVES, POSITIVES, PROSE, T, run, telemetry


@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_no_drift_in_ordinary_text(name: str) -> None:
    assert run(NEGATIVES[name]) == []


@pytest.mark.parametrize("drift_type", sorted(POSITIVES))
def test_each_detector_finds_its_clear_case(drift_type: str) -> None:
    assert drift_type in run(POSITIVES[drift_type])


@pytest.mark.parametrize("drift_type", sorted(POSITIVES))
def test_each_detector_can_be_switched_off(drift_type: str) -> None:
    option = "entropy" if drift_type == "entropy_spike" else drift_type
    assert drift_type not in run(POSITIVES[drift_type], config=DriftConfig(**{option: False}))


@pytest.mark.parametrize("drift_type", sorted(POSITIVES))
def test_detection_does_not_depend_on_chunking(drift_type: str) -> None:
    text = POSITIVES[drift_type]
    verdicts = {frozenset(run(text, step)) for step in (1, 3, 40, 250, len(text))}
    rng = random.Random(1)
    detector = DriftDetector()
    found: list[str] = []
    i = 0
    while i < len(text):
        n = rng.randint(1, 30)
        found += detector.check(text[i : i + n]).types
        i += n
    found += detector.check("", completed=True).types
    verdicts.add(frozenset(found))
    assert len(verdicts) == 1, verdicts


def test_each_type_is_reported_once_per_attempt_and_reset_clears() -> None:
    detector = DriftDetector()
    first = detector.check(PROSE[:600] + " As an AI, I apologize.")  # a batch: judged now
    assert first.detected and first.types == ["meta_commentary"]
    assert 0 < first.confidence <= 1 and first.details["meta_commentary"] == 1.0
    assert not detector.check(" As an AI again. " + PROSE[600:1300]).detected
    detector.reset()
    assert detector.check("As an AI, hello.", completed=True).types == ["meta_commentary"]


def test_meta_commentary_is_found_within_a_batch_of_its_end_wherever_it_falls() -> None:
    # Looked for once per batch (the text pending when blocks are judged): a phrase split
    # across deltas or batches is still found, at most a batch (and a delta) after the
    # character that ends it, and never before that character arrived.
    phrase = "As an AI language model, "
    rng = random.Random(3)
    batch = DriftDetector()._batch
    for at in [i for i in range(500, 1900) if PROSE[i - 1] == " "][::3]:
        text = PROSE[:at] + phrase + PROSE[at:]
        end = at + len("As an AI")  # where the first match ends
        detector, fed, found_at = DriftDetector(), 0, None
        while found_at is None and fed < len(text):
            delta = text[fed : fed + rng.randint(1, 30)]
            fed += len(delta)
            found_at = fed if detector.check(delta).detected else None
        if found_at is None and detector.check("", completed=True).detected:
            found_at = fed
        assert found_at is not None, at
        assert end + 1 <= found_at <= end + 1 + batch + 30, (at, found_at)


def test_reset_with_prefix_does_not_report_drift_inside_the_prefix() -> None:
    detector = DriftDetector()
    detector.reset("Hello. As an AI, I will answer. ")
    assert not detector.check("The answer is forty-two, as expected.", completed=True).detected


def test_validate_looks_at_a_checkpoint_without_touching_the_detector() -> None:
    tel, sink = telemetry()
    detector = DriftDetector(telemetry=tel)
    detector.check(PROSE[:100])
    assert not detector.validate(PROSE).detected
    looping = detector.validate(PROSE + "I will keep going with this. " * 40)
    assert looping.detected and looping.types == ["repetition"]
    assert looping.details["repetition.max_sentence_count"] >= 3
    assert sink.events == []
    assert detector.check(" As an AI.", completed=True).types == ["meta_commentary"]


def test_format_drift_is_skipped_for_a_long_checkpoint_tail() -> None:
    # Mid-document the JSON string state is unknown, so format drift cannot be judged.
    long_json = '{"items": [' + ", ".join(f'"item {n}"' for n in range(600)) + "], "
    assert not DriftDetector().validate(long_json + '"note": "fine"}').detected


def test_memory_and_work_stay_bounded_on_long_output() -> None:
    detector = DriftDetector()
    config = detector.config
    text = NEGATIVES["mixed"] * 50
    for i in range(0, len(text), 9):
        detector.check(text[i : i + 9])
    assert sum(len(text) for _, blocks in detector._history for text in blocks) <= 2 * config.window
    assert len(detector._pending) < detector._batch <= config.window
    screen = detector._screen
    assert len(screen._texts) < 2 * config.blocks and len(screen._words) <= 2 * config.blocks
    assert sum(map(len, screen._grams)) <= 2 * config.window
    assert sum(len(units.cut) for units in screen._units) <= 4 * config.window
    assert len(screen._unit) <= 500
    assert len(screen._entropies) < config.blocks and len(screen._hints) < config.blocks
    engine = detector._engine
    if engine is not None:
        assert len(engine.window.blocks) == config.blocks
        assert sum(len(b.text) for b in engine.window.blocks) <= config.window


def test_the_judging_state_is_made_by_the_first_batch_and_renewed_by_reset() -> None:
    # An open session keeps its detector: a reply shorter than one batch (most short
    # answers, until they end) judges nothing, so it holds no screen, history or matcher.
    detector = DriftDetector()
    batch = detector._batch
    detector.reset()  # the runtime resets at each attempt start: nothing to redo yet
    assert not detector.check(PROSE[: batch - 1]).detected
    assert (detector._screen, detector._history, detector._meta) == (None, None, None)
    detector.check(PROSE[batch - 1 : batch])
    screen = detector._screen
    assert screen is not None and detector._history and detector._meta is not None
    detector.reset()
    assert (detector._screen, detector._history, detector._pending) == (None, None, "")
    detector.check("Some text. ", completed=True)  # the end judges a short reply
    assert detector._screen is not None and detector._screen is not screen


def test_telemetry_reports_detections_once_and_details_when_detailed() -> None:
    tel, sink = telemetry(detailed=False)
    detector = DriftDetector(telemetry=tel)
    detector.check("Fine text. ")
    assert sink.events == []
    detector.check("As an AI, I apologize.")
    detector.check(" As an AI.", completed=True)
    (event,) = sink.events
    assert event.type is T.DRIFT_CHECK_RESULT
    assert event.data["detected"] is True and event.data["types"] == ["meta_commentary"]
    assert event.data["score"] == 0.9 and event.data["threshold"] == 1.0
    assert event.data["metrics"]["meta_commentary"] == 1.0

    tel, sink = telemetry(detailed=True)
    detector = DriftDetector(telemetry=tel)
    detector.check("Fine text. ")
    # Detailed: a quiet check is reported too (an on_event handler reads every check).
    types = [e.type for e in sink.events]
    assert types == [T.DRIFT_CHECK_START, T.DRIFT_CHECK_RESULT, T.DRIFT_CHECK_END]
    quiet = sink.events[1].data
    assert (quiet["detected"], quiet["types"], quiet["score"]) == (False, [], 0.0)
    assert sink.events[2].data["duration_ms"] >= 0 and sink.events[2].data["detected"] is False


def test_config_validation_and_thresholds() -> None:
    with pytest.raises(ValueError):
        DriftConfig(window=10)
    with pytest.raises(ValueError):
        DriftConfig(hedging_threshold=0)
    with pytest.raises(ValueError):
        DriftConfig(blocks=2)
    config = DriftConfig()
    assert all(config.threshold_of(t) > 0 for t in DRIFT_TYPES)
    assert config.retry is True
    # `drift=True` and `drift_rule()` share one default instance: it is frozen.
    assert DriftConfig.default() == config and DriftConfig.default() is DriftConfig.default()


def test_quiet_result_shape() -> None:
    result = DriftDetector().check("hello")
    assert result == DriftResult(False, [], 0.0, {})


def test_quiet_results_are_shared_and_read_only() -> None:
    detector = DriftDetector()
    first, second = detector.check("Hello. "), detector.check("World. ")
    assert first is second and not first.detected
    with pytest.raises(TypeError):
        first.types.append("repetition")
    with pytest.raises(TypeError):
        first.details["x"] = 1.0


def test_no_false_positives_on_long_generated_prose() -> None:
    from l0.guardrails import GuardrailContext, GuardrailEngine, Guardrails

    chunks = prose_chunks(20_000)
    assert chunks == prose_chunks(20_000)  # deterministic
    engine, detector = GuardrailEngine(Guardrails.recommended()), DriftDetector()
    for i in range(0, len(chunks), 5):
        delta = "".join(chunks[i : i + 5])
        assert engine.check(GuardrailContext("", False, delta)).violations == []
        if i % 10 == 5:
            assert not detector.check("".join(chunks[i - 5 : i + 5])).detected
    assert engine.check_complete(GuardrailContext("".join(chunks), True, "")).violations == []
    assert not detector.check("", completed=True).detected


def test_the_shared_quiet_result_cannot_be_changed() -> None:
    quiet = DriftDetector().check("A calm sentence about the weather.")
    assert not quiet.detected
    with pytest.raises(TypeError, match="read-only; copy it first"):
        quiet.types.append("repetition")
    with pytest.raises(TypeError, match="read-only"):
        quiet.details["repetition"] = 1.0
    assert quiet.types == [] and quiet.details == {}
    copy = list(quiet.types)
    copy.append("repetition")  # a copy is free to change
    assert copy == ["repetition"]


def test_an_ordinary_my_does_not_wake_the_meta_commentary_matcher() -> None:
    # Only a phrase's anchor makes the matcher scan its window (wake None); "my" alone, in
    # most chat answers, must not.
    from l0.drift.lexicon import META, META_WINDOW
    from l0.guardrails.streamtext import TailMatcher

    matcher = TailMatcher(META, META_WINDOW)
    assert matcher.wake is not None
    assert matcher.feed("In my view, the second option works better. ") == []
    assert matcher.wake is not None
    assert matcher.feed("Given my training data") == []
    assert matcher.wake is None  # a phrase may be completing
