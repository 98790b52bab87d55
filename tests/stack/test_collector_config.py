"""The shipped Collector / Prometheus / compose config, and the metric names Prometheus sees.

The Collector image cannot run here, so its config is checked structurally: every pipeline
references only defined components, and nothing defined is left unused. The Prometheus
names of the metric contract are checked against the real OpenTelemetry SDK and its
Prometheus reader, and the dashboards may only query those names.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboards import build
from slo import build as slo_build
from slo import rules as slo_rules
from slo import spec as slo_spec

from l0.telemetry import metric_names as mn

ROOT = Path(__file__).resolve().parents[2]

COLLECTOR = ROOT / "collector"
KINDS = ("receivers", "processors", "exporters", "connectors")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COLLECTOR / name).read_text(encoding="utf-8"))
    return data


CONFIG = _load("otelcol-config.yaml")
LOADBALANCER = _load("otelcol-loadbalancer.yaml")
"""Tier 1 of the two-tier topology; tier 2 is CONFIG, scaled out."""
CONFIGS = {"otelcol-config.yaml": CONFIG, "otelcol-loadbalancer.yaml": LOADBALANCER}
COMPOSE = _load("docker-compose.yaml")

PINNED = "0.145.0"
# Every component type the shipped configs use, with its module in the otelcol-contrib
# distribution of the pinned version (distributions/otelcol-contrib/manifest.yaml of
# opentelemetry-collector-releases at v0.145.0, checked when the configs were written).
# Since 0.144 the OTLP exporters are `otlp_grpc` and `otlp_http` (`otlp`, `otlphttp` are
# deprecated aliases).
CONTRIB_COMPONENTS = {
    "extensions": {"health_check": "healthcheckextension"},
    "receivers": {"otlp": "otlpreceiver"},
    "processors": {
        "memory_limiter": "memorylimiterprocessor",
        "batch": "batchprocessor",
        "tail_sampling": "tailsamplingprocessor",
    },
    "exporters": {
        "otlp_grpc": "otlpexporter",
        "otlp_http": "otlphttpexporter",
        "prometheus": "prometheusexporter",
        "loadbalancing": "loadbalancingexporter",
    },
    "connectors": {},
}


# --- Collector config ---------------------------------------------------------------------------


def _configs() -> list[Any]:
    return [pytest.param(config, id=name) for name, config in CONFIGS.items()]


@pytest.mark.parametrize("config", _configs())
def test_pipelines_reference_only_defined_components(config: dict[str, Any]) -> None:
    service = config["service"]
    for extension in service.get("extensions", []):
        assert extension in (config.get("extensions") or {}), f"extension {extension} undefined"
    assert service["pipelines"], "no pipelines"
    for name, pipeline in service["pipelines"].items():
        signal = name.split("/")[0]
        assert signal in ("traces", "metrics", "logs"), name
        assert pipeline.get("receivers") and pipeline.get("exporters"), name
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                defined = set(config.get(kind) or {}) | set(config.get("connectors") or {})
                assert component in defined, f"{name}: {kind[:-1]} {component} is not defined"


@pytest.mark.parametrize("config", _configs())
def test_every_defined_component_is_used(config: dict[str, Any]) -> None:
    service = config["service"]
    used = {kind: set() for kind in KINDS}
    for pipeline in service["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            used[kind] |= set(pipeline.get(kind, []))
    for kind in ("receivers", "processors", "exporters"):
        assert set(config.get(kind) or {}) == used[kind], kind
    assert set(config.get("extensions") or {}) == set(service.get("extensions", []))


@pytest.mark.parametrize("config", _configs())
def test_component_ids_are_well_formed(config: dict[str, Any]) -> None:
    ident = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9_.-]+)?$")
    for kind in (*KINDS, "extensions"):
        for component in config.get(kind) or {}:
            assert ident.match(component), f"{kind}: {component}"


@pytest.mark.parametrize("config", _configs())
def test_every_component_is_in_the_pinned_contrib_distribution(config: dict[str, Any]) -> None:
    assert COMPOSE["services"]["otel-collector"]["image"].endswith(f"-contrib:{PINNED}")
    for kind in (*KINDS, "extensions"):
        for component in config.get(kind) or {}:
            component_type = component.split("/")[0]
            assert component_type in CONTRIB_COMPONENTS[kind], (
                f"{kind[:-1]} {component_type} is not in otelcol-contrib {PINNED}"
            )


def _listeners(config: dict[str, Any]) -> list[str]:
    """host:port of every server a config opens (receivers, extensions, pull exporters)."""
    found = [e["endpoint"] for e in (config.get("extensions") or {}).values() if e]
    for receiver in (config.get("receivers") or {}).values():
        found += [p["endpoint"] for p in (receiver.get("protocols") or {}).values()]
    exporters = config.get("exporters") or {}
    found += [e["endpoint"] for n, e in exporters.items() if n.split("/")[0] == "prometheus"]
    return found


@pytest.mark.parametrize("config", _configs())
def test_ports_do_not_clash(config: dict[str, Any]) -> None:
    ports = [endpoint.rsplit(":", 1)[1] for endpoint in _listeners(config)]
    assert ports and len(ports) == len(set(ports)), ports


def test_two_tier_routes_traces_by_trace_id_to_the_sampling_tier() -> None:
    pipelines = LOADBALANCER["service"]["pipelines"]
    traces, metrics = pipelines["traces"], pipelines["metrics"]
    assert traces["exporters"] == ["loadbalancing"]
    # Stateless: nothing in tier 1 holds traces back or decides on them.
    assert "tail_sampling" not in LOADBALANCER.get("processors", {})
    assert traces["processors"] == ["memory_limiter"]
    balancing = LOADBALANCER["exporters"]["loadbalancing"]
    assert balancing["routing_key"] == "traceID"
    assert set(balancing["protocol"]) == {"otlp"}
    (resolver,) = balancing["resolver"].values()
    # Tier 2 is otelcol-config.yaml: the resolved replicas take OTLP gRPC on its port, and
    # tail-sample there.
    sampler_grpc = CONFIG["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert str(resolver["port"]) == sampler_grpc.rsplit(":", 1)[1]
    assert "tail_sampling" in CONFIG["service"]["pipelines"]["traces"]["processors"]
    # Metrics need no routing: tier 1 sends them on over OTLP, scope labels intact.
    assert metrics["exporters"] == ["otlp_http/metrics"]
    assert metrics["processors"][0] == "memory_limiter"
    assert LOADBALANCER["exporters"]["otlp_http/metrics"]["endpoint"].startswith("${env:")
    # Tier 1 takes what the applications send, on the ports they know.
    assert _listeners(LOADBALANCER)[1:] == _listeners(CONFIG)[1:3]


def test_pipeline_shape() -> None:
    pipelines = CONFIG["service"]["pipelines"]
    traces, metrics = pipelines["traces"], pipelines["metrics"]
    assert traces["receivers"] == ["otlp"] and metrics["receivers"] == ["otlp"]
    for pipeline in (traces, metrics):
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"
    assert "tail_sampling" in traces["processors"]
    assert "tail_sampling" not in metrics["processors"]
    assert traces["exporters"] == ["otlp_grpc/jaeger"]
    assert CONFIG["exporters"]["otlp_grpc/jaeger"]["endpoint"] == "jaeger:4317"
    assert metrics["exporters"] == ["prometheus"]
    prometheus = CONFIG["exporters"]["prometheus"]
    assert prometheus["enable_open_metrics"] is True  # exemplars need OpenMetrics
    protocols = CONFIG["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"


def test_tail_sampling_keeps_every_interesting_session() -> None:
    policies = {p["name"]: p for p in CONFIG["processors"]["tail_sampling"]["policies"]}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for policy in policies.values():
        by_type.setdefault(policy["type"], []).append(policy)
        assert policy["type"] in policy, f"{policy['name']}: settings key missing"
    assert by_type["status_code"][0]["status_code"]["status_codes"] == ["ERROR"]
    numeric = {
        p["numeric_attribute"]["key"]: p["numeric_attribute"] for p in by_type["numeric_attribute"]
    }
    assert numeric["l0.retry.count"]["min_value"] == 1
    assert numeric["l0.fallback.index"]["min_value"] == 1
    assert numeric["l0.guardrail.violations"]["min_value"] == 1
    booleans = {p["boolean_attribute"]["key"] for p in by_type["boolean_attribute"]}
    assert booleans == {"l0.is_retry", "l0.drift.detected"}
    strings = by_type["string_attribute"][0]["string_attribute"]
    assert strings["key"] == mn.ATTR_OUTCOME and set(strings["values"]) == {"error", "aborted"}
    events = " ".join(by_type["ottl_condition"][0]["ottl_condition"]["spanevent"])
    assert '"l0.guardrail.violation"' in events and '"l0.drift"' in events
    # Healthy traces are sampled, not all kept.
    (probabilistic,) = by_type["probabilistic"]
    assert 0 < probabilistic["probabilistic"]["sampling_percentage"] < 100
    assert "always_sample" not in by_type


# --- Prometheus config and compose --------------------------------------------------------------


def test_prometheus_scrapes_the_collector_exporter() -> None:
    prometheus = _load("prometheus.yaml")
    port = CONFIG["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "otel-collector"]
    assert job["honor_labels"] is True  # keep job = service.name from the exporter
    assert job["static_configs"][0]["targets"] == [f"otel-collector:{port}"]


def test_prometheus_and_compose_load_the_slo_rules() -> None:
    prometheus = _load("prometheus.yaml")
    (rule_file,) = prometheus["rule_files"]
    assert (COLLECTOR / rule_file).resolve() == slo_build.RULES_PATH
    config_flag = next(
        c for c in COMPOSE["services"]["prometheus"]["command"] if c.startswith("--config.file=")
    )
    in_container = Path(config_flag.split("=", 1)[1]).parent / rule_file
    mounts = COMPOSE["services"]["prometheus"]["volumes"]
    assert f"./{slo_build.RULES_PATH.name}:{in_container}:ro" in mounts


def test_prometheus_config_is_valid() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        hint = "promtool is missing (Debian package `prometheus`: .ci/install-prometheus.sh)"
        if os.environ.get("L0_REQUIRE_PROMETHEUS", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(hint)
        pytest.skip(hint)
    run = subprocess.run(
        [promtool, "check", "config", str(COLLECTOR / "prometheus.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_compose_services_are_pinned_and_wired() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"otel-collector", "jaeger", "prometheus", "grafana"}
    for name, service in services.items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and re.match(r"^v?\d+\.\d+\.\d+$", tag), f"{name}: image {image} not pinned"
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert "--enable-feature=exemplar-storage" in services["prometheus"]["command"]
    config_flag = next(
        c for c in services["prometheus"]["command"] if c.startswith("--config.file=")
    )
    mounts = services["prometheus"]["volumes"]
    assert f"./prometheus.yaml:{config_flag.split('=', 1)[1]}:ro" in mounts
    collector = services["otel-collector"]
    target = collector["command"][0].split("=", 1)[1]
    assert f"./otelcol-config.yaml:{target}:ro" in collector["volumes"]
    ports = {p.split(":")[0] for p in collector["ports"]}
    assert {"4317", "4318"} <= ports
    # Every bind-mounted host path exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COLLECTOR / source).exists(), f"{source} does not exist"


# --- Metric names -------------------------------------------------------------------------------


def _exposition() -> str:
    """What Prometheus scrapes from the real SDK when every instrument recorded once."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "names-test"})
    )
    meter = provider.get_meter(mn.METER_NAME)
    try:
        for spec in mn.ALL_METRICS:
            attributes = {a: "x" for a in spec.attributes}
            if spec.kind == "histogram":
                meter.create_histogram(
                    spec.name,
                    unit=spec.unit,
                    description=spec.description,
                    explicit_bucket_boundaries_advisory=spec.buckets,
                ).record(1.0, attributes)
            elif spec.kind == "counter":
                meter.create_counter(spec.name, unit=spec.unit, description=spec.description).add(
                    1, attributes
                )
            else:
                meter.create_up_down_counter(
                    spec.name, unit=spec.unit, description=spec.description
                ).add(1, attributes)
        return generate_latest(registry).decode()
    finally:
        provider.shutdown()


