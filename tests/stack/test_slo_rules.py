"""The SLO rules (slo/ → collector/l0-slo-rules.yaml), checked and unit-tested by promtool.

`promtool check rules` validates the committed file; `promtool test rules` replays series
through it: burns that cross each alert's thresholds fire exactly the alerts they should,
with their labels and rendered annotations, and burns that must not page (a blip, a burn
below the factor, a service within its budget, another instrumentation's series) do not.
The expected values are derived from the spec's objectives and factors, so the tests
follow a service owner's edits of slo/objectives.yaml.

No promtool: the promtool tests skip with an install hint, unless `L0_REQUIRE_PROMETHEUS=1`
(CI), where they fail.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import prometheus_harness as ph
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

from slo import build, rules, spec  # noqa: E402

from l0.telemetry import metric_names as mn  # noqa: E402

SPEC = spec.load()
GROUPS = rules.groups(SPEC)
OBJECTIVES = {o.name: o for o in SPEC.objectives}
ALERTS = {o.name: rules.SLIS[o.name].alert for o in SPEC.objectives}
PAGE_FAST, PAGE_SLOW, TICKET = SPEC.alerts  # the spec's three alerts, in its order
JOB = "chat-api"
SCOPE = f'{mn.PROM_LABEL_SCOPE_NAME}="{mn.METER_NAME}"'
FOREIGN = f'{mn.PROM_LABEL_SCOPE_NAME}="opentelemetry.instrumentation.openai_v2"'


@pytest.fixture(scope="module")
def promtool() -> str:
    binary = ph.find_promtool()
    if binary is None:
        if ph.prometheus_required():
            pytest.fail(f"{ph.REQUIRE_ENV}=1 but promtool is missing. {ph.INSTALL_HINT}")
        pytest.skip(f"promtool is missing. {ph.INSTALL_HINT}")
    return binary


# --- The generated file --------------------------------------------------------------------------


def test_committed_rules_are_generated_from_the_spec() -> None:
    assert build.RULES_PATH.read_text(encoding="utf-8") == build.generate(), (
        "collector/l0-slo-rules.yaml is stale: run `python -m slo.build`"
    )


def test_promtool_check_rules(promtool: str) -> None:
    run = subprocess.run(
        [promtool, "check", "rules", str(build.RULES_PATH)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in GROUPS)} rules found" in run.stdout


def _rules() -> list[dict[str, Any]]:
    return [rule for group in GROUPS for rule in group["rules"]]


def test_every_ratio_is_recorded_for_every_window() -> None:
    recorded = {(r["record"], r["labels"]["slo"]) for r in _rules() if "record" in r}
    for objective in SPEC.objectives:
        for window in SPEC.windows:
            assert (rules.error_ratio_record(window), objective.name) in recorded
        for alert in SPEC.alerts:
            for window in (alert.long, alert.short):
                assert (rules.burn_rate_record(window), objective.name) in recorded
        assert (rules.BUDGET_REMAINING, objective.name) in recorded
        assert (rules.OBJECTIVE, objective.name) in recorded


def test_every_raw_selector_is_limited_to_l0s_scope() -> None:
    contract = {s for spec_ in mn.ALL_METRICS for s in spec_.prometheus_series}
    for rule in _rules():
        texts = [rule["expr"]]
        if "alert" in rule:
            texts.append(rule["annotations"]["check_first"])
        for text in texts:
            for name, matchers in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", text):
                if name in contract:
                    assert SCOPE in matchers or "job=" in matchers, (name, rule)
                    if "alert" not in rule:
                        assert SCOPE in matchers, (name, rule)


def test_alerts_follow_the_spec() -> None:
    alerts = [r for r in _rules() if "alert" in r]
    for objective in SPEC.objectives:
        mine = [a for a in alerts if a["alert"] == ALERTS[objective.name]]
        expected = [a for a in SPEC.alerts if objective.page or a.severity != "page"]
        assert [(a["labels"]["long_window"], a["labels"]["short_window"]) for a in mine] == [
            (a.long, a.short) for a in expected
        ]
        for rule, alert in zip(mine, expected, strict=True):
            assert rule["labels"]["severity"] == alert.severity
            assert rule["for"] == alert.for_
            annotations = rule["annotations"]
            assert set(annotations) == {"summary", "description", "check_first", "dashboard"}
            assert annotations["dashboard"].startswith(
                f"{SPEC.grafana_url}/d/{rules.DASHBOARD_UID}/"
            )
    # Waste costs money, not users: no page by default.
    assert not OBJECTIVES["token_waste"].page
    assert {a["labels"]["severity"] for a in alerts if a["alert"] == ALERTS["token_waste"]} == {
        "ticket"
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"period": "30 days"}, "period: a Prometheus duration"),
        ({"slos": {"session_success": {"objective": 99.5}}}, "slos.session_success.objective"),
        ({"slos": {"latency": {"objective": 0.9}}}, "unknown SLO 'latency'"),
        (
            {"slos": {"time_to_first_chunk": {"objective": 0.9, "threshold": 2.5}}},
            "time_to_first_chunk.threshold: one of the bucket bounds",
        ),
        ({"slos": {"token_waste": {"objective": 0.9, "threshold": 1.28}}}, "unknown field"),
        (
            {"alerts": [{"severity": "page", "long": "5m", "short": "1h", "burn_rate": 2}]},
            "alerts[0]",
        ),
        ({"grafana_url": "localhost:3000"}, "grafana_url"),
    ],
)
def test_spec_mistakes_are_named(change: dict[str, Any], message: str) -> None:
    data = yaml.safe_load(spec.SPEC_PATH.read_text(encoding="utf-8"))
    data.update(change)
    with pytest.raises(spec.SpecError, match=re.escape(message)):
        spec.parse(data)


# --- promtool test rules -------------------------------------------------------------------------


def counter(*segments: tuple[int, float]) -> str:
    """promtool's expanding notation for a counter that starts at 0: each segment is
    (minutes, increase per minute), the first one starting at t=0."""
    parts, value = [], 0.0
    for index, (minutes, per_minute) in enumerate(segments):
        if index == 0:
            parts.append(f"0+{per_minute:g}x{minutes}")
        else:
            parts.append(f"{value + per_minute:g}+{per_minute:g}x{minutes - 1}")
        value += per_minute * minutes
    return " ".join(parts)


def sessions(job: str, *segments: tuple[int, float, float]) -> list[dict[str, str]]:
    """l0_sessions_total for `job`: segments of (minutes, successes/min, errors/min), plus
    as many aborted sessions as successes (aborted sessions must count neither way)."""
    name, outcome = mn.SESSIONS.prometheus_name, mn.prometheus_label(mn.ATTR_OUTCOME)

    def series(value: str, per: int) -> dict[str, str]:
        return {
            "series": f'{name}{{job="{job}", {SCOPE}, {outcome}="{value}"}}',
            "values": counter(*((s[0], s[per]) for s in segments)),
        }

    return [series("success", 1), series("error", 2), series("aborted", 1)]


def humanize(value: float) -> str:
    """Prometheus's `humanize` for 1 <= value < 1000 (no SI prefix): %.4g."""
    assert 1 <= value < 1000
    return f"{value:.4g}"


