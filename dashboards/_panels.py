"""Shared building blocks for l0's dashboards: datasource, variables, queries, panels, links.

Every PromQL expression is built from `l0.telemetry.metric_names`, so a renamed metric is a
change in one place. Conventions:

- Every l0 query selects `otel_scope_name="l0"` (`SCOPE`, part of `SERVICE`): another
  GenAI instrumentation in the same process records the same `gen_ai.*` names, and without
  the filter its series would add to l0's.
- `$service` selects the Prometheus `job` label. Via the shipped Collector (`prometheus`
  exporter scraped with `honor_labels: true`) `job` is the OTel `service.name`; when
  Prometheus scrapes `PrometheusMetricReader` directly, `job` is the scrape job name, so
  name the job after the service (docs/metrics.md).
- `$provider` and `$model` are multi-value variables with an "All" value of `.*`; only the
  metrics carrying GenAI attributes are filtered by them.
- Rates use `$__rate_interval`; range totals use `$__range`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

from l0.telemetry import metric_names as mn

# Provisioned datasource uids (collector/grafana/provisioning/datasources/datasources.yaml).
PROMETHEUS_DS_UID = "prometheus"
JAEGER_DS_UID = "jaeger"
DATASOURCE_VAR = "datasource"
PROMETHEUS_DS = dash_m.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VAR + "}")

JAEGER_URL_DEFAULT = "http://localhost:16686"
SESSION_SPAN = "l0.session"
DASHBOARD_TAG = "l0"

# --- PromQL ----------------------------------------------------------------------------------

SCOPE = f'{mn.PROM_LABEL_SCOPE_NAME}="{mn.METER_NAME}"'
"""l0's own series only: its instrumentation scope (the meter's name)."""
SERVICE = f'{mn.PROM_LABEL_JOB}="$service", {SCOPE}'
RECORDED_SERVICE = f'{mn.PROM_LABEL_JOB}="$service"'
"""The `$service` filter of recorded series (the SLO rules), which have no scope label: the
rules select l0's scope themselves."""
GENAI = ", ".join(
    (
        SERVICE,
        f'{mn.prometheus_label(mn.ATTR_PROVIDER_NAME)}=~"$provider"',
        f'{mn.prometheus_label(mn.ATTR_REQUEST_MODEL)}=~"$model"',
    )
)
RATE = "$__rate_interval"
RANGE = "$__range"


def label(attribute: str) -> str:
    """Prometheus label of an OTel attribute."""
    return mn.prometheus_label(attribute)


def series(spec: mn.MetricSpec, suffix: str = "") -> str:
    """A series name of `spec` (`suffix` is "_bucket", "_sum" or "_count" for histograms)."""
    name = spec.prometheus_name + suffix
    if name not in spec.prometheus_series:
        raise ValueError(f"{name} is not a series of {spec.name}")
    return name


def selector(spec: mn.MetricSpec, suffix: str = "", *extra: str) -> str:
    """`series{job="$service", ...}` with the GenAI filters where the metric has them."""
    matchers = [GENAI if mn.ATTR_REQUEST_MODEL in spec.attributes else SERVICE, *extra]
    return f"{series(spec, suffix)}{{{', '.join(matchers)}}}"


def rate(spec: mn.MetricSpec, *by: str, suffix: str = "", extra: Sequence[str] = ()) -> str:
    """`sum by (...) (rate(series{...}[$__rate_interval]))`."""
    grouping = f" by ({', '.join(by)}) " if by else ""
    return f"sum{grouping}(rate({selector(spec, suffix, *extra)}[{RATE}]))"


def increase(spec: mn.MetricSpec) -> str:
    """Total over the dashboard's time range."""
    return f"sum(increase({selector(spec)}[{RANGE}]))"


def ratio(numerator: str, denominator: str) -> str:
    return f"({numerator})\n/\n({denominator})"