def _parse(text: str) -> tuple[dict[str, str], dict[str, set[str]], dict[str, list[str]]]:
    """(family -> TYPE, series name -> label names, histogram family -> `le` values)."""
    types: dict[str, str] = {}
    labels: dict[str, set[str]] = {}
    buckets: dict[str, list[str]] = {}
    sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            types[family] = kind
            continue
        match = sample.match(line)
        if not match:
            continue
        name, body = match.group(1), match.group(2) or ""
        pairs = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', body))
        labels.setdefault(name, set()).update(pairs)
        if name.endswith("_bucket"):
            buckets.setdefault(name[: -len("_bucket")], []).append(pairs["le"])
    return types, labels, buckets


EXPOSITION = _exposition()
TYPES, LABELS, BUCKETS = _parse(EXPOSITION)
SCOPE_LABELS = {"otel_scope_name", "otel_scope_version", "otel_scope_schema_url"}


@pytest.mark.parametrize("spec", mn.ALL_METRICS, ids=lambda s: s.name)
def test_prometheus_names_match_the_real_exporter(spec: mn.MetricSpec) -> None:
    # Text format 0.0.4 names a counter family with `_total`, OpenMetrics without it.
    family = spec.prometheus_name
    kind = TYPES.get(family) or TYPES.get(family.removesuffix("_total"))
    assert kind == spec.prometheus_type, f"{spec.name}: TYPE {kind}"
    for series in spec.prometheus_series:
        assert series in LABELS, f"{spec.name}: {series} missing from\n{EXPOSITION}"
        expected = set(spec.prometheus_labels) | SCOPE_LABELS
        if series.endswith("_bucket"):
            expected.add("le")
        assert LABELS[series] == expected, series
    if spec.buckets is not None:
        bounds = [float(b) for b in BUCKETS[spec.prometheus_name] if b != "+Inf"]
        assert bounds == [float(b) for b in spec.buckets], f"{spec.name}: bucket advice ignored"


