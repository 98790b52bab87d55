"""Drift detection: clear positives, no false positives on ordinary text, chunk-invariance,
bounded memory, reporting once per attempt, telemetry."""

from __future__ import annotations

import random
from types import MappingProxyType
from typing import Any

import pytest

from l0.drift import DRIFT_TYPES, DriftConfig, DriftDetector, DriftResult
from l0.events import ObservabilityEvent, ObservabilityEventType
from l0.telemetry.facade import Telemetry

T = ObservabilityEventType

PROSE = (
    "The history of the printing press is, in many ways, the history of modern Europe. "
    "Before Johannes Gutenberg introduced movable metal type in the middle of the "
    "fifteenth century, books were copied by hand, usually by monks working in "
    "scriptoria attached to monasteries. A single Bible could take a scribe more than "
    "a year to finish, and the cost of such a volume placed it far beyond the reach of "
    "ordinary people.\n\nGutenberg's innovation was not a single invention but a "
    "combination of several. He developed a hand mould that could cast uniform pieces "
    "of type quickly, an oil-based ink that adhered well to metal, and a press adapted "
    "from the screw presses used to make wine and olive oil. Together these made it "
    "possible to produce hundreds of identical pages in a day. Within fifty years, "
    "printing shops had opened in more than two hundred cities across the continent.\n"
    "\nThe consequences were profound. Scholars could compare identical copies of a "
    "text, which encouraged the careful correction of errors and the growth of a "
    "shared scientific literature. Reformers such as Martin Luther used pamphlets to "
    "spread their arguments far faster than the authorities could suppress them. "
    "Vernacular languages gained prestige as printers discovered that books in German, "
    "French, or English sold better than those in Latin.\n\nHistorians still debate "
    "how much credit the press deserves for these changes. Some argue that literacy "
    "was already rising and that printing merely accelerated existing trends. Others "
    "point out that the new technology also spread misinformation, sensational "
    "stories, and crude propaganda. What is clear is that the way knowledge was "
    "stored, shared, and challenged changed permanently, and that many of the debates "
    "we now have about the internet echo those of the sixteenth century.\n\nIn the "
    "centuries that followed, improvements in paper making, steam power, and "
    "eventually rotary presses lowered costs even further. Newspapers became a daily "
    "habit for millions of readers by the nineteenth century. Each of these steps "
    "built on the basic idea that a text could be reproduced exactly, cheaply, and at "
    "scale, an idea that still shapes how we think about information today.\n"
)

MARKDOWN = (
    "## Installing the tool\n\nFollow these steps to get started:\n\n1. Install the "
    "package:\n\n   ```bash\n   pip install example-tool\n   ```\n\n2. Create a "
    "configuration file:\n\n```yaml\nname: demo\nretries: 3\n```\n\n3. Run the command "
    "below and check the output.\n\n| Option | Default | Description |\n| ------ | "
    "------- | ----------- |\n| `--verbose` | `false` | Print more details |\n| "
    "`--retries` | `3` | How many times to retry \\| or give up |\n\n### Notes\n\n- "
    "The tool reads `$HOME/.config/example` first.\n- Prices are shown in dollars, "
    "e.g. $5 or $10 per month.\n- Inline math like $x^2 + y^2 = z^2$ is rendered by "
    "the docs site.\n\n```python\ndef main() -> None:\n    for i in range(3):\n        "
    'print(f"attempt {i}")\n    if True:\n        print("done { not json")\n```\n\n'
    "That is all you need. The rest of this guide explains each option in detail, "
    "including how the retry logic interacts with the timeout settings, and what "
    "happens when the network is unavailable.\n"
)

JSON_DOC = (
    '{\n  "users": [\n    {"id": 1, "name": "Alice Johnson", "email": '
    '"alice@example.com", "active": true, "bio": "Loves hiking, photography and '
    'long walks on the beach. She writes about {braces} and \\"quotes\\"."},\n    '
    '{"id": 2, "name": "Bob Smith", "email": "bob@example.com", "active": '
    'false, "bio": null},\n    {"id": 3, "name": "Chen Wei \u9648\u4f1f", '
    '"email": "chen@example.com", "active": true, "bio": '
    '"\u6570\u636e\u5de5\u7a0b\u5e08\uff0c\u559c\u6b22\u5f00\u6e90\u3002 '
    '\ud83d\ude80"}\n  ],\n  "meta": {"count": 3, "next": null, "tags": '
    '["a", "b", "c"], "nested": {"deep": [[1, 2], [3, 4]]}}\n}'
)

CODE = (
    "import asyncio\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass Item:\n  "
    "  name: str\n    price: float\n\n\nasync def fetch(items: list[Item]) -> "
    'dict[str, float]:\n    """Return the prices keyed by name."""\n    result: '
    "dict[str, float] = {}\n    for item in items:\n        await asyncio.sleep(0)\n   "
    "     result[item.name] = item.price\n    return result\n\n\nif __name__ == "
    '"__main__":\n    data = [Item("a", 1.0), Item("b", 2.5), Item("c", '
    "3.75)]\n    print(asyncio.run(fetch(data)))\n"
)


