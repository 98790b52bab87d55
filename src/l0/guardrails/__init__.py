"""Guardrails: pure, incremental checks of a model's output while it streams.

See docs/guardrails.md. Rules are factories returning `GuardrailRule`s; presets live on
`Guardrails`; the engine runs them for the runtime (or for you: `create_guardrail_engine`).
"""

from __future__ import annotations

from .async_check import run_async_guardrail_check, run_guardrail_check_async
from .checker import StreamChecker, incremental_rule, stateless_check
from .drift_rule import DriftRule, drift_rule
from .engine import GuardrailEngine, create_guardrail_engine
from .json import json_rule, strict_json_rule
from .latex import latex_rule
from .markdown import markdown_rule
from .output import repetition_rule, stall_rule, zero_output_rule
from .patterns import DEFAULT_PATTERNS, BadPattern, custom_pattern_rule, pattern_rule
from .presets import Guardrails
from .types import (
    Checker,
    CheckerFactory,
    GuardrailContext,
    GuardrailResult,
    GuardrailRule,
    GuardrailViolation,
    Severity,
)

__all__ = [
    "DEFAULT_PATTERNS",
    "BadPattern",
    "Checker",
    "CheckerFactory",
    "DriftRule",
    "GuardrailContext",
    "GuardrailEngine",
    "GuardrailResult",
    "GuardrailRule",
    "GuardrailViolation",
    "Guardrails",
    "Severity",
    "StreamChecker",
    "create_guardrail_engine",
    "custom_pattern_rule",
    "drift_rule",
    "incremental_rule",
    "json_rule",
    "latex_rule",
    "markdown_rule",
    "pattern_rule",
    "repetition_rule",
    "run_async_guardrail_check",
    "run_guardrail_check_async",
    "stall_rule",
    "stateless_check",
    "strict_json_rule",
    "zero_output_rule",
]
