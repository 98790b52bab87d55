"""The options l0 runs with in the benchmarks: DESIGN §9's full stack, and variants of it
that show where its cost goes (`python -m benchmarks.ablation`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import l0

Options = dict[str, Any]


def full_stack() -> Options:
    """Recommended guardrails, drift and continuation (built per session: the rules are
    fresh objects each time, as an application would make them)."""
    return {
        "guardrails": l0.Guardrails.recommended(),
        "drift": True,
        "continue_from_last_good_token": True,
    }


def _without(name: str, off: object) -> Callable[[], Options]:
    return lambda: {**full_stack(), name: off}


VARIANTS: dict[str, Callable[[], Options]] = {
    "core": dict,
    "no-drift": _without("drift", False),
    "no-guardrails": _without("guardrails", []),
    "no-continuation": _without("continue_from_last_good_token", False),
    "every-40-tokens": _without(
        "check_intervals", {"guardrails": 40, "drift": 40, "checkpoint": 40}
    ),
}
"""Each a change of the full stack's options; the docs' other variants patched l0."""
