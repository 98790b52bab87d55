"""What an open session's guardrails hold (`tests/runtime/footprint.py`)."""

from __future__ import annotations

from tests.runtime.footprint import held

from l0.guardrails import GuardrailContext, GuardrailEngine, Guardrails, json_rule


def open_engine() -> GuardrailEngine:
    """An engine as the runtime opens one: rules built for the session, an attempt begun."""
    engine = GuardrailEngine(Guardrails.recommended())
    engine.reset()
    return engine


def test_rules_built_alike_share_their_factory_and_check_not_their_checkers() -> None:
    first, second = Guardrails.recommended(), Guardrails.recommended()
    for a, b in zip(first, second, strict=True):
        assert a is not b and a.check is b.check and a.incremental is b.incremental
        assert a.incremental is not None and a.incremental() is not a.incremental()
    assert json_rule(severity="warning").incremental is not first[0].incremental
    warned = json_rule(severity="warning").check(GuardrailContext("[}", True, "[}"))
    assert [v.severity for v in warned] == ["warning"]


def test_an_open_session_s_rules_and_engine_hold_few_objects() -> None:
    # The engine, its rules (one object each: factories are shared), its plan (a list, a
    # step per rule) and the checkers: json 1, markdown 4 (line buffer and its pieces,
    # fence tracker), pattern 4 (matcher, its pieces, anchor watch), zero output 1.
    assert held(open_engine(), open_engine()) <= 21
    # A new attempt keeps nothing of the last one (held text, its screen).
    engine = open_engine()
    for delta in ["Plain prose, ", "with nothing to report.\n", "More of it."]:
        if not engine.hold(delta):
            assert engine.check(GuardrailContext("", False, delta)).passed
    engine.reset()
    assert held(engine, open_engine()) <= 21