GIBBERISH = "".join(
    random.Random(0).choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=%$#@")
    for _ in range(600)
)

POSITIVES = {
    "repetition": PROSE[:1500] + "I will keep going with this. " * 40,
    "tone_shift": PROSE[:1500]
    + "lol ok so yeah this is gonna be super cool dude!!! totally awesome stuff, kinda wild. " * 12,
    "meta_commentary": PROSE[:600] + " As an AI language model, I cannot say.",
    "hedging": PROSE[:1500]
    + "Perhaps it might be the case, I think, that maybe it is possibly true, probably. " * 12,
    "entropy_spike": PROSE[:1500] + GIBBERISH,
    "markdown_collapse": MARKDOWN[:900]
    + "\n\nNext steps: - **Install** the package and verify it. ## Usage - **Run** the "
    "command. 1. **Check** the logs. ### Notes the output is shown here without breaks " * 8,
    "format_drift": '{"name": "Alice", "tags": ["a", "b"], "active": true}\n\nI hope this '
    "helps! The data above describes the user, and you can extend it with more fields.",
}

NEGATIVES = {
    "prose": PROSE,
    "markdown": MARKDOWN,
    "json": JSON_DOC,
    "code": CODE,
    "mixed": PROSE + MARKDOWN + CODE,
}


class Sink:
    def __init__(self) -> None:
        self.events: list[ObservabilityEvent] = []

    def handle(self, event: ObservabilityEvent) -> None:
        self.events.append(event)


def telemetry(detailed: bool = False) -> tuple[Telemetry, Sink]:
    sink = Sink()
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    return Telemetry("session", empty, empty, [sink], detailed), sink


def run(text: str, step: int = 7, config: DriftConfig | None = None) -> list[str]:
    """Every drift type detected while streaming `text` in `step`-sized deltas."""
    detector = DriftDetector(config)
    found: list[str] = []
    for i in range(0, len(text), step):
        found += detector.check(text[i : i + step]).types
    found += detector.check("", completed=True).types
    return found


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
    first = detector.check(PROSE[:300] + " As an AI, I apologize.")
    assert first.detected and first.types == ["meta_commentary"]
    assert 0 < first.confidence <= 1 and first.details["meta_commentary"] == 1.0
    assert not detector.check(" As an AI again. " * 3).detected
    detector.reset()
    assert detector.check("As an AI, hello.").types == ["meta_commentary"]


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
    assert detector.check(" As an AI.").types == ["meta_commentary"]


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


def _long_sentences(seed: int, *tails: int) -> str:
    """Sentences with the same first 500 characters (all a unit's key keeps), then tails
    of these many words (all different)."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join("".join(rng.choices("bcdfghjklmnpqrstvwxz", k=6)) for _ in range(n))

    opening = words(80)
    return PROSE[:700] + "\n" + "".join(f"{opening} {words(n)}.\n" for n in tails) + PROSE[700:1500]


SCREENED = [
    *((text, None) for text in POSITIVES.values()),
    (NEGATIVES["mixed"] + POSITIVES["hedging"], None),
    (POSITIVES["tone_shift"] + PROSE + MARKDOWN + GIBBERISH + CODE, None),
    # Sentences over 500 characters: the first one began long before the window, or
    # before the history an engine is replayed from, or the last one ends long after
    # its first words.
    (_long_sentences(1, 900, 5), DriftConfig(sentence_repeat_threshold=2)),
    (_long_sentences(2, 300, 5, 5), None),
    (_long_sentences(3, 5, 5, 300), DriftConfig(window=4000, blocks=20)),
    ("Fine.\n" + " \n" * 600 + PROSE + "I will keep going with this. " * 5, None),
    # A loop without sentences; gibberish starting in each block of a batch.
    (PROSE[:1200] + "and then, " * 250, None),
    *((PROSE[:n] + GIBBERISH[:200] + PROSE[n:], None) for n in (1200, 1400, 1600)),
]


def _screened_and_engine_results(
    text: str, config: DriftConfig | None, sizes: tuple[int, int] = (1, 90)
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Per-check drift types as screened, and with the engine always on (the screen forced
    to "maybe")."""
    from l0.drift.screen import Screen

    def results() -> list[tuple[str, ...]]:
        detector, rng, found, i = DriftDetector(config), random.Random(2), [], 0
        while i < len(text):
            n = rng.randint(*sizes)
            found.append(tuple(detector.check(text[i : i + n]).types))
            i += n
        return [*found, tuple(detector.check("", completed=True).types)]

    screened = results()
    add = Screen.add
    try:
        Screen.add = lambda self, blocks, final: add(self, blocks, final) or True  # type: ignore[method-assign]
        return screened, results()
    finally:
        Screen.add = add  # type: ignore[method-assign]


@pytest.mark.parametrize(("text", "config"), SCREENED)
def test_screen_never_hides_what_the_engine_detects(text: str, config: DriftConfig | None) -> None:
    # The screen only skips work, and a replayed engine starts where the always-on one
    # would be (words, line, sentence in progress): the results are the same.
    screened, engine = _screened_and_engine_results(text, config)
    assert screened == engine


