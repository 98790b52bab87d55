"""Prometheus rules from the SLO spec: error ratios, burn rates, budget, burn-rate alerts.

Every SLO becomes one rule group, so Prometheus evaluates its rules in order and an alert
always reads the burn rates of the same evaluation. Per SLO and window:

- `job_slo:l0_slo_error:ratio_rate<window>`: bad events over all events, per `job`;
- `job_slo:l0_slo_burn_rate:<window>`: that ratio over the error budget (1 = spending the
  budget exactly as fast as the period allows);
- `job_slo:l0_slo_error_budget_remaining:ratio`: the share of the period's budget left
  (negative once it is spent); `slo:l0_slo_objective:ratio`: the objective, for graphs.

Series carry `slo` (the spec's name) and `job`. Every selector is limited to l0's own
instrumentation scope, so another GenAI instrumentation in the same process, recording the
same `gen_ai.*` names, cannot change an SLO. A ratio whose bad-event series does not exist
yet (no failure since the process started) is 0, not absent: `(bad or 0 * all)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from l0.telemetry import metric_names as mn

from .spec import BurnAlert, Objective, Spec, seconds

DASHBOARD_UID = "l0-reliability"
"""The dashboard with the SLO row (dashboards/reliability.py)."""

SCOPE = f'{mn.PROM_LABEL_SCOPE_NAME}="{mn.METER_NAME}"'
BY = mn.PROM_LABEL_JOB


def error_ratio_record(window: str) -> str:
    return f"job_slo:l0_slo_error:ratio_rate{window}"


def burn_rate_record(window: str) -> str:
    return f"job_slo:l0_slo_burn_rate:{window}"


BUDGET_REMAINING = "job_slo:l0_slo_error_budget_remaining:ratio"
OBJECTIVE = "slo:l0_slo_objective:ratio"


def _rate(series: str, window: str, *matchers: str) -> str:
    selector = ", ".join((SCOPE, *matchers))
    return f"sum by ({BY}) (rate({series}{{{selector}}}[{window}]))"


def _or_zero(expr: str, like: str) -> str:
    """`expr`, or 0 for every `job` that has `like` but no `expr` series yet."""
    return f"({expr} or 0 * {like})"


# --- The SLIs ----------------------------------------------------------------------------------


def _session_errors(objective: Objective, window: str) -> str:
    outcome = mn.prometheus_label(mn.ATTR_OUTCOME)
    series = mn.SESSIONS.prometheus_name
    ended = _rate(series, window, f'{outcome}=~"success|error"')
    failed = _rate(series, window, f'{outcome}="error"')
    return f"{_or_zero(failed, ended)}\n/\n{ended}"


def _slow_first_chunks(objective: Objective, window: str) -> str:
    ttfc = mn.TIME_TO_FIRST_CHUNK.prometheus_name
    timeout = mn.prometheus_label(mn.ATTR_TIMEOUT_TYPE)
    first = _rate(f"{ttfc}_count", window)
    timed_out = _rate(mn.TIMEOUTS.prometheus_name, window, f'{timeout}="initial"')
    fast = _rate(f"{ttfc}_bucket", window, f'le="{objective.threshold}"')
    attempts = f"{_or_zero(first, timed_out)} + {_or_zero(timed_out, first)}"
    return f"1 - {_or_zero(fast, timed_out)}\n/\n({attempts})"


def _wasted_tokens(objective: Objective, window: str) -> str:
    delivered = _rate(mn.TOKENS.prometheus_name, window)
    wasted = _rate(mn.TOKENS_WASTED.prometheus_name, window)
    return f"{_or_zero(wasted, delivered)}\n/\n{delivered}"


@dataclass(frozen=True, slots=True)
class SLI:
    alert: str
    """Alert name (one per SLO; severity and windows are labels)."""
    what: str
    """What burns, for the alert summary."""
    check_first: str
    """What the on-call engineer looks at first (the alert's `check_first` annotation)."""
    error_ratio: Callable[[Objective, str], str]


def _inference_errors(job: str) -> str:
    labels = ", ".join(
        mn.prometheus_label(a)
        for a in (mn.ATTR_PROVIDER_NAME, mn.ATTR_REQUEST_MODEL, mn.ATTR_ERROR_TYPE)
    )
    return (
        f"sum by ({labels}) (rate({mn.INFERENCE_DURATION.prometheus_name}_count"
        f'{{{SCOPE}, job="{job}", {mn.prometheus_label(mn.ATTR_ERROR_TYPE)}!=""}}[1h]))'
    )


_JOB = "{{ $labels.job }}"

SLIS: dict[str, SLI] = {
    "session_success": SLI(
        "L0SessionErrorBudgetBurn",
        "failed l0 sessions",
        "Which provider, model and error type fail: "
        f"{_inference_errors(_JOB)}. Then the reliability dashboard's "
        "'Retries/s by error category': network/transient errors are the provider's "
        "(check its status page, or add a fallback), a 4xx error type "
        "(BadRequestError, AuthenticationError) is the caller's request or key, "
        "guardrail/drift retries that run out are the model's output.",
        _session_errors,
    ),
    "time_to_first_chunk": SLI(
        "L0TimeToFirstChunkBudgetBurn",
        "slow first chunks",
        "Which model is slow: the overview dashboard's 'Time to first chunk by model', "
        "and initial-token timeouts (the reliability dashboard's 'Timeouts/s by type'). "
        "A slow provider or region, traffic moved to a slower fallback model "
        "('Attempts/s by model'), or longer prompts (input tokens per attempt).",
        _slow_first_chunks,
    ),
    "token_waste": SLI(
        "L0TokenWasteBudgetBurn",
        "wasted tokens",
        f"Where the waste comes from: sum by (l0_waste_reason, gen_ai_provider_name, "
        f'gen_ai_request_model) (rate({mn.TOKENS_WASTED.prometheus_name}{{job="{_JOB}"}}[1h])), '
        "then 'Retries/s by reason': mid-stream network resets and inter-token timeouts "
        "restart long outputs (continue_from_last_good_token keeps what was good), "
        "guardrail and drift retries regenerate whole answers.",
        _wasted_tokens,
    ),
}


# --- Rule groups -------------------------------------------------------------------------------


def _record(name: str, expr: str, slo: str) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": {"slo": slo}}


def _number(value: float) -> str:
    """`14.4`, `6`, `0.005`: the shortest exact spelling (1 - 0.995 is 0.005, not 0.00499...)."""
    value = round(value, 12)
    return str(int(value)) if value.is_integer() else repr(value)


def _recordings(objective: Objective, spec: Spec) -> list[dict[str, Any]]:
    sli, slo, budget = SLIS[objective.name], objective.name, _number(objective.budget)
    rules = [_record(OBJECTIVE, f"vector({_number(objective.objective)})", slo)]
    for window in spec.windows:
        rules.append(_record(error_ratio_record(window), sli.error_ratio(objective, window), slo))
    mine = f'{{slo="{slo}"}}'
    for window in spec.windows:
        if window != spec.period:
            ratio = error_ratio_record(window) + mine
            rules.append(_record(burn_rate_record(window), f"{ratio} / {budget}", slo))
    spent = f"{error_ratio_record(spec.period)}{mine} / {budget}"
    rules.append(_record(BUDGET_REMAINING, f"1 - {spent}", slo))
    return rules


def _alert(objective: Objective, alert: BurnAlert, spec: Spec) -> dict[str, Any]:
    sli, slo = SLIS[objective.name], objective.name
    mine = f'{{slo="{slo}"}}'
    factor = _number(alert.burn_rate)
    expr = (
        f"{burn_rate_record(alert.long)}{mine} > {factor}\n"
        f"and\n{burn_rate_record(alert.short)}{mine} > {factor}"
    )
    dashboard = f"{spec.grafana_url}/d/{DASHBOARD_UID}/{DASHBOARD_UID}?var-service="
    return {
        "alert": sli.alert,
        "expr": expr,
        "for": alert.for_,
        "labels": {
            "severity": alert.severity,
            "long_window": alert.long,
            "short_window": alert.short,
        },
        "annotations": {
            "summary": (
                f"{_JOB}: {sli.what} burn the {spec.period} error budget of {slo} at "
                f"{{{{ $value | humanize }}}}x over {alert.long} (objective "
                f"{objective.objective:.4g}, alert above {factor}x over {alert.long} "
                f"and {alert.short})"
            ),
            "description": (
                f"Above {factor}x the whole {spec.period} budget is gone in less than "
                f"{_human(seconds(spec.period) / alert.burn_rate)}. Error ratio: "
                f"{error_ratio_record(alert.long)}{mine}, budget left: "
                f"{BUDGET_REMAINING}{mine}."
            ),
            "check_first": sli.check_first,
            "dashboard": dashboard + "{{ $labels.job | urlquery }}",
        },
    }


def _human(duration: float) -> str:
    """`50h` as `2d 2h`: how long a budget lasts, rounded down to the hour."""
    hours = int(duration // 3600)
    days, hours = divmod(hours, 24)
    return (
        " ".join(
            part for part in (f"{days}d" if days else "", f"{hours}h" if hours else "") if part
        )
        or "1h"
    )


def groups(spec: Spec) -> list[dict[str, Any]]:
    """One rule group per SLO: recordings first, then its alerts (evaluated in that order)."""
    out = []
    for objective in spec.objectives:
        rules = _recordings(objective, spec)
        for alert in spec.alerts:
            if alert.severity == "page" and not objective.page:
                continue
            rules.append(_alert(objective, alert, spec))
        out.append({"name": f"l0-slo-{objective.name}", "rules": rules})
    return out