def firing(slo: str, alert: Any, burn: float, job: str = JOB) -> dict[str, Any]:
    """The alert promtool must see firing, with its annotations rendered."""
    (rule,) = [
        r
        for r in _rules()
        if r.get("alert") == ALERTS[slo] and r["labels"]["long_window"] == alert.long
    ]
    rendered = {}
    for key, text in rule["annotations"].items():
        text = text.replace("{{ $labels.job | urlquery }}", quote_plus(job))
        text = text.replace("{{ $labels.job }}", job)
        text = text.replace("{{ $value | humanize }}", humanize(burn))
        assert "{{" not in text, text
        rendered[key] = text
    labels = {"job": job, "slo": slo, **rule["labels"]}
    return {"exp_labels": labels, "exp_annotations": rendered}


def check(slo: str, at: int, *expected: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": f"{at}m", "alertname": ALERTS[slo], "exp_alerts": list(expected)}


def value(record: str, slo: str, at: int, expected: float, job: str = JOB) -> dict[str, Any]:
    return {
        "expr": f'{record}{{slo="{slo}", job="{job}"}}',
        "eval_time": f"{at}m",
        "exp_samples": [{"labels": f'{record}{{job="{job}", slo="{slo}"}}', "value": expected}],
    }


def budget_share(slo: str, burn: float) -> float:
    """The bad-event share that burns `slo`'s budget `burn` times as fast as allowed."""
    return OBJECTIVES[slo].budget * burn


SESSION = "session_success"
TTFC = "time_to_first_chunk"
WASTE = "token_waste"


def _session_cases() -> list[Any]:
    def burning(burn: float, minutes: int) -> list[dict[str, str]]:
        errors = 1000 * budget_share(SESSION, burn)
        return sessions(JOB, (minutes, 1000 - errors, errors))

    fast = PAGE_FAST.burn_rate * 1.25  # over the fast page's factor
    slow = (PAGE_SLOW.burn_rate + PAGE_FAST.burn_rate) / 2  # between the two pages
    low = (TICKET.burn_rate + PAGE_SLOW.burn_rate) / 2  # under both pages, over the ticket
    healthy = 0.1 * TICKET.burn_rate
    blip = sessions(JOB, (360, 999, 1), (1, 0, 1000), (60, 999, 1))
    burst = sessions(JOB, (360, 999, 1), (10, 0, 1000), (30, 999, 1))
    slo = SESSION
    fast_page = (
        f'ALERTS{{alertname="{ALERTS[slo]}", alertstate="firing", long_window="{PAGE_FAST.long}"}}'
    )
    fast_factor = f"{PAGE_FAST.burn_rate:g}"
    return [
        pytest.param(
            burning(fast, 80),
            [
                check(slo, 10, firing(slo, PAGE_FAST, fast)),
                check(slo, 20, firing(slo, PAGE_FAST, fast), firing(slo, PAGE_SLOW, fast)),
                check(
                    slo,
                    75,
                    firing(slo, PAGE_FAST, fast),
                    firing(slo, PAGE_SLOW, fast),
                    firing(slo, TICKET, fast),
                ),
            ],
            [
                value(rules.error_ratio_record("5m"), slo, 10, budget_share(slo, fast)),
                value(rules.burn_rate_record("1h"), slo, 10, fast),
                value(rules.BUDGET_REMAINING, slo, 10, 1 - fast),
            ],
            id="fast-burn-pages-1h-5m-then-6h-30m-then-tickets",
        ),
        pytest.param(
            burning(slow, 40),
            [check(slo, 10), check(slo, 30, firing(slo, PAGE_SLOW, slow))],
            [],
            id="slow-burn-pages-only-through-6h-30m",
        ),
        pytest.param(
            burning(low, 130),
            [check(slo, 30), check(slo, 120, firing(slo, TICKET, low))],
            [],
            id="burn-under-the-page-factors-only-tickets",
        ),
        pytest.param(
            burning(healthy, 420),
            [check(slo, 30), check(slo, 120), check(slo, 420)],
            [value(rules.BUDGET_REMAINING, slo, 420, 0.9)],
            id="within-budget-nothing-fires",
        ),
        pytest.param(
            blip,
            [check(slo, 363), check(slo, 370), check(slo, 400)],
            [],
            id="one-minute-outage-after-healthy-hours-does-not-page",
        ),
        pytest.param(
            burst,
            [],
            [
                {"expr": fast_page, "eval_time": "370m", "exp_samples": [_fast_page_sample()]},
                # Ten minutes later the 1h window still burns far over the factor, but the
                # 5m window has recovered: the page has stopped.
                {"expr": fast_page, "eval_time": "385m", "exp_samples": []},
                {
                    "expr": f'{rules.burn_rate_record("1h")}{{slo="{slo}"}} > bool {fast_factor}',
                    "eval_time": "385m",
                    "exp_samples": [{"labels": f'{{job="{JOB}", slo="{slo}"}}', "value": 1}],
                },
            ],
            id="page-stops-soon-after-the-burn-stops",
        ),
    ]


def _fast_page_sample() -> dict[str, Any]:
    """The ALERTS series of the fast session page, firing for JOB."""
    labels = {
        "__name__": "ALERTS",
        "alertname": ALERTS[SESSION],
        "alertstate": "firing",
        "job": JOB,
        "slo": SESSION,
        "severity": PAGE_FAST.severity,
        "long_window": PAGE_FAST.long,
        "short_window": PAGE_FAST.short,
    }
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return {"labels": f"ALERTS{{{body}}}", "value": 1}


def _first_chunks(job: str, scope: str, minutes: int, attempts: int, fast: int, timeouts: int):
    ttfc = mn.TIME_TO_FIRST_CHUNK.prometheus_name
    timeout = mn.prometheus_label(mn.ATTR_TIMEOUT_TYPE)
    base = f'job="{job}", {scope}'
    out = [
        {"series": f"{ttfc}_count{{{base}}}", "values": counter((minutes, attempts))},
        {
            "series": f'{ttfc}_bucket{{{base}, le="{OBJECTIVES[TTFC].threshold}"}}',
            "values": counter((minutes, fast)),
        },
        {"series": f'{ttfc}_bucket{{{base}, le="+Inf"}}', "values": counter((minutes, attempts))},
    ]
    if timeouts:
        out.append(
            {
                "series": f'{mn.TIMEOUTS.prometheus_name}{{{base}, {timeout}="initial"}}',
                "values": counter((minutes, timeouts)),
            }
        )
    return out


def _ttfc_cases() -> list[Any]:
    slo = TTFC
    # 100 attempts/min got a first chunk, `fast` of them in time, plus 20 initial-token
    # timeouts: bad = (100 - fast + 20) / 120.
    burn = (PAGE_SLOW.burn_rate + PAGE_FAST.burn_rate) / 2
    fast = round(120 * (1 - budget_share(slo, burn)))
    ratio = 1 - fast / 120
    flood = _first_chunks(JOB, FOREIGN, 40, 1000, 0, 0)  # another instrumentation, all slow
    clean = _first_chunks("batch", SCOPE, 40, 100, 100, 0)  # no timeout series at all
    return [
        pytest.param(
            [*_first_chunks(JOB, SCOPE, 40, 100, fast, 20), *flood, *clean],
            [check(slo, 30, firing(slo, PAGE_SLOW, ratio / OBJECTIVES[slo].budget))],
            [
                value(rules.error_ratio_record("30m"), slo, 30, ratio),
                value(rules.error_ratio_record("30m"), slo, 30, 0.0, job="batch"),
            ],
            id="slow-first-chunks-and-initial-timeouts-page",
        ),
        pytest.param(
            [*_first_chunks(JOB, SCOPE, 130, 100, 98, 0), *flood],
            [check(slo, 30), check(slo, 125)],
            [],
            id="fast-first-chunks-nothing-fires-whatever-other-scopes-record",
        ),
    ]


def _tokens(job: str, minutes: int, delivered: float, wasted: float | None) -> list[dict[str, str]]:
    model = f'{mn.prometheus_label(mn.ATTR_REQUEST_MODEL)}="gpt-4o-mini"'
    base = f'job="{job}", {SCOPE}, {model}'
    out = [
        {
            "series": f"{mn.TOKENS.prometheus_name}{{{base}}}",
            "values": counter((minutes, delivered)),
        }
    ]
    if wasted is not None:
        reason = mn.prometheus_label(mn.ATTR_WASTE_REASON)
        out.append(
            {
                "series": f'{mn.TOKENS_WASTED.prometheus_name}{{{base}, {reason}="retry"}}',
                "values": counter((minutes, wasted)),
            }
        )
    return out


def _waste_cases() -> list[Any]:
    slo = WASTE
    burn = 3 * TICKET.burn_rate
    wasted = 1000 * budget_share(slo, burn)
    return [
        pytest.param(
            [*_tokens(JOB, 80, 1000, wasted), *_tokens("batch", 80, 1000, None)],
            [check(slo, 30), check(slo, 75, firing(slo, TICKET, burn))],
            [value(rules.error_ratio_record("1h"), slo, 75, 0.0, job="batch")],
            id="waste-over-budget-tickets-never-pages",
        ),
        pytest.param(
            _tokens(JOB, 130, 1000, 1000 * budget_share(slo, 0.8)),
            [check(slo, 125)],
            [],
            id="waste-within-budget-nothing-fires",
        ),
    ]


CASES = [*_session_cases(), *_ttfc_cases(), *_waste_cases()]


@pytest.mark.parametrize(("series", "alerts", "values"), CASES)
def test_promtool_test_rules(
    promtool: str,
    tmp_path: Path,
    series: list[dict[str, str]],
    alerts: list[dict[str, Any]],
    values: list[dict[str, Any]],
) -> None:
    test: dict[str, Any] = {"interval": "1m", "input_series": series}
    if alerts:
        test["alert_rule_test"] = alerts
    if values:
        test["promql_expr_test"] = values
    path = tmp_path / "slo-test.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(build.RULES_PATH)],
                "evaluation_interval": "1m",
                "tests": [test],
            },
            sort_keys=False,
            width=4096,
        ),
        encoding="utf-8",
    )
    run = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