def test_screen_never_hides_what_the_engine_detects_on_random_mixes() -> None:
    pieces = [PROSE, MARKDOWN, CODE, GIBBERISH, JSON_DOC[:300], *POSITIVES.values()]
    pieces += [_long_sentences(4, 200, 5, 5), " \n" * 500, "and then, " * 100]
    configs = [None, DriftConfig(window=800, blocks=5), DriftConfig(sentence_repeat_threshold=2)]
    configs += [DriftConfig(entropy_threshold=0.3), DriftConfig(tone_shift_threshold=0.03)]
    rng = random.Random(7)
    for _ in range(150):
        text = "".join(rng.choice(pieces)[rng.randrange(200) :] for _ in range(rng.randint(2, 5)))
        sizes = rng.choice([(1, 20), (20, 90), (100, 2500)])
        screened, engine = _screened_and_engine_results(text, rng.choice(configs), sizes)
        assert screened == engine


def test_ordinary_text_does_not_wake_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lists and tables repeat phrases, and a last partial block has fewer words: the
    # screen judges those itself (sentence keys, the entropy test) instead of replaying.
    from l0 import drift

    replays: list[int] = []
    replay = drift.DriftDetector._replay
    monkeypatch.setattr(
        drift.DriftDetector, "_replay", lambda self: replays.append(1) or replay(self)
    )
    steps = "".join(f"{n}. Step {n}: run the command and check the output.\n" for n in range(8))
    table = "".join(f"| opt{n} | {n} | sets the value of field {n} |\n" for n in range(8))
    chunks = _bench_checks().prose_chunks(3_000)
    for size in (300, 700, 1_100, 1_900, 3_000):
        text = "".join(chunks[:size])
        for extra in ("", f"\n\n{steps}\n", f"\n\n{table}\n"):
            assert run(text[: len(text) // 2] + extra + text[len(text) // 2 :], step=56) == []
    assert replays == []


def test_reset_of_a_fresh_detector_keeps_its_state() -> None:
    detector = DriftDetector()
    meta, screen = detector._meta, detector._screen
    detector.reset()  # the runtime resets at each attempt start: nothing to redo yet
    assert detector._meta is meta and detector._screen is screen
    detector.check("Some text. ")
    detector.reset()
    assert detector._meta is not meta and detector._screen is not screen
    detector.check("", completed=True)
    screen = detector._screen
    detector.reset()
    assert detector._screen is not screen


def test_telemetry_reports_detections_once_and_details_when_detailed() -> None:
    tel, sink = telemetry(detailed=False)
    detector = DriftDetector(telemetry=tel)
    detector.check("Fine text. ")
    assert sink.events == []
    detector.check("As an AI, I apologize.")
    detector.check(" As an AI.")
    (event,) = sink.events
    assert event.type is T.DRIFT_CHECK_RESULT
    assert event.data["detected"] is True and event.data["types"] == ["meta_commentary"]
    assert event.data["score"] == 0.9 and event.data["threshold"] == 1.0
    assert event.data["metrics"]["meta_commentary"] == 1.0

    tel, sink = telemetry(detailed=True)
    detector = DriftDetector(telemetry=tel)
    detector.check("Fine text. ")
    assert [e.type for e in sink.events] == [T.DRIFT_CHECK_START, T.DRIFT_CHECK_END]
    assert sink.events[1].data["duration_ms"] >= 0 and sink.events[1].data["detected"] is False


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


def test_running_window_statistics_match_a_recount() -> None:
    from collections import Counter
    from itertools import chain

    from l0.drift.engine import Engine

    config = DriftConfig(window=800, blocks=5)
    engine = Engine(config, {}, json_doc=False)
    text = (NEGATIVES["mixed"] + POSITIVES["repetition"]) * 3
    size = engine.block_size
    for i in range(0, len(text) - size, size):
        engine.add(text[i : i + size], final=False, judge=True)
        window = engine.window
        blocks = list(window.blocks)
        grams = list(chain.from_iterable(b.grams for b in blocks))
        assert window.gram_stats() == (len(grams), len(set(grams)))
        units = Counter(chain.from_iterable(b.units for b in blocks))
        assert window.most_repeated_unit() == max(units.values(), default=0)
        half = len(blocks) // 2
        assert window.sums() == (
            _column_sums(blocks[:half]),
            _column_sums(blocks[len(blocks) - half :]),
            _column_sums(blocks),
        )
        assert list(window.entropies) == [b.entropy for b in blocks]


def _column_sums(blocks: list[Any]) -> list[int]:
    return [sum(column) for column in zip(*(b.counts for b in blocks), strict=True)] or [0] * 5


def _bench_checks() -> Any:
    # benchmarks/ is not a package on the test path: load the prose generator by file.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "checks.py"
    spec = importlib.util.spec_from_file_location("bench_checks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_false_positives_on_long_generated_prose() -> None:
    from l0.guardrails import GuardrailContext, GuardrailEngine, Guardrails

    chunks = _bench_checks().prose_chunks(20_000)
    assert chunks == _bench_checks().prose_chunks(20_000)  # deterministic
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
