"""The SLO rules in a real Prometheus fed by real l0 sessions: the recorded ratios are exact.

`workload.py --rounds N` runs the fault profile (429 and 503 retries, a reset mid-stream,
initial and inter-token timeouts, guardrail and drift retries, fallbacks, a failed and an
aborted session, a race and a hedged run, each with a cancelled loser) through the real
openai client and l0's OTel sink: one round before Prometheus's first scrape, exactly N
more after it. Every round has the same outcomes and
every series is scraped at the same instants, so any `rate()` ratio over a window holding
the whole run equals the ratio of the counters' increases. The test computes those from the
raw samples and compares every recorded error ratio, burn rate and budget, and the state of
every alert, with what the rules must derive from them.

Loopback only; about half a minute. No `prometheus` binary: skipped with an install hint,
unless `L0_REQUIRE_PROMETHEUS=1` (CI), where it fails.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_harness as ph
import pytest
from slo import build, rules, spec
from workload_process import Workload

from l0.telemetry import metric_names as mn

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.prometheus

JOB = "l0-slo-workload"
ROUNDS = 3
SPEC = spec.load()
SCOPED = f'job="{JOB}", {mn.PROM_LABEL_SCOPE_NAME}="{mn.METER_NAME}"'


@dataclass
class Run:
    prometheus: ph.Prometheus
    workload: Workload


@pytest.fixture(scope="module")
def run(prometheus_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("slo")
    workload = Workload.start(tmp, "--mode=real", f"--service={JOB}", f"--rounds={ROUNDS}")
    prometheus = ph.Prometheus(
        prometheus_binary,
        tmp,
        {JOB: [f"127.0.0.1:{workload.port}"]},
        rule_files=[build.RULES_PATH],
    )
    try:
        prometheus.start()
        workload.wait_for("ready", timeout=60)
        prometheus.wait_for_target(JOB)  # the first scrape holds exactly one round
        workload.send("go")
        workload.wait_for("done", timeout=240)
        done = time.time()
        # A scrape after the last round, then an evaluation of the rules that saw it. A
        # sample is stamped when its scrape starts and stored when it ends, so a rule
        # evaluated just after that stamp may not see it yet: wait for the next scrape's
        # stamp (by then the first one is stored), then for an evaluation after that.
        sessions = f"{mn.SESSIONS.prometheus_name}{{{SCOPED}}}"
        scraped = _wait_for_timestamp(prometheus, sessions, done)
        stored = _wait_for_timestamp(prometheus, sessions, scraped)
        record = rules.error_ratio_record(SPEC.windows[0])
        _wait_for_timestamp(prometheus, f'{record}{{job="{JOB}"}}', stored)
        yield Run(prometheus, workload)
    except BaseException:
        print(prometheus.log(), file=sys.stderr)
        print(workload.tail(), file=sys.stderr)
        raise
    finally:
        workload.stop()
        prometheus.stop()


def _wait_for_timestamp(prometheus: ph.Prometheus, selector: str, after: float) -> float:
    """Wait until every series of `selector` has a sample newer than `after` (epoch s)."""

    def check() -> float | None:
        result = prometheus.query(f"min(timestamp({selector}))")
        if result and float(result[0]["value"][1]) > after:
            return float(result[0]["value"][1])
        return None

    return ph.poll(check, timeout=60, what=f"a sample of {selector} after the last round")


def _increase(run: Run, selector: str) -> float:
    """Sum over the series of `selector` of last minus first sample (no resets here)."""
    series = run.prometheus.query(f"{selector}[1h]")
    assert series, f"no samples of {selector}"
    total = 0.0
    for one in series:
        values = [float(v) for _, v in one["values"]]
        assert values == sorted(values), f"{selector} was reset"
        total += values[-1] - values[0]
    return total


def _expected(run: Run) -> dict[str, float]:
    """Each SLO's error ratio, from the increases of the raw counters over the run."""
    outcome = mn.prometheus_label(mn.ATTR_OUTCOME)
    sessions = mn.SESSIONS.prometheus_name
    failed = _increase(run, f'{sessions}{{{SCOPED}, {outcome}="error"}}')
    ended = _increase(run, f'{sessions}{{{SCOPED}, {outcome}=~"success|error"}}')
    ttfc = mn.TIME_TO_FIRST_CHUNK.prometheus_name
    threshold = next(o.threshold for o in SPEC.objectives if o.name == "time_to_first_chunk")
    first = _increase(run, f"{ttfc}_count{{{SCOPED}}}")
    fast = _increase(run, f'{ttfc}_bucket{{{SCOPED}, le="{threshold}"}}')
    timeout = mn.prometheus_label(mn.ATTR_TIMEOUT_TYPE)
    timed_out = _increase(run, f'{mn.TIMEOUTS.prometheus_name}{{{SCOPED}, {timeout}="initial"}}')
    wasted = _increase(run, f"{mn.TOKENS_WASTED.prometheus_name}{{{SCOPED}}}")
    delivered = _increase(run, f"{mn.TOKENS.prometheus_name}{{{SCOPED}}}")
    return {
        "session_success": failed / ended,
        "time_to_first_chunk": 1 - fast / (first + timed_out),
        "token_waste": wasted / delivered,
    }


