"""A sink that cannot be set up says so once at WARNING, and sessions stream without it; on
an OpenTelemetry API too old for histogram bucket advice, l0's metrics still work."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import l0
from l0.telemetry import facade
from l0.telemetry.otel import OTelSink
from l0.telemetry.otel_metrics import Instruments


class _BrokenHistograms:
    """A meter provider whose meters cannot make histograms (a fake: the unit is l0's)."""

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        inner = MeterProvider().get_meter(*args, **kwargs)

        class Meter:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            def create_histogram(self, name: str, **kwargs: Any) -> Any:
                raise RuntimeError(f"no histograms here ({name})")

        return Meter()


@pytest.fixture
def broken_sink() -> Iterator[None]:
    """An OTel sink on that provider (a new factory each test: each may warn once)."""

    def broken_otel_sink(session: facade.Session) -> OTelSink:
        return OTelSink(session, meter_provider=_BrokenHistograms())  # type: ignore[arg-type]

    facade.register_sink_factory(broken_otel_sink)
    yield
    facade.unregister_sink_factory(broken_otel_sink)


async def _session() -> str:
    async def tokens() -> Any:
        for token in ("still", " streaming"):
            yield token

    return await (await l0.run(lambda: tokens())).read()


async def test_a_sink_that_cannot_be_set_up_warns_once_and_sessions_go_on(
    broken_sink: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="l0.telemetry")
    assert await _session() == "still streaming"
    assert await _session() == "still streaming"

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "broken_otel_sink" in message
    assert "RuntimeError" in message and "no histograms here" in message


def test_histograms_are_made_without_advice_on_an_api_that_takes_none() -> None:
    """opentelemetry-api < 1.30: `create_histogram` has no advice parameter."""
    reader = InMemoryMetricReader()
    inner = MeterProvider(metric_readers=[reader]).get_meter("l0")

    class OldMeter:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def create_histogram(self, name: str, unit: str = "", description: str = "") -> Any:
            return inner.create_histogram(name, unit=unit, description=description)

    instruments = Instruments(OldMeter())  # type: ignore[arg-type]
    assert instruments.histograms
    for histogram in instruments.histograms.values():
        histogram.record(0.5, {"gen_ai.operation.name": "chat"})
    data = reader.get_metrics_data()
    assert data is not None
    counts = {
        metric.name: point.count
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }
    assert counts == dict.fromkeys(instruments.histograms, 1)