def test_resource_attributes_go_to_target_info() -> None:
    assert mn.PROM_TARGET_INFO in LABELS
    assert "service_name" in LABELS[mn.PROM_TARGET_INFO]


def test_exposition_has_no_unexpected_l0_series() -> None:
    known = {s for spec in mn.ALL_METRICS for s in spec.prometheus_series}
    exposed = {name for name in LABELS if name.startswith(("l0_", "gen_ai_"))}
    assert exposed == known


# --- Dashboards query exactly these names -------------------------------------------------------

PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "histogram_quantile",
    "le",
    "count_over_time",
    "min",
    "max",
    "avg",
    "without",
    "on",
    "ignoring",
    "group_left",
}


def _metric_names(expr: str) -> set[str]:
    """Series names selected in a PromQL expression (an identifier followed by `{` or `[`)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_groupings = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_strings
    )
    names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", without_groupings))
    return names - PROMQL_WORDS


RECORDED = {
    rule["record"]
    for group in slo_rules.groups(slo_spec.load())
    for rule in group["rules"]
    if "record" in rule
}


def test_dashboards_query_only_names_prometheus_sees() -> None:
    """Contract series, and the series the SLO rules record (the SLO row)."""
    known = {s for spec in mn.ALL_METRICS for s in spec.prometheus_series}
    known |= {mn.PROM_TARGET_INFO} | RECORDED
    used: set[str] = set()
    for uid, board in build.committed().items():
        for panel, target in build.iter_targets(board):
            names = _metric_names(target["expr"])
            assert names, f"{uid}/{panel['title']}: no metric in {target['expr']!r}"
            assert names <= known, f"{uid}/{panel['title']}: unknown {names - known}"
            used |= names
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                assert _metric_names(variable["query"]) <= known, variable["name"]
    # Every instrument of the contract is on some dashboard.
    for spec in mn.ALL_METRICS:
        assert used & set(spec.prometheus_series), f"{spec.name} is on no dashboard"


def test_docs_list_every_name() -> None:
    docs = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for spec in mn.ALL_METRICS:
        assert f"`{spec.name}`" in docs, spec.name
        assert spec.prometheus_name in docs, spec.prometheus_name
        for label in spec.prometheus_labels:
            assert f"`{label}`" in docs, label
