"""The SLO spec (`slo/objectives.yaml`): loaded and checked before any rule is generated.

A mistake in the spec fails the build with a message naming the field, rather than
producing rules that load fine and never fire (a threshold that is no bucket bound, an
objective of 99.5 instead of 0.995).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from l0.telemetry import metric_names as mn

SPEC_PATH = Path(__file__).resolve().parent / "objectives.yaml"

SLO_NAMES = ("session_success", "time_to_first_chunk", "token_waste")
"""The SLIs l0's metrics can measure; the spec sets their objectives."""
SEVERITIES = ("page", "ticket")
_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|m|h|d|w|y)$")


class SpecError(ValueError):
    """The spec is wrong; the message names the field."""


@dataclass(frozen=True, slots=True)
class Objective:
    name: str
    objective: float
    page: bool = True
    threshold: float | None = None
    """Seconds (time_to_first_chunk only): a bucket bound of `DURATION_BUCKETS`."""

    @property
    def budget(self) -> float:
        """The error budget: the share of bad events the objective allows."""
        return round(1 - self.objective, 12)


@dataclass(frozen=True, slots=True)
class BurnAlert:
    severity: str
    long: str
    short: str
    burn_rate: float
    for_: str


@dataclass(frozen=True, slots=True)
class Spec:
    period: str
    grafana_url: str
    objectives: tuple[Objective, ...]
    alerts: tuple[BurnAlert, ...]

    @property
    def windows(self) -> tuple[str, ...]:
        """Every window a ratio is recorded over: the alerts' and the period, short first."""
        found = {self.period}
        for alert in self.alerts:
            found |= {alert.long, alert.short}
        return tuple(sorted(found, key=seconds))


def seconds(duration: str) -> float:
    """A Prometheus duration (`5m`, `3d`) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    unit = "ms" if duration.endswith("ms") else duration[-1]
    return int(duration[: -len(unit)]) * units[unit]


def load(path: Path = SPEC_PATH) -> Spec:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SpecError(f"{path}: not a mapping")
    return parse(data)


def parse(data: dict[str, Any]) -> Spec:
    _known(data, {"period", "grafana_url", "slos", "alerts"}, "spec")
    period = _duration(data.get("period"), "period")
    url = data.get("grafana_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise SpecError(f"grafana_url: an http(s) URL, not {url!r}")
    slos = data.get("slos")
    if not isinstance(slos, dict) or not slos:
        raise SpecError("slos: a mapping of SLO name to its settings")
    objectives = tuple(_objective(name, settings) for name, settings in slos.items())
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise SpecError("alerts: a list of burn-rate alerts")
    burn = tuple(_alert(i, a, period) for i, a in enumerate(alerts))
    return Spec(period, url.rstrip("/"), objectives, burn)


def _objective(name: object, settings: object) -> Objective:
    if name not in SLO_NAMES:
        raise SpecError(f"slos: unknown SLO {name!r}; l0 measures {', '.join(SLO_NAMES)}")
    where = f"slos.{name}"
    if not isinstance(settings, dict):
        raise SpecError(f"{where}: a mapping with at least `objective`")
    allowed = {"objective", "page"} | ({"threshold"} if name == "time_to_first_chunk" else set())
    _known(settings, allowed, where)
    objective = settings.get("objective")
    if not isinstance(objective, int | float) or not 0 < objective < 1:
        raise SpecError(f"{where}.objective: a ratio between 0 and 1 (0.995), not {objective!r}")
    page = settings.get("page", True)
    if not isinstance(page, bool):
        raise SpecError(f"{where}.page: true or false, not {page!r}")
    threshold = settings.get("threshold")
    if name == "time_to_first_chunk":
        if threshold not in mn.DURATION_BUCKETS:
            bounds = ", ".join(str(b) for b in mn.DURATION_BUCKETS)
            raise SpecError(f"{where}.threshold: one of the bucket bounds {bounds}")
        threshold = float(threshold)
    return Objective(str(name), float(objective), page, threshold)


def _alert(index: int, alert: object, period: str) -> BurnAlert:
    where = f"alerts[{index}]"
    if not isinstance(alert, dict):
        raise SpecError(f"{where}: a mapping")
    _known(alert, {"severity", "long", "short", "burn_rate", "for"}, where)
    severity = alert.get("severity")
    if severity not in SEVERITIES:
        raise SpecError(f"{where}.severity: one of {', '.join(SEVERITIES)}, not {severity!r}")
    long = _duration(alert.get("long"), f"{where}.long")
    short = _duration(alert.get("short"), f"{where}.short")
    if not seconds(short) < seconds(long) <= seconds(period):
        raise SpecError(f"{where}: needs short < long <= period")
    rate = alert.get("burn_rate")
    if not isinstance(rate, int | float) or rate <= 0:
        raise SpecError(f"{where}.burn_rate: a positive number, not {rate!r}")
    return BurnAlert(
        str(severity), long, short, float(rate), _duration(alert.get("for"), f"{where}.for")
    )


def _duration(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise SpecError(f"{where}: a Prometheus duration such as 5m, 1h or 30d, not {value!r}")
    return value


def _known(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