def quantile(q: float, spec: mn.MetricSpec, *by: str) -> str:
    """`histogram_quantile(q, sum by (le, ...) (rate(x_bucket{...}[$__rate_interval])))`."""
    return f"histogram_quantile({q}, {rate(spec, 'le', *by, suffix='_bucket')})"


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str = "__auto"
    exemplar: bool = False


def quantiles(spec: mn.MetricSpec, by: str) -> list[Query]:
    """p50/p95/p99 of a histogram, one series per `by` value, exemplars on."""
    return [
        Query(quantile(q, spec, by), f"p{round(q * 100)} {{{{{by}}}}}", exemplar=True)
        for q in (0.5, 0.95, 0.99)
    ]


def _targets(queries: Iterable[Query]) -> list[prometheus.Dataquery]:
    out = []
    for i, q in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .ref_id(chr(ord("A") + i))
            .expr(q.expr)
            .legend_format(q.legend)
            .datasource(PROMETHEUS_DS)
            .range()
        )
        if q.exemplar:
            target = target.exemplar(True)
        out.append(target)
    return out


# --- Links to Jaeger -------------------------------------------------------------------------


def _tags_param(tags: dict[str, str]) -> str:
    """Jaeger UI's `tags` query parameter (JSON), percent-encoded except Grafana variables."""
    parts = []
    for key, value in tags.items():
        encoded_value = value if value.startswith("${") else quote(value, safe="")
        parts.append(f"%22{quote(key, safe='')}%22%3A%22{encoded_value}%22")
    return "%7B" + "%2C".join(parts) + "%7D"


def jaeger_url(tags: dict[str, str] | None = None, operation: str | None = SESSION_SPAN) -> str:
    """A Jaeger UI search for `$service` traces in the dashboard's time range.

    `${__from}`/`${__to}` are epoch milliseconds; Jaeger wants microseconds, hence `000`.
    """
    url = "${jaeger_url}/search?service=${service}"
    if operation:
        url += f"&operation={quote(operation, safe='')}"
    if tags:
        url += f"&tags={_tags_param(tags)}"
    return url + "&start=${__from}000&end=${__to}000&limit=50"


def jaeger_link(title: str, tags: dict[str, str] | None = None, **kw: Any) -> dash_b.DashboardLink:
    return dash_b.DashboardLink(title).url(jaeger_url(tags, **kw)).target_blank(True)


def field_label(attribute: str) -> str:
    """Data-link placeholder for the clicked series' label of `attribute`."""
    return "${__field.labels." + label(attribute) + "}"


SESSIONS_IN_JAEGER = jaeger_link("Sessions of ${service} in Jaeger")
ERRORS_IN_JAEGER = jaeger_link("Failed attempts in Jaeger", {"error": "true"}, operation=None)

# --- Panels ----------------------------------------------------------------------------------


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    links: Sequence[dash_b.DashboardLink] = (),
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    max_value: float | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS_DS)
        .targets(_targets(queries))
        .unit(unit)
        .min(0)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .line_width(1)
        .show_points(common_m.VisibilityMode.NEVER)
        .data_links([*links, SESSIONS_IN_JAEGER])
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common_m.LegendDisplayMode.TABLE)
            .placement(common_m.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(
            common_b.VizTooltipOptions()
            .mode(common_m.TooltipDisplayMode.MULTI)
            .sort(common_m.SortOrder.DESCENDING)
        )
    )
    if stacked:
        panel = panel.stacking(common_b.StackingConfig().mode(common_m.StackingMode.NORMAL))
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


def stat_panel(
    title: str,
    description: str,
    query: Query,
    unit: str,
    *,
    thresholds: Sequence[tuple[float | None, str]] = ((None, "blue"),),
    width: int = 4,
    height: int = 4,
    decimals: float | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS_DS)
        .targets(_targets([query]))
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(common_m.BigValueGraphMode.AREA)
        .color_mode(common_m.BigValueColorMode.VALUE)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(
            dash_b.ThresholdsConfig()
            .mode(dash_m.ThresholdsMode.ABSOLUTE)
            .steps([dash_m.Threshold(value=v, color=c) for v, c in thresholds])
        )
        .color_scheme(dash_b.FieldColor().mode(dash_m.FieldColorModeId.THRESHOLDS))
        .data_links([SESSIONS_IN_JAEGER])
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


