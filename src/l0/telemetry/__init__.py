"""l0's telemetry: the facade the engines call, and the sinks it fans out to.

Importing this package registers the default sinks: OpenTelemetry (through the global API
providers, so it is silent until the application or `l0.instrument()` configures an SDK)
and Sentry (only while `sentry_sdk` is initialised). Neither the OpenTelemetry SDK nor
sentry_sdk is imported here.
"""

from __future__ import annotations

from .facade import (
    Session,
    Sink,
    SinkFactory,
    Telemetry,
    TelemetrySettings,
    register_sink_factory,
    settings,
    unregister_sink_factory,
)
from .instrument import Instrumentation, instrument
from .mapping import MAPPING, Action, Rule, Target
from .otel import OTelSink, capture_content_enabled, otel_sink_factory
from .sentry import SentrySink, sentry_sink_factory

__all__ = [
    "MAPPING",
    "Action",
    "Instrumentation",
    "OTelSink",
    "Rule",
    "SentrySink",
    "Session",
    "Sink",
    "SinkFactory",
    "Target",
    "Telemetry",
    "TelemetrySettings",
    "capture_content_enabled",
    "instrument",
    "otel_sink_factory",
    "register_sink_factory",
    "sentry_sink_factory",
    "settings",
    "unregister_sink_factory",
]

register_sink_factory(otel_sink_factory)
register_sink_factory(sentry_sink_factory)
