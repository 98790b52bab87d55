"""Ready-made rule lists (`Guardrails.recommended()`...) and short accessors for each rule.

Every call builds new rule objects, so a preset can be changed freely by the caller.
"""

from __future__ import annotations

from typing import Any

from .drift_rule import drift_rule
from .json import json_rule, strict_json_rule
from .latex import latex_rule
from .markdown import markdown_rule
from .output import repetition_rule, stall_rule, zero_output_rule
from .patterns import pattern_rule
from .types import GuardrailRule

__all__ = ["Guardrails"]


class Guardrails:
    """Presets and rule accessors.

    - `minimal()`: json, zero_output.
    - `recommended()`: json, markdown, pattern, zero_output.
    - `strict()`: every streaming rule (json, markdown, latex, pattern, zero_output) plus
      repetition, stall and drift detection. `strict_json` is not included: it demands that
      the whole answer be JSON; add it when you ask for JSON.
    - `json_only()`, `markdown_only()`, `latex_only()`: that rule plus zero_output.
    - `none()`: no rules.
    """

    @staticmethod
    def minimal() -> list[GuardrailRule]:
        return [json_rule(), zero_output_rule()]

    @staticmethod
    def recommended() -> list[GuardrailRule]:
        return [json_rule(), markdown_rule(), pattern_rule(), zero_output_rule()]

    @staticmethod
    def strict() -> list[GuardrailRule]:
        return [
            json_rule(),
            markdown_rule(),
            latex_rule(),
            pattern_rule(),
            zero_output_rule(),
            repetition_rule(),
            stall_rule(),
            drift_rule(),
        ]

    @staticmethod
    def json_only() -> list[GuardrailRule]:
        return [json_rule(), zero_output_rule()]

    @staticmethod
    def markdown_only() -> list[GuardrailRule]:
        return [markdown_rule(), zero_output_rule()]

    @staticmethod
    def latex_only() -> list[GuardrailRule]:
        return [latex_rule(), zero_output_rule()]

    @staticmethod
    def none() -> list[GuardrailRule]:
        return []

    # Accessors: the same factories, keyword arguments passed through.

    @staticmethod
    def json(**kwargs: Any) -> GuardrailRule:
        return json_rule(**kwargs)

    @staticmethod
    def strict_json(**kwargs: Any) -> GuardrailRule:
        return strict_json_rule(**kwargs)

    @staticmethod
    def markdown(**kwargs: Any) -> GuardrailRule:
        return markdown_rule(**kwargs)

    @staticmethod
    def latex(**kwargs: Any) -> GuardrailRule:
        return latex_rule(**kwargs)

    @staticmethod
    def pattern(*args: Any, **kwargs: Any) -> GuardrailRule:
        return pattern_rule(*args, **kwargs)

    @staticmethod
    def zero_output(**kwargs: Any) -> GuardrailRule:
        return zero_output_rule(**kwargs)

    @staticmethod
    def stall(*args: Any, **kwargs: Any) -> GuardrailRule:
        return stall_rule(*args, **kwargs)

    @staticmethod
    def repetition(*args: Any, **kwargs: Any) -> GuardrailRule:
        return repetition_rule(*args, **kwargs)

    @staticmethod
    def drift(*args: Any, **kwargs: Any) -> GuardrailRule:
        return drift_rule(*args, **kwargs)