# --- Variables -------------------------------------------------------------------------------

OPERATION_COUNT = series(mn.INFERENCE_DURATION, "_count")


def _any_of(name: str, title: str, description: str, query: str) -> Any:
    """A multi-select label filter whose "All" matches every value."""
    return (
        dash_b.QueryVariable(name)
        .label(title)
        .description(description)
        .datasource(PROMETHEUS_DS)
        .query(query)
        .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_m.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dash_m.VariableOption(text="All", value="$__all"))
    )


def variables() -> list[Any]:
    """datasource, service, provider, model, jaeger_url — shared by every board."""
    provider = label(mn.ATTR_PROVIDER_NAME)
    model = label(mn.ATTR_REQUEST_MODEL)
    return [
        dash_b.DatasourceVariable(DATASOURCE_VAR)
        .label("Prometheus")
        .type("prometheus")
        .current(dash_m.VariableOption(text="Prometheus", value=PROMETHEUS_DS_UID)),
        dash_b.QueryVariable("service")
        .label("Service")
        .description(
            "Prometheus `job`: the OTel service.name when metrics come through the Collector, "
            "the scrape job name when Prometheus scrapes the application directly."
        )
        .datasource(PROMETHEUS_DS)
        .query(f"label_values({mn.SESSIONS.prometheus_name}{{{SCOPE}}}, {mn.PROM_LABEL_JOB})")
        .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_m.VariableSort.ALPHABETICAL_ASC),
        _any_of(
            "provider",
            "Provider",
            "gen_ai.provider.name",
            f"label_values({OPERATION_COUNT}{{{SERVICE}}}, {provider})",
        ),
        _any_of(
            "model",
            "Model",
            "gen_ai.request.model",
            f'label_values({OPERATION_COUNT}{{{SERVICE}, {provider}=~"$provider"}}, {model})',
        ),
        dash_b.TextBoxVariable("jaeger_url")
        .label("Jaeger UI")
        .description("Base URL of the Jaeger UI, used by the trace links.")
        .default_value(JAEGER_URL_DEFAULT)
        .current(dash_m.VariableOption(text=JAEGER_URL_DEFAULT, value=JAEGER_URL_DEFAULT)),
    ]


# --- Dashboards ------------------------------------------------------------------------------


class Board:
    """A dashboard under construction: numbers panels and rows, adds shared variables/links."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self._next_id = 1
        self.builder = (
            dash_b.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags([DASHBOARD_TAG])
            .editable()
            .time("now-1h", "now")
            .refresh("30s")
            .timezone("browser")
            .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
            .variables(variables())
            .link(
                dash_b.DashboardLink("l0 dashboards")
                .type(dash_m.DashboardLinkType.DASHBOARDS)
                .tags([DASHBOARD_TAG])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
            .link(
                dash_b.DashboardLink("Traces in Jaeger")
                .type(dash_m.DashboardLinkType.LINK)
                .icon("external link")
                .url(jaeger_url())
                .target_blank(True)
            )
        )

    def _id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def row(self, title: str) -> Board:
        self.builder = self.builder.with_row(dash_b.Row(title).id(self._id()))
        return self

    def add(self, *panels: timeseries.Panel | stat.Panel) -> Board:
        for panel in panels:
            self.builder = self.builder.with_panel(panel.id(self._id()))
        return self

    def to_json(self) -> dict[str, Any]:
        """The dashboard as plain JSON data (what Grafana provisions)."""
        data: dict[str, Any] = json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))
        # Grafana iterates `annotations.list` (and adds its built-in query to it).
        data.setdefault("annotations", {}).setdefault("list", [])
        return data
