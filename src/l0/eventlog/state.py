"""A session's `State` as a record, and back: the last record of a session recording.

A replay rebuilds `content` from the token and reset records; the rest of the state
(counts, checkpoint, violations, usage...) comes from this snapshot, so it is the live
session's state to the byte, whatever the engines computed along the way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..types import State
from .schema import plain

__all__ = ["restore_state", "snapshot_state"]

_SCALARS = (
    "attempt",
    "fallback_index",
    "model_retry_count",
    "network_retry_count",
    "completed",
    "aborted",
    "drift_detected",
    "resumed",
    "resume_point",
    "resume_from",
    "finish_reason",
    "model",
    "response_id",
)


def snapshot_state(state: State) -> dict[str, Any]:
    snapshot: dict[str, Any] = {name: getattr(state, name) for name in _SCALARS}
    snapshot.update(
        token_count=state.token_count,
        content_length=state.content_length,
        checkpoint_length=state.checkpoint_length,
        checkpoint_token_count=state.checkpoint_token_count,
        violations=plain(state.violations),
        drift_types=list(state.drift_types),
        tool_calls=plain(state.tool_calls),
        usage=plain(state.usage),
        duration=state.duration,
        time_to_first_token=state.time_to_first_token,
    )
    return snapshot


def restore_state(state: State, snapshot: dict[str, Any]) -> None:
    """Set `state` (whose content the replay already rebuilt) to `snapshot`."""
    from ..guardrails.types import GuardrailViolation

    for name in _SCALARS:
        if name in snapshot:
            setattr(state, name, snapshot[name])
    if "token_count" in snapshot:
        state._token_base = snapshot["token_count"] - len(state._pieces)
    state.checkpoint_length = snapshot.get("checkpoint_length", state.checkpoint_length)
    state.checkpoint_token_count = snapshot.get(
        "checkpoint_token_count", state.checkpoint_token_count
    )
    fields = {f.name for f in dataclasses.fields(GuardrailViolation)}
    state.violations = [
        GuardrailViolation(**{k: v for k, v in item.items() if k in fields})
        for item in snapshot.get("violations", ())
    ]
    state.drift_types = list(snapshot.get("drift_types", ()))
    state.tool_calls = list(snapshot.get("tool_calls", ()))
    state.usage = snapshot.get("usage")
    started = state.started_at
    if started is not None:
        duration, ttft = snapshot.get("duration"), snapshot.get("time_to_first_token")
        if duration is not None:
            state.ended_at = started + duration
        if ttft is not None:
            state.first_token_at = started + ttft
