"""l0: reliable, observable LLM token streams.

Libraries and services call `l0.run()` (or use a client wrapped by `l0.wrap()`) per
request, and `l0.instrument()` once at start-up to send the telemetry somewhere.
"""

from __future__ import annotations

from .adapters import Adapter, Adapters
from .errors import ErrorCode, L0Error, categorize_error
from .events import ObservabilityEvent, ObservabilityEventType
from .run import run
from .runtime.options import CheckIntervals
from .runtime.result import Result
from .runtime.retry import BackoffStrategy, Retry
from .runtime.timeouts import Timeout
from .types import ErrorCategory, Event, EventType, State
from .wrap import wrap

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "Adapters",
    "BackoffStrategy",
    "CheckIntervals",
    "ErrorCategory",
    "ErrorCode",
    "Event",
    "EventType",
    "L0Error",
    "ObservabilityEvent",
    "ObservabilityEventType",
    "Result",
    "Retry",
    "State",
    "Timeout",
    "__version__",
    "categorize_error",
    "run",
    "wrap",
]
