"""`drift_rule()`: drift detection requested through a guardrail list.

Drift is not a guardrail (it reports through the drift engine, `on_drift` and the
DRIFT_* events), but presets like `Guardrails.strict()` ask for it alongside the rules. A
`DriftRule` is that request: the runtime takes it out of the rule list and turns drift
detection on with its `drift_config`. Left in an engine, its check does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import _validate
from .types import GuardrailContext, GuardrailRule, GuardrailViolation

if TYPE_CHECKING:
    from ..drift import DriftConfig

__all__ = ["DriftRule", "drift_rule"]


def _default_config() -> DriftConfig:
    # Imported late: l0.drift imports l0.guardrails (its text helpers).
    from ..drift import DriftConfig

    return DriftConfig.default()


def _no_check(ctx: GuardrailContext) -> list[GuardrailViolation]:
    return []


@dataclass
class DriftRule(GuardrailRule):
    """A marker rule carrying the drift configuration (see the module docstring)."""

    drift_config: DriftConfig = field(default_factory=_default_config)


def drift_rule(config: DriftConfig | None = None) -> DriftRule:
    """Ask for drift detection (with `config`, default `DriftConfig()`) in a rule list."""
    from ..drift import DriftConfig

    if config is not None and not isinstance(config, DriftConfig):
        raise TypeError(
            f"drift_rule: config must be an l0.DriftConfig or None, got {_validate.show(config)}"
        )
    return DriftRule(
        name="drift",
        check=_no_check,
        streaming=False,
        severity="error",
        recoverable=True,
        description="Drift detection (handled by the drift engine, not as a guardrail)",
        drift_config=config if config is not None else _default_config(),
    )
