"""l0: reliable, observable LLM token streams.

Libraries and services call `l0.run()` (or use a client wrapped by `l0.wrap()`) per
request, and `l0.instrument()` once at start-up to send the telemetry somewhere.
"""

from __future__ import annotations

from .adapters import Adapter, Adapters
from .drift import DriftConfig
from .errors import ErrorCode, L0Error, categorize_error
from .eventlog import (
    EventRecorder,
    EventStore,
    Recording,
    create_event_recorder,
    create_in_memory_event_store,
    create_jsonl_event_store,
    create_sqlite_event_store,
    replay,
)
from .events import ObservabilityEvent, ObservabilityEventType
from .format import (
    auto_correct_json,
    clean_output,
    extract_json_from_markdown,
    extract_json_from_output,
    format_context,
    format_memory,
    format_tool,
)
from .guardrails import (
    GuardrailContext,
    GuardrailRule,
    Guardrails,
    GuardrailViolation,
    custom_pattern_rule,
    drift_rule,
    json_rule,
    latex_rule,
    markdown_rule,
    pattern_rule,
    repetition_rule,
    stall_rule,
    strict_json_rule,
    zero_output_rule,
)
from .multi import (
    ConsensusResult,
    FieldVote,
    Hedge,
    ParallelResult,
    Pipe,
    PipeResult,
    Pool,
    RaceResult,
    Stage,
    StageResult,
    Task,
    TaskResult,
    batched,
    consensus,
    parallel,
    pipe,
    race,
)
from .run import run
from .runtime.options import CheckIntervals
from .runtime.result import Result
from .runtime.retry import BackoffStrategy, Retry
from .runtime.timeouts import Timeout
from .structured import structured
from .telemetry import Instrumentation, instrument
from .types import DataPayload, ErrorCategory, Event, EventType, Progress, State
from .window import ChunkResult, DocumentWindow, WindowChunk, create_window
from .wrap import wrap

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "Adapters",
    "BackoffStrategy",
    "CheckIntervals",
    "ChunkResult",
    "ConsensusResult",
    "DataPayload",
    "DocumentWindow",
    "DriftConfig",
    "ErrorCategory",
    "ErrorCode",
    "Event",
    "EventRecorder",
    "EventStore",
    "EventType",
    "FieldVote",
    "GuardrailContext",
    "GuardrailRule",
    "GuardrailViolation",
    "Guardrails",
    "Hedge",
    "Instrumentation",
    "L0Error",
    "ObservabilityEvent",
    "ObservabilityEventType",
    "ParallelResult",
    "Pipe",
    "PipeResult",
    "Pool",
    "Progress",
    "RaceResult",
    "Recording",
    "Result",
    "Retry",
    "Stage",
    "StageResult",
    "State",
    "Task",
    "TaskResult",
    "Timeout",
    "WindowChunk",
    "__version__",
    "auto_correct_json",
    "batched",
    "categorize_error",
    "clean_output",
    "consensus",
    "create_event_recorder",
    "create_in_memory_event_store",
    "create_jsonl_event_store",
    "create_sqlite_event_store",
    "create_window",
    "custom_pattern_rule",
    "drift_rule",
    "extract_json_from_markdown",
    "extract_json_from_output",
    "format_context",
    "format_memory",
    "format_tool",
    "instrument",
    "json_rule",
    "latex_rule",
    "markdown_rule",
    "parallel",
    "pattern_rule",
    "pipe",
    "race",
    "repetition_rule",
    "replay",
    "run",
    "stall_rule",
    "strict_json_rule",
    "structured",
    "wrap",
    "zero_output_rule",
]