def _recorded(run: Run, record: str, slo: str) -> float:
    result = run.prometheus.query(f'{record}{{job="{JOB}", slo="{slo}"}}')
    assert len(result) == 1, f"{record} for {slo}: {result}"
    return float(result[0]["value"][1])


def test_the_fault_profile_burns_every_slo(run: Run) -> None:
    expected = _expected(run)
    # Per round: one failed session of 18 that ended (the consensus's three included; the
    # aborted one and the cancelled losers of the race and the hedge count neither way),
    # one initial-token timeout, tokens dropped by retries, by fallbacks and by the race's
    # loser.
    assert expected["session_success"] == pytest.approx(1 / 18)
    assert 0 < expected["time_to_first_chunk"] < 0.5
    assert 0 < expected["token_waste"] < 1
    reason = mn.prometheus_label(mn.ATTR_WASTE_REASON)
    wasted = run.prometheus.query(
        f"sum by ({reason}) ({mn.TOKENS_WASTED.prometheus_name}{{{SCOPED}}})"
    )
    assert {s["metric"][reason] for s in wasted} == {"retry", "fallback", "race_loser"}


@pytest.mark.parametrize("objective", SPEC.objectives, ids=lambda o: o.name)
def test_recorded_ratios_burn_rates_and_budget_are_exact(run: Run, objective: Any) -> None:
    ratio = _expected(run)[objective.name]
    slo = objective.name
    for window in SPEC.windows:
        got = _recorded(run, rules.error_ratio_record(window), slo)
        assert got == pytest.approx(ratio, rel=1e-9), f"{slo} over {window}"
    for window in SPEC.windows[:-1]:
        burn = _recorded(run, rules.burn_rate_record(window), slo)
        assert burn == pytest.approx(ratio / objective.budget, rel=1e-9), f"{slo} {window}"
    remaining = _recorded(run, rules.BUDGET_REMAINING, slo)
    assert remaining == pytest.approx(1 - ratio / objective.budget, rel=1e-9)
    (target,) = run.prometheus.query(f'{rules.OBJECTIVE}{{slo="{slo}"}}')
    assert float(target["value"][1]) == objective.objective


@pytest.mark.parametrize("objective", SPEC.objectives, ids=lambda o: o.name)
def test_alerts_are_active_exactly_where_both_windows_burn(run: Run, objective: Any) -> None:
    slo = objective.name
    name = rules.SLIS[slo].alert
    burn = _recorded(run, rules.burn_rate_record(SPEC.windows[0]), slo)
    assert math.isfinite(burn)
    for alert in SPEC.alerts:
        if alert.severity == "page" and not objective.page:
            continue
        # One burn rate over every window: the whole run is inside each of them.
        burning = burn > alert.burn_rate
        states = run.prometheus.query(
            f'ALERTS{{alertname="{name}", job="{JOB}", long_window="{alert.long}"}}'
        )
        found = {s["metric"]["alertstate"] for s in states}
        if burning:
            assert found in ({"pending"}, {"firing"}), f"{name} {alert.long}: {states}"
            (state,) = states
            assert state["metric"]["severity"] == alert.severity
            assert state["metric"]["slo"] == slo
        else:
            assert not found, f"{name} {alert.long} at burn {burn}: {states}"
