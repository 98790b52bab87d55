"""Every panel query of every shipped dashboard returns data from a real Prometheus.

A workload process (tests/stack/workload.py) serves l0's metrics through OpenTelemetry's
`PrometheusMetricReader`; a real Prometheus (Debian package `prometheus`) scrapes it every
second; then each dashboard query, with the template variables filled in the way Grafana
would, goes to `/api/v1/query` and must return at least one finite sample.

- No `prometheus` binary: the test skips with an install hint, unless
  `L0_REQUIRE_PROMETHEUS=1` (CI), where it fails.
- `L0_WORKLOAD_MODE=real|synthetic` chooses how the workload produces the metrics: real l0
  sessions through the openai client against the fault server, or the metric contract
  recorded directly through the OTel SDK (see DEFAULT_WORKLOAD_MODE).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_harness as ph
import pytest
from dashboards import build
from slo import build as slo_build
from workload_process import Workload

from l0.telemetry import metric_names as mn

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.prometheus

WORKLOAD_MODE_ENV = "L0_WORKLOAD_MODE"
# The l0 runtime and its OTel metrics sink are not in the tree yet, so the workload records
# the metric contract directly. Flip to "real" once `l0.run` + the sink land.
DEFAULT_WORKLOAD_MODE = "real"
JOB = "l0-workload"  # scrape job name == the workload's service.name

# How Grafana's built-in variables are filled in: windows that hold enough 1s scrapes.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
ALL = ".*"  # the "All" value of the multi-value variables
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")


def workload_mode() -> str:
    mode = os.environ.get(WORKLOAD_MODE_ENV, DEFAULT_WORKLOAD_MODE).strip().lower()
    if mode not in ("real", "synthetic"):
        raise ValueError(f"{WORKLOAD_MODE_ENV} must be real or synthetic, not {mode!r}")
    return mode


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {text!r}")
        return values[name]

    return VARIABLE.sub(replace, text)


def _all_targets() -> list[Any]:
    params = []
    for uid, board in build.committed().items():
        for panel, target in build.iter_targets(board):
            params.append(
                pytest.param(
                    target["expr"],
                    id=f"{uid}/{panel['id']}{target['refId']}/{panel['title']}",
                )
            )
    return params


def _query_variables() -> list[Any]:
    params = []
    for uid, board in build.committed().items():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                params.append(pytest.param(variable, id=f"{uid}/{variable['name']}"))
    return params


# --- The workload process -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def workload(
    prometheus_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workload]:
    running = Workload.start(
        tmp_path_factory.mktemp("workload"), f"--mode={workload_mode()}", f"--service={JOB}"
    )
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Stack:
    prometheus: ph.Prometheus
    variables: dict[str, str]


@pytest.fixture(scope="module")
def stack(
    prometheus_binary: str, workload: Workload, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("prometheus")
    # With the SLO rules loaded, as the shipped stack does: the SLO row queries their series.
    prometheus = ph.Prometheus(
        prometheus_binary,
        tmp,
        {JOB: [f"127.0.0.1:{workload.port}"]},
        rule_files=[slo_build.RULES_PATH],
    )
    prometheus.start()
    try:
        workload.wait_for("ready", timeout=180 if workload_mode() == "real" else 60)
        prometheus.wait_for_target(JOB)
        # rate() over [1m] needs two samples; take three scrapes taken after "ready" so every
        # series of the first round of sessions is in the window (the workload keeps going).
        series = f'{mn.SESSIONS.prometheus_name}{{job="{JOB}"}}'
        before = prometheus.query(f"min(count_over_time({series}[1m]))")
        seen = float(before[0]["value"][1]) if before else 0.0
        prometheus.wait_for_samples(series, int(seen) + 3, timeout=60)
        yield Stack(
            prometheus,
            {**BUILTINS, "service": JOB, "provider": ALL, "model": ALL, "datasource": "prometheus"},
        )
    except BaseException:
        print(prometheus.log(), file=sys.stderr)
        print(workload.tail(), file=sys.stderr)
        raise
    finally:
        prometheus.stop()


# --- Tests --------------------------------------------------------------------------------------


def test_target_labels(stack: Stack) -> None:
    """`job` is what the dashboards' $service variable selects; resources are on target_info."""
    prom = stack.prometheus
    assert JOB in prom.label_values(mn.PROM_LABEL_JOB, mn.SESSIONS.prometheus_name)
    info = prom.query(f'{mn.PROM_TARGET_INFO}{{job="{JOB}"}}')
    assert info and info[0]["metric"]["service_name"] == JOB
    scoped = prom.query(f'{mn.SESSIONS.prometheus_name}{{job="{JOB}"}}')
    assert {s["metric"].get(mn.PROM_LABEL_SCOPE_NAME) for s in scoped} == {mn.METER_NAME}


def test_every_contract_series_is_scraped(stack: Stack) -> None:
    for spec in mn.ALL_METRICS:
        for series in spec.prometheus_series:
            result = stack.prometheus.query(f'{series}{{job="{JOB}"}}')
            assert result, f"{series} ({spec.name}) was not scraped"
            labels = set().union(*(s["metric"] for s in result))
            missing = set(spec.prometheus_labels) - labels
            # error.type is conditionally required: only failed operations carry it.
            missing.discard(mn.prometheus_label(mn.ATTR_ERROR_TYPE))
            assert not missing, f"{series}: labels {missing} never seen"


@pytest.mark.parametrize("variable", _query_variables())
def test_template_variable_has_values(stack: Stack, variable: dict[str, Any]) -> None:
    match = LABEL_VALUES.match(substitute(variable["query"], stack.variables))
    assert match, f"unsupported variable query {variable['query']!r}"
    selector, label = match.groups()
    values = stack.prometheus.label_values(label, selector)
    assert values, f"{variable['name']}: {variable['query']} has no values"
    if variable["name"] == "service":
        assert JOB in values


@pytest.mark.parametrize("expr", _all_targets())
def test_panel_query_returns_data(stack: Stack, expr: str) -> None:
    query = substitute(expr, stack.variables)
    result = stack.prometheus.query(query)
    assert result, f"no data for:\n{query}"
    assert ph.finite_values(result), f"only NaN/Inf for:\n{query}\n{result}"
