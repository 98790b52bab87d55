"""Living beside OpenTelemetry's official openai instrumentation (`openai-v2`).

That instrumentation wraps `create` and makes its own `chat` span and `gen_ai.client.*`
measurements for every call. Inside an l0 session, l0's attempt span already is that
call's `chat` span, so every attempt would have two, each operation would be counted
twice, and its span — attached at `create` and detached only when the stream ends, across
l0's `yield`s — would stay current in the caller after the session.

So l0 lets its own provider calls through untraced by it: while l0 calls into the provider
(`OTelSink.provider_scope`) the context holds `PROVIDER_CALL`, and a gate in front of the
official wrapper calls the unwrapped `create` when it sees that key; every other call goes
to the official wrapper as before. The instrumentation honours no suppression key of its
own (2.4b0), hence the gate. It is put in place lazily, before each provider call, so the
order in which the two were set up does not matter. `unwrap()` (its `uninstrument()`)
still removes the instrumentation: the gate wraps the same original function.
"""

from __future__ import annotations

import sys
from typing import Any

from opentelemetry.context import create_key

__all__ = ["PROVIDER_CALL", "remove_gates", "stand_in"]

PROVIDER_CALL = create_key("l0.provider_call")
"""Context key set while l0 calls into the provider on behalf of an attempt span."""

_OFFICIAL = "opentelemetry.instrumentation.openai_v2"
_RESOURCE = "openai.resources.chat.completions"
_WRAPPED = (("AsyncCompletions", "create"), ("Completions", "create"))

_gates: dict[tuple[type, str], tuple[Any, Any]] = {}
"""(class, attribute) → (l0's gate, the official wrapper it stands in front of)."""


def stand_in() -> None:
    """Put a gate in front of the official instrumentation's wrappers that have none."""
    if _OFFICIAL not in sys.modules:  # the usual case: one dictionary lookup
        return
    resource = sys.modules.get(_RESOURCE)
    if resource is None:
        return
    for class_name, name in _WRAPPED:
        owner = getattr(resource, class_name, None)
        if not isinstance(owner, type):
            continue
        current = owner.__dict__.get(name)
        if current is None or _is_gate(owner, name, current) or not _is_official(current):
            continue
        gate = _gate(current)
        setattr(owner, name, gate)
        _gates[(owner, name)] = (gate, current)


def remove_gates() -> None:
    """Put the official wrappers back where l0's gates still stand."""
    for (owner, name), (gate, official) in list(_gates.items()):
        if owner.__dict__.get(name) is gate:
            setattr(owner, name, official)
    _gates.clear()


def _is_gate(owner: type, name: str, current: Any) -> bool:
    entry = _gates.get((owner, name))
    return entry is not None and entry[0] is current


def _is_official(candidate: Any) -> bool:
    """A wrapt wrapper whose wrapper function belongs to the official instrumentation."""
    wrapper = getattr(candidate, "_self_wrapper", None)
    return str(getattr(wrapper, "__module__", "")).startswith(_OFFICIAL)


def _gate(official: Any) -> Any:
    """A wrapper of the same original `create` that skips `official` in l0's calls."""
    import wrapt  # the instrumentation depends on it, so it is installed
    from opentelemetry.context import get_value

    def gate(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if get_value(PROVIDER_CALL):
            return wrapped(*args, **kwargs)
        bound = official if instance is None else official.__get__(instance, type(instance))
        return bound(*args, **kwargs)

    return wrapt.FunctionWrapper(official.__wrapped__, gate)
