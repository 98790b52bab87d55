"""The mapping table covers every lifecycle event, and the docs show exactly that table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l0.events import ObservabilityEventType as T
from l0.telemetry import metric_names as m
from l0.telemetry.mapping import MAPPING, Action, Target, render_table
from l0.telemetry.otel_metrics import recorded_events

DOCS = Path(__file__).parents[2] / "docs" / "observability.md"

ALWAYS_EVENTS = {
    # DESIGN §4: always span events (violations, drift, retries, fallbacks, timeouts,
    # network errors, resumes, aborts, tool calls).
    T.GUARDRAIL_RULE_RESULT,
    T.DRIFT_CHECK_RESULT,
    T.RETRY_ATTEMPT,
    T.FALLBACK_START,
    T.TIMEOUT_TRIGGERED,
    T.NETWORK_ERROR,
    T.ABORT_REQUESTED,
    T.ABORT_COMPLETED,
}
HIGH_FREQUENCY = {
    T.TIMEOUT_RESET,
    T.CHECKPOINT_SAVED,
    T.GUARDRAIL_PHASE_START,
    T.GUARDRAIL_PHASE_END,
    T.GUARDRAIL_RULE_START,
    T.GUARDRAIL_RULE_END,
    T.DRIFT_CHECK_START,
    T.DRIFT_CHECK_END,
}


@pytest.mark.parametrize("event_type", list(T), ids=lambda t: t.value)
def test_every_event_type_has_a_rule(event_type: T) -> None:
    rule = MAPPING[event_type]
    assert isinstance(rule.action, Action)
    assert isinstance(rule.target, Target)
    if rule.action in (Action.EVENT, Action.DETAIL, Action.START_SPAN):
        assert rule.name, f"{event_type.value} needs a span or event name"
    if rule.notable is not None:
        assert rule.action is Action.EVENT and rule.summary


def test_the_table_has_no_extra_keys() -> None:
    assert set(MAPPING) == set(T)


def test_always_visible_moments_are_span_events() -> None:
    for event_type in ALWAYS_EVENTS:
        assert MAPPING[event_type].action is Action.EVENT, event_type
    assert MAPPING[T.RESUME_START].announce == "l0.resume"
    assert MAPPING[T.TOOL_REQUESTED].announce == "l0.tool_call"


def test_high_frequency_moments_are_summarised() -> None:
    for event_type in HIGH_FREQUENCY:
        assert MAPPING[event_type].action is Action.DETAIL, event_type


def test_every_span_that_starts_also_ends() -> None:
    starts = {r.target for r in MAPPING.values() if r.action is Action.START_SPAN}
    ends = {r.target for r in MAPPING.values() if r.action is Action.END_SPAN}
    assert starts == ends == set(Target)


def test_only_span_rules_name_the_resume_and_tool_spans() -> None:
    # The sink routes events, details and attributes to the attempt or the root span (the
    # session's, or a multi-stream operation's).
    for event_type, rule in MAPPING.items():
        if rule.action not in (Action.START_SPAN, Action.END_SPAN):
            assert rule.target in (Target.SESSION, Target.ATTEMPT, Target.MULTI), event_type


def test_metrics_in_the_table_are_the_contract_and_all_are_recorded() -> None:
    named = {name for rule in MAPPING.values() for name in rule.metrics}
    assert named == {spec.name for spec in m.ALL_METRICS}
    with_metrics = {t for t, rule in MAPPING.items() if rule.metrics}
    assert recorded_events() == with_metrics


def test_docs_show_the_generated_table() -> None:
    text = DOCS.read_text()
    found = re.search(r"<!-- mapping:start -->\n(.*?)<!-- mapping:end -->", text, flags=re.DOTALL)
    assert found is not None, "docs/observability.md lost its mapping markers"
    assert found.group(1) == render_table(), (
        "docs/observability.md is out of date: paste l0.telemetry.mapping.render_table()"
    )


def test_docs_list_every_metric_with_its_prometheus_name() -> None:
    text = DOCS.read_text()
    for spec in m.ALL_METRICS:
        assert f"`{spec.name}`" in text
        assert spec.prometheus_series[0] in text, spec.prometheus_series[0]


def test_continuation_and_structured_events_are_mapped() -> None:
    """The events issue 18 added: failures and continuation are span events, the rest
    attributes or details (each happens once per attempt at most)."""
    for event_type in (
        T.CONTINUATION_START,
        T.STRUCTURED_PARSE_ERROR,
        T.STRUCTURED_VALIDATION_ERROR,
        T.STRUCTURED_AUTO_CORRECT_END,
    ):
        assert MAPPING[event_type].action is Action.EVENT, event_type
    for event_type in (T.STRUCTURED_PARSE_END, T.STRUCTURED_VALIDATION_END):
        assert MAPPING[event_type].action is Action.ATTRIBUTES, event_type
    assert all(MAPPING[t].target is Target.ATTEMPT for t in T if t.value.startswith("STRUCTURED_"))
